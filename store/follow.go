package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

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

// WebhookClaim makes holder the event webhook's sender for ttl (one replica sends at a time)
// and returns the last event handled for url: it fails with ErrNotHolder while another replica's
// lease runs. A url other than the one recorded (or none) starts from the newest event.
func (s *Store) WebhookClaim(ctx context.Context, url, holder string, ttl time.Duration) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO event_webhook (id, url, last_event_id, holder, lease_until)
		VALUES (1, $1, (SELECT coalesce(max(id), 0) FROM workload_events), $2, now() + make_interval(secs => $3))
		ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until,
			last_event_id = CASE WHEN event_webhook.url = EXCLUDED.url THEN event_webhook.last_event_id ELSE EXCLUDED.last_event_id END
		WHERE event_webhook.holder = EXCLUDED.holder OR event_webhook.lease_until < now()
		RETURNING last_event_id`, url, holder, ttl.Seconds()).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotHolder
	}
	return id, interpret(err)
}

// ErrNotHolder: another replica holds the event webhook's lease.
var ErrNotHolder = errors.New("another replica sends the event webhook's events")

// WebhookAdvance records that the events up to id were handled, and renews holder's lease for
// ttl; it fails with ErrNotHolder when holder no longer holds it.
func (s *Store) WebhookAdvance(ctx context.Context, holder string, id int64, ttl time.Duration) error {
	tag, err := s.pool.Exec(ctx, `UPDATE event_webhook SET last_event_id = greatest(last_event_id, $2),
		lease_until = now() + make_interval(secs => $3) WHERE id = 1 AND holder = $1`, holder, id, ttl.Seconds())
	if err != nil {
		return interpret(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotHolder
	}
	return nil
}
