package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PluginClasses is the class index of one custom plugin revision: what its object holds.
type PluginClasses struct {
	ARN      string
	Revision int64
	// Classes are dotted Java class names, sorted and distinct.
	Classes []string
	// Archives counts the archives read (the object and the ones nested in it).
	Archives int
	// Unreadable are nested .jar/.zip entries that are not readable archives.
	Unreadable []string
	IndexedAt  time.Time
}

// PluginClassesPut records a revision's class index, replacing an earlier one (ingestion is
// idempotent: a replica that crashed after indexing indexes again).
func (s *Store) PluginClassesPut(ctx context.Context, pc *PluginClasses) error {
	pc.IndexedAt = time.Now().UTC().Truncate(time.Microsecond)
	classes, unreadable := pc.Classes, pc.Unreadable
	if classes == nil {
		classes = []string{}
	}
	if unreadable == nil {
		unreadable = []string{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO custom_plugin_classes (arn, revision, classes, archives, unreadable, indexed_at)
		VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (arn, revision) DO UPDATE SET classes = $3, archives = $4, unreadable = $5, indexed_at = $6`,
		pc.ARN, pc.Revision, classes, pc.Archives, unreadable, pc.IndexedAt)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == fkViolation {
		return ErrNotFound // the revision is gone: the plugin was deleted meanwhile
	}
	return interpret(err)
}

// PluginClassesOf returns a revision's class index; ErrNotFound when it has none (the plugin
// is not ACTIVE yet, or became ACTIVE before Fjord indexed plugins).
func (s *Store) PluginClassesOf(ctx context.Context, arn string, revision int64) (*PluginClasses, error) {
	pc := PluginClasses{ARN: arn, Revision: revision}
	err := s.pool.QueryRow(ctx, `SELECT classes, archives, unreadable, indexed_at FROM custom_plugin_classes
		WHERE arn = $1 AND revision = $2`, arn, revision).Scan(&pc.Classes, &pc.Archives, &pc.Unreadable, &pc.IndexedAt)
	if err != nil {
		return nil, interpret(err)
	}
	return &pc, nil
}

// PluginsUnindexed lists the latest revisions of ACTIVE custom plugins that have no class index
// (plugins that became ACTIVE before Fjord indexed them), for the lifecycle loop to index.
func (s *Store) PluginsUnindexed(ctx context.Context) ([]Use, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.arn, max(r.revision) FROM custom_plugins p
		JOIN custom_plugin_revisions r ON r.arn = p.arn
		WHERE p.state = 'ACTIVE'
		  AND NOT EXISTS (SELECT 1 FROM custom_plugin_classes c WHERE c.arn = r.arn AND c.revision = r.revision)
		GROUP BY p.arn ORDER BY p.arn`)
	if err != nil {
		return nil, interpret(err)
	}
	return collectUses(rows)
}

// Use names a revision of a custom plugin or worker configuration, or (in InUseError) a
// connector using one.
type Use struct {
	ARN      string
	Revision int64
}

// ErrInUse: the resource has a revision a connector uses.
var ErrInUse = errors.New("in use")

// InUseError says which connectors use a custom plugin or worker configuration that was to be
// deleted. It matches ErrInUse.
type InUseError struct {
	// Users are the connectors (ARN) and the revision each uses, sorted by connector ARN; at
	// most maxUsersListed.
	Users []Use
	// More is true when more connectors use it than Users lists.
	More bool
}

func (e *InUseError) Error() string {
	parts := make([]string, len(e.Users))
	for i, u := range e.Users {
		parts[i] = fmt.Sprintf("%s (revision %d)", u.ARN, u.Revision)
	}
	s := "in use by " + strings.Join(parts, ", ")
	if e.More {
		s += " and more"
	}
	return s
}

// Is makes errors.Is(err, ErrInUse) hold.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// maxUsersListed bounds InUseError.Users.
const maxUsersListed = 5

// usersTx lists the connectors using the resource arn of r (a custom plugin or worker
// configuration), inside tx.
func (r *Resources) usersTx(ctx context.Context, tx pgx.Tx, arn string, limit int) ([]Use, error) {
	rows, err := tx.Query(ctx, `SELECT connector_arn, revision FROM `+r.usedBy+` WHERE arn = $1
		ORDER BY connector_arn LIMIT $2`, arn, limit)
	if err != nil {
		return nil, interpret(err)
	}
	return collectUses(rows)
}

// Users lists the connectors using a custom plugin or worker configuration (any revision),
// with the revision each uses, sorted by connector ARN.
func (r *Resources) Users(ctx context.Context, arn string) ([]Use, error) {
	if r.usedBy == "" {
		return nil, nil
	}
	var out []Use
	err := pgx.BeginFunc(ctx, r.s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = r.usersTx(ctx, tx, arn, 10000)
		return err
	})
	return out, err
}

