package scheduler

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Agent is a data-plane agent as the scheduler sees it.
type Agent struct {
	// ID is the agent's stable identity (the agent_id of its Hello).
	ID string
	// MCU is the capacity the agent offers, in MCU (1 MCU = 1 vCPU + 4 GiB). Negative counts
	// as 0.
	MCU int
	// Alive is false once the agent's lease expired (no heartbeat for the lease TTL); its
	// workers are placed elsewhere.
	Alive bool
	// Draining marks an agent that takes no new workers and whose workers move elsewhere
	// (it is shutting down or being emptied).
	Draining bool
}

// Workload is a connector or replicator that wants Workers workers of MCU each.
type Workload struct {
	// ARN identifies the workload; workers refer to it by WorkloadARN.
	ARN string
	// Workers is the desired worker count. Negative counts as 0, which stops every worker.
	Workers int
	// MCU is each worker's size in MCU, one of 1, 2, 4, 8 as validated by the API. Values
	// below 1 count as 1.
	MCU int
	// Tasks is the desired task count (see TaskCount); tasks are numbered 0 … Tasks-1.
	// Negative counts as 0.
	Tasks int
	// EpochFloor is the highest epoch ever issued to a worker of this workload, including
	// workers that have stopped or are still stopping and so are not in Snapshot.Workers; 0
	// when the store does not track it. A worker the plan creates starts at one above the
	// larger of EpochFloor and every epoch in the snapshot, so that a re-created ordinal never
	// reuses an epoch that its stopping predecessor or a zombie may still report.
	EpochFloor int64
}

// Worker is one placed (or to-be-placed) worker of a workload.
type Worker struct {
	// ID is stable for the worker's life: WorkerID(WorkloadARN, Ordinal) for workers the plan
	// creates; the plan keeps whatever ID a current worker has.
	ID string
	// WorkloadARN is the workload the worker belongs to.
	WorkloadARN string
	// Ordinal numbers the workload's workers 0 … Workers-1; with WorkloadARN it is the
	// worker's identity.
	Ordinal int
	// AgentID is the agent that runs the worker; "" while it is unplaced.
	AgentID string
	// Epoch names the worker's current assignment (agent, MCU, tasks); the plan bumps it by
	// one when any of them changes. Starts at 1.
	Epoch int64
	// MCU is the worker's size in MCU.
	MCU int
	// Tasks are the ids of the tasks the worker runs, ascending; empty while unplaced.
	Tasks []int
}

// Snapshot is the state a plan is computed from. The order of its slices does not matter.
type Snapshot struct {
	// Agents is the fleet. A worker on an agent that is not listed counts as on a dead agent.
	Agents []Agent
	// Workloads are the connectors and replicators that want workers. Workers of a workload
	// that is not listed are stopped.
	Workloads []Workload
	// Workers are the current workers, as the previous plan left them.
	Workers []Worker
}

// DecisionKind says what a Decision did.
type DecisionKind string

// The kinds of decision, in the order Plan.Decisions lists them for one worker.
const (
	// KindStop: the worker is removed (scale-in, workload deleted, duplicate ordinal).
	KindStop DecisionKind = "stop"
	// KindEvict: the worker had to leave its agent and no agent has room; it waits unplaced.
	KindEvict DecisionKind = "evict"
	// KindMove: the worker had to leave its agent and runs on another one.
	KindMove DecisionKind = "move"
	// KindResize: the workload's MCU per worker changed; the worker restarts with the new size,
	// possibly on another agent.
	KindResize DecisionKind = "resize"
	// KindPlace: a new worker, or one that was waiting for capacity, now runs on an agent.
	KindPlace DecisionKind = "place"
	// KindRetask: a worker that runs before and after the plan changes its task set.
	KindRetask DecisionKind = "retask"
	// KindUnplaceable: some of the workload's workers found no agent with room. Reported on
	// every plan while it holds; WorkerID is empty.
	KindUnplaceable DecisionKind = "unplaceable"
)

