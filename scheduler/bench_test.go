package scheduler

import (
	"fmt"
	"testing"
)

// benchFleet is 200 agents of 128 MCU and n workloads of 1–3 workers of 1, 1, 2 or 4 MCU
// (about 4 MCU per workload: the fleet is ~80% used at 5,000 workloads), autoscaled task
// counts.
func benchFleet(n int) Snapshot {
	var s Snapshot
	for i := range 200 {
		s.Agents = append(s.Agents, alive(fmt.Sprintf("agent-%03d", i), 128))
	}
	for i := range n {
		workers, mcu := 1+i%3, []int{1, 1, 2, 4}[i%4]
		s.Workloads = append(s.Workloads, workload(
			fmt.Sprintf("arn:aws:kafkaconnect:eu-west-1:000000000000:connector/c%05d/u-1", i),
			workers, mcu, TaskCount(workers, mcu, 0, 0, true)))
	}
	return s
}

// BenchmarkPlan measures one full Reconcile over 200 agents:
//   - place: every workload is new, every worker is placed;
//   - steady: re-planning a placed fleet (the leader's common case: nothing changes);
//   - failover: 10 agents died since the last plan, their workers move.
func BenchmarkPlan(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		fresh := benchFleet(n)
		placed := Reconcile(fresh)
		steady := Snapshot{Agents: fresh.Agents, Workloads: fresh.Workloads, Workers: placed.Workers}
		failover := steady
		failover.Agents = append([]Agent(nil), fresh.Agents...)
		for i := 0; i < len(failover.Agents); i += 20 {
			failover.Agents[i].Alive = false
		}
		for _, c := range []struct {
			name string
			s    Snapshot
		}{{"place", fresh}, {"steady", steady}, {"failover", failover}} {
			b.Run(fmt.Sprintf("%s/workloads=%d", c.name, n), func(b *testing.B) {
				for b.Loop() {
					Reconcile(c.s)
				}
			})
		}
	}
}
