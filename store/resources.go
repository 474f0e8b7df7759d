package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Resource is one public resource of the API: a custom plugin, worker configuration, connector
// or replicator. The store does not interpret Doc (the resource's public description) nor Secret
// (its sensitive members, sealed at rest).
type Resource struct {
	ARN       string
	AccountID string
	Region    string
	Name      string
	// State is the lifecycle state, e.g. "CREATING"; StateCode and StateMessage explain it.
	State        string
	StateCode    string
	StateMessage string
	// CurrentVersion is the optimistic-concurrency token; the store renews it on every update.
	CurrentVersion string
	// TargetState is a connector's Kafka Connect target state: "" (run), TargetPaused or
	// TargetStopped (set through the Connect REST API; the scheduler and workers honor it).
	TargetState string
	Doc         []byte
	Secret      []byte
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Revision is one revision of a custom plugin or worker configuration.
type Revision struct {
	Revision  int64
	Doc       []byte
	Secret    []byte
	CreatedAt time.Time
}

// Resources is one table of resources (and, for plugins and worker configurations, the table of
// their revisions).
type Resources struct {
	s         *Store
	table     string
	revisions string
	// usedBy is the table of the connectors using the resource's revisions
	// (connector_plugins, connector_worker_configurations); empty for workloads.
	usedBy string
}

const resourceCols = `arn, account_id, region, name, state, state_code, state_message, current_version, doc, secret, created_at, updated_at, target_state`

func (r *Resources) scan(row pgx.Row) (*Resource, error) {
	var res Resource
	var sealed []byte
	if err := row.Scan(&res.ARN, &res.AccountID, &res.Region, &res.Name, &res.State, &res.StateCode,
		&res.StateMessage, &res.CurrentVersion, &res.Doc, &sealed, &res.CreatedAt, &res.UpdatedAt, &res.TargetState); err != nil {
		return nil, interpret(err)
	}
	secret, err := r.s.sealer.Open(sealed, r.table+":"+res.ARN)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", r.table, res.ARN, err)
	}
	res.Secret = secret
	return &res, nil
}

// NewVersion returns a fresh opaque version token, shaped like MSK's ("K3OAA5CXYSTVQ9").
func NewVersion() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [13]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	out := make([]byte, 14)
	out[0] = 'K'
	for i, c := range b {
		out[i+1] = alphabet[int(c)%len(alphabet)]
	}
	return string(out)
}

// Create inserts a resource, its tags and (when rev is not nil) its first revision in one
// transaction. A taken name is ErrConflict. CurrentVersion, CreatedAt and UpdatedAt are set here.
func (r *Resources) Create(ctx context.Context, res *Resource, tags map[string]string, rev *Revision) error {
	return r.create(ctx, res, tags, rev, nil)
}

// CreateUsing is Create for a connector that uses the given plugin and worker configuration
// revisions, recorded in the same transaction: while the connector exists they cannot be
// deleted. A revision deleted meanwhile is a *GoneError (ErrNotFound) and nothing is created.
func (r *Resources) CreateUsing(ctx context.Context, res *Resource, tags map[string]string, uses ConnectorUses) error {
	return r.create(ctx, res, tags, nil, &uses)
}

func (r *Resources) create(ctx context.Context, res *Resource, tags map[string]string, rev *Revision, uses *ConnectorUses) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	res.CreatedAt, res.UpdatedAt = now, now
	res.CurrentVersion = NewVersion()
	sealed, err := r.s.sealer.Seal(res.Secret, r.table+":"+res.ARN)
	if err != nil {
		return err
	}
	return r.s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO `+r.table+` (`+resourceCols+`)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`,
			res.ARN, res.AccountID, res.Region, res.Name, res.State, res.StateCode, res.StateMessage,
			res.CurrentVersion, res.Doc, sealed, res.CreatedAt, res.UpdatedAt, res.TargetState)
		if err != nil {
			return interpret(err)
		}
		if rev != nil {
			rev.CreatedAt = now
			if err := r.insertRevision(ctx, tx, res.ARN, rev); err != nil {
				return err
			}
		}
		if uses != nil {
			if err := insertUses(ctx, tx, res.ARN, *uses); err != nil {
				return err
			}
		}
		return setTags(ctx, tx, res.ARN, tags)
	})
}

func (r *Resources) insertRevision(ctx context.Context, tx pgx.Tx, arn string, rev *Revision) error {
	sealed, err := r.s.sealer.Seal(rev.Secret, fmt.Sprintf("%s:%s:%d", r.revisions, arn, rev.Revision))
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO `+r.revisions+` (arn, revision, doc, secret, created_at) VALUES ($1,$2,$3,$4,$5)`,
		arn, rev.Revision, rev.Doc, sealed, rev.CreatedAt)
	return interpret(err)
}

