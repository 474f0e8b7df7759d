package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fjord-io/fjord/store/pgtest"
)

// waitStderr waits until p's stderr contains want.
func waitStderr(t *testing.T, p *proc, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %v; stderr:\n%s", p.name, want, timeout, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fingerprintHex is the hex SHA-256 of der.
func fingerprintHex(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// readyz reports /readyz's status code of an agent (0: no answer).
func readyz(addr string) int {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + addr + "/readyz")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestAgentIdentityE2E, with real `fjord agent` processes: an agent enrolls once and keeps its
// identity across a restart; another process with the same id is refused with a clear
// message, whether it holds only the token (a fresh state dir) or a copy of the agent's
// certificate, and the real agent keeps its stream; `fjord agents list` shows the
// enrollment; `fjord agents revoke` closes the stream and refuses the certificate.
func TestAgentIdentityE2E(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 10*time.Second)
	a := f.startAgent(t, "ident-1", 2)
	enrolled := f.cliAgentsList(t)["ident-1"]
	if !enrolled.Connected || enrolled.Enrollment == nil || enrolled.Enrollment.Serial == "" || enrolled.Enrollment.RevokedTime != "" {
		t.Fatalf("enrolled agent listed as %+v", enrolled)
	}
	for _, name := range []string{"agent.key", "agent.crt", "ca.crt"} {
		if _, err := os.Stat(filepath.Join(f.stateDir, "ident-1", name)); err != nil {
			t.Fatalf("state dir: %v", err)
		}
	}

	// Another process with the same id and only the token (its own lock dir, so the
	// per-host lock does not stop it first): the enrollment is refused.
	rogue := startProcEnv(t, "rogue ident-1", f.bin, []string{"TMPDIR=" + t.TempDir()}, "agent", "--server", f.srv.grpcAddr,
		"--token-file", f.tokenFile, "--id", "ident-1", "--http-addr", freeAddr(t), "--server-ca", f.caFile, "--state-dir", t.TempDir())
	waitStderr(t, rogue, `agent id \"ident-1\" is already enrolled`, 30*time.Second)
	rogue.kill(t)
	// A copy of the agent's certificate, in a second process: refused while the agent is connected.
	copyDir := t.TempDir()
	for _, name := range []string{"agent.key", "agent.crt", "ca.crt"} {
		raw, err := os.ReadFile(filepath.Join(f.stateDir, "ident-1", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, name), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	clone := startProcEnv(t, "clone ident-1", f.bin, []string{"TMPDIR=" + t.TempDir()}, "agent", "--server", f.srv.grpcAddr,
		"--token-file", f.tokenFile, "--id", "ident-1", "--http-addr", freeAddr(t), "--state-dir", copyDir)
	waitStderr(t, clone, `agent id \"ident-1\" is already connected`, 30*time.Second)
	clone.kill(t)
	if got := f.cliAgentsList(t)["ident-1"]; !got.Connected || got.Address != enrolled.Address {
		t.Fatalf("the real agent after the refused duplicates: %+v (was %+v)", got, enrolled)
	}

	// A restart keeps the identity: no second enrollment.
	a.stop(t, 20*time.Second)
	a = f.startAgent(t, "ident-1", 2)
	if strings.Contains(a.stderr.String(), "agent enrolled") {
		t.Error("the restarted agent enrolled again instead of using its state dir")
	}
	if got := f.cliAgentsList(t)["ident-1"]; !got.Connected || got.Enrollment.Serial != enrolled.Enrollment.Serial {
		t.Fatalf("after a restart: %+v", got)
	}

	// Revocation.
	out := runFjord(t, f.bin, "agents", "revoke", "ident-1", "--server", f.srv.grpcAddr)
	if !strings.Contains(out, "revoked") {
		t.Fatalf("agents revoke printed %q", out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for readyz(a.httpAddr) != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("the revoked agent is still connected")
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitStderr(t, a.proc, "refused the agent's certificate", 30*time.Second)
	if got := f.cliAgentsList(t)["ident-1"]; got.Connected || got.Enrollment == nil || got.Enrollment.RevokedTime == "" {
		t.Fatalf("after the revocation: %+v", got)
	}
	table := runFjord(t, f.bin, "agents", "list", "--server", f.srv.grpcAddr)
	if !strings.Contains(table, "CERT SERIAL") || !strings.Contains(table, "REVOKED") {
		t.Errorf("agents list table:\n%s", table)
	}
}

// testPKI writes a CA and a server certificate for 127.0.0.1/localhost (PEM files) and returns
// their paths.
func testPKI(t *testing.T) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test operator CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "fjord"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	for p, b := range map[string]*pem.Block{caFile: {Type: "CERTIFICATE", Bytes: caDER}, certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(p, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}

// TestAPITLSE2E: `fjord server --tls-cert/--tls-key` serves REST over TLS (HTTP/2 and
// HTTP/1.1) to the aws CLI with --ca-bundle and to the Go SDK with a custom CA, the gRPC API
// over TLS to the CLI with --ca-file (a plaintext CLI call fails), and agents still join the
// agent gateway on the same port under the Fjord CA.
func TestAPITLSE2E(t *testing.T) {
	t.Parallel()
	caFile, certFile, keyFile := testPKI(t)
	bin := buildFjord(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials.json")
	if err := os.WriteFile(creds, []byte(`[{"accessKeyId":"test","secretAccessKey":"test","accountId":"000000000000"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(dir, "agent.token")
	if err := os.WriteFile(tokenFile, []byte("tls-test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dbURL := pgtest.URL(t)
	httpAddr, grpcAddr := freeAddr(t), freeAddr(t)
	srv := startProc(t, "fjord server (TLS)", bin, "server", "--database-url", dbURL, "--encryption-key", randomKeyHex(t),
		"--http-addr", httpAddr, "--grpc-addr", grpcAddr, "--plugin-dir", filepath.Join(dir, "plugins"), "--credentials-file", creds,
		"--agent-token-file", tokenFile, "--tls-cert", certFile, "--tls-key", keyFile)

	raw, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(raw)
	h2 := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	h1 := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := h2.Get("https://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if resp.ProtoMajor != 2 {
					t.Errorf("REST over TLS answered %s; want HTTP/2", resp.Proto)
				}
				break
			}
		}
		if srv.exited() || time.Now().After(deadline) {
			t.Fatalf("the TLS server did not become healthy: %v\n%s", err, srv.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := h1.Get("https://" + httpAddr + "/healthz")
	if err != nil || resp.ProtoMajor != 1 {
		t.Fatalf("HTTP/1.1 over TLS: %v %v", resp, err)
	}
	resp.Body.Close()

	// The Go SDK with the operator's CA.
	kc := kafkaconnect.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String("https://" + httpAddr), HTTPClient: h2})
	if out, err := kc.ListConnectors(t.Context(), &kafkaconnect.ListConnectorsInput{}); err != nil || out.Connectors == nil {
		t.Fatalf("ListConnectors over TLS: %v %v", out, err)
	}
	// The aws CLI with --ca-bundle.
	cmd := exec.CommandContext(t.Context(), "aws", "--endpoint-url", "https://"+httpAddr, "--ca-bundle", caFile, "--region", "us-east-1",
		"kafkaconnect", "list-connectors")
	cmd.Env = childEnv("AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test")
	cliOut, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(cliOut), `"connectors"`) {
		t.Fatalf("aws kafkaconnect list-connectors --ca-bundle: %v\n%s", err, cliOut)
	}

	// The gRPC API: the CLI verifies with --ca-file; plaintext is refused.
	out := runFjord(t, bin, "clusters", "register", "--server", grpcAddr, "--ca-file", caFile, "--name", "tls", "--bootstrap-servers", "127.0.0.1:19092")
	if !strings.Contains(out, "tls") {
		t.Fatalf("clusters register over TLS printed %q", out)
	}
	plain := exec.CommandContext(t.Context(), bin, "clusters", "list", "--server", grpcAddr)
	plain.Env = childEnv()
	if b, err := plain.CombinedOutput(); err == nil {
		t.Fatalf("a plaintext CLI call to the TLS gRPC API succeeded: %s", b)
	}

	// An agent joins on the same port, under the Fjord CA (its fingerprint from the log).
	db, err := pgxpool.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var fjordCA string
	if err := db.QueryRow(t.Context(), `SELECT certificate FROM fjord_ca`).Scan(&fjordCA); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode([]byte(fjordCA))
	var logged string
	for _, line := range strings.Split(srv.stderr.String(), "\n") {
		if strings.Contains(line, "ca_fingerprint") {
			var m map[string]any
			_ = json.Unmarshal([]byte(line), &m)
			logged, _ = m["ca_fingerprint"].(string)
		}
	}
	if logged == "" || !strings.HasSuffix(logged, fingerprintHex(block.Bytes)) {
		t.Fatalf("the server logged the CA fingerprint %q; the CA's is %s", logged, fingerprintHex(block.Bytes))
	}
	agentHTTP := freeAddr(t)
	ag := startProc(t, "fjord agent (TLS server)", bin, "agent", "--server", grpcAddr, "--token-file", tokenFile, "--id", "tls-agent",
		"--http-addr", agentHTTP, "--ca-fingerprint", logged, "--state-dir", t.TempDir())
	waitOK(t, ag, agentHTTP, "/readyz", time.Minute)
}

// TestDevMoreAgents runs the banner's "more agents" command twice, as printed: both agents
// enroll (trusting the CA fjord dev wrote) and join under distinct default ids.
func TestDevMoreAgents(t *testing.T) {
	t.Parallel()
	bin := buildFjord(t)
	d := startDev(t, bin, filepath.Join(reachableTempDir(t), "dev"))
	var line string
	for _, l := range strings.Split(d.stdout.String(), "\n") {
		if _, after, ok := strings.Cut(l, "more: "); ok {
			line = after
		}
	}
	args := strings.Fields(line)
	if len(args) < 2 || args[0] != "fjord" || args[1] != "agent" || !strings.Contains(line, "--server-ca") {
		t.Fatalf("the banner's more-agents command: %q", line)
	}
	home := t.TempDir() // the agents' default state dirs live under $HOME/.config
	for _, name := range []string{"more one", "more two"} {
		startProcEnv(t, name, bin, []string{"HOME=" + home, "XDG_CONFIG_HOME="}, args[1:]...)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{bin: bin, srv: &fjordServer{grpcAddr: d.grpc}}
	poll(t, time.Minute, "both agents connected", func() bool {
		agents := f.cliAgentsList(t)
		return agents[host+"-1"].Connected && agents[host+"-2"].Connected && agents["dev-agent-1"].Connected
	})
	for _, id := range []string{host + "-1", host + "-2"} {
		if e := f.cliAgentsList(t)[id].Enrollment; e == nil || e.Serial == "" {
			t.Errorf("agent %s is not listed as enrolled", id)
		}
	}
}
