package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
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
	// revoked makes Connect refuse the agent's certificate.
	revoked atomic.Bool
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

// Enroll checks the token and issues a certificate from the test CA.
func (g *gateway) Enroll(ctx context.Context, req *agentv1.EnrollRequest) (*agentv1.EnrollResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if auth := md.Get("authorization"); len(auth) != 1 || auth[0] != "Bearer "+testToken {
		g.mu.Lock()
		g.refused = append(g.refused, time.Now())
		g.mu.Unlock()
		return nil, status.Error(codes.Unauthenticated, "invalid agent token")
	}
	cert, err := testPKI().issue(req.AgentId, req.Csr)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &agentv1.EnrollResponse{Certificate: cert, CaCertificate: testPKI().caPEM, Serial: "1"}, nil
}

// Discover answers the test CA with its MAC under testToken.
func (g *gateway) Discover(_ context.Context, req *agentv1.DiscoverRequest) (*agentv1.DiscoverResponse, error) {
	m := hmac.New(sha256.New, []byte(testToken))
	m.Write([]byte("fjord-ca-discovery\x00"))
	m.Write(req.Nonce)
	m.Write(testPKI().ca.Raw)
	return &agentv1.DiscoverResponse{CaCertificate: testPKI().ca.Raw, Mac: m.Sum(nil)}, nil
}

func (g *gateway) Connect(stream agentv1.AgentGateway_ConnectServer) error {
	if p, ok := peer.FromContext(stream.Context()); !ok || len(p.AuthInfo.(credentials.TLSInfo).State.VerifiedChains) == 0 {
		return status.Error(codes.Unauthenticated, "no client certificate")
	}
	if g.revoked.Load() {
		return status.Error(codes.PermissionDenied, "the certificate was revoked")
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
	s := &testServer{addr: lis.Addr().String(), srv: grpc.NewServer(grpc.Creds(credentials.NewTLS(testPKI().serverTLS))), done: make(chan struct{})}
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

// pki is the tests' CA, shaped like the server's Fjord CA: a gateway certificate for
// GatewayServerName whose chain carries the CA, and client certificates for agent ids.
type pki struct {
	ca        *x509.Certificate
	caPEM     []byte
	key       *ecdsa.PrivateKey
	serverTLS *tls.Config
}

var (
	pkiOnce sync.Once
	thePKI  *pki
)

func testPKI() *pki {
	pkiOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(time.Hour * 24), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		ca, _ := x509.ParseCertificate(der)
		p := &pki{ca: ca, key: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
		skey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		sder, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), DNSNames: []string{GatewayServerName},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
			ca, &skey.PublicKey, key)
		if err != nil {
			panic(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		p.serverTLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{sder, der}, PrivateKey: skey}},
			ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
		thePKI = p
	})
	return thePKI
}

// fingerprint is the CA's, as agents are given it.
func (p *pki) fingerprint() string { return Fingerprint(p.ca.Raw) }

var serial atomic.Int64

func (p *pki) issue(id string, csrDER []byte) ([]byte, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(100 + serial.Add(1)), Subject: pkix.Name{CommonName: id},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		p.ca, csr.PublicKey, p.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
