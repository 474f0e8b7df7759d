package agentgw

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
)

// Gateway serves the agents' streams (fjord.agent.v1.AgentGateway). Any replica can hold
// any agent's stream: the desired set is read from Postgres and a NOTIFY on store.NotifyAgents
// (payload: the agent id) wakes the stream that must resend it.
//
// Concurrency: each stream has two goroutines — Connect's own (receives and records what the
// agent reports) and a sender (the only one that calls stream.Send) woken through conn.wake.
// The registry conns maps agent ids to the conn of this replica; a newer stream of the same
// agent replaces and closes the older one.
type Gateway struct {
	agentv1.UnimplementedAgentGatewayServer
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	conns map[string]*agentConn
}

type agentConn struct {
	id string
	// serial is the certificate the stream presented: once it is revoked (or replaced by a
	// new enrollment) the stream ends.
	serial string
	wake   chan struct{}
	cancel context.CancelFunc
}

func (c *agentConn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Wake wakes the stream of one agent ("" = every agent) on this replica: its desired set
// changed (a NOTIFY on store.NotifyAgents carries the id).
func (g *Gateway) Wake(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if id == "" {
		for _, c := range g.conns {
			c.poke()
		}
		return
	}
	if c, ok := g.conns[id]; ok {
		c.poke()
	}
}

// Config is what a Gateway needs.
type Config struct {
	// Store holds agents, workers and workloads. Required.
	Store *store.Store
	// ServerID names this replica in the agents table and the Welcome.
	ServerID string
	// Token is the join token agents present to Enroll ("authorization: Bearer …"); "" accepts
	// none.
	Token string
	// CA issues agents' certificates at enrollment. Required: Connect accepts only a client
	// certificate it issued to the Hello's agent id, enrolled and not revoked.
	CA *CA
	// HeartbeatInterval and LeaseTTL are told to agents in the Welcome.
	HeartbeatInterval, LeaseTTL time.Duration
	// MaxMetricsInterval, when set, is told to agents in the Welcome: the longest interval at
	// which they may measure workers for the autoscaler to have enough samples.
	MaxMetricsInterval time.Duration
	// TaskSpecsFunc builds the task specifications of a worker: the given task ids of the
	// workload, numbered among count tasks. Required.
	TaskSpecsFunc func(ctx context.Context, kind string, r *store.Resource, ids []int, count int) ([]*agentv1.TaskSpec, error)
	// Metrics receives the workers' metrics lines. Required.
	Metrics *Metrics
	// Logger gets the gateway's log lines.
	Logger *slog.Logger
}

// SetCA sets Config.CA (once, before the gateway serves).
func (g *Gateway) SetCA(ca *CA) { g.cfg.CA = ca }

// New returns a Gateway; register it on a gRPC server.
func New(cfg Config) *Gateway {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Gateway{cfg: cfg, log: log, conns: map[string]*agentConn{}}
}

// maxMetricsInterval is the Welcome's max_metrics_interval: unset when d is not.
func maxMetricsInterval(d time.Duration) *durationpb.Duration {
	if d <= 0 {
		return nil
	}
	return durationpb.New(d)
}

// helloTimeout bounds the wait for an agent's first message.
const helloTimeout = 10 * time.Second

// Connect implements the agent stream.
func (g *Gateway) Connect(stream agentv1.AgentGateway_ConnectServer) error {
	cfg := g.cfg
	ctx := stream.Context()
	certID, serial, err := g.identify(ctx)
	if err != nil {
		return err
	}
	helloCh := make(chan *agentv1.AgentMessage, 1)
	errCh := make(chan error, 1)
	go func() {
		m, err := stream.Recv()
		if err != nil {
			errCh <- err
			return
		}
		helloCh <- m
	}()
	var hello *agentv1.Hello
	select {
	case m := <-helloCh:
		hello = m.GetHello()
	case err := <-errCh:
		return err
	case <-time.After(helloTimeout):
		return status.Error(codes.DeadlineExceeded, "no Hello within 10s")
	}
	if hello == nil || hello.AgentId == "" || hello.McuCapacity < 0 {
		return status.Error(codes.InvalidArgument, "the first message must be Hello with agent_id and mcu_capacity")
	}
	log := g.log.With("agent_id", hello.AgentId)
	if hello.AgentId != certID {
		log.Warn("agent refused: its certificate names another id", "certificate_agent_id", certID)
		return status.Errorf(codes.PermissionDenied, "this certificate belongs to agent %q, not %q", certID, hello.AgentId)
	}
	if err := g.checkEnrollment(ctx, certID, serial); err != nil {
		log.Warn("agent refused", "error", status.Convert(err).Message())
		return err
	}
	if live, err := cfg.Store.AgentClaim(ctx, hello.AgentId, hello.Instance, cfg.LeaseTTL); errors.Is(err, store.ErrAgentLive) {
		log.Warn("agent refused: another process holds this id's stream", "live_address", live.Address, "live_server_id", live.ServerID)
		return status.Errorf(codes.AlreadyExists, "agent id %q is already connected (from %s to server %s since %s): another agent process "+
			"runs with this id and certificate; give every agent its own --id and --state-dir", hello.AgentId, live.Address, live.ServerID,
			live.ConnectedAt.UTC().Format(time.RFC3339))
	} else if err != nil {
		log.Error("claim agent id", "error", err)
		return status.Error(codes.Unavailable, "could not record the agent")
	}
	// session names this stream in the agents row, so that its end (recorded below) cannot
	// mark a newer stream of the same agent disconnected.
	session := uuid.NewString()
	var address string
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		address = p.Addr.String()
	}
	if err := cfg.Store.AgentHello(ctx, store.Agent{ID: hello.AgentId, MCUCapacity: int(hello.McuCapacity), Version: hello.Version,
		Labels: hello.Labels, ServerID: cfg.ServerID, Address: address, Session: session}); err != nil {
		log.Error("record agent hello", "error", err)
		return status.Error(codes.Unavailable, "could not record the agent")
	}
	if err := cfg.Store.AgentSetInstance(ctx, hello.AgentId, hello.Instance); err != nil {
		log.Error("record agent instance", "error", err)
		return status.Error(codes.Unavailable, "could not record the agent")
	}
	for _, ws := range hello.Running {
		g.report(ctx, hello.AgentId, ws)
	}
	log.Info("agent connected", "mcu_capacity", hello.McuCapacity, "version", hello.Version, "running", len(hello.Running))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn := &agentConn{id: hello.AgentId, serial: serial, wake: make(chan struct{}, 1), cancel: cancel}
	g.mu.Lock()
	if old, ok := g.conns[conn.id]; ok {
		old.cancel()
	}
	g.conns[conn.id] = conn
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		if g.conns[conn.id] == conn {
			delete(g.conns, conn.id)
		}
		g.mu.Unlock()
		// The stream's context is gone: record its end on a short context of its own.
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer dcancel()
		if err := cfg.Store.AgentDisconnected(dctx, conn.id, session); err != nil {
			log.Warn("record agent disconnect", "error", err)
		}
		log.Info("agent stream closed")
	}()

	if err := stream.Send(&agentv1.ServerMessage{Msg: &agentv1.ServerMessage_Welcome{Welcome: &agentv1.Welcome{
		HeartbeatInterval: durationpb.New(cfg.HeartbeatInterval), LeaseTtl: durationpb.New(cfg.LeaseTTL), ServerId: cfg.ServerID,
		MaxMetricsInterval: maxMetricsInterval(cfg.MaxMetricsInterval),
	}}}); err != nil {
		return err
	}
	senderDone := make(chan error, 1)
	go func() { senderDone <- g.sendLoop(ctx, stream, conn) }()
	recvDone := make(chan struct{})
	go func() { defer close(recvDone); g.receive(ctx, stream, conn, log) }()
	select {
	case <-recvDone:
		cancel()
		<-senderDone
		return nil
	case err := <-senderDone:
		// Revoked, replaced by a newer stream, or a failed Send: end the stream (the
		// receiver's Recv returns once the handler has returned).
		cancel()
		return err
	}
}

