package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
)

// GatewayServerName is the name the agent verifies in the server's agent-gateway certificate
// and asks for (SNI); the server's agentgw.ServerName.
const GatewayServerName = "fjord-agent-gateway"

// Files of Config.StateDir.
const (
	keyFile  = "agent.key"
	certFile = "agent.crt"
	caFile   = "ca.crt"
)

// identity is the agent's enrolled credential: its key and certificate, and the Fjord CA.
type identity struct {
	cert  tls.Certificate
	caPEM []byte
	pool  *x509.CertPool
}

// Fingerprint is "sha256:<hex of SHA-256(der)>", as the server prints the CA's.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// normFingerprint accepts "sha256:<hex>" or "<hex>" (any case, colons allowed).
func normFingerprint(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "sha256:")
	return "sha256:" + strings.ReplaceAll(s, ":", "")
}

func parseIdentity(keyPEM, certPEM, caPEM []byte) (*identity, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate")
	}
	return &identity{cert: cert, caPEM: caPEM, pool: pool}, nil
}

// anchorMatches reports whether the configured trust anchor (CAFingerprint or ServerCA)
// names the CA caPEM; true when none is configured.
func (c *Config) anchorMatches(caPEM []byte) bool {
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return false
	}
	if c.CAFingerprint != "" && normFingerprint(c.CAFingerprint) != Fingerprint(block.Bytes) {
		return false
	}
	if len(c.ServerCA) > 0 {
		b, _ := pem.Decode(c.ServerCA)
		if b == nil || !bytes.Equal(b.Bytes, block.Bytes) {
			return false
		}
	}
	return true
}

// loadIdentity reads the identity kept in StateDir: nil when there is none, or when it was
// issued by another CA than the configured trust anchor names (another Fjord deployment: the
// agent enrolls anew).
func (a *Agent) loadIdentity() *identity {
	dir := a.cfg.StateDir
	if dir == "" {
		return nil
	}
	keyPEM, err1 := os.ReadFile(filepath.Join(dir, keyFile))
	certPEM, err2 := os.ReadFile(filepath.Join(dir, certFile))
	caPEM, err3 := os.ReadFile(filepath.Join(dir, caFile))
	if err := errors.Join(err1, err2, err3); err != nil {
		if !errors.Is(err1, os.ErrNotExist) {
			a.log.Warn("cannot read the agent's stored certificate; enrolling again", "state_dir", dir, "error", err)
		}
		return nil
	}
	id, err := parseIdentity(keyPEM, certPEM, caPEM)
	if err != nil {
		a.log.Warn("the agent's stored certificate is unusable; enrolling again", "state_dir", dir, "error", err)
		return nil
	}
	if leaf, err := x509.ParseCertificate(id.cert.Certificate[0]); err != nil || leaf.Subject.CommonName != a.cfg.AgentID {
		a.log.Warn("the stored certificate belongs to another agent id; enrolling again", "state_dir", dir)
		return nil
	}
	if !a.cfg.anchorMatches(caPEM) {
		a.log.Warn("the stored certificate was issued by another Fjord CA than --ca-fingerprint/--server-ca names; enrolling again", "state_dir", dir)
		return nil
	}
	return id
}

// saveIdentity writes the identity to StateDir (the key 0600).
func (a *Agent) saveIdentity(keyPEM, certPEM, caPEM []byte) error {
	dir := a.cfg.StateDir
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{keyFile, keyPEM, 0o600}, {certFile, certPEM, 0o644}, {caFile, caPEM, 0o644}} {
		tmp := filepath.Join(dir, f.name+".tmp")
		if err := os.WriteFile(tmp, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
			return err
		}
	}
	return nil
}

// verifyServer checks the agent gateway's certificate: issued for GatewayServerName by the
// CA in pool, or — before the agent knows the CA — by a CA in the presented chain whose
// fingerprint is the configured one (or that is the configured ServerCA).
func (c *Config) verifyServer(pool *x509.CertPool, pin string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		certs := cs.PeerCertificates
		if len(certs) == 0 {
			return errors.New("the server presented no certificate")
		}
		roots := pool
		if roots == nil {
			roots = x509.NewCertPool()
			if len(c.ServerCA) > 0 {
				roots.AppendCertsFromPEM(c.ServerCA)
			} else {
				want := normFingerprint(pin)
				for _, ca := range certs[1:] {
					if ca.IsCA && Fingerprint(ca.Raw) == want {
						roots.AddCert(ca)
					}
				}
				if len(certs) < 2 || !chainHas(certs[1:], want) {
					return fmt.Errorf("the server's CA does not have the fingerprint %s", want)
				}
			}
		}
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: GatewayServerName,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			return fmt.Errorf("the server's agent gateway certificate is not from the Fjord CA: %w", err)
		}
		return nil
	}
}

func chainHas(certs []*x509.Certificate, fingerprint string) bool {
	for _, c := range certs {
		if Fingerprint(c.Raw) == fingerprint {
			return true
		}
	}
	return false
}

