package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestEnrollTrustAnchors: without a pinned CA the agent learns it with Discover (checked with
// the join token) and joins; a wrong pin or a wrong token (the MAC does not check out) never
// reaches Enroll. The identity is kept in StateDir and used by the next agent.
func TestEnrollTrustAnchors(t *testing.T) {
	t.Parallel()
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	dir := t.TempDir()
	a := startAgent(t, srv.addr, func(c *Config) { c.CAFingerprint, c.StateDir = "", dir })
	waitUntil(t, "a Hello after discovery", func() bool { return len(g.hellos()) >= 1 })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{keyFile, certFile, caFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("state dir: %v", err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, keyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}

	for name, mod := range map[string]func(*Config){
		"wrong pin":   func(c *Config) { c.CAFingerprint = "sha256:00ff" },
		"wrong token": func(c *Config) { c.CAFingerprint, c.Token = "", "wrong" },
	} {
		g := newGateway()
		srv := serve(t, g, "127.0.0.1:0")
		b := startAgent(t, srv.addr, mod)
		time.Sleep(500 * time.Millisecond)
		if len(g.refusals()) != 0 || len(g.hellos()) != 0 {
			t.Errorf("%s: the agent reached Enroll (%d) or Connect (%d)", name, len(g.refusals()), len(g.hellos()))
		}
		if err := b.stop(t); err != nil {
			t.Fatal(err)
		}
	}

	// A new agent with the same state dir uses the kept identity: no trust anchor, no token check.
	g2 := newGateway()
	srv2 := serve(t, g2, "127.0.0.1:0")
	c := startAgent(t, srv2.addr, func(c *Config) { c.CAFingerprint, c.StateDir, c.Token = "", dir, "not-needed-any-more" })
	waitUntil(t, "a Hello with the kept identity", func() bool { return len(g2.hellos()) >= 1 })
	if len(g2.refusals()) != 0 {
		t.Error("the agent enrolled again")
	}
	if err := c.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestRevokedAgentStopsWorkers: once the server refuses the agent's certificate
// (PermissionDenied), the agent stops its workers cleanly instead of running them until it is
// fenced; it keeps retrying.
func TestRevokedAgentStopsWorkers(t *testing.T) {
	t.Parallel()
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	report := filepath.Join(t.TempDir(), "w-1")
	a := startAgent(t, srv.addr, nil)
	g.setDesired(workerSpec("w-1", 1, 1, "test.Sleep", map[string]string{"report": report}))
	start := waitReports(t, report, "start", 1)[0]
	g.revoked.Store(true)
	srv.stop() // the stream breaks; the next one is refused
	srv = serve(t, g, srv.addr)
	if stop := waitReports(t, report, "stop", 1)[0]; stop.Pid != start.Pid {
		t.Fatalf("stopped worker %d, started %d", stop.Pid, start.Pid)
	}
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestAnotherDeploymentEnrollsAgain: a kept identity of another CA than the one the server
// proves with the join token (the deployment was recreated) is replaced by a new enrollment.
func TestAnotherDeploymentEnrollsAgain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A kept identity from another CA: the test CA's files with ca.crt replaced by a stranger.
	g := newGateway()
	srv := serve(t, g, "127.0.0.1:0")
	a := startAgent(t, srv.addr, func(c *Config) { c.CAFingerprint, c.StateDir = "", dir })
	waitUntil(t, "a first Hello", func() bool { return len(g.hellos()) >= 1 })
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	stranger := strangerCAPEM(t)
	if err := os.WriteFile(filepath.Join(dir, caFile), stranger, 0o644); err != nil {
		t.Fatal(err)
	}
	g2 := newGateway()
	srv2 := serve(t, g2, "127.0.0.1:0")
	b := startAgent(t, srv2.addr, func(c *Config) { c.CAFingerprint, c.StateDir = "", dir })
	waitUntil(t, "a Hello after enrolling again", func() bool { return len(g2.hellos()) >= 1 })
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, caFile)); string(raw) != string(testPKI().caPEM) {
		t.Fatal("the state dir still holds the other CA")
	}
}

func strangerCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "stranger"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
