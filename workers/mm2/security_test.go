package mm2

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testCAPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

const scramJAAS = `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p@ss \"w0rd\"";`

func TestParseJAAS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, module string
		opts       map[string]string
		err        string
	}{
		{scramJAAS, ScramLoginModule, map[string]string{"username": "alice", "password": `p@ss "w0rd"`}, ""},
		{"org.apache.kafka.common.security.plain.PlainLoginModule required\n  username=bob\n  password=\"x;y\"  ;  ",
			PlainLoginModule, map[string]string{"username": "bob", "password": "x;y"}, ""},
		{ScramLoginModule + " optional tokenauth=true username=u password=p;", ScramLoginModule,
			map[string]string{"tokenauth": "true", "username": "u", "password": "p"}, ""},
		{"", "", nil, "login module class is missing"},
		{ScramLoginModule + " required username=u password=p", "", nil, "must end with ';'"},
		{ScramLoginModule + " mandatory username=u;", "", nil, "control flag"},
		{ScramLoginModule + " required username=\"u password=p;", "", nil, "unterminated"},
		{ScramLoginModule + " required username;", "", nil, "expected name=value"},
		{ScramLoginModule + " required username=u; " + PlainLoginModule + " required username=u;", "", nil, "only one login module"},
	}
	for _, c := range cases {
		module, opts, err := ParseJAAS(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseJAAS(%q): want error with %q, got %v", c.in, c.err, err)
			}
			continue
		}
		if err != nil || module != c.module || fmt.Sprint(opts) != fmt.Sprint(c.opts) {
			t.Errorf("ParseJAAS(%q) = %q, %v, %v; want %q, %v", c.in, module, opts, err, c.module, c.opts)
		}
	}
}

func TestParseSecurity(t *testing.T) {
	t.Parallel()
	ca := testCAPEM(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte(ca), 0o600); err != nil {
		t.Fatal(err)
	}
	m := base()
	// Unprefixed keys apply to both clusters; cluster keys win.
	m["security.protocol"] = "sasl_ssl"
	m["sasl.mechanism"] = "SCRAM-SHA-512"
	m["sasl.jaas.config"] = scramJAAS
	m["ssl.truststore.type"] = "PEM"
	m["ssl.truststore.certificates"] = ca
	m["target.cluster.security.protocol"] = "SSL"
	m["target.cluster.ssl.truststore.certificates"] = ""
	m["target.cluster.ssl.truststore.location"] = caFile
	m["target.cluster.ssl.endpoint.identification.algorithm"] = ""
	c, err := ParseConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	s := c.SourceSecurity
	if s.Protocol != ProtocolSASLSSL || s.Mechanism != MechanismScramSHA512 || s.Username != "alice" ||
		s.Password.Reveal() != `p@ss "w0rd"` || s.RootCAs == nil || s.NoHostnameVerification {
		t.Errorf("source security: %+v", s)
	}
	d := c.TargetSecurity
	if d.Protocol != ProtocolSSL || d.Username != "" || d.RootCAs == nil || !d.NoHostnameVerification {
		t.Errorf("target security: %+v", d)
	}
	if len(c.SourceSecurityOpts()) != 2 || len(c.TargetSecurityOpts()) != 1 {
		t.Errorf("options: %d source, %d target; want 2 (TLS, SASL) and 1 (TLS)", len(c.SourceSecurityOpts()), len(c.TargetSecurityOpts()))
	}
	for k := range c.Extra {
		if strings.Contains(k, "sasl") || strings.Contains(k, "ssl") || strings.Contains(k, "security") {
			t.Errorf("security key %s landed in Extra", k)
		}
	}
	// The password never prints, whichever way the configuration is printed or logged.
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "source", s, "password", s.Password)
	for _, out := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), b.String()} {
		if strings.Contains(out, "w0rd") {
			t.Fatalf("the password was printed: %s", out)
		}
	}

	// PLAINTEXT by default; SASL keys without a SASL protocol are ignored, as Kafka does.
	m = base()
	m["sasl.jaas.config"] = "garbage"
	c, err = ParseConfig(m)
	if err != nil || c.SourceSecurity.Protocol != ProtocolPlaintext || len(c.SourceSecurityOpts()) != 0 || len(c.Extra) != 0 {
		t.Errorf("plaintext: %+v, extra %v, %v", c.SourceSecurity, c.Extra, err)
	}
	// PLAIN with the PlainLoginModule.
	m = base()
	m["source.cluster.security.protocol"] = "SASL_PLAINTEXT"
	m["source.cluster.sasl.mechanism"] = "PLAIN"
	m["source.cluster.sasl.jaas.config"] = PlainLoginModule + ` required username="u" password="p";`
	if c, err = ParseConfig(m); err != nil || c.SourceSecurity.Mechanism != MechanismPlain || len(c.SourceSecurityOpts()) != 1 {
		t.Errorf("PLAIN: %+v, %v", c.SourceSecurity, err)
	}
}

