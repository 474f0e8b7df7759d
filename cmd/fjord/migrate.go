package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/fjord-io/fjord/migrations"
)

func runMigrate(_ context.Context, args []string) error {
	f := newFlags("migrate", "fjord migrate up | version — applies the embedded migrations, or prints the schema version.")
	var databaseURL, logLevel string
	f.str(&databaseURL, "database-url", "DATABASE_URL", "", "Postgres URL, postgres://… (required)")
	f.str(&logLevel, "log-level", "", "info", "debug, info, warn or error")
	if err := f.Parse(args); err != nil {
		return err
	}
	log := newLogger(logLevel)
	if databaseURL == "" {
		return errors.New("--database-url (or $DATABASE_URL) is required")
	}
	switch f.Arg(0) {
	case "up", "":
		if err := migrations.Up(databaseURL); err != nil {
			return err
		}
		v, _, err := migrations.Version(databaseURL)
		if err != nil {
			return err
		}
		log.Info("migrations applied", "version", v)
	case "version":
		v, dirty, err := migrations.Version(databaseURL)
		if err != nil {
			return err
		}
		fmt.Printf("%d dirty=%v\n", v, dirty)
	default:
		return fmt.Errorf("unknown migrate action %q: use up or version", f.Arg(0))
	}
	return nil
}
