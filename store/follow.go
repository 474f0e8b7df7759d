package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// webhookLockKey identifies the event webhook sender's lock ("fjordw" as an int).
const webhookLockKey = 0x666a6f726477

// LastEventID is the id of the newest workload event (0 when there is none).
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM workload_events`).Scan(&id)
	return id, interpret(err)
}

// EventsAfter returns up to limit events of every workload recorded after the event afterID,
// oldest first, and the id to continue after. Event ids come from a sequence and are taken
// before their transaction commits, so an id missing from the sequence may still appear: the
// events stop before a gap younger than settle (a gap older than that is a rolled-back
// transaction's, and is skipped).
func (s *Store) EventsAfter(ctx context.Context, afterID int64, limit int, settle time.Duration) ([]WorkloadEvent, int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventCols+` FROM workload_events WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, afterID, interpret(err)
	}
	evs, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, afterID, interpret(err)
	}
	var now time.Time
	if err := s.pool.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return nil, afterID, interpret(err)
	}
	last := afterID
	for i, e := range evs {
		if e.ID != last+1 && now.Sub(e.At) < settle {
			return evs[:i], last, nil
		}
		last = e.ID
	}
	return evs, last, nil
}

// Lock is a session-level advisory lock held on a dedicated connection.
type Lock struct{ conn *pgxpool.Conn }

// WebhookLockAcquire tries to take the event webhook sender's lock: one replica at a time
// delivers the events. It returns nil (and no error) when another replica holds it.
func (s *Store) WebhookLockAcquire(ctx context.Context) (*Lock, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, interpret(err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(webhookLockKey)).Scan(&ok); err != nil {
		conn.Release()
		return nil, interpret(err)
	}
	if !ok {
		conn.Release()
		return nil, nil
	}
	return &Lock{conn: conn}, nil
}

// Check verifies the lock's connection is still there (and so the lock).
func (l *Lock) Check(ctx context.Context) error { return l.conn.Ping(ctx) }

// Release gives the lock up, closing its connection.
func (l *Lock) Release() {
	if l.conn == nil {
		return
	}
	_ = l.conn.Conn().Close(context.Background())
	l.conn.Release()
	l.conn = nil
}

// WebhookCursor returns the last event handled for the webhook url. A url other than the one
// recorded (or none) starts from the newest event.
func (s *Store) WebhookCursor(ctx context.Context, url string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO event_webhook (id, url, last_event_id)
		VALUES (1, $1, (SELECT coalesce(max(id), 0) FROM workload_events))
		ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url,
			last_event_id = CASE WHEN event_webhook.url = EXCLUDED.url THEN event_webhook.last_event_id ELSE EXCLUDED.last_event_id END
		RETURNING last_event_id`, url).Scan(&id)
	return id, interpret(err)
}

// WebhookAdvance records that the events up to id were handled for the webhook url.
func (s *Store) WebhookAdvance(ctx context.Context, url string, id int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE event_webhook SET last_event_id = $2 WHERE id = 1 AND url = $1 AND last_event_id < $2`, url, id)
	return interpret(err)
}