// receive records what the agent sends until its stream ends.
func (g *Gateway) receive(ctx context.Context, stream agentv1.AgentGateway_ConnectServer, conn *agentConn, log *slog.Logger) {
	cfg := g.cfg
	for {
		m, err := stream.Recv()
		if err != nil || ctx.Err() != nil {
			return
		}
		switch msg := m.Msg.(type) {
		case *agentv1.AgentMessage_Heartbeat:
			if err := cfg.Store.AgentHeartbeat(ctx, conn.id, msg.Heartbeat.AppliedGeneration); err != nil && ctx.Err() == nil {
				log.Warn("record heartbeat", "error", err)
			}
		case *agentv1.AgentMessage_WorkerStatus:
			g.report(ctx, conn.id, msg.WorkerStatus)
		case *agentv1.AgentMessage_WorkerMetrics:
			wm := msg.WorkerMetrics
			if held, stopping, err := cfg.Store.WorkerHeldBy(ctx, wm.WorkerId, conn.id, wm.Epoch); err != nil || !held || stopping {
				if err == nil && !held {
					log.Warn("ignoring metrics of a worker not placed on this agent with this epoch", "worker_id", wm.WorkerId, "epoch", wm.Epoch)
				}
				continue
			}
			b, _ := proto.Marshal(wm)
			at := time.Now()
			if wm.At != nil {
				at = wm.At.AsTime()
			}
			if err := cfg.Store.WorkerMetricsPut(ctx, wm.WorkerId, "", conn.id, at, b); err != nil && ctx.Err() == nil {
				log.Warn("record worker metrics", "worker_id", wm.WorkerId, "error", err)
			}
			if err := cfg.Store.WorkerSamplePut(ctx, wm.WorkerId, wm.Epoch, at, wm.CpuUtilization, wm.MemoryUtilization); err != nil && ctx.Err() == nil {
				log.Warn("record worker utilization sample", "worker_id", wm.WorkerId, "error", err)
			}
			cfg.Metrics.observe(conn.id, wm)
		case *agentv1.AgentMessage_Goodbye:
			log.Info("agent draining", "reason", msg.Goodbye.Reason)
			if err := cfg.Store.AgentGoodbye(ctx, conn.id); err != nil && ctx.Err() == nil {
				log.Warn("record goodbye", "error", err)
			}
		case *agentv1.AgentMessage_Hello:
			log.Warn("ignoring a second Hello on one stream")
		}
	}
}