// Get returns the resource with this ARN in the caller's account and region; any other is
// ErrNotFound.
func (r *Resources) Get(ctx context.Context, account, region, arn string) (*Resource, error) {
	// Look up by the primary key alone and check the owner here: with account and region in
	// the WHERE clause the planner may pick the (account_id, region, name) index and scan a
	// whole account (seen before the first ANALYZE: 5× slower).
	res, err := r.scan(r.s.pool.QueryRow(ctx, `SELECT `+resourceCols+` FROM `+r.table+` WHERE arn = $1`, arn))
	if err != nil {
		return nil, err
	}
	if res.AccountID != account || res.Region != region {
		return nil, ErrNotFound
	}
	return res, nil
}

// Revision returns one revision of a resource (plugins and worker configurations).
func (r *Resources) Revision(ctx context.Context, arn string, revision int64) (*Revision, error) {
	return r.scanRevision(r.s.pool.QueryRow(ctx, `SELECT revision, doc, secret, created_at FROM `+r.revisions+`
		WHERE arn = $1 AND revision = $2`, arn, revision), arn)
}

// LatestRevision returns the highest revision of a resource.
func (r *Resources) LatestRevision(ctx context.Context, arn string) (*Revision, error) {
	return r.scanRevision(r.s.pool.QueryRow(ctx, `SELECT revision, doc, secret, created_at FROM `+r.revisions+`
		WHERE arn = $1 ORDER BY revision DESC LIMIT 1`, arn), arn)
}

func (r *Resources) scanRevision(row pgx.Row, arn string) (*Revision, error) {
	var rev Revision
	var sealed []byte
	if err := row.Scan(&rev.Revision, &rev.Doc, &sealed, &rev.CreatedAt); err != nil {
		return nil, interpret(err)
	}
	secret, err := r.s.sealer.Open(sealed, fmt.Sprintf("%s:%s:%d", r.revisions, arn, rev.Revision))
	if err != nil {
		return nil, fmt.Errorf("open %s %s/%d: %w", r.revisions, arn, rev.Revision, err)
	}
	rev.Secret = secret
	return &rev, nil
}

// ListParams selects a page of resources, ordered by name then ARN.
type ListParams struct {
	AccountID, Region string
	// NamePrefix keeps names that start with it; NameContains keeps names that contain it.
	NamePrefix, NameContains string
	// States keeps resources in one of these states (empty: all).
	States []string
	// AfterName and AfterARN continue after that position (from a page token).
	AfterName, AfterARN string
	// Limit is the page size.
	Limit int
}