// Decision records one change a plan makes, and why, for the workload's events.
type Decision struct {
	// Kind is what was decided.
	Kind DecisionKind
	// WorkloadARN is the workload concerned.
	WorkloadARN string
	// WorkerID is the worker concerned; "" for KindUnplaceable.
	WorkerID string
	// AgentID is where the worker runs after the plan; "" if nowhere.
	AgentID string
	// FromAgentID is where the worker ran before the plan; "" if nowhere.
	FromAgentID string
	// Epoch is the worker's epoch after the plan.
	Epoch int64
	// Reason explains the decision in a sentence an operator can act on.
	Reason string
}

// Plan is the result of Reconcile.
type Plan struct {
	// Workers is the complete desired worker set after the plan, ordered by workload ARN and
	// ordinal; unplaced workers have AgentID "".
	Workers []Worker
	// Decisions lists what changed and why, ordered by workload ARN, ordinal and kind.
	Decisions []Decision
	// MissingMCU maps a workload ARN to the MCU of its workers that could not be placed; a
	// workload that is fully placed is absent.
	MissingMCU map[string]int
}

// HasChanges reports whether applying the plan changes anything, that is whether it has a
// decision other than KindUnplaceable (which only restates a standing shortage).
func (p Plan) HasChanges() bool {
	for _, d := range p.Decisions {
		if d.Kind != KindUnplaceable {
			return true
		}
	}
	return false
}

// WorkerID is the ID of the worker with the given ordinal of a workload.
func WorkerID(workloadARN string, ordinal int) string {
	return workloadARN + "/worker-" + strconv.Itoa(ordinal)
}

// Reconcile computes the plan that takes the snapshot's workers to where its workloads and
// agents want them. The rules are described in the package documentation.
func Reconcile(s Snapshot) Plan {
	p := newPlanner(s)
	p.classify()
	p.relieveOverCommit()
	p.place()
	return p.finish()
}

// agentState is an agent with the MCU still free in the plan being built.
type agentState struct {
	Agent
	eligible bool // alive and not draining: may run workers
	free     int  // MCU not yet used by the plan's workers; only meaningful when eligible
}

// slot is one desired worker of a workload (one ordinal) while the plan is built.
type slot struct {
	wl      *workloadState
	ordinal int
	in      *Worker // the current worker with this ordinal; nil when the plan creates it
	id      string
	agent   int  // index into planner.agents; -1 while unplaced
	pending bool // needs placing
	// Why a running worker must leave its agent, and whether that is because its MCU changed.
	why    string
	resize bool
	// What the placement saw, for its reason.
	freeBefore int
	shared     int
}

func (s *slot) wasRunning() bool { return s.in != nil && s.in.AgentID != "" }

// tier orders pending slots: running workers first, then workloads that have some worker
// placed, then the rest (see the package documentation, "Fairness").
func (s *slot) tier() int {
	switch {
	case s.wasRunning():
		return 0
	case s.wl.hadPlaced:
		return 1
	default:
		return 2
	}
}

type workloadState struct {
	Workload
	idx       int
	slots     []slot
	hadPlaced bool  // some worker of the workload was on an agent in the snapshot
	maxEpoch  int64 // highest epoch among the snapshot's workers of this workload
	placed    []int // agent indices of the workload's placed workers, one entry per worker
}

// decision is a Decision with the keys that order it.
type decision struct {
	Decision
	ordinal int
}

type planner struct {
	agents    []agentState // by ID
	agentByID map[string]int
	eligible  []int // indices of eligible agents, ascending
	workloads []*workloadState
	byARN     map[string]*workloadState
	decisions []decision
	count     []int // scratch for choose: workers of one workload per agent
}

