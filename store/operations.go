package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Operation is a connector operation (UpdateConnector): its public description (Doc) and its
// sealed origin/target configurations (Secret).
type Operation struct {
	ARN          string
	ConnectorARN string
	AccountID    string
	State        string
	Doc          []byte
	Secret       []byte
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

const operationCols = `arn, connector_arn, account_id, state, doc, secret, created_at, updated_at`

func (s *Store) insertOperation(ctx context.Context, tx pgx.Tx, op *Operation) error {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if op.CreatedAt.IsZero() {
		op.CreatedAt = now
	}
	op.UpdatedAt = now
	sealed, err := s.sealer.Seal(op.Secret, "connector_operations:"+op.ARN)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO connector_operations (`+operationCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		op.ARN, op.ConnectorARN, op.AccountID, op.State, op.Doc, sealed, op.CreatedAt, op.UpdatedAt)
	return interpret(err)
}

func (s *Store) scanOperation(row pgx.Row) (*Operation, error) {
	var op Operation
	var sealed []byte
	if err := row.Scan(&op.ARN, &op.ConnectorARN, &op.AccountID, &op.State, &op.Doc, &sealed, &op.CreatedAt, &op.UpdatedAt); err != nil {
		return nil, interpret(err)
	}
	secret, err := s.sealer.Open(sealed, "connector_operations:"+op.ARN)
	if err != nil {
		return nil, fmt.Errorf("open connector operation %s: %w", op.ARN, err)
	}
	op.Secret = secret
	return &op, nil
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
	op.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	sealed, err := s.sealer.Seal(op.Secret, "connector_operations:"+op.ARN)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE connector_operations SET state=$2, doc=$3, secret=$4, updated_at=$5 WHERE arn=$1`,
		op.ARN, op.State, op.Doc, sealed, op.UpdatedAt)
	if err != nil {
		return interpret(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