// report records a worker's status.
func (g *Gateway) report(ctx context.Context, agentID string, ws *agentv1.WorkerStatus) {
	// Only the agent a worker is placed on reports for it, with the epoch it holds (a stopping
	// worker's STOPPED ends its stop whatever the epoch).
	held, _, err := g.cfg.Store.WorkerHeldBy(ctx, ws.WorkerId, agentID, ws.Epoch)
	if err != nil {
		if ctx.Err() == nil {
			g.log.Warn("check worker placement", "agent_id", agentID, "worker_id", ws.WorkerId, "error", err)
		}
		return
	}
	if !held {
		g.log.Debug("ignoring the status of a worker not placed on this agent with this epoch", "agent_id", agentID,
			"worker_id", ws.WorkerId, "epoch", ws.Epoch)
		return
	}
	tasks, _ := json.Marshal(taskReports(ws.Tasks))
	st := strings.TrimPrefix(ws.State.String(), "WORKER_STATE_")
	if err := g.cfg.Store.WorkerReportPut(ctx, ws.WorkerId, store.WorkerReport{
		AgentID: agentID, State: st, Epoch: ws.Epoch, Tasks: tasks, Error: ws.Error, Restarts: int(ws.Restarts),
		LogDeliveryError: ws.LogDeliveryError, Health: ws.HealthError, HealthSince: time.UnixMilli(ws.HealthSinceMs),
	}); err != nil && ctx.Err() == nil {
		g.log.Warn("record worker status", "agent_id", agentID, "worker_id", ws.WorkerId, "error", err)
	}
	// A report may complete a rebalance (fjord_rebalance_completed_total) or end a worker.
	g.cfg.Metrics.refreshAfterReport(ctx)
}

// TaskReport is how a task's reported status is kept (workers.reported_tasks).
type TaskReport struct {
	TaskID int    `json:"taskId"`
	State  string `json:"state"`
	Error  string `json:"error,omitempty"`
}

func taskReports(ts []*agentv1.TaskStatus) []TaskReport {
	out := make([]TaskReport, 0, len(ts))
	for _, t := range ts {
		out = append(out, TaskReport{TaskID: int(t.TaskId), State: strings.TrimPrefix(t.State.String(), "WORKER_STATE_"), Error: t.Error})
	}
	return out
}

// resyncInterval is how often a stream re-reads its desired set without a notification (a
// safety net for lost notifications).
const resyncInterval = 5 * time.Second