func newPlanner(s Snapshot) *planner {
	p := &planner{agentByID: make(map[string]int, len(s.Agents))}

	agents := slices.Clone(s.Agents)
	// Of duplicate agent IDs (a broken snapshot) keep the healthiest, deterministically.
	slices.SortFunc(agents, func(a, b Agent) int {
		return cmp.Or(
			strings.Compare(a.ID, b.ID),
			-boolCmp(a.Alive, b.Alive),
			boolCmp(a.Draining, b.Draining),
			cmp.Compare(b.MCU, a.MCU),
		)
	})
	for _, a := range agents {
		if _, dup := p.agentByID[a.ID]; dup {
			continue
		}
		a.MCU = max(a.MCU, 0)
		p.agentByID[a.ID] = len(p.agents)
		p.agents = append(p.agents, agentState{Agent: a, eligible: a.Alive && !a.Draining})
	}
	for i, a := range p.agents {
		if a.eligible {
			p.eligible = append(p.eligible, i)
		}
	}
	p.count = make([]int, len(p.agents))

	workloads := slices.Clone(s.Workloads)
	slices.SortFunc(workloads, func(a, b Workload) int {
		return cmp.Or(
			strings.Compare(a.ARN, b.ARN),
			cmp.Compare(b.Workers, a.Workers),
			cmp.Compare(b.MCU, a.MCU),
			cmp.Compare(b.Tasks, a.Tasks),
			cmp.Compare(b.EpochFloor, a.EpochFloor),
		)
	})
	p.byARN = make(map[string]*workloadState, len(workloads))
	for _, w := range workloads {
		if _, dup := p.byARN[w.ARN]; dup {
			continue
		}
		w.Workers = max(w.Workers, 0)
		w.MCU = max(w.MCU, 1)
		w.Tasks = max(w.Tasks, 0)
		ws := &workloadState{Workload: w, idx: len(p.workloads), slots: make([]slot, w.Workers)}
		for o := range ws.slots {
			ws.slots[o] = slot{wl: ws, ordinal: o, agent: -1}
		}
		p.workloads = append(p.workloads, ws)
		p.byARN[w.ARN] = ws
	}

	workers := make([]Worker, len(s.Workers))
	for i, w := range s.Workers {
		w.Tasks = normalizeTasks(w.Tasks)
		workers[i] = w
	}
	slices.SortFunc(workers, compareWorkers)
	for i := range workers {
		w := &workers[i]
		ws := p.byARN[w.WorkloadARN]
		if ws != nil {
			ws.maxEpoch = max(ws.maxEpoch, w.Epoch)
		}
		switch {
		case ws == nil:
			p.stop(w, "the workload no longer exists")
		case w.Ordinal < 0:
			p.stop(w, fmt.Sprintf("invalid ordinal %d", w.Ordinal))
		case w.Ordinal >= ws.Workers:
			p.stop(w, fmt.Sprintf("scale-in: the workload wants %d workers (ordinals 0-%d)",
				ws.Workers, ws.Workers-1))
		case ws.slots[w.Ordinal].in != nil:
			kept := ws.slots[w.Ordinal].in
			p.stop(w, fmt.Sprintf("duplicate of ordinal %d: worker %s at epoch %d is kept",
				w.Ordinal, kept.ID, kept.Epoch))
		default:
			ws.slots[w.Ordinal].in = w
		}
	}
	return p
}

// compareWorkers orders workers by identity, then puts the one to keep among duplicates first
// (highest epoch, placed before unplaced), then breaks every remaining tie.
func compareWorkers(a, b Worker) int {
	return cmp.Or(
		strings.Compare(a.WorkloadARN, b.WorkloadARN),
		cmp.Compare(a.Ordinal, b.Ordinal),
		cmp.Compare(b.Epoch, a.Epoch),
		-boolCmp(a.AgentID != "", b.AgentID != ""),
		strings.Compare(a.ID, b.ID),
		strings.Compare(a.AgentID, b.AgentID),
		cmp.Compare(a.MCU, b.MCU),
		slices.Compare(a.Tasks, b.Tasks),
	)
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}

