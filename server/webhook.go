package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fjord-io/fjord/store"
)

// The event webhook (--event-webhook) POSTs every workload state change as JSON. One replica
// at a time sends: the one holding the webhook's lease in the database (event_webhook), which
// it renews as it goes; the last event handled is recorded there too, by the holder only, so
// another replica taking over (once the lease ran out) continues where it stopped. Delivery is at least once: an
// event delivered just before its sender stopped, and not yet recorded, is delivered again.
// Events are sent in order, one at a time; one the receiver does not accept (a 2xx answer) is
// retried with a doubling backoff and, after its attempts, dropped, logged and counted in
// fjord_event_webhook_failures_total. Nothing of this touches the scheduler.

// webhookEvent is the JSON body of one POST.
type webhookEvent struct {
	EventID       int64     `json:"eventId"`
	WorkloadARN   string    `json:"workloadArn"`
	WorkloadName  string    `json:"workloadName"`
	Kind          string    `json:"kind"`
	State         string    `json:"state"`
	PreviousState string    `json:"previousState"`
	Code          string    `json:"code"`
	Message       string    `json:"message"`
	At            time.Time `json:"at"`
}

// webhookLease is how long a sender's claim lasts without renewal.
const webhookLease = 30 * time.Second

// webhookSettle is how long the sender waits for an event id missing from the sequence (a
// transaction still committing) before it skips it.
const webhookSettle = 5 * time.Second

type webhook struct {
	st       *store.Store
	id       string
	url      string
	attempts int
	backoff  time.Duration
	poll     time.Duration
	client   *http.Client
	failures prometheus.Counter
	sent     prometheus.Counter
	log      *slog.Logger
}

func newWebhook(s *Server) *webhook {
	c := s.cfg
	w := &webhook{st: c.Store, id: s.id, url: c.EventWebhook, attempts: c.EventWebhookAttempts, backoff: c.EventWebhookBackoff,
		poll: time.Second, client: &http.Client{Timeout: 10 * time.Second}, log: s.log,
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "fjord_event_webhook_failures_total",
			Help: "Workload state events the event webhook dropped after every attempt failed."}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "fjord_event_webhook_sent_total",
			Help: "Workload state events the event webhook delivered."}),
	}
	c.Registry.MustRegister(w.failures, w.sent)
	return w
}

// run claims the webhook's lease whenever it can and delivers while it holds it, until ctx
// ends.
func (w *webhook) run(ctx context.Context) {
	sending := false
	for {
		cursor, err := w.st.WebhookClaim(ctx, w.url, w.id, webhookLease)
		switch {
		case err == nil:
			if !sending {
				w.log.Info("event webhook: this replica sends the events", "url", w.url, "after_event_id", cursor)
			}
			sending = true
			err = w.deliver(ctx, cursor)
			if err != nil && ctx.Err() == nil {
				sending = false
				w.log.Warn("event webhook: sending stopped", "error", err.Error())
			}
		case errors.Is(err, store.ErrNotHolder):
			sending = false
		case ctx.Err() == nil:
			w.log.Warn("event webhook: lease not claimed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.poll):
		}
	}
}

// deliver sends the events after cursor, a batch at a time, recording each as handled.
func (w *webhook) deliver(ctx context.Context, cursor int64) error {
	for {
		events, last, err := w.st.EventsAfter(ctx, cursor, 100, webhookSettle)
		if err != nil {
			return err
		}
		for _, e := range events {
			if e.Kind == "state" {
				if err := w.send(ctx, e); err != nil {
					return err
				}
			}
			if ctx.Err() != nil {
				return nil
			}
			if e.Kind == "state" {
				if err := w.st.WebhookAdvance(ctx, w.id, e.ID, webhookLease); err != nil {
					return err
				}
			}
			cursor = e.ID
		}
		if last > cursor {
			cursor = last
		}
		if err := w.st.WebhookAdvance(ctx, w.id, cursor, webhookLease); err != nil {
			return err
		}
		if len(events) < 100 {
			return nil
		}
	}
}

// send POSTs one event, retrying with a doubling backoff (renewing the lease before each
// retry); after the last attempt it drops it. It fails only when the lease is lost.
func (w *webhook) send(ctx context.Context, e store.WorkloadEvent) error {
	body, _ := json.Marshal(webhookEvent{EventID: e.ID, WorkloadARN: e.WorkloadARN, WorkloadName: e.WorkloadName, Kind: e.Kind,
		State: e.State, PreviousState: e.PreviousState, Code: e.StateCode, Message: e.Reason, At: e.At.UTC()})
	wait := w.backoff
	var err error
	for attempt := 1; attempt <= w.attempts; attempt++ {
		if err = w.post(ctx, body); err == nil {
			w.sent.Inc()
			return nil
		}
		if attempt == w.attempts {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
		if lerr := w.st.WebhookAdvance(ctx, w.id, 0, webhookLease); lerr != nil {
			return lerr
		}
	}
	w.failures.Inc()
	w.log.Error("event webhook: event dropped", "event_id", e.ID, "workload_arn", e.WorkloadARN, "state", e.State,
		"attempts", w.attempts, "error", err.Error())
	return nil
}

func (w *webhook) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}