func (g *Gateway) sendLoop(ctx context.Context, stream agentv1.AgentGateway_ConnectServer, conn *agentConn) error {
	sent := int64(-1)
	// sentSpecs are the worker specs this stream last sent, by worker id: a worker whose
	// specification cannot be built now keeps its last one (see desired).
	sentSpecs := map[string]*agentv1.WorkerSpec{}
	t := time.NewTicker(resyncInterval)
	defer t.Stop()
	for {
		if err := g.checkEnrollment(ctx, conn.id, conn.serial); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if status.Code(err) == codes.PermissionDenied {
				g.log.Warn("closing the stream of a revoked agent", "agent_id", conn.id)
				return err
			}
			g.log.Warn("check agent enrollment", "agent_id", conn.id, "error", err)
		}
		gen, workers, err := g.cfg.Store.AgentDesired(ctx, conn.id)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			g.log.Warn("read desired workers", "agent_id", conn.id, "error", err)
		} else if gen != sent {
			msg, err := g.desired(ctx, gen, workers, sentSpecs)
			if err != nil {
				g.log.Error("build desired workers", "agent_id", conn.id, "error", err)
			} else {
				if err := stream.Send(&agentv1.ServerMessage{Msg: &agentv1.ServerMessage_Desired{Desired: msg}}); err != nil {
					return err
				}
				sent = gen
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-conn.wake:
		case <-t.C:
		}
	}
}

// desired builds the DesiredWorkers message of an agent. A worker whose task specifications
// cannot be built now (a secret unreadable for a moment, say) keeps the spec last sent for it
// — leaving it out would stop it — or, if none was sent, is left out until it can be built:
// one workload's trouble never holds back the rest of the agent's desired set. sent is
// updated with what the message holds.
func (g *Gateway) desired(ctx context.Context, gen int64, workers []store.Worker, sent map[string]*agentv1.WorkerSpec) (*agentv1.DesiredWorkers, error) {
	out := &agentv1.DesiredWorkers{Generation: gen}
	next := make(map[string]*agentv1.WorkerSpec, len(workers))
	for _, w := range workers {
		table := g.cfg.Store.Connectors
		if w.WorkloadKind == "replicator" {
			table = g.cfg.Store.Replicators
		}
		r, err := table.ByARN(ctx, w.WorkloadARN)
		if errors.Is(err, store.ErrNotFound) {
			continue // removed meanwhile: the next plan drops the worker
		}
		if err != nil {
			return nil, err
		}
		tasks, err := g.cfg.TaskSpecsFunc(ctx, w.WorkloadKind, r, w.Tasks, w.TaskCount)
		if err != nil {
			prev := sent[w.ID]
			g.log.Warn("cannot build a worker's tasks; it keeps its last specification", "worker_id", w.ID,
				"workload_arn", w.WorkloadARN, "kept", prev != nil, "error", err)
			if prev != nil {
				out.Workers = append(out.Workers, prev)
				next[w.ID] = prev
			}
			continue
		}
		logs, err := workload.LogDelivery(w.WorkloadKind, r)
		if err != nil {
			return nil, err
		}
		g.cfg.Metrics.name(w.ID, r.Name, w.WorkloadARN)
		spec := &agentv1.WorkerSpec{
			WorkerId: w.ID, WorkloadArn: w.WorkloadARN, WorkloadName: r.Name, WorkloadKind: w.WorkloadKind,
			Epoch: w.Epoch, Mcu: int32(w.MCU), Tasks: tasks, LogDelivery: logs,
		}
		out.Workers = append(out.Workers, spec)
		next[w.ID] = spec
	}
	clear(sent)
	maps.Copy(sent, next)
	return out, nil
}

// maxAgentID bounds an agent id's length.
const maxAgentID = 128