func (p *planner) stop(w *Worker, reason string) {
	p.decisions = append(p.decisions, decision{
		Decision: Decision{
			Kind:        KindStop,
			WorkloadARN: w.WorkloadARN,
			WorkerID:    w.ID,
			FromAgentID: w.AgentID,
			Epoch:       w.Epoch,
			Reason:      reason,
		},
		ordinal: w.Ordinal,
	})
}

// classify decides for every desired worker whether it stays where it is (tentatively: see
// relieveOverCommit) or needs placing.
func (p *planner) classify() {
	for _, ws := range p.workloads {
		for o := range ws.slots {
			s := &ws.slots[o]
			if s.in == nil {
				s.id = WorkerID(ws.ARN, o)
				s.pending = true
				continue
			}
			s.id = s.in.ID
			if s.id == "" {
				s.id = WorkerID(ws.ARN, o)
			}
			from := s.in.AgentID
			if from == "" {
				s.pending = true
				continue
			}
			ws.hadPlaced = true
			ai, known := p.agentByID[from]
			switch {
			case !known:
				s.why = fmt.Sprintf("agent %s is gone", from)
			case !p.agents[ai].Alive:
				s.why = fmt.Sprintf("agent %s's lease expired", from)
			case p.agents[ai].Draining:
				s.why = fmt.Sprintf("agent %s is draining", from)
			case s.in.MCU != ws.MCU:
				s.why = fmt.Sprintf("MCU per worker changed from %d to %d", s.in.MCU, ws.MCU)
				s.resize = true
			default:
				s.agent = ai
				continue
			}
			s.pending = true
		}
	}
}

// relieveOverCommit makes every agent's kept workers fit its capacity, and computes each
// eligible agent's free MCU. An over-committed agent (its capacity shrank, or the snapshot is
// broken) keeps its largest workers that fit — the small ones are the easiest to place
// elsewhere — with ties broken by worker ID; the others are placed again.
func (p *planner) relieveOverCommit() {
	byAgent := make([][]*slot, len(p.agents))
	for _, ws := range p.workloads {
		for o := range ws.slots {
			if s := &ws.slots[o]; s.agent >= 0 {
				byAgent[s.agent] = append(byAgent[s.agent], s)
			}
		}
	}
	for ai, slots := range byAgent {
		a := &p.agents[ai]
		used := 0
		for _, s := range slots {
			used += s.wl.MCU
		}
		if used > a.MCU {
			slices.SortFunc(slots, func(x, y *slot) int {
				return cmp.Or(
					cmp.Compare(y.wl.MCU, x.wl.MCU),
					strings.Compare(x.id, y.id),
					cmp.Compare(x.wl.idx, y.wl.idx),
					cmp.Compare(x.ordinal, y.ordinal),
				)
			})
			why := fmt.Sprintf("agent %s is over-committed: its workers need %d MCU but it offers %d",
				a.ID, used, a.MCU)
			used = 0
			for _, s := range slots {
				if used+s.wl.MCU <= a.MCU {
					used += s.wl.MCU
					continue
				}
				s.agent = -1
				s.pending = true
				s.why = why
			}
		}
		if a.eligible {
			a.free = a.MCU - used
		}
	}
	for _, ws := range p.workloads {
		for o := range ws.slots {
			if s := &ws.slots[o]; s.agent >= 0 {
				ws.placed = append(ws.placed, s.agent)
			}
		}
	}
}

// place places every pending worker, tier by tier (see slot.tier).
func (p *planner) place() {
	var pending []*slot
	for _, ws := range p.workloads {
		for o := range ws.slots {
			if s := &ws.slots[o]; s.pending {
				pending = append(pending, s)
			}
		}
	}
	slices.SortFunc(pending, func(x, y *slot) int {
		return cmp.Or(
			cmp.Compare(x.tier(), y.tier()),
			cmp.Compare(x.wl.idx, y.wl.idx),
			cmp.Compare(x.ordinal, y.ordinal),
		)
	})
	for _, s := range pending {
		ai, shared := p.choose(s.wl)
		if ai < 0 {
			continue
		}
		a := &p.agents[ai]
		s.agent, s.freeBefore, s.shared = ai, a.free, shared
		a.free -= s.wl.MCU
		s.wl.placed = append(s.wl.placed, ai)
	}
}