// tlsConfig is the agent's TLS configuration: the server verified by verifyServer (against
// id's CA, or else the CA pinned by pin or ServerCA), and the agent's certificate when it has
// one.
func (a *Agent) tlsConfig(id *identity, pin string) *tls.Config {
	cfg := &tls.Config{
		ServerName: GatewayServerName,
		MinVersion: tls.VersionTLS12,
		// Verification is verifyServer's (the CA may be known only by its fingerprint yet).
		InsecureSkipVerify: true, //nolint:gosec
	}
	if id != nil {
		cfg.Certificates = []tls.Certificate{id.cert}
		cfg.VerifyConnection = a.cfg.verifyServer(id.pool, "")
	} else {
		cfg.VerifyConnection = a.cfg.verifyServer(nil, pin)
	}
	return cfg
}

// enroll asks the server for the agent's certificate with the join token, and keeps it.
func (a *Agent) enroll(ctx context.Context) (*identity, error) {
	pin := a.cfg.CAFingerprint
	if pin == "" && len(a.cfg.ServerCA) == 0 {
		var err error
		if pin, err = a.discover(ctx); err != nil {
			return nil, err
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: a.cfg.AgentID}}, key)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(a.cfg.ServerAddr, grpc.WithTransportCredentials(credentials.NewTLS(a.tlsConfig(nil, pin))))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+a.cfg.Token), 30*time.Second)
	defer cancel()
	resp, err := agentv1.NewAgentGatewayClient(conn).Enroll(cctx, &agentv1.EnrollRequest{AgentId: a.cfg.AgentID, Csr: csr})
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if b, _ := pem.Decode(resp.CaCertificate); !a.cfg.anchorMatches(resp.CaCertificate) || (pin != "" && (b == nil || Fingerprint(b.Bytes) != normFingerprint(pin))) {
		return nil, errors.New("the CA the server returned is not the one --ca-fingerprint/--server-ca names")
	}
	id, err := parseIdentity(keyPEM, resp.Certificate, resp.CaCertificate)
	if err != nil {
		return nil, fmt.Errorf("enrollment answer: %w", err)
	}
	if err := a.saveIdentity(keyPEM, resp.Certificate, resp.CaCertificate); err != nil {
		return nil, fmt.Errorf("keep the agent's certificate in %s: %w", a.cfg.StateDir, err)
	}
	a.log.Info("agent enrolled", "serial", resp.Serial, "state_dir", a.cfg.StateDir)
	return id, nil
}

// discover learns the Fjord CA's fingerprint from the server, authenticated by the join token
// (Discover's MAC), for an agent given no trust anchor.
func (a *Agent) discover(ctx context.Context) (string, error) {
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	// The server is not trusted yet: what it answers is, once its MAC checks out.
	conn, err := grpc.NewClient(a.cfg.ServerAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		ServerName: GatewayServerName, MinVersion: tls.VersionTLS12, InsecureSkipVerify: true, //nolint:gosec
	})))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := agentv1.NewAgentGatewayClient(conn).Discover(cctx, &agentv1.DiscoverRequest{Nonce: nonce})
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, []byte(a.cfg.Token))
	m.Write([]byte("fjord-ca-discovery\x00"))
	m.Write(nonce)
	m.Write(resp.CaCertificate)
	if !hmac.Equal(m.Sum(nil), resp.Mac) {
		return "", status.Error(codes.Unauthenticated, "the server's CA is not authenticated by the join token (wrong token, or not the Fjord server)")
	}
	fp := Fingerprint(resp.CaCertificate)
	a.log.Info("Fjord CA discovered with the join token", "ca_fingerprint", fp)
	return fp, nil
}

// anotherDeployment reports whether the server's CA, learnt with Discover and authenticated by
// the join token, is not the CA of the kept identity (the deployment was recreated with a new
// CA: the agent must enroll again). Only without a pinned CA, where a pin would have decided
// already; an unreachable server or a MAC that does not check out keeps the identity.
func (a *Agent) anotherDeployment(ctx context.Context, id *identity) bool {
	if a.cfg.CAFingerprint != "" || len(a.cfg.ServerCA) > 0 {
		return false
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	fp, err := a.discover(dctx)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(id.caPEM)
	if block == nil || Fingerprint(block.Bytes) == fp {
		return false
	}
	a.log.Warn("the server's CA (authenticated by the join token) is not the one this agent enrolled with; enrolling again",
		"state_dir", a.cfg.StateDir, "ca_fingerprint", fp)
	return true
}

// identity returns the agent's credential: the stored one, or a new enrollment retried with
// ReconnectBackoff until it succeeds. nil: ctx ended first.
func (a *Agent) identity(ctx context.Context) *identity {
	if id := a.loadIdentity(); id != nil && !a.anotherDeployment(ctx, id) {
		return id
	}
	var delay time.Duration
	for ctx.Err() == nil {
		id, err := a.enroll(ctx)
		if err == nil {
			return id
		}
		delay = a.cfg.ReconnectBackoff.Next(delay, 0)
		log := a.log.With("server", a.cfg.ServerAddr, "retry_in", delay.String())
		switch status.Code(err) {
		case codes.AlreadyExists:
			log.Error("enrollment refused: this agent id is enrolled by another agent; give this agent its own --id, or revoke the id", "error", status.Convert(err).Message())
		case codes.Unauthenticated, codes.PermissionDenied:
			log.Error("enrollment refused: the server did not accept the join token", "error", status.Convert(err).Message())
		default:
			log.Warn("cannot enroll with the Fjord server; retrying", "error", err.Error())
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return nil
}
