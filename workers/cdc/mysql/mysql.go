// Package mysql is Fjord's io.debezium.connector.mysql.MySqlConnector: MySQL and MariaDB
// binlog change data capture with Debezium's output.
package mysql

import (
	"errors"

	"github.com/fjord-io/fjord/workers/cdc"
)

// New builds the engine of a task (cdc.Factory).
func New(env cdc.Env) (cdc.Engine, error) {
	return nil, errors.New("the MySQL engine is being built")
}