func TestParseSecurityErrors(t *testing.T) {
	t.Parallel()
	sasl := map[string]string{"source.cluster.security.protocol": "SASL_SSL", "source.cluster.sasl.mechanism": "SCRAM-SHA-256",
		"source.cluster.sasl.jaas.config": scramJAAS}
	iam := map[string]string{"source.cluster.security.protocol": "SASL_SSL", "source.cluster.sasl.mechanism": "AWS_MSK_IAM",
		"source.cluster.sasl.jaas.config": IAMLoginModule + " required;"}
	cases := []struct {
		key, value string
		with       map[string]string
	}{
		{"security.protocol", "TLS", nil},
		{"target.cluster.security.protocol", "SASL", nil},
		{"source.cluster.sasl.mechanism", "GSSAPI", sasl},
		{"source.cluster.sasl.mechanism", "OAUTHBEARER", sasl},
		{"source.cluster.sasl.jaas.config", ScramLoginModule + " required username=u password=hunter2;", iam},
		{"source.cluster.sasl.jaas.config", IAMLoginModule + " required awsRoleArn=role/x;", iam},
		{"source.cluster.sasl.client.callback.handler.class", "com.example.Handler", iam},
		{"source.cluster.sasl.client.callback.handler.class", IAMCallbackHandler, sasl},
		{"source.cluster.sasl.mechanism", "", sasl},
		{"source.cluster.sasl.jaas.config", "", sasl},
		{"source.cluster.sasl.jaas.config", "${secretManager:onprem-kafka:jaas}", sasl},
		{"source.cluster.sasl.jaas.config", "ScramLoginModule required username=u password=hunter2", sasl},
		{"source.cluster.sasl.jaas.config", PlainLoginModule + " required username=u password=hunter2;", sasl},
		{"source.cluster.sasl.jaas.config", "com.example.Login required username=u password=hunter2;", sasl},
		{"source.cluster.sasl.jaas.config", ScramLoginModule + " required username=u;", sasl},
		{"source.cluster.sasl.jaas.config", ScramLoginModule + " required password=hunter2;", sasl},
		{"source.cluster.ssl.truststore.certificates", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----", sasl},
		{"source.cluster.ssl.truststore.certificates", "hello", sasl},
		{"source.cluster.ssl.truststore.location", "/nonexistent/ca.pem", sasl},
		{"source.cluster.ssl.truststore.type", "JKS", map[string]string{"source.cluster.security.protocol": "SSL", "source.cluster.ssl.truststore.location": "/x.jks"}},
		{"source.cluster.ssl.endpoint.identification.algorithm", "dns", sasl},
		{"source.cluster.ssl.keystore.key", "-----BEGIN PRIVATE KEY-----", sasl},
	}
	for _, c := range cases {
		m := base()
		for k, v := range c.with {
			m[k] = v
		}
		m[c.key] = c.value
		_, err := ParseConfig(m)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s=%q: no ConfigError (%v)", c.key, c.value, err)
			continue
		}
		if ce.Key != c.key {
			t.Errorf("%s=%q: error names %q: %v", c.key, c.value, ce.Key, err)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "w0rd") {
			t.Errorf("%s: the error echoes a password: %v", c.key, err)
		}
	}
}

// TestJAASWithConfigProviders: the worker resolves config-provider references before the
// parser sees a value, so a password that itself holds "${" is taken as written; a reference
// that was never resolved is an error saying so.
func TestJAASWithConfigProviders(t *testing.T) {
	t.Parallel()
	m := base()
	m["source.cluster.security.protocol"] = "SASL_PLAINTEXT"
	m["source.cluster.sasl.mechanism"] = "SCRAM-SHA-512"
	m["source.cluster.sasl.jaas.config"] = ScramLoginModule + ` required username="u" password="a${b:c}d";`
	c, err := ParseConfig(m)
	if err != nil || c.SourceSecurity.Password.Reveal() != "a${b:c}d" {
		t.Fatalf("a resolved password holding ${: %v", err)
	}
	m["source.cluster.sasl.jaas.config"] = "${secretsmanager:onprem:jaas}"
	_, err = ParseConfig(m)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "source.cluster.sasl.jaas.config" || !strings.Contains(err.Error(), "unresolved config provider reference") {
		t.Fatalf("an unresolved reference: %v", err)
	}
}
