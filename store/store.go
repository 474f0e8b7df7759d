package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sentinel errors of the store.
var (
	// ErrNotFound: no such row (or not in the caller's account).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique name is already taken.
	ErrConflict = errors.New("already exists")
	// ErrStale: the caller's current version is not the row's.
	ErrStale = errors.New("stale version")
)

// Store is Fjord's control-plane state in Postgres.
type Store struct {
	pool   *pgxpool.Pool
	sealer *Sealer

	// The public resources of both services.
	CustomPlugins        *Resources
	WorkerConfigurations *Resources
	Connectors           *Resources
	Replicators          *Resources
}

// Config configures Open.
type Config struct {
	// DatabaseURL is a postgres:// URL.
	DatabaseURL string
	// Key is the 32-byte AES-256-GCM key for sensitive members.
	Key []byte
	// MaxConns bounds the pool; 0 = pgx's default (max(4, GOMAXPROCS)).
	MaxConns int32
}

// Open connects to the database. Migrations are applied separately (migrations.Up).
func Open(ctx context.Context, cfg Config) (*Store, error) {
	sealer, err := NewSealer(cfg.Key)
	if err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	s := &Store{pool: pool, sealer: sealer}
	if err := s.checkKey(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	s.CustomPlugins = &Resources{s: s, table: "custom_plugins", revisions: "custom_plugin_revisions", usedBy: "connector_plugins"}
	s.WorkerConfigurations = &Resources{s: s, table: "worker_configurations", revisions: "worker_configuration_revisions",
		usedBy: "connector_worker_configurations"}
	s.Connectors = &Resources{s: s, table: "connectors"}
	s.Replicators = &Resources{s: s, table: "replicators"}
	return s, nil
}

// ErrWrongKey: the encryption key is not the one the database's secrets were sealed with.
var ErrWrongKey = errors.New("the encryption key does not match the one this database's secrets are sealed with")

const keyCheckPlaintext = "fjord encryption key check v1"

// checkKey seals a known value on first use of a database and checks, on every later open,
// that the key opens it.
func (s *Store) checkKey(ctx context.Context) error {
	sealed, err := s.sealer.Seal([]byte(keyCheckPlaintext), "encryption_check")
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO encryption_check (id, sealed) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, sealed); err != nil {
		return fmt.Errorf("encryption key check (are the migrations applied?): %w", err)
	}
	var stored []byte
	if err := s.pool.QueryRow(ctx, `SELECT sealed FROM encryption_check WHERE id = 1`).Scan(&stored); err != nil {
		return fmt.Errorf("encryption key check: %w", err)
	}
	if pt, err := s.sealer.Open(stored, "encryption_check"); err != nil || string(pt) != keyCheckPlaintext {
		return ErrWrongKey
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers (for /healthz).
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool exposes the pool to the store's own subpackages and tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// tx runs fn in a transaction, committing when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// interpret turns driver errors into the store's sentinels.
func interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		return ErrConflict
	}
	return err
}
