// Package migrations holds Fjord's database schema as numbered SQL migrations, embedded in the
// binary, and applies them with golang-migrate (pgx v5 driver). The server applies them at
// start; `fjord migrate up` applies them on their own. Migrations take a Postgres advisory lock
// (golang-migrate's), so several servers starting at once apply each migration once.
package migrations

import (
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // registers pgx5://
	"github.com/golang-migrate/migrate/v4/source/iofs"
)

//go:embed *.sql
var files embed.FS

// Up applies every migration not yet applied to the database at databaseURL (a postgres:// or
// postgresql:// URL).
func Up(databaseURL string) error {
	m, err := open(databaseURL)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Down reverts every migration (used by tests of the down files).
func Down(databaseURL string) error {
	m, err := open(databaseURL)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("revert migrations: %w", err)
	}
	return nil
}

// Version returns the applied schema version and whether a failed migration left it dirty.
func Version(databaseURL string) (uint, bool, error) {
	m, err := open(databaseURL)
	if err != nil {
		return 0, false, err
	}
	defer m.Close()
	v, dirty, err := m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	return v, dirty, err
}

func open(databaseURL string) (*migrate.Migrate, error) {
	src, err := iofs.New(files, ".")
	if err != nil {
		return nil, fmt.Errorf("open embedded migrations: %w", err)
	}
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("database URL must be postgres://…")
	}
	u.Scheme = "pgx5"
	// golang-migrate keeps its own table; name it so it is clearly Fjord's.
	q := u.Query()
	if !strings.Contains(u.RawQuery, "x-migrations-table") {
		q.Set("x-migrations-table", "fjord_schema_migrations")
	}
	u.RawQuery = q.Encode()
	m, err := migrate.NewWithSourceInstance("iofs", src, u.String())
	if err != nil {
		return nil, fmt.Errorf("connect for migrations: %w", err)
	}
	return m, nil
}
