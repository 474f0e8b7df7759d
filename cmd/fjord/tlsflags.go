package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fjord-io/fjord/server"
)

// serverTLS are the TLS flags of fjord server and fjord dev (api-docs/agent-identity.md).
type serverTLS struct {
	cert, key, advertise, caCert, caKey string
}

func (t *serverTLS) register(f *flags) {
	f.str(&t.cert, "tls-cert", "", "", "PEM certificate (chain) for the REST and gRPC API listeners: with --tls-key they serve TLS only (REST: HTTP/2 and HTTP/1.1)")
	f.str(&t.key, "tls-key", "", "", "PEM private key of --tls-cert")
	f.str(&t.caCert, "agent-ca-cert", "", "", "PEM certificate of the Fjord CA to use instead of creating one (with --agent-ca-key); stored in the database on the first start")
	f.str(&t.caKey, "agent-ca-key", "", "", "PEM private key of --agent-ca-cert (PKCS #8, PKCS #1 or EC)")
	f.str(&t.advertise, "agent-advertise", "", "", "comma-separated extra host names / IP addresses for the agent gateway's certificate (issued by the Fjord CA)")
}

func (t *serverTLS) apply(cfg *server.Config) error {
	cfg.TLSCert, cfg.TLSKey = t.cert, t.key
	if (t.caCert == "") != (t.caKey == "") {
		return errors.New("--agent-ca-cert and --agent-ca-key go together")
	}
	if t.caCert != "" {
		var err error
		if cfg.AgentCACert, err = os.ReadFile(t.caCert); err != nil {
			return fmt.Errorf("--agent-ca-cert: %w", err)
		}
		if cfg.AgentCAKey, err = os.ReadFile(t.caKey); err != nil {
			return fmt.Errorf("--agent-ca-key: %w", err)
		}
	}
	for _, h := range strings.Split(t.advertise, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.AgentHosts = append(cfg.AgentHosts, h)
		}
	}
	return nil
}

// clientTLS are the flags with which CLI commands reach a server's gRPC API.
type clientTLS struct {
	tls    bool
	caFile string
}

func (c *clientTLS) register(f *flags) {
	f.boolean(&c.tls, "tls", false, "the server's gRPC API uses TLS (--tls-cert): verify it with the system roots, or --ca-file")
	f.str(&c.caFile, "ca-file", "", "", "PEM CA bundle to verify the server's TLS certificate with (implies --tls)")
}

// dialOption is the transport of a CLI connection: plaintext, or TLS verified against the
// system roots or --ca-file.
func (c *clientTLS) dialOption() (grpc.DialOption, error) {
	if !c.tls && c.caFile == "" {
		return grpc.WithTransportCredentials(insecure.NewCredentials()), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.caFile != "" {
		raw, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(raw) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", c.caFile)
		}
		cfg.RootCAs = pool
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg)), nil
}
