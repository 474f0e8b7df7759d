package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fjord-io/fjord/migrations"
)

func runMigrate(_ context.Context, args []string) error {
	f := newFlags("migrate", "fjord migrate up | version — applies the embedded migrations, or prints the schema version.")
	var databaseURL, logLevel string
	f.str(&databaseURL, "database-url", "DATABASE_URL", "", "Postgres URL, postgres://… (required)")
	f.str(&logLevel, "log-level", "", "info", "debug, info, warn or error")
	// The action may come first (fjord migrate up --database-url …), as with fjord clusters;
	// the flag package would stop parsing at it.
	action := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	if err := f.Parse(args); err != nil {
		return err
	}
	if action == "" {
		action = f.Arg(0)
	}
	log := newLogger(logLevel)
	if databaseURL == "" {
		return errors.New("--database-url (or $DATABASE_URL) is required")
	}
	switch action {
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
		return fmt.Errorf("unknown migrate action %q: use up or version", action)
	}
	return nil
}