// choose returns the agent for one more worker of ws, and how many workers of ws that agent
// already runs; -1 if no agent has room. Among eligible agents with at least ws.MCU free it
// takes the one with the fewest workers of ws (spread), then the least free MCU (best fit),
// then the smallest ID.
func (p *planner) choose(ws *workloadState) (best, shared int) {
	for _, ai := range ws.placed {
		p.count[ai]++
	}
	best = -1
	for _, ai := range p.eligible {
		a := &p.agents[ai]
		if a.free < ws.MCU {
			continue
		}
		if best < 0 {
			best = ai
			continue
		}
		b := &p.agents[best]
		if c := cmp.Compare(p.count[ai], p.count[best]); c < 0 || c == 0 && a.free < b.free {
			best = ai
		}
	}
	if best >= 0 {
		shared = p.count[best]
	}
	for _, ai := range ws.placed {
		p.count[ai] = 0
	}
	return best, shared
}

// finish turns the placed slots into the plan: epochs, tasks, decisions and shortages.
func (p *planner) finish() Plan {
	plan := Plan{MissingMCU: map[string]int{}}
	n := 0
	for _, ws := range p.workloads {
		n += len(ws.slots)
	}
	if n > 0 {
		plan.Workers = make([]Worker, 0, n)
	}
	largest := p.largestFreeSlot()
	for _, ws := range p.workloads {
		nextEpoch := max(ws.EpochFloor, ws.maxEpoch) + 1

		// Tasks go to the placed workers only, so that a shortage or a lost agent leaves no
		// task without a runner while the rest of the workload has one.
		var placed []*slot
		var held [][]int
		for o := range ws.slots {
			if s := &ws.slots[o]; s.agent >= 0 {
				placed = append(placed, s)
				if s.wasRunning() {
					held = append(held, s.in.Tasks)
				} else {
					held = append(held, nil)
				}
			}
		}
		assigned := assignTasks(ws.Tasks, held)

		unplaced := 0
		next := 0
		for o := range ws.slots {
			s := &ws.slots[o]
			out := Worker{ID: s.id, WorkloadARN: ws.ARN, Ordinal: o, MCU: ws.MCU, Epoch: nextEpoch}
			if s.in != nil {
				out.Epoch = s.in.Epoch
			}
			var kind DecisionKind
			var reason string
			if s.agent >= 0 {
				out.AgentID = p.agents[s.agent].ID
				out.Tasks = assigned[next]
				next++
			} else {
				unplaced++
			}
			switch {
			case s.in == nil && s.agent >= 0:
				kind = KindPlace
				reason = fmt.Sprintf("new worker (the workload wants %d): placed on %s", ws.Workers, p.where(s))
			case s.in == nil:
				// A new worker that found no room: the workload's unplaceable decision says so.
			case !s.wasRunning() && s.agent >= 0:
				kind = KindPlace
				reason = "was waiting for capacity: placed on " + p.where(s)
			case !s.wasRunning():
				// Still waiting for capacity: nothing changes.
			case !s.pending:
				// Kept where it was.
			case s.agent < 0:
				kind = KindEvict
				reason = fmt.Sprintf("%s, and no alive, non-draining agent has %d MCU free: "+
					"the worker waits unplaced", s.why, ws.MCU)
			case s.resize:
				kind = KindResize
				reason = fmt.Sprintf("%s: restarted on %s", s.why, p.where(s))
			default:
				kind = KindMove
				reason = fmt.Sprintf("%s: moved to %s", s.why, p.where(s))
			}
			if kind != "" && s.in != nil {
				out.Epoch = s.in.Epoch + 1
			}
			retask := s.wasRunning() && s.agent >= 0 && !slices.Equal(out.Tasks, s.in.Tasks)
			if retask && kind == "" {
				out.Epoch = s.in.Epoch + 1
			}
			from := ""
			if s.in != nil {
				from = s.in.AgentID
			}
			if kind != "" {
				p.decide(out, kind, from, reason)
			}
			if retask {
				p.decide(out, KindRetask, from, fmt.Sprintf("tasks %s (was %s): %d tasks over %d placed workers",
					formatTasks(out.Tasks), formatTasks(s.in.Tasks), ws.Tasks, len(placed)))
			}
			plan.Workers = append(plan.Workers, out)
		}
		if unplaced > 0 {
			missing := unplaced * ws.MCU
			plan.MissingMCU[ws.ARN] = missing
			p.decisions = append(p.decisions, decision{
				Decision: Decision{
					Kind:        KindUnplaceable,
					WorkloadARN: ws.ARN,
					Reason: fmt.Sprintf("needs %d MCU more: %d of %d workers of %d MCU are unplaced and %s",
						missing, unplaced, ws.Workers, ws.MCU, largest),
				},
				ordinal: math.MaxInt,
			})
		}
	}
	slices.SortFunc(p.decisions, func(x, y decision) int {
		return cmp.Or(
			strings.Compare(x.WorkloadARN, y.WorkloadARN),
			cmp.Compare(x.ordinal, y.ordinal),
			cmp.Compare(kindRank(x.Kind), kindRank(y.Kind)),
			strings.Compare(x.WorkerID, y.WorkerID),
			strings.Compare(x.FromAgentID, y.FromAgentID),
			strings.Compare(x.AgentID, y.AgentID),
			cmp.Compare(x.Epoch, y.Epoch),
			strings.Compare(x.Reason, y.Reason),
		)
	})
	for _, d := range p.decisions {
		plan.Decisions = append(plan.Decisions, d.Decision)
	}
	return plan
}

