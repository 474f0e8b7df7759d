package main

import "errors"

// runCDCMySQL measures the MySqlConnector (cdc.go).
func runCDCMySQL(e *cdcEnv) error {
	return errors.New("cdc: mysql: not yet")
}
