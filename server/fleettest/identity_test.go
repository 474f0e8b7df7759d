package fleettest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/server/agentgw"
	"github.com/fjord-io/fjord/server/servertest"
)

// wantCode fails unless err carries code and (when given) a message containing want.
func wantCode(t *testing.T, what string, err error, code codes.Code, want string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), want) {
		t.Fatalf("%s: got %v, want %v containing %q", what, err, code, want)
	}
}

// barrier sends a heartbeat carrying gen and waits until the server recorded it: every message
// the agent sent before it has been handled.
func barrier(t *testing.T, env *servertest.Env, a *testAgent, gen int64) {
	t.Helper()
	a.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_Heartbeat{Heartbeat: &agentv1.Heartbeat{AppliedGeneration: gen}}})
	servertest.Eventually(t, 10*time.Second, "the heartbeat recorded", func() bool {
		var got int64
		err := env.Store.Pool().QueryRow(context.Background(), `SELECT applied_generation FROM agents WHERE id = $1`, a.id).Scan(&got)
		return err == nil && got >= gen
	})
}

// TestRogueTokenHolder is the acceptance at the gateway: a client holding only the
// join token cannot take over an enrolled agent's id (whether that agent is connected or not),
// cannot report for another agent's workers (state, failures, CPU samples: the store shows no
// effect) and receives no specification of a workload it does not run. Then: a reconnect
// of the same agent (same certificate and instance) replaces its stream, another process
// with the same id is refused, revocation closes the stream, and a plaintext client does not
// reach the gateway.
func TestRogueTokenHolder(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.Options{LeaseTTL: time.Minute})
	ctx := context.Background()
	admin := adminClient(t, env, servertest.AccessKey, servertest.SecretKey)
	createReplicator(t, env.Kafka(), "victim", env.SourceClusterARN, env.TargetClusterARN, nil)

	real, err := connect(t, env, "real", 4, servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, "the replicator's worker on real", func() bool { return len(real.workers()) == 1 })
	w := real.workers()[0]
	real.reportRunning()
	barrier(t, env, real, 1)
	workerRow := func() (agent, state string, epoch int64) {
		t.Helper()
		if err := env.Store.Pool().QueryRow(ctx, `SELECT reported_agent, reported_state, reported_epoch FROM workers WHERE id = $1`, w.WorkerId).
			Scan(&agent, &state, &epoch); err != nil {
			t.Fatal(err)
		}
		return
	}
	if a, st, ep := workerRow(); a != "real" || st != "RUNNING" || ep != w.Epoch {
		t.Fatalf("the real agent's report: %s %s %d", a, st, ep)
	}

	// Taking over the id with the token alone: a new enrollment is refused …
	_, err = env.Enroll(ctx, "real", servertest.AgentToken)
	wantCode(t, "enroll an enrolled, connected id", err, codes.AlreadyExists, `agent id "real" is already enrolled`)
	// … a stream without a certificate is refused …
	_, err = connectTLS(t, env, env.AgentClientTLS(nil), "real", "rogue", 4)
	wantCode(t, "stream without a certificate", err, codes.Unauthenticated, "client certificate")
	// … and the rogue's own certificate does not speak for another id.
	rogueCert, err := env.Enroll(ctx, "rogue", servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	_, err = connectTLS(t, env, env.AgentClientTLS(&rogueCert), "real", "rogue", 4)
	wantCode(t, "the rogue's certificate as real", err, codes.PermissionDenied, `belongs to agent "rogue"`)

	// As itself (no capacity: nothing is placed on it) the rogue reports for real's worker.
	rogue, err := connectTLS(t, env, env.AgentClientTLS(&rogueCert), "rogue", "rogue", 0)
	if err != nil {
		t.Fatal(err)
	}
	rogue.reportStatus(w.WorkerId, w.Epoch, agentv1.WorkerState_WORKER_STATE_FAILED, "PERMANENT: reported by a rogue")
	rogue.reportStatus(w.WorkerId, w.Epoch, agentv1.WorkerState_WORKER_STATE_STOPPED, "")
	rogue.send(&agentv1.AgentMessage{Msg: &agentv1.AgentMessage_WorkerMetrics{WorkerMetrics: &agentv1.WorkerMetrics{
		WorkerId: w.WorkerId, Epoch: w.Epoch, At: timestamppb.Now(), CpuUtilization: 0.99, MemoryUtilization: 0.99}}})
	// The real agent itself cannot report an epoch it does not hold.
	real.reportStatus(w.WorkerId, w.Epoch+1, agentv1.WorkerState_WORKER_STATE_FAILED, "PERMANENT: stale epoch")
	barrier(t, env, rogue, 2)
	barrier(t, env, real, 3)
	if a, st, ep := workerRow(); a != "real" || st != "RUNNING" || ep != w.Epoch {
		t.Fatalf("after the rogue's reports the worker shows %s %s %d; want real RUNNING %d", a, st, ep, w.Epoch)
	}
	var samples, rogueMetrics int
	if err := env.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM worker_samples WHERE worker_id = $1 AND cpu > 0.9`, w.WorkerId).Scan(&samples); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.Pool().QueryRow(ctx, `SELECT count(*) FROM worker_metrics WHERE agent_id = 'rogue'`).Scan(&rogueMetrics); err != nil {
		t.Fatal(err)
	}
	if samples != 0 || rogueMetrics != 0 {
		t.Fatalf("the rogue's measurements were recorded: %d CPU samples, %d metrics rows", samples, rogueMetrics)
	}
	servertest.Eventually(t, 10*time.Second, "the rogue's desired set", func() bool {
		rogue.mu.Lock()
		defer rogue.mu.Unlock()
		return rogue.desired != nil
	})
	if ws := rogue.workers(); len(ws) != 0 {
		t.Fatalf("the rogue received worker specifications: %v", ws)
	}

	// The real agent's stream is gone: the id is still not the token's to take.
	real.close()
	servertest.Eventually(t, 10*time.Second, "real disconnected", func() bool { return !listAgent(t, admin, "real").Connected })
	_, err = env.Enroll(ctx, "real", servertest.AgentToken)
	wantCode(t, "enroll an enrolled, disconnected id", err, codes.AlreadyExists, "already enrolled")
	_, err = connectTLS(t, env, env.AgentClientTLS(&rogueCert), "real", "rogue", 4)
	wantCode(t, "the rogue's certificate as disconnected real", err, codes.PermissionDenied, `belongs to agent "rogue"`)

	// The real agent comes back with its certificate; a second process with the same id and
	// certificate is refused while it is connected; a reconnect of the same instance (a
	// network flap) replaces its stream.
	realTLS, err := env.AgentTLS(t, "real", servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	back, err := connect(t, env, "real", 4, servertest.AgentToken)
	if err != nil {
		t.Fatalf("the real agent after its disconnect: %v", err)
	}
	_, err = connectTLS(t, env, realTLS, "real", "another-process", 4)
	wantCode(t, "a second live agent with the id", err, codes.AlreadyExists, `agent id "real" is already connected`)
	flap, err := connectTLS(t, env, realTLS, "real", "test-real", 4)
	if err != nil {
		t.Fatalf("a reconnect of the same agent: %v", err)
	}
	select {
	case <-back.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the replaced stream is still open")
	}

	// Revocation closes the stream and refuses the certificate; ListAgents shows it.
	resp, err := admin.RevokeAgent(ctx, &adminv1.RevokeAgentRequest{AgentId: "real"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Enrollment.RevokedTime == nil || resp.Enrollment.Serial == "" {
		t.Fatalf("RevokeAgent: %v", resp)
	}
	select {
	case <-flap.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked agent's stream is still open")
	}
	_, err = connectTLS(t, env, realTLS, "real", "test-real", 4)
	wantCode(t, "a revoked certificate", err, codes.PermissionDenied, "was revoked")
	if e := listAgent(t, admin, "real").Enrollment; e == nil || e.RevokedTime == nil || e.Serial != resp.Enrollment.Serial {
		t.Fatalf("ListAgents after the revocation: %v", e)
	}
	_, err = admin.RevokeAgent(ctx, &adminv1.RevokeAgentRequest{AgentId: "never-enrolled"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("revoke an unknown id: %v", err)
	}
	// A revoked id may enroll again.
	if _, err := env.Enroll(ctx, "real", servertest.AgentToken); err != nil {
		t.Fatalf("enroll a revoked id again: %v", err)
	}

	// A plaintext client reaches only the API server, which does not serve the gateway.
	conn, err := grpc.NewClient(env.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = agentv1.NewAgentGatewayClient(conn).Enroll(ctx, &agentv1.EnrollRequest{AgentId: "x"})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("Enroll over plaintext: %v; want Unimplemented", err)
	}
}

// TestDiscoverCA: Discover answers the Fjord CA with its MAC under the join token, which an
// agent checks before it trusts the CA; a short nonce is refused.
func TestDiscoverCA(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	conn, err := grpc.NewClient(env.GRPCAddr, grpc.WithTransportCredentials(credentials.NewTLS(env.AgentClientTLS(nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gw := agentv1.NewAgentGatewayClient(conn)
	nonce := []byte("0123456789abcdef0123456789abcdef")
	resp, err := gw.Discover(context.Background(), &agentv1.DiscoverRequest{Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	if agentgw.Fingerprint(resp.CaCertificate) != env.CAFingerprint {
		t.Fatalf("Discover returned another CA: %s, want %s", agentgw.Fingerprint(resp.CaCertificate), env.CAFingerprint)
	}
	if !bytes.Equal(resp.Mac, agentgw.DiscoveryMAC(servertest.AgentToken, nonce, resp.CaCertificate)) {
		t.Fatal("Discover's MAC is not the token's")
	}
	if bytes.Equal(resp.Mac, agentgw.DiscoveryMAC("another-token", nonce, resp.CaCertificate)) {
		t.Fatal("Discover's MAC checks out under another token")
	}
	_, err = gw.Discover(context.Background(), &agentv1.DiscoverRequest{Nonce: []byte("short")})
	wantCode(t, "a short nonce", err, codes.InvalidArgument, "nonce")
}

// TestImportedCA: an operator's CA (RSA, PKCS #1, as Helm's genCA makes) becomes the Fjord CA:
// agents enroll under it; a replica given another CA refuses to start.
func TestImportedCA(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "operator CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	env := servertest.Start(t, servertest.Options{AgentCACert: certPEM, AgentCAKey: keyPEM})
	if env.CAFingerprint != agentgw.Fingerprint(der) {
		t.Fatalf("the server's CA is %s, want the imported %s", env.CAFingerprint, agentgw.Fingerprint(der))
	}
	cert, err := env.Enroll(context.Background(), "under-operator-ca", servertest.AgentToken)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(mustParse(t, der))
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("the agent certificate does not verify under the imported CA: %v", err)
	}
	if _, err := connect(t, env, "under-operator-ca", 1, servertest.AgentToken); err != nil {
		t.Fatalf("stream under the imported CA: %v", err)
	}

	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	oder, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &other.PublicKey, other)
	_, err = agentgw.LoadCA(context.Background(), env.Store, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: oder}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	if err == nil || !strings.Contains(err.Error(), "another CA") {
		t.Fatalf("a replica with another CA: %v", err)
	}
	_, err = agentgw.LoadCA(context.Background(), env.Store, certPEM, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	if err == nil || !strings.Contains(err.Error(), "not the key") {
		t.Fatalf("a CA with a key that is not its own: %v", err)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
