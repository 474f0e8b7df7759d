package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server/workload"
)

// TestRetentionFlags: --events-retention takes a Go duration or days, --events-per-workload and
// --plugin-ingest-concurrency positive integers; the defaults are 7 days, 1000 and 2;
// --event-webhook an http(s) URL; bad values are refused naming the flag.
func TestRetentionFlags(t *testing.T) {
	parse := func(args ...string) (scheduling, scheduler.LeaderConfig, error) {
		f := newFlags("server", "")
		f.SetOutput(io.Discard)
		var s scheduling
		s.register(f)
		if err := f.Parse(args); err != nil {
			t.Fatal(err)
		}
		var lc scheduler.LeaderConfig
		err := s.apply(&workload.Config{}, &lc)
		return s, lc, err
	}
	s, lc, err := parse()
	if err != nil || lc.Retention.EventsMaxAge != 7*24*time.Hour || lc.Retention.EventsPerWorkload != 1000 || s.pluginIngestN != 2 {
		t.Fatalf("defaults: %+v, plugin ingest %d, %v", lc.Retention, s.pluginIngestN, err)
	}
	s, lc, err = parse("--events-retention", "36h", "--events-per-workload", "50", "--plugin-ingest-concurrency", "5")
	if err != nil || lc.Retention.EventsMaxAge != 36*time.Hour || lc.Retention.EventsPerWorkload != 50 || s.pluginIngestN != 5 {
		t.Fatalf("set: %+v, plugin ingest %d, %v", lc.Retention, s.pluginIngestN, err)
	}
	if s, _, err = parse("--event-webhook", "https://hooks.example.com/fjord", "--event-webhook-attempts", "3"); err != nil ||
		s.eventWebhook != "https://hooks.example.com/fjord" || s.eventWebhookAttemptsN != 3 {
		t.Fatalf("event webhook: %q × %d, %v", s.eventWebhook, s.eventWebhookAttemptsN, err)
	}
	if _, lc, _ = parse("--events-retention", "30d"); lc.Retention.EventsMaxAge != 30*24*time.Hour {
		t.Fatalf("30d: %v", lc.Retention.EventsMaxAge)
	}
	for _, bad := range [][]string{
		{"--events-retention", "0"}, {"--events-retention", "-1h"}, {"--events-retention", "xd"}, {"--events-retention", "0d"},
		{"--events-per-workload", "0"}, {"--events-per-workload", "many"},
		{"--plugin-ingest-concurrency", "0"}, {"--plugin-ingest-concurrency", "-2"},
		{"--event-webhook", "example.com/hook"}, {"--event-webhook", "ftp://example.com/"}, {"--event-webhook", "http://"},
		{"--event-webhook-attempts", "0"},
	} {
		if _, _, err := parse(bad...); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: %v; want an error naming %s", bad, err, bad[0])
		}
	}
}
