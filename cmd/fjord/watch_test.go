package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
)

// watchedEvent is one line `fjord workloads watch --output json` prints.
type watchedEvent struct {
	EventID       int64  `json:"eventId,string"`
	Time          string `json:"time"`
	Kind          string `json:"kind"`
	Reason        string `json:"reason"`
	WorkloadArn   string `json:"workloadArn"`
	WorkloadName  string `json:"workloadName"`
	State         string `json:"state"`
	PreviousState string `json:"previousState"`
}

// hookEvent is one POST body of the event webhook.
type hookEvent struct {
	EventID       int64     `json:"eventId"`
	WorkloadArn   string    `json:"workloadArn"`
	WorkloadName  string    `json:"workloadName"`
	Kind          string    `json:"kind"`
	State         string    `json:"state"`
	PreviousState string    `json:"previousState"`
	Code          string    `json:"code"`
	Message       string    `json:"message"`
	At            time.Time `json:"at"`
}

// TestWatchAndWebhookE2E follows a connector's life (CREATING → RUNNING → DELETING → DELETED)
// with `fjord workloads watch --output json` (the real binary against a real `fjord server`)
// and with the server's --event-webhook: watch prints each state change within 2 s of it, and
// the webhook receiver gets each as JSON, in order, although it refused the first two attempts.
func TestWatchAndWebhookE2E(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		attempts int
		got      []hookEvent
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts <= 2 {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		var e hookEvent
		if err := json.Unmarshal(body, &e); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook body %q (%s): %v", body, r.Header.Get("Content-Type"), err)
		}
		got = append(got, e)
	}))
	t.Cleanup(recv.Close)
	f := startFleet(t, 10*time.Second, "--event-webhook", recv.URL)
	f.startAgent(t, "watch-a", 2)

	watch := startProc(t, "fjord workloads watch", f.bin, "workloads", "watch", "--server", f.srv.grpcAddr, "--output", "json")
	table := startProc(t, "fjord workloads watch (table)", f.bin, "workloads", "watch", "--server", f.srv.grpcAddr)
	for _, p := range []*proc{watch, table} {
		poll(t, 30*time.Second, "watch to start", func() bool { return strings.Contains(p.stderr.String(), "watching events after") })
	}

	// seen reads watch's state events so far, with when each line was first seen.
	seenAt := map[int64]time.Time{}
	states := func() []watchedEvent {
		var out []watchedEvent
		for _, line := range strings.Split(watch.stdout.String(), "\n") {
			if line == "" {
				continue
			}
			var e watchedEvent
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("watch printed %q: %v", line, err)
			}
			if _, ok := seenAt[e.EventID]; !ok {
				seenAt[e.EventID] = time.Now()
			}
			if e.Kind == "state" {
				out = append(out, e)
			}
		}
		return out
	}
	waitState := func(arn, state string) watchedEvent {
		t.Helper()
		var found watchedEvent
		poll(t, time.Minute, "watch to print "+state, func() bool {
			for _, e := range states() {
				if e.WorkloadArn == arn && e.State == state {
					found = e
					return true
				}
			}
			return false
		})
		at, err := time.Parse(time.RFC3339Nano, found.Time)
		if err != nil {
			t.Fatalf("event time %q: %v", found.Time, err)
		}
		lag := seenAt[found.EventID].Sub(at)
		t.Logf("watch printed %s (%s) %.2f s after it happened", state, found.Reason, lag.Seconds())
		if lag > 2*time.Second {
			t.Errorf("watch printed %s %.2f s after it happened, want at most 2 s", state, lag.Seconds())
		}
		return found
	}

	plugin := f.customPlugin(t)
	arn := f.createConnector(t, plugin, "watched", 1, map[string]string{
		"connector.class":                  classHeartbeat,
		"tasks.max":                        "1",
		"source.cluster.alias":             "east",
		"target.cluster.alias":             "west",
		"source.cluster.bootstrap.servers": f.src,
		"target.cluster.bootstrap.servers": f.tgt,
		"emit.heartbeats.interval.seconds": "1",
	})
	created := waitState(arn, "CREATING")
	if created.PreviousState != "" || created.WorkloadName != "watched" {
		t.Fatalf("created: %+v", created)
	}
	if running := waitState(arn, "RUNNING"); running.PreviousState != "CREATING" {
		t.Fatalf("running: %+v", running)
	}
	f.waitConnector(t, arn, kctypes.ConnectorStateRunning, time.Minute)
	// A watch of this connector alone, from now on.
	one := startProc(t, "fjord workloads watch ARN", f.bin, "workloads", "watch", arn, "--server", f.srv.grpcAddr, "--output", "json")
	poll(t, 30*time.Second, "watch ARN to start", func() bool { return strings.Contains(one.stderr.String(), "watching events after") })
	if _, err := f.api.kc.DeleteConnector(t.Context(), &kafkaconnect.DeleteConnectorInput{ConnectorArn: aws.String(arn)}); err != nil {
		t.Fatalf("DeleteConnector: %v", err)
	}
	if deleting := waitState(arn, "DELETING"); deleting.PreviousState != "RUNNING" {
		t.Fatalf("deleting: %+v", deleting)
	}
	if deleted := waitState(arn, "DELETED"); deleted.PreviousState != "DELETING" {
		t.Fatalf("deleted: %+v", deleted)
	}
	// Other events (placement) are followed too.
	if !strings.Contains(watch.stdout.String(), `"kind":"place"`) {
		t.Errorf("watch printed no placement:\n%s", watch.stdout)
	}
	poll(t, 10*time.Second, "watch ARN to print DELETED", func() bool { return strings.Contains(one.stdout.String(), `"state":"DELETED"`) })
	if out := one.stdout.String(); strings.Contains(out, `"state":"CREATING"`) || !strings.Contains(out, `"previousState":"RUNNING"`) {
		t.Errorf("watch ARN (started while RUNNING) printed:\n%s", out)
	}
	// Watching a workload that does not exist (any more) is NotFound.
	gone := exec.Command(f.bin, "workloads", "watch", arn, "--server", f.srv.grpcAddr)
	gone.Env = childEnv()
	if out, err := gone.CombinedOutput(); err == nil || !strings.Contains(string(out), "NotFound") {
		t.Errorf("watch of a deleted connector: %v\n%s", err, out)
	}
	// The table: one line per event, for people.
	poll(t, 10*time.Second, "the table watch to print DELETED", func() bool { return strings.Contains(table.stdout.String(), "DELETING → DELETED") })
	for _, want := range []string{"TIME", "watched", "state", "CREATING → RUNNING", "place"} {
		if !strings.Contains(table.stdout.String(), want) {
			t.Errorf("watch table lacks %q:\n%s", want, table.stdout)
		}
	}
	t.Logf("fjord workloads watch:\n%s", table.stdout)

	// The webhook got the four changes, in order, although it refused the first two attempts.
	want := []string{"→CREATING", "CREATING→RUNNING", "RUNNING→DELETING", "DELETING→DELETED"}
	var hooks []hookEvent
	poll(t, 30*time.Second, "the webhook to receive the four state changes", func() bool {
		mu.Lock()
		defer mu.Unlock()
		hooks = append(hooks[:0], got...)
		return len(hooks) >= len(want)
	})
	mu.Lock()
	n := attempts
	mu.Unlock()
	if n != len(want)+2 {
		t.Errorf("webhook attempts: %d, want %d (2 refused)", n, len(want)+2)
	}
	for i, h := range hooks {
		if i >= len(want) || h.PreviousState+"→"+h.State != want[i] || h.WorkloadArn != arn || h.WorkloadName != "watched" ||
			h.Kind != "state" || h.EventID == 0 || h.At.IsZero() || h.Message == "" {
			t.Fatalf("webhook events: %+v, want %v", hooks, want)
		}
	}
	t.Logf("webhook received %d events in %d attempts: %+v", len(hooks), n, hooks)
	resp, err := http.Get("http://" + f.srv.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, m := range []string{"fjord_event_webhook_failures_total 0", "fjord_event_webhook_sent_total 4"} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("metrics lack %q", m)
		}
	}
}
