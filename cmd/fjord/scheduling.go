package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/workers/agent"
)

// minAutoscaleWindow is the shortest --autoscale-window: agents measure workers every sixth of
// it, and no more often than agent.MinMetricsInterval.
const minAutoscaleWindow = time.Second

// scheduling holds the scheduler flags that `fjord server` and `fjord dev` share.
type scheduling struct {
	window, cooldown   string
	validation, timout string
	delivery           string
	unhealthyAfter     string
	// Retention and plugin ingestion.
	eventsRetention, eventsPerWorkload, pluginIngest string
	pluginIngestN                                    int
	// The event webhook.
	eventWebhook, eventWebhookAttempts string
	eventWebhookAttemptsN              int
}

func (s *scheduling) register(f *flags) {
	f.str(&s.window, "autoscale-window", "", "1m", "how long a workload's average CPU utilization must stay beyond a scaling threshold (in each third of the window) before a worker is added or removed; at least "+
		minAutoscaleWindow.String()+"; agents are told to measure workers' CPU at least every sixth of it")
	f.str(&s.cooldown, "autoscale-cooldown", "", "2m", "least time between two scaling steps of one workload")
	f.str(&s.validation, "update-validation", "", "10s", "how long a connector's workers must run an update before the operation completes")
	f.str(&s.timout, "update-timeout", "", "5m", "how long a connector update step or rollback may take before it fails (a replicator update: before it ends RUNNING unsettled)")
	f.str(&s.unhealthyAfter, "unhealthy-after", "", "60s", "how long a worker may fail to reach a Kafka cluster (unreachable, refused credentials, a name that does not resolve) before its workload is FAILED with CLUSTER_UNREACHABLE, AUTHENTICATION_FAILED or DNS_RESOLUTION_FAILED; it is RUNNING again once the cluster answers")
	f.str(&s.delivery, "replicator-delivery", "", workload.DeliveryExactlyOnce,
		"replicators' default delivery guarantee: exactly-once or at-least-once (a replicator's fjord:delivery tag overrides it)")
	f.str(&s.eventsRetention, "events-retention", "", "7d", "how long workload events (the scheduler's recorded decisions) are kept; a Go duration or a number of days such as 7d")
	f.str(&s.eventsPerWorkload, "events-per-workload", "", "1000", "how many of each workload's most recent events are kept at most")
	f.str(&s.eventWebhook, "event-webhook", "", "", "URL every workload state change is POSTed to as JSON (one replica sends; retried; delivered at least once)")
	f.str(&s.eventWebhookAttempts, "event-webhook-attempts", "", "6", "how many times the event webhook sends an event before it drops it (logged, and counted in fjord_event_webhook_failures_total)")
	f.str(&s.pluginIngest, "plugin-ingest-concurrency", "", "2", "how many custom plugin objects this replica fetches and indexes at once; the others wait CREATING")
}

// parseRetention parses a positive Go duration or a whole number of days ("7d").
func parseRetention(v string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("bad number of days %q", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad duration %q", v)
	}
	return d, nil
}

// positive parses a positive integer flag.
func positive(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--%s must be a positive integer, got %q", name, v)
	}
	return n, nil
}

// apply validates the flags and sets them on the workload compiler's and the scheduler's
// configurations.
func (s *scheduling) apply(wl *workload.Config, lc *scheduler.LeaderConfig) error {
	for _, d := range []struct {
		name, value string
		into        *time.Duration
	}{
		{"autoscale-window", s.window, &lc.Autoscale.Window},
		{"autoscale-cooldown", s.cooldown, &lc.Autoscale.Cooldown},
		{"update-validation", s.validation, &wl.UpdateValidation},
		{"update-timeout", s.timout, &wl.UpdateTimeout},
		{"unhealthy-after", s.unhealthyAfter, &lc.HealthBound},
	} {
		v, err := time.ParseDuration(d.value)
		if err != nil || v <= 0 {
			return fmt.Errorf("--%s must be a positive duration, got %q", d.name, d.value)
		}
		*d.into = v
	}
	if lc.Autoscale.Window < minAutoscaleWindow {
		return fmt.Errorf("--autoscale-window must be at least %s, got %s: each third of the window needs CPU samples, and agents measure workers no more often than every %s",
			minAutoscaleWindow, lc.Autoscale.Window, agent.MinMetricsInterval)
	}
	age, err := parseRetention(s.eventsRetention)
	if err != nil {
		return fmt.Errorf("--events-retention must be a positive duration (e.g. 168h) or number of days (e.g. 7d), got %q", s.eventsRetention)
	}
	lc.Retention.EventsMaxAge = age
	if lc.Retention.EventsPerWorkload, err = positive("events-per-workload", s.eventsPerWorkload); err != nil {
		return err
	}
	if s.pluginIngestN, err = positive("plugin-ingest-concurrency", s.pluginIngest); err != nil {
		return err
	}
	if s.eventWebhookAttemptsN, err = positive("event-webhook-attempts", s.eventWebhookAttempts); err != nil {
		return err
	}
	if s.eventWebhook != "" {
		u, err := url.Parse(s.eventWebhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--event-webhook must be an http:// or https:// URL, got %q", s.eventWebhook)
		}
	}
	switch s.delivery {
	case workload.DeliveryExactlyOnce, workload.DeliveryAtLeastOnce:
		wl.ReplicatorDelivery = s.delivery
	default:
		return fmt.Errorf("--replicator-delivery must be %s or %s, got %q", workload.DeliveryExactlyOnce, workload.DeliveryAtLeastOnce, s.delivery)
	}
	return nil
}