// Enroll issues an agent's client certificate: the caller presents the join token, the id
// must not hold a certificate that is not revoked.
func (g *Gateway) Enroll(ctx context.Context, req *agentv1.EnrollRequest) (*agentv1.EnrollResponse, error) {
	if err := g.authorize(ctx); err != nil {
		return nil, err
	}
	id := req.AgentId
	if id == "" || len(id) > maxAgentID || strings.IndexFunc(id, func(r rune) bool { return r < 0x21 || r == 0x7f }) >= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "agent_id must be 1 to %d printable characters without spaces", maxAgentID)
	}
	log := g.log.With("agent_id", id)
	iss, err := g.cfg.CA.IssueAgent(id, req.Csr)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "csr: %v", err)
	}
	err = g.cfg.Store.AgentEnroll(ctx, store.Enrollment{AgentID: id, Serial: iss.Serial, Fingerprint: iss.Fingerprint, NotAfter: iss.NotAfter})
	if errors.Is(err, store.ErrConflict) {
		msg := fmt.Sprintf("agent id %q is already enrolled; only its own certificate speaks for it (revoke it with `fjord agents revoke %s` to enroll it again)", id, id)
		if e, err := g.cfg.Store.AgentEnrollment(ctx, id); err == nil {
			msg = fmt.Sprintf("agent id %q is already enrolled (certificate serial %s, enrolled %s); only its own certificate speaks for it "+
				"(revoke it with `fjord agents revoke %s` to enroll it again)", id, e.Serial, e.EnrolledAt.UTC().Format(time.RFC3339), id)
		}
		log.Warn("enrollment refused: the id is enrolled")
		return nil, status.Error(codes.AlreadyExists, msg)
	}
	if err != nil {
		log.Error("record enrollment", "error", err)
		return nil, status.Error(codes.Unavailable, "could not record the enrollment")
	}
	var address string
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		address = p.Addr.String()
	}
	log.Info("agent enrolled", "serial", iss.Serial, "address", address)
	return &agentv1.EnrollResponse{Certificate: iss.CertPEM, CaCertificate: g.cfg.CA.CertPEM(), Serial: iss.Serial}, nil
}

// DiscoveryMAC is Discover's MAC: HMAC-SHA256(token, "fjord-ca-discovery" 0x00 nonce caDER).
func DiscoveryMAC(token string, nonce, caDER []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("fjord-ca-discovery\x00"))
	m.Write(nonce)
	m.Write(caDER)
	return m.Sum(nil)
}

// Discover returns the Fjord CA with its MAC under the join token.
func (g *Gateway) Discover(_ context.Context, req *agentv1.DiscoverRequest) (*agentv1.DiscoverResponse, error) {
	if g.cfg.Token == "" {
		return nil, status.Error(codes.PermissionDenied, "this server accepts no agents (no --agent-token)")
	}
	if n := len(req.Nonce); n < 16 || n > 64 {
		return nil, status.Error(codes.InvalidArgument, "nonce must be 16 to 64 bytes")
	}
	der := g.cfg.CA.cert.Raw
	return &agentv1.DiscoverResponse{CaCertificate: der, Mac: DiscoveryMAC(g.cfg.Token, req.Nonce, der)}, nil
}

// identify returns the agent id and serial of the stream's client certificate, verified
// against the Fjord CA by the TLS handshake.
func (g *Gateway) identify(ctx context.Context) (string, string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return "", "", status.Error(codes.Unauthenticated, "no peer")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return "", "", status.Error(codes.Unauthenticated, "the agent stream requires the agent's client certificate: enroll first (fjord agent does it with the join token)")
	}
	leaf := info.State.VerifiedChains[0][0]
	id, ok := agentOf(leaf)
	if !ok {
		return "", "", status.Error(codes.Unauthenticated, "the client certificate names no agent id")
	}
	return id, SerialHex(leaf.SerialNumber), nil
}

// checkEnrollment refuses (PermissionDenied) a certificate that is not id's current,
// unrevoked enrollment.
func (g *Gateway) checkEnrollment(ctx context.Context, id, serial string) error {
	e, err := g.cfg.Store.AgentEnrollment(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return status.Errorf(codes.PermissionDenied, "agent %q is not enrolled", id)
	case err != nil:
		return status.Error(codes.Unavailable, "could not read the agent's enrollment")
	case e.Serial != serial:
		return status.Errorf(codes.PermissionDenied, "the certificate of agent %q (serial %s) was replaced by a newer enrollment", id, serial)
	case e.Revoked():
		return status.Errorf(codes.PermissionDenied, "the certificate of agent %q (serial %s) was revoked at %s", id, serial,
			e.RevokedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// authorize checks the agent's join token.
func (g *Gateway) authorize(ctx context.Context) error {
	token := g.cfg.Token
	if token == "" {
		return status.Error(codes.PermissionDenied, "this server accepts no agents (no --agent-token)")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var got string
	if v := md.Get("authorization"); len(v) > 0 {
		got = strings.TrimPrefix(v[0], "Bearer ")
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		return status.Error(codes.Unauthenticated, "invalid agent token")
	}
	return nil
}
