package sigv4

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// grpcServer is a real gRPC server on loopback (or a unix socket) serving the
// health service behind the verifier, recording what it decided.
type grpcServer struct {
	addr string
	mu   sync.Mutex
	ids  []Identity
	errs []error
}

func newGRPCServer(t *testing.T, v *Verifier, network string) *grpcServer {
	t.Helper()
	address := "127.0.0.1:0"
	if network == "unix" {
		address = filepath.Join(t.TempDir(), "fjord.sock")
	}
	lis, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	gs := &grpcServer{addr: lis.Addr().String()}
	verify := v.UnaryServerInterceptor()
	record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := verify(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			id, ok := IdentityFromContext(ctx)
			if !ok {
				return nil, errors.New("handler got no identity")
			}
			gs.mu.Lock()
			gs.ids = append(gs.ids, id)
			gs.mu.Unlock()
			return handler(ctx, req)
		})
		if err != nil {
			gs.mu.Lock()
			gs.errs = append(gs.errs, err)
			gs.mu.Unlock()
		}
		return resp, err
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(record))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return gs
}

func (gs *grpcServer) results() ([]Identity, []error) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	return append([]Identity(nil), gs.ids...), append([]error(nil), gs.errs...)
}

func dialHealth(t *testing.T, target string, opts ...grpc.DialOption) healthpb.HealthClient {
	t.Helper()
	cc, err := grpc.NewClient(target, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return healthpb.NewHealthClient(cc)
}

func TestGRPCVerifies(t *testing.T) {
	t.Parallel()
	sign := grpc.WithUnaryInterceptor(UnaryClientInterceptor(testCredential, "us-east-1", "kafkaconnect"))
	cases := []struct {
		name    string
		network string
		target  func(addr string) string
		dial    []grpc.DialOption
		call    []grpc.CallOption
	}{
		{name: "dns target", network: "tcp", target: func(a string) string { return a }, dial: []grpc.DialOption{sign}},
		{name: "passthrough target", network: "tcp", target: func(a string) string { return "passthrough:///" + a }, dial: []grpc.DialOption{sign}},
		{name: "unix socket", network: "unix", target: func(a string) string { return "unix://" + a }, dial: []grpc.DialOption{sign}},
		{
			name: "dial authority", network: "tcp", target: func(a string) string { return a },
			dial: []grpc.DialOption{
				grpc.WithAuthority("fjord.example:443"),
				grpc.WithUnaryInterceptor(UnaryClientInterceptor(testCredential, "us-east-1", "kafkaconnect", Authority("fjord.example:443"))),
			},
		},
		{
			name: "call authority", network: "tcp", target: func(a string) string { return a },
			dial: []grpc.DialOption{sign},
			call: []grpc.CallOption{grpc.CallAuthority("other.example")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gs := newGRPCServer(t, newTestVerifier(Config{}), tc.network)
			client := dialHealth(t, tc.target(gs.addr), tc.dial...)
			resp, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{Service: ""}, tc.call...)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("status = %v, want SERVING", resp.GetStatus())
			}
			ids, errs := gs.results()
			want := Identity{AccessKeyID: testKeyID, AccountID: testAccount, Region: "us-east-1", Service: "kafkaconnect"}
			if len(errs) != 0 || len(ids) != 1 || ids[0] != want {
				t.Errorf("server saw %+v, %v; want one %+v", ids, errs, want)
			}
		})
	}
}

func TestGRPCRefused(t *testing.T) {
	t.Parallel()
	// tamper changes the request after it was signed.
	tamper := grpc.WithChainUnaryInterceptor(
		UnaryClientInterceptor(testCredential, "us-east-1", "kafka"),
		func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			req.(*healthpb.HealthCheckRequest).Service = "fjord.kafkaconnect.v1.KafkaConnect"
			return invoker(ctx, method, req, reply, cc, opts...)
		})
	wrongSecret := testCredential
	wrongSecret.SecretAccessKey += "x"
	unknownKey := testCredential
	unknownKey.AccessKeyID = "AKIANOBODY0000000000"
	cases := []struct {
		name string
		dial []grpc.DialOption
		code string
	}{
		{name: "unsigned", code: CodeMissingAuthenticationToken},
		{
			name: "wrong secret", code: CodeInvalidSignature,
			dial: []grpc.DialOption{grpc.WithUnaryInterceptor(UnaryClientInterceptor(wrongSecret, "us-east-1", "kafkaconnect"))},
		},
		{
			name: "unknown access key", code: CodeUnrecognizedClient,
			dial: []grpc.DialOption{grpc.WithUnaryInterceptor(UnaryClientInterceptor(unknownKey, "us-east-1", "kafkaconnect"))},
		},
		{name: "tampered request", code: CodeInvalidSignature, dial: []grpc.DialOption{tamper}},
		{
			name: "wrong service", code: CodeInvalidSignature,
			dial: []grpc.DialOption{grpc.WithUnaryInterceptor(UnaryClientInterceptor(testCredential, "us-east-1", "s3"))},
		},
		{
			name: "skewed 16 minutes", code: CodeInvalidSignature,
			dial: []grpc.DialOption{grpc.WithUnaryInterceptor(UnaryClientInterceptor(testCredential, "us-east-1", "kafkaconnect",
				Clock(func() time.Time { return time.Now().Add(-16 * time.Minute) })))},
		},
		{
			// The client signs a host other than the :authority it sends.
			name: "authority mismatch", code: CodeInvalidSignature,
			dial: []grpc.DialOption{grpc.WithUnaryInterceptor(UnaryClientInterceptor(testCredential, "us-east-1", "kafkaconnect",
				Authority("fjord.example:443")))},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gs := newGRPCServer(t, newTestVerifier(Config{}), "tcp")
			client := dialHealth(t, gs.addr, tc.dial...)
			_, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{})
			if status.Code(err) != codes.Unauthenticated {
				t.Fatalf("Check error = %v, want Unauthenticated", err)
			}
			ids, errs := gs.results()
			if len(ids) != 0 || len(errs) != 1 {
				t.Fatalf("server saw %+v, %v; want one refusal", ids, errs)
			}
			wantRefusal(t, errs[0], tc.code)
		})
	}
}

func TestTargetAuthority(t *testing.T) {
	t.Parallel()
	for target, want := range map[string]string{
		"dns:///fjord.example:443":       "fjord.example:443",
		"dns://8.8.8.8/fjord.example:50": "fjord.example:50",
		"passthrough:///127.0.0.1:9":     "127.0.0.1:9",
		"dns:///:8080":                   "localhost:8080",
		"unix:///run/fjord.sock":         "localhost",
		"unix-abstract:fjord":            "localhost",
		"dns:///[::1]:443":               "[::1]:443",
		"dns:///a b:1":                   "a%20b:1",
	} {
		if got := targetAuthority(target); got != want {
			t.Errorf("targetAuthority(%q) = %q, want %q", target, got, want)
		}
	}
}

func TestVerifyGRPCWithoutAuthority(t *testing.T) {
	t.Parallel()
	md := map[string][]string{"authorization": {"AWS4-HMAC-SHA256 x"}, "x-amz-date": {"20261121T235930Z"}}
	_, err := newTestVerifier(Config{}).VerifyGRPC(t.Context(), "/grpc.health.v1.Health/Check", md, nil)
	wantRefusal(t, err, CodeIncompleteSignature)
}