func (p *planner) decide(w Worker, kind DecisionKind, from, reason string) {
	p.decisions = append(p.decisions, decision{
		Decision: Decision{
			Kind:        kind,
			WorkloadARN: w.WorkloadARN,
			WorkerID:    w.ID,
			AgentID:     w.AgentID,
			FromAgentID: from,
			Epoch:       w.Epoch,
			Reason:      reason,
		},
		ordinal: w.Ordinal,
	})
}

// where names the agent a worker was placed on and why that one.
func (p *planner) where(s *slot) string {
	a := &p.agents[s.agent]
	fit := fmt.Sprintf("agent %s, the best fit (%d of its %d MCU free)", a.ID, s.freeBefore, a.MCU)
	if s.shared == 0 {
		return fit + " among agents running no other worker of this workload"
	}
	return fmt.Sprintf("%s among agents running %d other worker(s) of this workload; "+
		"no agent running fewer has %d MCU free", fit, s.shared, s.wl.MCU)
}

// largestFreeSlot describes the eligible agent with the most free MCU after placement, for
// the reason of an unplaceable decision.
func (p *planner) largestFreeSlot() string {
	best := -1
	for _, ai := range p.eligible {
		if best < 0 || p.agents[ai].free > p.agents[best].free {
			best = ai
		}
	}
	if best < 0 {
		return "no agent is alive and accepting workers"
	}
	return fmt.Sprintf("the largest free slot is %d MCU on agent %s", p.agents[best].free, p.agents[best].ID)
}

func kindRank(k DecisionKind) int {
	switch k {
	case KindStop:
		return 0
	case KindEvict:
		return 1
	case KindMove:
		return 2
	case KindResize:
		return 3
	case KindPlace:
		return 4
	case KindRetask:
		return 5
	default:
		return 6
	}
}
