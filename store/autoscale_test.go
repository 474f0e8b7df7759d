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
	if err := st.AgentHello(ctx, store.Agent{ID: "a1", MCUCapacity: 4}); err != nil {
		t.Fatal(err)
	}
	lead, err := st.LeaderAcquire(ctx, "test")
	if err != nil || lead == nil {
		t.Fatalf("LeaderAcquire: %v %v", lead, err)
	}
	defer lead.Release()
	if err := st.ApplyPlan(ctx, store.Plan{Term: lead.Term, Workers: []store.Worker{
		{ID: "w0", WorkloadARN: "arn:c", WorkloadKind: "connector", AgentID: "a1", Epoch: 2, MCU: 1, Tasks: []int{0}, TaskCount: 1},
	}}); err != nil {
		t.Fatal(err)
	}
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
	if n, err := st.WorkerSamplesPrune(ctx, until.Add(-20*time.Second)); err != nil || n != 3 {
		t.Errorf("prune: %d, %v; want 3 (two in the first third and the one before the window)", n, err)
	}
}
