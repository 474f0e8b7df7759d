package agentgw

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fjord-io/fjord/store"
)

func worker(id string, epoch int64, state string, tasks map[int]string) store.Worker {
	w := store.Worker{ID: id, WorkloadARN: "arn:aws:kafkaconnect:us-east-1:1:connector/c/1", AgentID: "a1", Epoch: epoch}
	var reports []TaskReport
	for t, st := range tasks {
		w.Tasks = append(w.Tasks, t)
		if st != "" {
			reports = append(reports, TaskReport{TaskID: t, State: st})
		}
	}
	if state != "" {
		b, _ := json.Marshal(reports)
		w.Report = store.WorkerReport{AgentID: "a1", State: state, Epoch: epoch, Tasks: b}
	}
	return w
}

// TestRebalanceTimes: a rebalance is timed from the first read that saw it unfinished to the
// read that saw it complete; a worker restarting in place (same assignment) is no rebalance;
// a deleted workload loses every series.
func TestRebalanceTimes(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry(), MetricSources{}, nil)
	arn := "arn:aws:kafkaconnect:us-east-1:1:connector/c/1"
	t0 := time.Unix(1000, 0)
	m.observeWorkers([]store.Worker{worker("w0", 1, "", map[int]string{0: ""})}, t0)
	if got := m.tasks[arn]; len(got) != 1 || got[0].state != TaskUnassigned {
		t.Fatalf("tasks before the report: %v", got)
	}
	m.observeWorkers([]store.Worker{worker("w0", 1, "RUNNING", map[int]string{0: "RUNNING"})}, t0.Add(3*time.Second))
	if m.rebalances[arn] != 1 || m.rebalanceTime[arn].max != 3*time.Second || !m.lastRebalance[arn].Equal(t0.Add(3*time.Second)) {
		t.Fatalf("after the first rebalance: %v %+v %v", m.rebalances[arn], m.rebalanceTime[arn], m.lastRebalance[arn])
	}
	// The task fails and restarts in place: the worker reports FAILED, then RUNNING again.
	m.observeWorkers([]store.Worker{worker("w0", 1, "FAILED", map[int]string{0: "FAILED"})}, t0.Add(10*time.Second))
	if got := m.tasks[arn]; got[0].state != "FAILED" {
		t.Fatalf("task state %v, want FAILED", got)
	}
	m.observeWorkers([]store.Worker{worker("w0", 1, "RUNNING", map[int]string{0: "RUNNING"})}, t0.Add(20*time.Second))
	if m.rebalances[arn] != 1 || m.rebalanceTime[arn].n != 1 {
		t.Fatalf("a restart in place counted as a rebalance: %v %+v", m.rebalances[arn], m.rebalanceTime[arn])
	}
	// A new epoch seen unfinished at 30 s and complete at 31 s: avg (3 s + 1 s) / 2, max 3 s.
	m.observeWorkers([]store.Worker{worker("w0", 2, "", map[int]string{0: ""})}, t0.Add(30*time.Second))
	m.observeWorkers([]store.Worker{worker("w0", 2, "RUNNING", map[int]string{0: "RUNNING"})}, t0.Add(31*time.Second))
	if rt := m.rebalanceTime[arn]; m.rebalances[arn] != 2 || rt.n != 2 || rt.sum != 4*time.Second || rt.max != 3*time.Second {
		t.Fatalf("after the second rebalance: %v %+v", m.rebalances[arn], rt)
	}
	// One that starts and completes between two reads counts, untimed.
	m.observeWorkers([]store.Worker{worker("w0", 3, "RUNNING", map[int]string{0: "RUNNING"})}, t0.Add(40*time.Second))
	if rt := m.rebalanceTime[arn]; m.rebalances[arn] != 3 || rt.n != 2 || !m.lastRebalance[arn].Equal(t0.Add(40*time.Second)) {
		t.Fatalf("after the untimed rebalance: %v %+v", m.rebalances[arn], rt)
	}
	m.name("w0", "c", arn)
	m.observeWorkers(nil, t0.Add(50*time.Second))
	if len(m.workloads)+len(m.tasks)+len(m.rebalances)+len(m.rebalanceTime)+len(m.lastRebalance)+len(m.pending)+len(m.names) != 0 {
		t.Fatalf("series left after the workload went: %v %v %v %v", m.workloads, m.tasks, m.rebalanceTime, m.names)
	}
}
