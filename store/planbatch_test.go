package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/fjord-io/fjord/store"
)

// TestApplyPlanRows checks what ApplyPlan writes row by row (it writes each kind of change
// with one statement): inserts, unchanged rows left alone, moves, stops, states that never
// undo DELETING, events in order, and which agents' generations move.
func TestApplyPlanRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := open(t)
	for _, id := range []string{"a1", "a2", "a3"} {
		if err := st.AgentHello(ctx, store.Agent{ID: id, MCUCapacity: 8}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"c1", "c2"} {
		if err := st.Connectors.Create(ctx, &store.Resource{ARN: "arn:" + name, AccountID: "000000000000", Region: "us-east-1",
			Name: name, State: "CREATING", Doc: []byte("d")}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	lead, err := st.LeaderAcquire(ctx, "test")
	if err != nil || lead == nil {
		t.Fatalf("LeaderAcquire: %v %v", lead, err)
	}
	defer lead.Release()
	gens := func() map[string]int64 {
		t.Helper()
		as, err := st.Agents(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, a := range as {
			out[a.ID] = a.Generation
		}
		return out
	}
	workers := func() map[string]store.Worker {
		t.Helper()
		ws, err := st.Workers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.Worker{}
		for _, w := range ws {
			out[w.ID] = w
		}
		return out
	}

	w1 := store.Worker{ID: "w1", WorkloadARN: "arn:c1", WorkloadKind: "connector", Ordinal: 0, AgentID: "a1", Epoch: 1, MCU: 2, Tasks: []int{0, 2}}
	w2 := store.Worker{ID: "w2", WorkloadARN: "arn:c1", WorkloadKind: "connector", Ordinal: 1, AgentID: "a2", Epoch: 1, MCU: 2, Tasks: []int{1}}
	w3 := store.Worker{ID: "w3", WorkloadARN: "arn:c2", WorkloadKind: "connector", Ordinal: 0, Epoch: 1, MCU: 1} // unplaced
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term, Workers: []store.Worker{w1, w2, w3},
		States: []store.WorkloadState{{Table: st.Connectors, ARN: "arn:c1", State: "CREATING", StateCode: "X", StateMessage: "first"},
			{Table: st.Connectors, ARN: "arn:c1", State: "RUNNING"}},
		Events: []store.WorkloadEvent{{WorkloadARN: "arn:c1", Kind: "placed", Reason: "one", WorkerID: "w1"},
			{WorkloadARN: "arn:c1", Kind: "placed", Reason: "two", WorkerID: "w2"}}}); err != nil {
		t.Fatal(err)
	}
	got := workers()
	if len(got) != 3 || got["w1"].AgentID != "a1" || !slices.Equal(got["w1"].Tasks, []int{0, 2}) || got["w2"].AgentID != "a2" ||
		got["w3"].AgentID != "" || got["w3"].Tasks != nil || got["w1"].MCU != 2 || got["w2"].Ordinal != 1 {
		t.Fatalf("workers after insert: %+v", got)
	}
	if g := gens(); g["a1"] != 1 || g["a2"] != 1 || g["a3"] != 0 {
		t.Fatalf("generations after insert: %v", g)
	}
	if c, err := st.Connectors.ByARN(ctx, "arn:c1"); err != nil || c.State != "RUNNING" || c.StateCode != "" {
		t.Fatalf("state: the last of a workload's states wins: %+v %v", c, err)
	}
	all, err := st.WorkloadEvents(ctx, "arn:c1", 10)
	var ev, states []store.WorkloadEvent
	for _, e := range all {
		if e.Kind == "state" { // recorded by the trigger on the workload's table
			states = append(states, e)
		} else {
			ev = append(ev, e)
		}
	}
	if err != nil || len(ev) != 2 || ev[0].Reason != "one" || ev[1].Reason != "two" {
		t.Fatalf("events: %+v %v", all, err)
	}
	if len(states) != 2 || states[0].State != "CREATING" || states[0].PreviousState != "" || states[0].WorkloadName != "c1" ||
		states[1].State != "RUNNING" || states[1].PreviousState != "CREATING" || states[1].Reason != "CREATING → RUNNING" {
		t.Fatalf("state events: %+v", states)
	}

	// w1 unchanged (a1 untouched), w2 moves a2 → a3 (both touched); a workload in DELETING
	// keeps its state.
	if _, err := st.Connectors.Update(ctx, "000000000000", "us-east-1", "arn:c2", store.UpdateOptions{}, func(r *store.Resource) error {
		r.State = "DELETING"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w2.AgentID, w2.Epoch = "a3", 2
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term, Workers: []store.Worker{w1, w2},
		States: []store.WorkloadState{{Table: st.Connectors, ARN: "arn:c2", State: "FAILED"}}}); err != nil {
		t.Fatal(err)
	}
	if got := workers(); got["w2"].AgentID != "a3" || got["w2"].Epoch != 2 || got["w1"].Epoch != 1 {
		t.Fatalf("workers after move: %+v", got)
	}
	if g := gens(); g["a1"] != 1 || g["a2"] != 2 || g["a3"] != 1 {
		t.Fatalf("generations after move: %v", g)
	}
	if c, err := st.Connectors.ByARN(ctx, "arn:c2"); err != nil || c.State != "DELETING" {
		t.Fatalf("DELETING was undone: %+v %v", c, err)
	}

	// Stops: w1 on a live agent is marked stopping (a1 touched); w3 has no agent and goes at
	// once; an unknown id is ignored. A stopped worker that is desired again is revived.
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term, Stop: []string{"w1", "w3", "nope"}}); err != nil {
		t.Fatal(err)
	}
	got = workers()
	if len(got) != 2 || !got["w1"].Stopping || got["w2"].Stopping {
		t.Fatalf("workers after stop: %+v", got)
	}
	if g := gens(); g["a1"] != 2 || g["a3"] != 1 {
		t.Fatalf("generations after stop: %v", g)
	}
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term, Workers: []store.Worker{w1}}); err != nil {
		t.Fatal(err)
	}
	if got := workers(); got["w1"].Stopping || gens()["a1"] != 3 {
		t.Fatalf("w1 not revived: %+v", got["w1"])
	}

	// A plan from an old term writes nothing.
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term - 1, Stop: []string{"w1"}}); !errors.Is(err, store.ErrTermChanged) {
		t.Fatalf("old term: %v", err)
	}
	if got := workers(); got["w1"].Stopping {
		t.Fatal("a plan of an old term was applied")
	}
}
