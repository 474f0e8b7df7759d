package main

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestAgentRollingRestartE2E: an exactly-once replicator's workers run on two agents; each
// agent in turn is stopped with SIGTERM (it drains: its workers move to the other agent) and
// started again. Records flow at a steady 1,000/s all along: the longest stretch without a
// newly committed record on the target stays under 5 s per agent, and a read_committed
// consumer finds every source record exactly once, in order.
func TestAgentRollingRestartE2E(t *testing.T) {
	t.Parallel()
	total, rate := 40_000, 1_000
	if raceEnabled() {
		total, rate = 12_000, 300
	}
	f := startFleet(t, 3*time.Second)
	agents := []*fjordAgent{f.startAgent(t, "roll-a", 4), f.startAgent(t, "roll-b", 4)}
	topics := []string{"roll.0", "roll.1"}
	const partitions = 3
	createTopics(t, f.src, partitions, topics...)
	c := newCorpus()
	arn := f.createExactlyOnceReplicator(t, "rep-roll", `roll\..*`)
	f.waitReplicatorRunning(t, arn, time.Minute)
	check := newCommittedCheck(t, c, f.tgt, `^source\.roll\.`)
	p := produceAtRate(t, c, newProducer(t, f.src), topics, partitions, total, rate)
	check.waitFor(t, time.Minute, "the first committed records", func() bool { return check.count() > 0 })

	// The longest stall of committed records, measured by a reader of the check's count.
	var mu sync.Mutex
	var stall time.Duration
	lastCount, lastChange := 0, time.Now()
	measure := func() {
		mu.Lock()
		defer mu.Unlock()
		if n := check.count(); n != lastCount {
			lastCount, lastChange = n, time.Now()
		} else if d := time.Since(lastChange); d > stall && !p.finished() {
			stall = d
		}
	}
	var stalls []time.Duration
	for i := range agents {
		mu.Lock()
		stall = 0
		mu.Unlock()
		t0 := time.Now()
		done := make(chan bool, 1)
		go func() { done <- agents[i].stop(t, 30*time.Second) }()
		// Read (and measure) while the agent drains and until it is back with work moved on.
		check.waitFor(t, time.Minute, fmt.Sprintf("records while agent %s drains", agents[i].id), func() bool {
			measure()
			select {
			case ok := <-done:
				if !ok {
					t.FailNow()
				}
				done <- true
				return time.Since(t0) > 5*time.Second
			default:
				return false
			}
		})
		id := agents[i].id
		agents[i] = f.startAgent(t, id, 4)
		check.waitFor(t, 20*time.Second, "records after the agent came back", func() bool {
			measure()
			return time.Since(t0) > 12*time.Second
		})
		mu.Lock()
		stalls = append(stalls, stall)
		mu.Unlock()
		t.Logf("agent %s: SIGTERM, drained and back; the longest stretch without a new committed record: %v", id, stall.Round(10*time.Millisecond))
	}
	p.wait(t)
	check.waitFor(t, 2*time.Minute, fmt.Sprintf("all %d records", total), func() bool { return check.count() == total })
	for i, s := range stalls {
		if s >= 5*time.Second {
			t.Errorf("agent %d's restart paused replication for %v (want < 5 s)", i+1, s)
		}
	}
	t.Logf("all %d records exactly once and in order (read_committed); pauses %v", total, stalls)
}
