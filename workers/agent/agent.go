package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
)

// Run connects to the server and runs the assigned workers until ctx is done; then it drains
// (Goodbye, SIGTERM to every worker, up to DrainTimeout each, STOPPED reported, stream closed)
// and returns nil. It returns an error only if it cannot start at all. Run may be called once.
func (a *Agent) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("agent: Run was already called")
	}
	// The agent's credential: kept in StateDir, or enrolled now with the join token.
	id := a.identity(ctx)
	if id == nil {
		return nil // stopped before it could enroll: nothing runs yet
	}
	creds := credentials.NewTLS(a.tlsConfig(id, ""))
	// gRPC's own reconnect backoff follows ReconnectBackoff (Next(0, 0) is its first delay,
	// Next(time.Hour, 0) its cap), so that a reachable server is found as soon as we retry.
	rb := a.cfg.ReconnectBackoff
	bc := backoff.DefaultConfig
	bc.BaseDelay, bc.MaxDelay = rb.Next(0, 0), rb.Next(time.Hour, 0)
	conn, err := grpc.NewClient(a.cfg.ServerAddr,
		grpc.WithTransportCredentials(creds),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bc, MinConnectTimeout: 10 * time.Second}),
	)
	if err != nil {
		return fmt.Errorf("agent: server address %q: %w", a.cfg.ServerAddr, err)
	}
	defer conn.Close()
	sp := newSpawner(&a.cfg)
	defer sp.close()
	l := &loop{
		spawn:  sp.start,
		a:      a,
		log:    a.log,
		client: agentv1.NewAgentGatewayClient(conn),
		events: make(chan any),
		sups:   map[string]*supervisor{},
		hb:     time.NewTicker(defaultHeartbeat),
	}
	defer l.hb.Stop()
	l.run(ctx)
	return nil
}

// loop is the agent's state; all of it belongs to the goroutine of Run (see the package doc).
type loop struct {
	a      *Agent
	log    *slog.Logger
	client agentv1.AgentGatewayClient
	// events carries everything the other goroutines report: session* and sup* values.
	events chan any
	// spawn starts a worker process (on the spawner's thread); safe for concurrent use.
	spawn func(*agentv1.WorkerSpec) (*process, error)

	sess *session // the stream messages go to; nil while disconnected
	hb   *time.Ticker

	haveDesired bool
	desired     map[string]*agentv1.WorkerSpec
	desiredGen  int64
	applied     int64

	sups     map[string]*supervisor
	draining bool
	closing  bool
}

// Events sent to the loop.
type (
	sessionUp   struct{ s *session }
	sessionDown struct {
		s   *session
		err error
	}
	welcomed struct {
		s *session
		w *agentv1.Welcome
	}
	desiredSet struct {
		s *session
		d *agentv1.DesiredWorkers
	}
	supStatus struct {
		sup *supervisor
		st  *agentv1.WorkerStatus
	}
	supMetrics struct {
		sup  *supervisor
		spec *agentv1.WorkerSpec
		m    *agentv1.WorkerMetrics
	}
	supApplied struct {
		sup  *supervisor
		spec *agentv1.WorkerSpec
	}
	supDone struct{ sup *supervisor }
)

func (l *loop) run(ctx context.Context) {
	// Streams outlive ctx: the drain still reports over them. cancelStreams ends them.
	streamCtx, cancelStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStreams()
	dialerDone := make(chan struct{})
	go func() {
		defer close(dialerDone)
		l.dial(ctx, streamCtx)
	}()
	ctxDone := ctx.Done()
	var closeTimer <-chan time.Time
	dialerExited := false
	for {
		select {
		case ev := <-l.events:
			l.handle(ev)
		case <-l.hb.C:
			l.heartbeat()
		case <-ctxDone:
			ctxDone = nil
			l.startDrain()
		case <-closeTimer:
			closeTimer = nil
			l.log.Warn("the server did not close the stream in time; cancelling it", "timeout", closeTimeout.String())
			cancelStreams()
		case <-dialerDone:
			dialerDone, dialerExited = nil, true
		}
		if l.draining && !l.closing && len(l.sups) == 0 {
			// Every worker is stopped and reported: close our side of the stream and let the
			// server end it, so that nothing we sent is lost.
			l.closing = true
			if l.sess != nil {
				l.closeSession(l.sess)
				closeTimer = time.After(closeTimeout)
			} else {
				cancelStreams()
			}
		}
		if l.closing && dialerExited {
			l.log.Info("agent stopped")
			return
		}
	}
}

