package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// MaxTags is the most tags a resource may carry (AWS documents 50 per resource for Amazon MSK;
// the kafkaconnect model's 200 only bounds one request's map).
const MaxTags = 50

// ErrTooManyTags: the change would leave more than MaxTags tags on the resource.
var ErrTooManyTags = errors.New("too many tags")

func setTags(ctx context.Context, tx pgx.Tx, arn string, tags map[string]string) error {
	if len(tags) == 0 {
		return nil
	}
	// Concurrent tag changes of one resource run one after the other, so that two requests that
	// each stay within MaxTags cannot together exceed it.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('tags ' || $1, 0))`, arn); err != nil {
		return interpret(err)
	}
	for k, v := range tags {
		if _, err := tx.Exec(ctx, `INSERT INTO tags (resource_arn, key, value) VALUES ($1,$2,$3)
			ON CONFLICT (resource_arn, key) DO UPDATE SET value = EXCLUDED.value`, arn, k, v); err != nil {
			return interpret(err)
		}
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM tags WHERE resource_arn = $1`, arn).Scan(&n); err != nil {
		return interpret(err)
	}
	if n > MaxTags {
		return ErrTooManyTags
	}
	return nil
}

// Tags returns a resource's tags.
func (s *Store) Tags(ctx context.Context, arn string) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, value FROM tags WHERE resource_arn = $1`, arn)
	if err != nil {
		return nil, interpret(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, interpret(err)
		}
		out[k] = v
	}
	return out, interpret(rows.Err())
}

// TagsSet adds or overwrites tags on a resource, in one transaction; more than MaxTags in all
// is ErrTooManyTags and changes nothing.
func (s *Store) TagsSet(ctx context.Context, arn string, tags map[string]string) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return setTags(ctx, tx, arn, tags) })
}

// TagsRemove removes tags by key; absent keys are ignored.
func (s *Store) TagsRemove(ctx context.Context, arn string, keys []string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM tags WHERE resource_arn = $1 AND key = ANY($2)`, arn, keys)
	return interpret(err)
}
