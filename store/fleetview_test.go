package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/fjord-io/fjord/store"
)

// TestAgentDisconnectedSession: the end of an agent's stream marks it disconnected only while
// that stream is the agent's current one; a newer Hello clears the mark.
func TestAgentDisconnectedSession(t *testing.T) {
	t.Parallel()
	st, _, _ := open(t)
	ctx := context.Background()
	agent := func() store.Agent {
		t.Helper()
		as, err := st.Agents(ctx)
		if err != nil || len(as) != 1 {
			t.Fatalf("Agents: %v %v", as, err)
		}
		return as[0]
	}
	if err := st.AgentHello(ctx, store.Agent{ID: "a", MCUCapacity: 2, Address: "10.0.0.1:5000", Session: "s1"}); err != nil {
		t.Fatal(err)
	}
	if a := agent(); a.Address != "10.0.0.1:5000" || a.Session != "s1" || !a.DisconnectedAt.IsZero() {
		t.Fatalf("after Hello: %+v", a)
	}
	// A newer stream (s2) replaces s1; s1's late end changes nothing.
	if err := st.AgentHello(ctx, store.Agent{ID: "a", MCUCapacity: 2, Address: "10.0.0.1:5001", Session: "s2"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AgentDisconnected(ctx, "a", "s1"); err != nil {
		t.Fatal(err)
	}
	if a := agent(); !a.DisconnectedAt.IsZero() || a.Address != "10.0.0.1:5001" {
		t.Fatalf("after the replaced stream ended: %+v", a)
	}
	if err := st.AgentDisconnected(ctx, "a", "s2"); err != nil {
		t.Fatal(err)
	}
	if a := agent(); a.DisconnectedAt.IsZero() {
		t.Fatalf("after the current stream ended: %+v", a)
	}
	if err := st.AgentHello(ctx, store.Agent{ID: "a", MCUCapacity: 2, Session: "s3"}); err != nil {
		t.Fatal(err)
	}
	if a := agent(); !a.DisconnectedAt.IsZero() {
		t.Fatalf("after a new Hello: %+v", a)
	}
}

// TestWorkloadEventsPage: a workload's events page newest first, and only its own.
func TestWorkloadEventsPage(t *testing.T) {
	t.Parallel()
	st, _, _ := open(t)
	ctx := context.Background()
	lead, err := st.LeaderAcquire(ctx, t.Name())
	if err != nil || lead == nil {
		t.Fatalf("LeaderAcquire: %v %v", lead, err)
	}
	defer lead.Release()
	p := store.Plan{Term: lead.Term}
	for i := range 7 {
		p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: "arn:w", Kind: "place", Reason: fmt.Sprint(i), WorkerID: "arn:w/worker-0"})
		p.Events = append(p.Events, store.WorkloadEvent{WorkloadARN: "arn:other", Kind: "place", Reason: "other"})
	}
	if err := st.ApplyPlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	var got []string
	var before int64
	for {
		page, err := st.WorkloadEventsPage(ctx, "arn:w", before, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if e.WorkloadARN != "arn:w" || e.WorkerID != "arn:w/worker-0" || e.At.IsZero() {
				t.Fatalf("event: %+v", e)
			}
			got = append(got, e.Reason)
		}
		if len(page) < 3 {
			break
		}
		before = page[len(page)-1].ID
	}
	if fmt.Sprint(got) != "[6 5 4 3 2 1 0]" {
		t.Fatalf("events newest first across pages: %v", got)
	}
}
