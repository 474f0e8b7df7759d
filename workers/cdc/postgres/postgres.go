// Package postgres is Fjord's io.debezium.connector.postgresql.PostgresConnector: PostgreSQL
// logical replication (pgoutput) change data capture with Debezium's output.
package postgres

import (
	"errors"

	"github.com/fjord-io/fjord/workers/cdc"
)

// New builds the engine of a task (cdc.Factory).
func New(env cdc.Env) (cdc.Engine, error) {
	return nil, errors.New("the PostgreSQL engine is being built")
}