// List returns up to p.Limit resources after the given position.
func (r *Resources) List(ctx context.Context, p ListParams) ([]*Resource, error) {
	var where []string
	args := []any{p.AccountID, p.Region}
	where = append(where, "account_id = $1", "region = $2")
	if p.NamePrefix != "" {
		args = append(args, escapeLike(p.NamePrefix)+"%")
		where = append(where, fmt.Sprintf("name LIKE $%d", len(args)))
	}
	if p.NameContains != "" {
		args = append(args, "%"+escapeLike(p.NameContains)+"%")
		where = append(where, fmt.Sprintf("name LIKE $%d", len(args)))
	}
	if len(p.States) > 0 {
		args = append(args, p.States)
		where = append(where, fmt.Sprintf("state = ANY($%d)", len(args)))
	}
	if p.AfterName != "" || p.AfterARN != "" {
		args = append(args, p.AfterName, p.AfterARN)
		where = append(where, fmt.Sprintf("(name, arn) > ($%d, $%d)", len(args)-1, len(args)))
	}
	args = append(args, p.Limit)
	rows, err := r.s.pool.Query(ctx, `SELECT `+resourceCols+` FROM `+r.table+`
		WHERE `+strings.Join(where, " AND ")+fmt.Sprintf(` ORDER BY name, arn LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, interpret(err)
	}
	defer rows.Close()
	var out []*Resource
	for rows.Next() {
		res, err := r.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, interpret(rows.Err())
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// UpdateOptions qualify Update.
type UpdateOptions struct {
	// ExpectVersion, when not empty, must equal the row's CurrentVersion, else ErrStale.
	ExpectVersion string
	// Operation, when not nil, is inserted in the same transaction (connector operations).
	Operation *Operation
}

// Update changes a resource in one transaction: it locks the row, checks the expected version,
// lets mutate change the Resource (State, Doc, Secret, …; an error from mutate aborts with
// nothing written), renews CurrentVersion and writes it back. Name, ARN, account and region
// cannot change.
func (r *Resources) Update(ctx context.Context, account, region, arn string, opts UpdateOptions, mutate func(*Resource) error) (*Resource, error) {
	var out *Resource
	err := r.s.tx(ctx, func(tx pgx.Tx) error {
		res, err := r.scan(tx.QueryRow(ctx, `SELECT `+resourceCols+` FROM `+r.table+` WHERE arn = $1 FOR UPDATE`, arn))
		if err != nil {
			return err
		}
		if res.AccountID != account || res.Region != region {
			return ErrNotFound
		}
		if opts.ExpectVersion != "" && opts.ExpectVersion != res.CurrentVersion {
			return ErrStale
		}
		if err := mutate(res); err != nil {
			return err
		}
		res.CurrentVersion = NewVersion()
		res.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
		sealed, err := r.s.sealer.Seal(res.Secret, r.table+":"+res.ARN)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE `+r.table+` SET state=$2, state_code=$3, state_message=$4,
			current_version=$5, doc=$6, secret=$7, updated_at=$8, target_state=$9 WHERE arn=$1`,
			res.ARN, res.State, res.StateCode, res.StateMessage, res.CurrentVersion, res.Doc, sealed, res.UpdatedAt, res.TargetState); err != nil {
			return interpret(err)
		}
		if opts.Operation != nil {
			if err := r.s.insertOperation(ctx, tx, opts.Operation); err != nil {
				return err
			}
		}
		out = res
		return nil
	})
	return out, err
}

// Remove deletes a resource, its revisions, operations and tags. With expectVersion not
// empty, a stale version is ErrStale and nothing is removed. A custom plugin or worker
// configuration that a connector uses (any connector not yet gone) is an *InUseError
// (ErrInUse) and nothing is removed; a connector created concurrently is caught by the
// foreign keys of its use (migrations/0007).
func (r *Resources) Remove(ctx context.Context, account, region, arn, expectVersion string) error {
	err := r.s.tx(ctx, func(tx pgx.Tx) error {
		var version, owner, where string
		if err := tx.QueryRow(ctx, `SELECT current_version, account_id, region FROM `+r.table+` WHERE arn = $1 FOR UPDATE`,
			arn).Scan(&version, &owner, &where); err != nil {
			return interpret(err)
		}
		if owner != account || where != region {
			return ErrNotFound
		}
		if expectVersion != "" && expectVersion != version {
			return ErrStale
		}
		if r.usedBy != "" {
			users, err := r.usersTx(ctx, tx, arn, maxUsersListed+1)
			if err != nil {
				return err
			}
			if len(users) > 0 {
				return &InUseError{Users: users[:min(len(users), maxUsersListed)], More: len(users) > maxUsersListed}
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+r.table+` WHERE arn = $1`, arn); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == fkViolation && r.usedBy != "" {
				return errUsedMeanwhile
			}
			return interpret(err)
		}
		_, err := tx.Exec(ctx, `DELETE FROM tags WHERE resource_arn = $1`, arn)
		return interpret(err)
	})
	if errors.Is(err, errUsedMeanwhile) {
		// A connector using it committed after the check above (the delete waited for it on
		// the revision's row): it is in use now.
		users, uerr := r.Users(ctx, arn)
		if uerr != nil {
			return uerr
		}
		return &InUseError{Users: users[:min(len(users), maxUsersListed)], More: len(users) > maxUsersListed}
	}
	return err
}

// errUsedMeanwhile: Remove's delete failed the foreign key of a connector's use.
var errUsedMeanwhile = errors.New("used by a connector created meanwhile")

// ARNsInState lists the ARNs of all resources in a state, across accounts (for the loops that
// advance lifecycles, e.g. DELETING → gone).
func (r *Resources) ARNsInState(ctx context.Context, state string) ([]Key, error) {
	rows, err := r.s.pool.Query(ctx, `SELECT arn, account_id, region FROM `+r.table+` WHERE state = $1 ORDER BY arn`, state)
	if err != nil {
		return nil, interpret(err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Key, error) {
		var k Key
		err := row.Scan(&k.ARN, &k.AccountID, &k.Region)
		return k, err
	})
}

// Key identifies a resource.
type Key struct{ ARN, AccountID, Region string }
