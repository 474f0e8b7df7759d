package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestWebhookDropsAfterAttempts: an event the receiver never accepts is tried
// EventWebhookAttempts times, then dropped and counted; the events after it are delivered, and
// the cursor in the database passes them all (other kinds are not sent).
func TestWebhookDropsAfterAttempts(t *testing.T) {
	t.Parallel()
	st := cacheStore(t)
	var (
		mu    sync.Mutex
		tries = map[int64]int{}
		got   []int64
	)
	var refused int64 = -1
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var e webhookEvent
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("body %q: %v", body, err)
		}
		mu.Lock()
		defer mu.Unlock()
		tries[e.EventID]++
		if e.EventID == refused {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		got = append(got, e.EventID)
	}))
	t.Cleanup(recv.Close)
	wh := &webhook{st: st, id: "r1", url: recv.URL, attempts: 3, backoff: 5 * time.Millisecond, poll: 20 * time.Millisecond,
		client: recv.Client(), log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "f"}), sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "s"})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); wh.run(ctx) }()
	defer func() { cancel(); <-done }()
	db := st.Pool()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("the lease", func() bool {
		var n int
		_ = db.QueryRow(ctx, `SELECT count(*) FROM event_webhook WHERE holder = 'r1'`).Scan(&n)
		return n == 1
	})
	var ids []int64
	for i, kind := range []string{"state", "place", "state", "state"} {
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO workload_events (workload_arn, kind, reason, state, previous_state, workload_name)
			VALUES ('arn:aws:kafkaconnect:us-east-1:000000000000:connector/c/1', $1, 'r', 'RUNNING', 'CREATING', 'c') RETURNING id`, kind).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			mu.Lock()
			refused = id
			mu.Unlock()
		}
		ids = append(ids, id)
	}
	waitFor("the events after the refused one", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	if got[0] != ids[2] || got[1] != ids[3] || tries[ids[0]] != 3 || tries[ids[1]] != 0 {
		t.Fatalf("delivered %v, tries %v (events %v)", got, tries, ids)
	}
	value := func(c prometheus.Counter) float64 {
		var m dto.Metric
		if err := c.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	if f, s := value(wh.failures), value(wh.sent); f != 1 || s != 2 {
		t.Fatalf("failures %v, sent %v", f, s)
	}
	waitFor("the cursor", func() bool {
		var c int64
		_ = db.QueryRow(ctx, `SELECT last_event_id FROM event_webhook`).Scan(&c)
		return c == ids[3]
	})
}