// ConnectorUses is what a connector uses: its custom plugin revisions and its worker
// configuration revision (none when it has none).
type ConnectorUses struct {
	Plugins             []Use
	WorkerConfiguration *Use
}

// ConnectorUsesOf returns what a connector uses.
func (s *Store) ConnectorUsesOf(ctx context.Context, connectorARN string) (ConnectorUses, error) {
	var out ConnectorUses
	rows, err := s.pool.Query(ctx, `SELECT 'p', arn, revision FROM connector_plugins WHERE connector_arn = $1
		UNION ALL SELECT 'w', arn, revision FROM connector_worker_configurations WHERE connector_arn = $1
		ORDER BY 1, 2`, connectorARN)
	if err != nil {
		return out, interpret(err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var u Use
		if err := rows.Scan(&kind, &u.ARN, &u.Revision); err != nil {
			return out, interpret(err)
		}
		if kind == "p" {
			out.Plugins = append(out.Plugins, u)
		} else {
			out.WorkerConfiguration = &u
		}
	}
	return out, interpret(rows.Err())
}

// insertUses records what a new connector uses, inside its creation's transaction. A revision
// deleted meanwhile fails the foreign key: a *GoneError naming it.
func insertUses(ctx context.Context, tx pgx.Tx, connectorARN string, uses ConnectorUses) error {
	insert := func(table, kind string, u Use) error {
		_, err := tx.Exec(ctx, `INSERT INTO `+table+` (connector_arn, arn, revision) VALUES ($1,$2,$3)
			ON CONFLICT (connector_arn, arn) DO NOTHING`, connectorARN, u.ARN, u.Revision)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == fkViolation {
			return &GoneError{Kind: kind, Use: u}
		}
		return interpret(err)
	}
	for _, u := range uses.Plugins {
		if err := insert("connector_plugins", "custom plugin", u); err != nil {
			return err
		}
	}
	if u := uses.WorkerConfiguration; u != nil {
		return insert("connector_worker_configurations", "worker configuration", *u)
	}
	return nil
}

// ConnectorDoc is a connector's ARN and public description.
type ConnectorDoc struct {
	ARN string
	Doc []byte
}

// ConnectorsWithoutUses lists the connectors that record no custom plugin use: those created
// before Fjord recorded uses (every connector created since uses one plugin).
func (s *Store) ConnectorsWithoutUses(ctx context.Context) ([]ConnectorDoc, error) {
	rows, err := s.pool.Query(ctx, `SELECT arn, doc FROM connectors c
		WHERE NOT EXISTS (SELECT 1 FROM connector_plugins p WHERE p.connector_arn = c.arn) ORDER BY arn`)
	if err != nil {
		return nil, interpret(err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (ConnectorDoc, error) {
		var c ConnectorDoc
		err := row.Scan(&c.ARN, &c.Doc)
		return c, err
	})
}

// ConnectorUsesPut records what an existing connector uses (uses already recorded are kept). A
// revision that no longer exists is a *GoneError and nothing is recorded; a connector that no
// longer exists is ErrNotFound.
func (s *Store) ConnectorUsesPut(ctx context.Context, connectorARN string, uses ConnectorUses) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM connectors WHERE arn = $1 FOR KEY SHARE`, connectorARN).Scan(&one); err != nil {
			return interpret(err)
		}
		return insertUses(ctx, tx, connectorARN, uses)
	})
}

// GoneError: a revision a new connector names was deleted while the connector was created.
// It matches ErrNotFound.
type GoneError struct {
	// Kind is "custom plugin" or "worker configuration".
	Kind string
	Use  Use
}

func (e *GoneError) Error() string {
	return fmt.Sprintf("revision %d of %s %s not found", e.Use.Revision, e.Kind, e.Use.ARN)
}

// Is makes errors.Is(err, ErrNotFound) hold.
func (e *GoneError) Is(target error) bool { return target == ErrNotFound }

// fkViolation is Postgres's foreign_key_violation.
const fkViolation = "23503"

// collectUses reads rows of (arn, revision).
func collectUses(rows pgx.Rows) ([]Use, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Use, error) {
		var u Use
		err := row.Scan(&u.ARN, &u.Revision)
		return u, err
	})
}
