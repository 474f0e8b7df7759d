package agentgw

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/fjord-io/fjord/store"
)

// ServerName is the name agents verify in the agent gateway's certificate (their TLS
// ServerName, SNI). Every replica's gateway certificate carries it, whatever host agents dial;
// the server routes a TLS connection that asks for it to the agent gateway.
const ServerName = "fjord-agent-gateway"

// Validity of what the CA issues.
const (
	caValidity     = 20 * 365 * 24 * time.Hour
	agentValidity  = 10 * 365 * 24 * time.Hour
	serverValidity = 365 * 24 * time.Hour
)

// agentURIScheme is the scheme of the URI SAN naming an agent id: fjord-agent:<id>.
const agentURIScheme = "fjord-agent"

// CA is the Fjord CA: it issues agents' client certificates (at enrollment) and each
// replica's agent-gateway certificate. Its key lives sealed in Postgres (store.CA).
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	pool    *x509.CertPool
}

// LoadCA reads the Fjord CA from the store, creating it on the first start of the first
// replica: a new one, or the operator's (imported: certificate and private key in PEM, e.g.
// --agent-ca-cert/--agent-ca-key). A store that already holds another CA than the imported one
// is an error (every replica must use the same CA).
func LoadCA(ctx context.Context, st *store.Store, importCert, importKey []byte) (*CA, error) {
	create := newCA
	if len(importCert) > 0 {
		create = func() ([]byte, []byte, error) { return parseImport(importCert, importKey) }
	}
	certPEM, keyDER, err := st.CA(ctx, create)
	if err != nil {
		return nil, fmt.Errorf("fjord CA: %w", err)
	}
	if len(importCert) > 0 {
		want, _, err := parseImport(importCert, importKey)
		if err != nil {
			return nil, err
		}
		a, _ := pem.Decode(want)
		b, _ := pem.Decode(certPEM)
		if a == nil || b == nil || !bytes.Equal(a.Bytes, b.Bytes) {
			return nil, errors.New("fjord CA: the database holds another CA than --agent-ca-cert (every replica must use the one CA the database holds)")
		}
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, errors.New("fjord CA: stored certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("fjord CA: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(keyDER)
	if err != nil {
		return nil, fmt.Errorf("fjord CA key: %w", err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("fjord CA key cannot sign")
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{cert: cert, certPEM: certPEM, key: key, pool: pool}, nil
}

func newCA() ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Fjord CA " + serial.Text(16)[:8], Organization: []string{"Fjord"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyDER, nil
}

// parseImport checks an operator's CA (PEM certificate and private key: PKCS #8, PKCS #1 or
// SEC 1) and returns it as the store keeps it: the certificate PEM and the key as PKCS #8 DER.
func parseImport(certPEM, keyPEM []byte) ([]byte, []byte, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil {
		return nil, nil, errors.New("--agent-ca-cert holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("--agent-ca-cert: %w", err)
	}
	if !cert.IsCA {
		return nil, nil, errors.New("--agent-ca-cert is not a CA certificate (basic constraints)")
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, errors.New("--agent-ca-key holds no PEM private key")
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(kb.Bytes); err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(kb.Bytes); err != nil {
			if key, err = x509.ParseECPrivateKey(kb.Bytes); err != nil {
				return nil, nil, errors.New("--agent-ca-key: not a PKCS #8, PKCS #1 or EC private key")
			}
		}
	}
	signer, ok := key.(crypto.Signer)
	if !ok || !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return nil, nil, errors.New("--agent-ca-key is not the key of --agent-ca-cert")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cb.Bytes}), der, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// CertPEM is the CA certificate (PEM): what agents and fjord CLI commands trust.
func (c *CA) CertPEM() []byte { return c.certPEM }

// Pool holds the CA certificate.
func (c *CA) Pool() *x509.CertPool { return c.pool }

// Fingerprint is the SHA-256 of the CA certificate (DER) as "sha256:<hex>": what an agent
// passes as --ca-fingerprint to trust the server on its first enrollment.
func (c *CA) Fingerprint() string { return Fingerprint(c.cert.Raw) }

// Fingerprint is "sha256:<hex of SHA-256(der)>".
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Issued is a certificate the CA issued to an agent.
type Issued struct {
	CertPEM             []byte
	Serial, Fingerprint string
	NotAfter            time.Time
}

// IssueAgent signs the public key of a certificate request (DER, PKCS #10, self-signed by
// the agent's key) into a client certificate for agent id: CommonName id and URI SAN
// fjord-agent:<id>, usable only for client authentication.
func (c *CA) IssueAgent(id string, csrDER []byte) (Issued, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return Issued{}, fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return Issued{}, fmt.Errorf("csr signature: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return Issued{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: id, Organization: []string{"Fjord agents"}},
		URIs:         []*url.URL{AgentURI(id)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(agentValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, csr.PublicKey, c.key)
	if err != nil {
		return Issued{}, err
	}
	return Issued{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Serial: SerialHex(serial),
		Fingerprint: Fingerprint(der), NotAfter: tmpl.NotAfter}, nil
}

// AgentURI is the URI SAN of an agent id's certificate.
func AgentURI(id string) *url.URL {
	return &url.URL{Scheme: agentURIScheme, Opaque: url.PathEscape(id)}
}

// SerialHex is how serials are shown and stored: lowercase hex.
func SerialHex(n *big.Int) string { return n.Text(16) }

// agentOf is the agent id a verified client certificate names: its URI SAN fjord-agent:<id>,
// which must agree with its CommonName.
func agentOf(cert *x509.Certificate) (string, bool) {
	for _, u := range cert.URIs {
		if u.Scheme != agentURIScheme {
			continue
		}
		id, err := url.PathUnescape(u.Opaque)
		if err == nil && id != "" && id == cert.Subject.CommonName {
			return id, true
		}
	}
	return "", false
}

// ServerCertificate issues this replica's agent-gateway certificate (a fresh key, kept in
// memory): DNS names ServerName, localhost, the host name and the hosts given (names or IP
// addresses, e.g. the --agent-advertise list), and 127.0.0.1 and ::1. The chain includes the
// CA certificate, so that an agent can check the CA's fingerprint before it trusts it.
func (c *CA) ServerCertificate(hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := newSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: ServerName, Organization: []string{"Fjord"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{ServerName, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		switch ip := net.ParseIP(h); {
		case h == "":
		case ip != nil:
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		default:
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, c.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerTLS is the agent gateway's TLS configuration: the gateway certificate, and client
// certificates verified against the CA when given (Enroll is called without one; Connect
// requires one).
func (c *CA) ServerTLS(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    c.pool,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2"},
	}
}
