package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fjord-io/fjord/store"
)

// TestEventsAfter: a follower gets the committed events after its cursor, oldest first, and
// stops before an id still being committed; an old gap (a rolled-back insert) is skipped.
func TestEventsAfter(t *testing.T) {
	t.Parallel()
	st, _, _ := open(t)
	ctx := context.Background()
	db := st.Pool()
	add := func(reason string) {
		t.Helper()
		if _, err := db.Exec(ctx, `INSERT INTO workload_events (workload_arn, kind, reason) VALUES ('arn:x', 'k', $1)`, reason); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(evs []store.WorkloadEvent) []int64 {
		var out []int64
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	add("1")
	add("2")
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO workload_events (workload_arn, kind, reason) VALUES ('arn:x', 'k', '3')`); err != nil {
		t.Fatal(err)
	}
	add("4")
	evs, last, err := st.EventsAfter(ctx, 0, 100, time.Minute)
	if err != nil || len(evs) != 2 || last != 2 || evs[0].Reason != "1" || evs[1].Reason != "2" {
		t.Fatalf("with event 3 uncommitted: %v, last %d, %v", ids(evs), last, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	evs, last, err = st.EventsAfter(ctx, last, 100, time.Minute)
	if err != nil || len(evs) != 2 || last != 4 || evs[0].ID != 3 || evs[1].ID != 4 {
		t.Fatalf("after the commit: %v, last %d, %v", ids(evs), last, err)
	}
	// A rolled-back insert leaves a gap: waited for while young, skipped once settled.
	tx, err = db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO workload_events (workload_arn, kind, reason) VALUES ('arn:x', 'k', '5')`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	add("6")
	if evs, last, err = st.EventsAfter(ctx, 4, 100, time.Minute); err != nil || len(evs) != 0 || last != 4 {
		t.Fatalf("young gap: %v, last %d, %v", ids(evs), last, err)
	}
	if evs, last, err = st.EventsAfter(ctx, 4, 100, 0); err != nil || len(evs) != 1 || evs[0].ID != 6 || last != 6 {
		t.Fatalf("settled gap: %v, last %d, %v", ids(evs), last, err)
	}
	if n, err := st.LastEventID(ctx); err != nil || n != 6 {
		t.Fatalf("LastEventID: %d %v", n, err)
	}
}

// TestWebhookLease: one replica holds the webhook's lease and alone moves its cursor; another
// takes over (with the cursor) once the lease ran out; a new URL starts from the newest event.
func TestWebhookLease(t *testing.T) {
	t.Parallel()
	st, _, _ := open(t)
	ctx := context.Background()
	db := st.Pool()
	for range 3 {
		if _, err := db.Exec(ctx, `INSERT INTO workload_events (workload_arn, kind, reason) VALUES ('arn:x', 'k', 'r')`); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := st.WebhookClaim(ctx, "http://u", "a", time.Minute); err != nil || c != 3 {
		t.Fatalf("first claim: %d %v", c, err)
	}
	if _, err := st.WebhookClaim(ctx, "http://u", "b", time.Minute); !errors.Is(err, store.ErrNotHolder) {
		t.Fatalf("claim while a holds the lease: %v", err)
	}
	if err := st.WebhookAdvance(ctx, "b", 9, time.Minute); !errors.Is(err, store.ErrNotHolder) {
		t.Fatalf("advance by b: %v", err)
	}
	if err := st.WebhookAdvance(ctx, "a", 5, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.WebhookAdvance(ctx, "a", 4, time.Minute); err != nil { // never backwards
		t.Fatal(err)
	}
	if c, err := st.WebhookClaim(ctx, "http://u", "a", time.Minute); err != nil || c != 5 {
		t.Fatalf("renewed claim: %d %v", c, err)
	}
	expire := func() {
		if _, err := db.Exec(ctx, `UPDATE event_webhook SET lease_until = now() - interval '1 second'`); err != nil {
			t.Fatal(err)
		}
	}
	expire()
	if c, err := st.WebhookClaim(ctx, "http://u", "b", time.Minute); err != nil || c != 5 {
		t.Fatalf("takeover after the lease ran out: %d %v", c, err)
	}
	if err := st.WebhookAdvance(ctx, "a", 6, time.Minute); !errors.Is(err, store.ErrNotHolder) {
		t.Fatalf("advance by the former holder: %v", err)
	}
	expire()
	if c, err := st.WebhookClaim(ctx, "http://v", "a", time.Minute); err != nil || c != 3 {
		t.Fatalf("claim for a new URL: %d %v", c, err)
	}
}
