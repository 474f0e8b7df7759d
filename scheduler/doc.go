// Package scheduler decides where Fjord's workers run and which tasks each of them runs.
//
// This file set is the pure planning core: Reconcile takes a Snapshot of the fleet (agents),
// the workloads (connectors and replicators, each wanting a number of workers of some MCU) and
// the current workers, and returns a Plan: the complete desired worker set, the decisions that
// lead there with their reasons, and the MCU each workload still lacks. It does no I/O and
// keeps no state; the leader loop reads the snapshot from the store, applies the plan in one
// transaction that re-checks versions, and recomputes on a conflict.
//
// # Identity and epochs
//
// A worker is identified by its workload and its ordinal (0 … Workers-1); its ID is derived
// from both (WorkerID) and never changes. A worker's Epoch names one assignment: the plan bumps
// it by exactly one whenever the worker's agent, MCU or task set changes, and leaves it alone
// otherwise. So (worker ID, epoch) is enough for the control plane to tell a status report
// about the current assignment from a late one about the previous (a dead agent's zombie, a
// task set that moved on), and the data plane uses the epoch with the (workload, task id)
// transactional ids so that a newer holder of a task fences the older one.
//
// # Rules, in the order Reconcile applies them
//
//  1. Stop: workers of deleted workloads, workers whose ordinal is at or beyond the workload's
//     worker count (scale-in stops the highest ordinals), and duplicates of one ordinal (the
//     highest epoch is kept).
//  2. Keep: a worker whose agent is alive, not draining, and whose MCU still matches the
//     workload stays exactly where it is: re-planning never churns a healthy placement, even
//     where a fresh placement would spread or pack differently.
//  3. Leave: a worker on a dead, draining or unknown agent, or whose workload changed its MCU,
//     must be placed again. An agent whose kept workers exceed its capacity (its capacity
//     shrank) keeps its largest workers that fit (ties by worker ID); the others leave.
//  4. Place: new workers, workers that must leave, and workers still waiting for capacity are
//     placed in three priority tiers — first workers that were running (restoring service comes
//     first), then workers of workloads that have some worker placed (scale-out, partial
//     placements), then workers of workloads with none placed (new workloads) — and within a
//     tier by workload ARN and ordinal. Each worker goes to the alive, non-draining agent with
//     room that runs the fewest workers of the same workload (spread), then has the least free
//     MCU (best fit, pack), then the smallest agent ID. No agent is ever over-committed.
//  5. Report: a worker that finds no room stays unplaced (its already-placed siblings stay), and
//     its workload gets a MissingMCU entry and an "unplaceable" decision naming the largest
//     free slot.
//  6. Tasks: each workload's tasks are spread evenly over its placed workers with a sticky,
//     balanced assignment (see assignTasks), so an unchanged workload keeps its tasks and a
//     change moves as few tasks as balance allows.
//
// # Fairness
//
// Running work is never displaced to make room for new work: a plan only frees capacity by
// stopping, moving off unusable agents or relieving an over-committed agent, and it places in
// the tier order above, so a new workload cannot take the space a dead agent's workers need,
// and a partially placed workload's next worker goes before a new workload's first. Placement
// is per worker and partial: a workload that does not fit entirely still gets the workers that
// fit, which both lets its tasks run and lets it accumulate capacity as it frees up instead of
// being overtaken by smaller newcomers. Within a tier the order is the workload ARN: arbitrary
// but fixed, which is what stability needs — an order that rotated between plans would hand a
// contested slot to a different workload each time and churn.
//
// # Determinism
//
// The plan depends only on the snapshot's contents, not on the order of its slices; every tie
// is broken by an ID. Re-planning a plan's own result (same agents) makes no change.
package scheduler
