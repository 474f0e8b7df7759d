package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Operation is a workload operation the scheduler's leader carries out: a connector operation
// (UpdateConnector) with its public description (Doc) and its sealed origin/target
// configurations (Secret), or — Replicator set — a replicator update (UpdateReplicationInfo),
// whose Doc is private progress. Both kinds are listed by ActiveOperations and advanced through
// Plan.Ops alike.
type Operation struct {
	ARN string
	// ConnectorARN is the workload the operation changes: a connector, or a replicator when
	// Replicator is set.
	ConnectorARN string
	AccountID    string
	State        string
	Doc          []byte
	Secret       []byte
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Replicator: the operation changes a replicator (table replicator_operations).
	Replicator bool
}

// table is where the operation is kept.
func (op *Operation) table() string {
	if op.Replicator {
		return "replicator_operations"
	}
	return "connector_operations"
}

const (
	operationCols = `arn, connector_arn, account_id, state, doc, secret, created_at, updated_at`
	// replicatorOperationCols reads replicator_operations into the same columns.
	replicatorOperationCols = `arn, replicator_arn, account_id, state, doc, secret, created_at, updated_at`
)

func (s *Store) insertOperation(ctx context.Context, tx pgx.Tx, op *Operation) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if op.CreatedAt.IsZero() {
		op.CreatedAt = now
	}
	op.UpdatedAt = now
	sealed, err := s.sealer.Seal(op.Secret, op.table()+":"+op.ARN)
	if err != nil {
		return err
	}
	cols := operationCols
	if op.Replicator {
		cols = replicatorOperationCols
	}
	_, err = tx.Exec(ctx, `INSERT INTO `+op.table()+` (`+cols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		op.ARN, op.ConnectorARN, op.AccountID, op.State, op.Doc, sealed, op.CreatedAt, op.UpdatedAt)
	return interpret(err)
}

func (s *Store) scanOperation(row pgx.Row) (*Operation, error) {
	return s.scanOperationOf(row, false)
}

func (s *Store) scanOperationOf(row pgx.Row, replicator bool) (*Operation, error) {
	op := Operation{Replicator: replicator}
	var sealed []byte
	if err := row.Scan(&op.ARN, &op.ConnectorARN, &op.AccountID, &op.State, &op.Doc, &sealed, &op.CreatedAt, &op.UpdatedAt); err != nil {
		return nil, interpret(err)
	}
	secret, err := s.sealer.Open(sealed, op.table()+":"+op.ARN)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", op.table(), op.ARN, err)
	}
	op.Secret = secret
	return &op, nil
}

// writeOperation rewrites an operation's state and documents (in tx, or on the pool).
func (s *Store) writeOperation(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, op *Operation) error {
	op.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	sealed, err := s.sealer.Seal(op.Secret, op.table()+":"+op.ARN)
	if err != nil {
		return err
	}
	tag, err := q.Exec(ctx, `UPDATE `+op.table()+` SET state=$2, doc=$3, secret=$4, updated_at=$5 WHERE arn=$1`,
		op.ARN, op.State, op.Doc, sealed, op.UpdatedAt)
	if err != nil {
		return interpret(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// Operation returns a connector operation of the caller's account.
func (s *Store) Operation(ctx context.Context, account, arn string) (*Operation, error) {
	return s.scanOperation(s.pool.QueryRow(ctx, `SELECT `+operationCols+` FROM connector_operations
		WHERE arn = $1 AND account_id = $2`, arn, account))
}

// Operations lists a connector's operations, newest first, after the given position.
func (s *Store) Operations(ctx context.Context, connectorARN string, after *Operation, limit int) ([]*Operation, error) {
	var rows pgx.Rows
	var err error
	if after == nil {
		rows, err = s.pool.Query(ctx, `SELECT `+operationCols+` FROM connector_operations
			WHERE connector_arn = $1 ORDER BY created_at DESC, arn DESC LIMIT $2`, connectorARN, limit)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT `+operationCols+` FROM connector_operations
			WHERE connector_arn = $1 AND (created_at, arn) < ($2, $3) ORDER BY created_at DESC, arn DESC LIMIT $4`,
			connectorARN, after.CreatedAt, after.ARN, limit)
	}
	if err != nil {
		return nil, interpret(err)
	}
	defer rows.Close()
	var out []*Operation
	for rows.Next() {
		op, err := s.scanOperation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, interpret(rows.Err())
}

// OperationUpdate rewrites an operation's state and documents.
func (s *Store) OperationUpdate(ctx context.Context, op *Operation) error {
	return s.writeOperation(ctx, s.pool, op)
}

// ReplicatorOperations lists a replicator's updates, newest first.
func (s *Store) ReplicatorOperations(ctx context.Context, replicatorARN string) ([]*Operation, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+replicatorOperationCols+` FROM replicator_operations
		WHERE replicator_arn = $1 ORDER BY created_at DESC, arn DESC`, replicatorARN)
	if err != nil {
		return nil, interpret(err)
	}
	defer rows.Close()
	var out []*Operation
	for rows.Next() {
		op, err := s.scanOperationOf(rows, true)
		if err != nil {
			return nil, err
		}
		out = append(out, op)
	}
	return out, interpret(rows.Err())
}
