package servertest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/server/agentgw"
)

// agentCerts caches the certificates Env.AgentTLS enrolled, by Env and agent id.
var agentCerts sync.Map // *Env+id → tls.Certificate

type certKey struct {
	env *Env
	id  string
}

// Enroll enrolls agent id with token through the Enroll RPC and returns its client
// certificate; the Env remembers it (AgentTLS reuses it).
func (e *Env) Enroll(ctx context.Context, id, token string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: id}}, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	conn, err := grpc.NewClient(e.GRPCAddr, grpc.WithTransportCredentials(credentials.NewTLS(e.AgentClientTLS(nil))))
	if err != nil {
		return tls.Certificate{}, err
	}
	defer conn.Close()
	resp, err := agentv1.NewAgentGatewayClient(conn).Enroll(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token),
		&agentv1.EnrollRequest{AgentId: id, Csr: csr})
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(resp.Certificate, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		return tls.Certificate{}, err
	}
	agentCerts.Store(certKey{e, id}, cert)
	return cert, nil
}

// AgentClientTLS is an agent's TLS configuration for the Env's gateway: the server verified
// against the Fjord CA, and cert presented when not nil.
func (e *Env) AgentClientTLS(cert *tls.Certificate) *tls.Config {
	cfg := &tls.Config{ServerName: agentgw.ServerName, RootCAs: e.Server.CA().Pool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

// AgentTLS returns the TLS configuration of agent id: enrolled with token on first use (the
// Enroll error is returned), the same certificate afterwards.
func (e *Env) AgentTLS(t testing.TB, id, token string) (*tls.Config, error) {
	t.Helper()
	if c, ok := agentCerts.Load(certKey{e, id}); ok {
		cert := c.(tls.Certificate)
		return e.AgentClientTLS(&cert), nil
	}
	cert, err := e.Enroll(context.Background(), id, token)
	if err != nil {
		return nil, err
	}
	return e.AgentClientTLS(&cert), nil
}
