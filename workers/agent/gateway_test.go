package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
)

const testToken = "s3cret"

// gateway is a small implementation of the server side of the agent protocol: it checks the
// token, answers Hello with Welcome, sends the desired set (whenever setDesired changes it)
// and records every message in order.
type gateway struct {
	agentv1.UnimplementedAgentGatewayServer
	heartbeat time.Duration
	// maxMetrics is the Welcome's max_metrics_interval (0: unset).
	maxMetrics time.Duration

	mu          sync.Mutex
	gen         int64
	desired     []*agentv1.WorkerSpec
	wakes       map[chan struct{}]bool
	received    []received
	refused     []time.Time
	streams     int
	agentClosed int
}

type received struct {
	stream int
	msg    *agentv1.AgentMessage
}

func (g *gateway) welcomeMaxMetrics() *durationpb.Duration {
	if g.maxMetrics <= 0 {
		return nil
	}
	return durationpb.New(g.maxMetrics)
}

func newGateway() *gateway {
	return &gateway{heartbeat: 100 * time.Millisecond, wakes: map[chan struct{}]bool{}}
}

func (g *gateway) Connect(stream agentv1.AgentGateway_ConnectServer) error {
	md, _ := metadata.FromIncomingContext(stream.Context())
	if auth := md.Get("authorization"); len(auth) != 1 || auth[0] != "Bearer "+testToken {
		g.mu.Lock()
		g.refused = append(g.refused, time.Now())
		g.mu.Unlock()
		return status.Error(codes.Unauthenticated, "invalid agent token")
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.GetHello() == nil {
		return status.Error(codes.InvalidArgument, "the first message must be Hello")
	}
	wake := make(chan struct{}, 1)
	g.mu.Lock()
	g.streams++
	n := g.streams
	g.received = append(g.received, received{n, first})
	g.wakes[wake] = true
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.wakes, wake)
		g.mu.Unlock()
	}()
	if err := stream.Send(&agentv1.ServerMessage{Msg: &agentv1.ServerMessage_Welcome{Welcome: &agentv1.Welcome{
		HeartbeatInterval: durationpb.New(g.heartbeat), LeaseTtl: durationpb.New(10 * time.Second), ServerId: "test-server",
		MaxMetricsInterval: g.welcomeMaxMetrics(),
	}}}); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		g.sendLoop(ctx, stream, wake)
	}()
	defer func() {
		cancel()
		<-sent
	}()
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			g.mu.Lock()
			g.agentClosed++
			g.mu.Unlock()
			return nil
		}
		if err != nil {
			return err
		}
		g.mu.Lock()
		g.received = append(g.received, received{n, m})
		g.mu.Unlock()
	}
}

func (g *gateway) sendLoop(ctx context.Context, stream agentv1.AgentGateway_ConnectServer, wake chan struct{}) {
	sent := int64(0)
	for {
		g.mu.Lock()
		gen, ws := g.gen, g.desired
		g.mu.Unlock()
		if gen != sent {
			if err := stream.Send(&agentv1.ServerMessage{Msg: &agentv1.ServerMessage_Desired{Desired: &agentv1.DesiredWorkers{
				Generation: gen, Workers: ws,
			}}}); err != nil {
				return
			}
			sent = gen
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
	}
}

// setDesired replaces the agent's desired set and returns its generation.
func (g *gateway) setDesired(ws ...*agentv1.WorkerSpec) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gen++
	g.desired = ws
	for w := range g.wakes {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	return g.gen
}

func (g *gateway) messages() []received {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]received(nil), g.received...)
}

func (g *gateway) hellos() []*agentv1.Hello {
	var out []*agentv1.Hello
	for _, r := range g.messages() {
		if h := r.msg.GetHello(); h != nil {
			out = append(out, h)
		}
	}
	return out
}

func (g *gateway) statuses(workerID string) []*agentv1.WorkerStatus {
	var out []*agentv1.WorkerStatus
	for _, r := range g.messages() {
		if st := r.msg.GetWorkerStatus(); st != nil && st.WorkerId == workerID {
			out = append(out, st)
		}
	}
	return out
}

func (g *gateway) workerMetrics(workerID string) []*agentv1.WorkerMetrics {
	var out []*agentv1.WorkerMetrics
	for _, r := range g.messages() {
		if m := r.msg.GetWorkerMetrics(); m != nil && m.WorkerId == workerID {
			out = append(out, m)
		}
	}
	return out
}

func (g *gateway) heartbeats() []int64 {
	var out []int64
	for _, r := range g.messages() {
		if h := r.msg.GetHeartbeat(); h != nil {
			out = append(out, h.AppliedGeneration)
		}
	}
	return out
}

func (g *gateway) refusals() []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]time.Time(nil), g.refused...)
}

// testServer is a gRPC server serving a gateway on loopback.
type testServer struct {
	addr string
	srv  *grpc.Server
	done chan struct{}
}

// serve starts a server for g on addr ("127.0.0.1:0" for any port); the test's cleanup stops it.
func serve(t *testing.T, g *gateway, addr string) *testServer {
	t.Helper()
	var lis net.Listener
	var err error
	// The port of a server that was just stopped may take a moment to be free again.
	waitUntil(t, "listening on "+addr, func() bool {
		lis, err = net.Listen("tcp", addr)
		return err == nil
	})
	s := &testServer{addr: lis.Addr().String(), srv: grpc.NewServer(), done: make(chan struct{})}
	agentv1.RegisterAgentGatewayServer(s.srv, g)
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(lis)
	}()
	t.Cleanup(s.stop)
	return s
}

// stop breaks every stream and closes the listener.
func (s *testServer) stop() {
	s.srv.Stop()
	<-s.done
}
