package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

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

// Connection defaults, unless the database URL sets them: a connection attempt gives up after
// ConnectTimeout, a statement after StatementTimeout, and TCP keepalives probe an idle
// connection every KeepAlive, so a database that vanished is noticed in seconds, not at the
// kernel's two-hour default.
const (
	ConnectTimeout   = 5 * time.Second
	StatementTimeout = 30 * time.Second
	KeepAlive        = 15 * time.Second
)

// applyConnDefaults sets the connection defaults the URL leaves out.
func applyConnDefaults(pc *pgxpool.Config, url string) {
	cc := pc.ConnConfig
	if !strings.Contains(url, "connect_timeout") {
		cc.ConnectTimeout = ConnectTimeout
	}
	if _, ok := cc.RuntimeParams["statement_timeout"]; !ok && !strings.Contains(url, "statement_timeout") {
		cc.RuntimeParams["statement_timeout"] = strconv.Itoa(int(StatementTimeout / time.Millisecond))
	}
	dialer := &net.Dialer{KeepAlive: KeepAlive}
	cc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if cc.ConnectTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, cc.ConnectTimeout)
			defer cancel()
		}
		return dialer.DialContext(ctx, network, addr)
	}
}

// IsUnavailable reports whether err says the database could not be reached or dropped the
// connection (as opposed to refusing a statement): the API answers ServiceUnavailable and the
// client retries.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 08: connection exception; 57P01-03: the server is shutting down or starting;
		// 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
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
	applyConnDefaults(pc, cfg.DatabaseURL)
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