func (l *loop) handle(ev any) {
	switch e := ev.(type) {
	case sessionUp:
		l.sess = e.s
		l.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_Hello{Hello: l.hello()}})
		if l.draining {
			l.sendGoodbye()
		}
		if l.closing {
			l.closeSession(e.s)
		}
	case welcomed:
		if e.s != l.sess {
			return
		}
		iv := e.w.GetHeartbeatInterval().AsDuration()
		if iv <= 0 {
			iv = defaultHeartbeat
		}
		l.hb.Reset(iv)
		every := l.a.cfg.MetricsInterval
		if limit := e.w.GetMaxMetricsInterval().AsDuration(); limit > 0 && limit < every {
			every = max(limit, MinMetricsInterval)
		}
		if old := l.a.metricsInterval(); every != old {
			l.a.sampleEvery.Store(int64(every))
			if every != l.a.cfg.MetricsInterval {
				l.log.Info("measuring workers more often than configured: the server's autoscaler needs samples at least every "+
					e.w.GetMaxMetricsInterval().AsDuration().String(), "metrics_interval", every.String(), "configured", l.a.cfg.MetricsInterval.String())
			}
		}
		l.a.ready.Store(true)
		l.a.m.connected.Set(1)
		l.log.Info("connected to the Fjord server", "server_id", e.w.ServerId, "heartbeat_interval", iv.String(), "metrics_interval", l.a.metricsInterval().String(),
			"lease_ttl", e.w.GetLeaseTtl().AsDuration().String())
	case desiredSet:
		if e.s != l.sess || l.draining {
			return
		}
		l.applyDesired(e.d)
	case sessionDown:
		if e.s == l.sess {
			l.sess = nil
			l.a.ready.Store(false)
			l.a.m.connected.Set(0)
		}
		// A revoked certificate: the agent is out of the fleet, and its workers are being
		// placed elsewhere. It stops them (they hold other teams' configurations) instead of
		// running them until it is fenced.
		if status.Code(e.err) == codes.PermissionDenied && l.haveDesired && len(l.desired) > 0 && !l.draining {
			l.log.Error("the server refused the agent's certificate: stopping its workers", "error", status.Convert(e.err).Message())
			l.applyDesired(&agentv1.DesiredWorkers{Generation: l.desiredGen})
		}
	case supStatus:
		l.workerStatus(e.sup, e.st)
	case supMetrics:
		if e.sup.gaugeSpec != nil && !sameLabels(e.sup.gaugeSpec, e.spec) {
			l.a.m.workerGauges.Delete(e.sup.gaugeSpec)
		}
		e.sup.gaugeSpec = e.spec
		l.a.m.workerGauges.Set(e.spec, e.m)
		l.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_WorkerMetrics{WorkerMetrics: e.m}})
	case supApplied:
		e.sup.applied = e.spec
		l.checkApplied()
	case supDone:
		if l.sups[e.sup.id] == e.sup {
			delete(l.sups, e.sup.id)
		}
		if e.sup.gaugeSpec != nil {
			l.a.m.workerGauges.Delete(e.sup.gaugeSpec)
		}
		if s := e.sup.spec; s != nil {
			l.a.m.restarts.DeleteLabelValues(s.WorkloadName, s.WorkloadArn, s.WorkerId)
		}
		l.reconcile() // the worker may be desired again
		l.countWorkers()
	default:
		panic(fmt.Sprintf("agent: unknown event %T", ev))
	}
}

func sameLabels(a, b *agentv1.WorkerSpec) bool {
	return a.WorkloadName == b.WorkloadName && a.WorkloadArn == b.WorkloadArn && a.WorkerId == b.WorkerId
}

// hello describes the agent and everything it runs right now.
func (l *loop) hello() *agentv1.Hello {
	h := &agentv1.Hello{AgentId: l.a.cfg.AgentID, McuCapacity: int32(l.a.cfg.MCU), Version: l.a.cfg.Version, Labels: l.a.cfg.Labels,
		Instance: l.a.instance}
	for _, id := range sortedKeys(l.sups) {
		if st := l.sups[id].status; st != nil && st.State != agentv1.WorkerState_WORKER_STATE_STOPPED {
			h.Running = append(h.Running, st)
		}
	}
	return h
}

func (l *loop) sendGoodbye() {
	l.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_Goodbye{Goodbye: &agentv1.Goodbye{
		Reason: "agent is shutting down: draining its workers",
	}}})
}

// send queues m on the current stream, if any. Messages while disconnected are dropped: Hello
// carries the state after a reconnect. A full outbox means the stream is stuck: give it up.
func (l *loop) send(m *agentv1.AgentMessage) {
	s := l.sess
	if s == nil || s.closed {
		return
	}
	select {
	case s.out <- m:
	default:
		l.log.Warn("the stream to the server is stuck; reconnecting", "queued", len(s.out))
		s.cancel()
		l.sess = nil
		l.a.ready.Store(false)
		l.a.m.connected.Set(0)
	}
}

func (l *loop) closeSession(s *session) {
	if !s.closed {
		s.closed = true
		close(s.out)
	}
}

