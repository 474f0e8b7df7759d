package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/fjord-io/fjord/store"
)

// TestWorkloadUtilization: samples of a worker's current epoch are kept, averaged over the
// window and by thirds of it; samples of another epoch, or outside the window, are not.
func TestWorkloadUtilization(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := open(t)
	placeWorker(ctx, t, st, "w0", 2)
	until := time.Now().UTC().Truncate(time.Millisecond)
	since := until.Add(-30 * time.Second)
	put := func(epoch int64, ago time.Duration, cpu float64) {
		t.Helper()
		if err := st.WorkerSamplePut(ctx, "w0", epoch, until.Add(-ago), cpu, 0.1); err != nil {
			t.Fatal(err)
		}
	}
	put(2, 25*time.Second, 0.10) // first third
	put(2, 22*time.Second, 0.20)
	put(2, 15*time.Second, 0.30) // second
	put(2, 5*time.Second, 0.60)  // third
	put(1, 4*time.Second, 0.99)  // an older epoch: dropped
	put(2, 40*time.Second, 0.99) // before the window
	if err := st.WorkerSamplePut(ctx, "nobody", 2, until, 0.5, 0.5); err != nil {
		t.Fatal(err) // an unknown worker: dropped, not an error
	}
	u, err := st.WorkloadUtilization(ctx, since, until)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := u["arn:c"]
	if !ok || len(u) != 1 {
		t.Fatalf("utilization %v", u)
	}
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if got.Samples != 4 || !near(got.CPU, 0.3) || !near(got.Memory, 0.1) {
		t.Errorf("window: %d samples, CPU %v, memory %v; want 4, 0.3, 0.1", got.Samples, got.CPU, got.Memory)
	}
	if got.ThirdSamples != [3]int{2, 1, 1} || !near(got.ThirdCPU[0], 0.15) || !near(got.ThirdCPU[1], 0.3) || !near(got.ThirdCPU[2], 0.6) {
		t.Errorf("thirds: %v samples, CPU %v; want [2 1 1], [0.15 0.3 0.6]", got.ThirdSamples, got.ThirdCPU)
	}
	if !got.Oldest.Equal(until.Add(-25*time.Second)) || !got.Newest.Equal(until.Add(-5*time.Second)) {
		t.Errorf("oldest %v newest %v", got.Oldest, got.Newest)
	}
	if n, err := st.WorkerSamplesPrune(ctx, until.Add(-20*time.Second), 0); err != nil || n != 3 {
		t.Errorf("prune: %d, %v; want 3 (two in the first third and the one before the window)", n, err)
	}
}

// TestAutoscaleObservation: a plan records what the autoscaler saw next to its state; a new
// decision leaves the observation until one replaces it, and dropping the state drops it.
func TestAutoscaleObservation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := open(t)
	lead, err := st.LeaderAcquire(ctx, "test")
	if err != nil || lead == nil {
		t.Fatalf("LeaderAcquire: %v %v", lead, err)
	}
	defer lead.Release()
	at := time.Now().UTC().Truncate(time.Millisecond)
	seen := store.AutoscaleObservation{WorkloadARN: "arn:c", At: at, Window: 10 * time.Second, Workers: 2,
		ThirdCPU: [3]float64{85.5, 91, 88.25}, ThirdSamples: [3]int{3, 4, 3}, ScaleOutCPU: 80, ScaleInCPU: 20,
		Decision: store.DecisionScaleOut, Reason: "scale out to 2 workers"}
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term,
		Autoscale:    []store.AutoscaleState{{WorkloadARN: "arn:c", Workers: 2, ChangedAt: at, Reason: "scale out to 2 workers"}},
		Observations: []store.AutoscaleObservation{seen, {WorkloadARN: "arn:none", At: at, Decision: store.DecisionWait}},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := st.AutoscaleStateGet(ctx, "arn:c")
	if err != nil || got.Workers != 2 || got.Observed == nil {
		t.Fatalf("AutoscaleStateGet: %+v, %v", got, err)
	}
	if o := *got.Observed; !o.At.Equal(at) || o.ThirdCPU != seen.ThirdCPU || o.ThirdSamples != seen.ThirdSamples || o.Window != seen.Window ||
		o.Decision != seen.Decision || o.Reason != seen.Reason || o.ScaleOutCPU != 80 || o.ScaleInCPU != 20 || o.Workers != 2 || o.WorkloadARN != "arn:c" {
		t.Errorf("observation %+v, want %+v", o, seen)
	}
	if _, err := st.AutoscaleStateGet(ctx, "arn:none"); err != store.ErrNotFound {
		t.Errorf("an observation without a state created one: %v", err)
	}
	// A new state keeps the last observation; a later one replaces it.
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term,
		Autoscale: []store.AutoscaleState{{WorkloadARN: "arn:c", Workers: 3, ChangedAt: at.Add(time.Second), Reason: "r"}}}); err != nil {
		t.Fatal(err)
	}
	all, err := st.AutoscaleStates(ctx)
	if err != nil || all["arn:c"].Workers != 3 || all["arn:c"].Observed == nil || all["arn:c"].Observed.Decision != store.DecisionScaleOut {
		t.Fatalf("AutoscaleStates: %+v, %v", all, err)
	}
	seen.Decision, seen.Reason = store.DecisionHold, "within the thresholds"
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term, Observations: []store.AutoscaleObservation{seen}}); err != nil {
		t.Fatal(err)
	}
	if got, err := st.AutoscaleStateGet(ctx, "arn:c"); err != nil || got.Observed == nil || got.Observed.Decision != store.DecisionHold {
		t.Fatalf("after a new observation: %+v, %v", got, err)
	}
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term, Autoscale: []store.AutoscaleState{{WorkloadARN: "arn:c", Workers: -1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AutoscaleStateGet(ctx, "arn:c"); err != store.ErrNotFound {
		t.Errorf("after the state was dropped: %v", err)
	}
}

// placeWorker records agent a1 and, as the leader, one worker id of connector arn:c on it at
// epoch, running task 0 of 1.
func placeWorker(ctx context.Context, t *testing.T, st *store.Store, id string, epoch int64) {
	t.Helper()
	if err := st.AgentHello(ctx, store.Agent{ID: "a1", MCUCapacity: 4}); err != nil {
		t.Fatal(err)
	}
	lead, err := st.LeaderAcquire(ctx, "test")
	if err != nil || lead == nil {
		t.Fatalf("LeaderAcquire: %v %v", lead, err)
	}
	defer lead.Release()
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term, Workers: []store.Worker{
		{ID: id, WorkloadARN: "arn:c", WorkloadKind: "connector", AgentID: "a1", Epoch: epoch, MCU: 1, Tasks: []int{0}, TaskCount: 1},
	}}); err != nil {
		t.Fatal(err)
	}
}