func (l *loop) heartbeat() {
	l.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_Heartbeat{Heartbeat: &agentv1.Heartbeat{AppliedGeneration: l.applied}}})
}

// applyDesired makes d the set to converge to. Every DesiredWorkers is the whole truth, even
// with a lower generation than before (the server's database may have been reset).
func (l *loop) applyDesired(d *agentv1.DesiredWorkers) {
	l.haveDesired = true
	l.desiredGen = d.Generation
	l.desired = make(map[string]*agentv1.WorkerSpec, len(d.Workers))
	mcu := 0
	for _, w := range d.Workers {
		if w.WorkerId == "" {
			l.log.Warn("ignoring a desired worker without worker_id", "workload_arn", w.WorkloadArn)
			continue
		}
		l.desired[w.WorkerId] = w
		mcu += int(w.Mcu)
	}
	l.a.m.mcuAssigned.Set(float64(mcu))
	l.log.Info("desired workers", "generation", d.Generation, "workers", len(l.desired), "mcu", mcu)
	l.reconcile()
}

// reconcile starts, updates and stops supervisors so that they match the desired set.
func (l *loop) reconcile() {
	if l.draining || !l.haveDesired {
		return
	}
	for _, id := range sortedKeys(l.desired) {
		spec := l.desired[id]
		sup, ok := l.sups[id]
		switch {
		case !ok:
			sup = &supervisor{id: id, specs: make(chan *agentv1.WorkerSpec, 1), spec: spec}
			l.sups[id] = sup
			sup.offer(spec)
			w := &workerRun{a: l.a, sup: sup, events: l.events, spawn: l.spawn, log: l.log.With("workload_arn", spec.WorkloadArn, "worker_id", id)}
			go w.run()
		case sup.stopping:
			// started again once the old process is gone (supDone reconciles)
		case !proto.Equal(sup.spec, spec):
			sup.spec = spec
			sup.offer(spec)
		}
	}
	for id, sup := range l.sups {
		if _, ok := l.desired[id]; !ok && !sup.stopping {
			sup.stopping = true
			sup.offer(nil)
		}
	}
	l.checkApplied()
}

// checkApplied advances applied_generation once every desired worker runs its current spec
// (its process started, or it waits to be restarted) and every other worker is gone; it then
// sends a heartbeat at once so the server learns it without waiting.
func (l *loop) checkApplied() {
	if !l.haveDesired || l.draining || l.applied == l.desiredGen || len(l.sups) != len(l.desired) {
		return
	}
	for id, spec := range l.desired {
		sup := l.sups[id]
		if sup == nil || sup.stopping || !proto.Equal(sup.applied, spec) {
			return
		}
	}
	l.applied = l.desiredGen
	l.a.m.appliedGen.Set(float64(l.applied))
	l.log.Info("converged to the desired workers", "generation", l.applied, "workers", len(l.desired))
	l.heartbeat()
}

func (l *loop) workerStatus(sup *supervisor, st *agentv1.WorkerStatus) {
	prev := sup.status
	sup.status = st
	if proto.Equal(prev, st) {
		return
	}
	if d := st.Restarts - prev.GetRestarts(); d > 0 && sup.spec != nil {
		l.a.m.restarts.WithLabelValues(sup.spec.WorkloadName, sup.spec.WorkloadArn, sup.id).Add(float64(d))
	}
	if prev.GetState() != st.State || prev.GetEpoch() != st.Epoch || prev.GetError() != st.Error {
		level := slog.LevelInfo
		if st.State == agentv1.WorkerState_WORKER_STATE_FAILED {
			level = slog.LevelWarn
		}
		l.log.Log(context.Background(), level, "worker state", "worker_id", sup.id, "epoch", st.Epoch,
			"state", stateName(st.State), "error", st.Error, "restarts", st.Restarts)
	}
	l.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_WorkerStatus{WorkerStatus: st}})
	l.countWorkers()
}

func (l *loop) countWorkers() {
	counts := map[string]int{"starting": 0, "running": 0, "failed": 0, "stopped": 0}
	for _, sup := range l.sups {
		if sup.status != nil {
			counts[stateName(sup.status.State)]++
		}
	}
	for state, n := range counts {
		l.a.m.workers.WithLabelValues(state).Set(float64(n))
	}
}

func stateName(s agentv1.WorkerState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "WORKER_STATE_"))
}

// startDrain begins the shutdown: Goodbye, then every worker is stopped (concurrently, each by
// its own supervisor).
func (l *loop) startDrain() {
	l.draining = true
	l.log.Info("draining", "workers", len(l.sups), "drain_timeout", l.a.cfg.DrainTimeout.String())
	l.sendGoodbye()
	for _, sup := range l.sups {
		if !sup.stopping {
			sup.stopping = true
			sup.offer(nil)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
