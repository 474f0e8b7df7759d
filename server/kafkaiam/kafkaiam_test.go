package kafkaiam

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	saws "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

const (
	testKey    = "AKIDFJORDTEST0000001"
	testSecret = "fjordTestSecretKey/With+Special=Chars"
	testToken  = "FwoGZXIvYXdzEJr//////////wEaDH+token=="
)

type iamCluster struct {
	c    *kfake.Cluster
	gate *Gate
	ca   *x509.CertPool
	pem  []byte
	now  time.Duration // added to the broker's clock
}

func startIAMCluster(t *testing.T) *iamCluster {
	t.Helper()
	srvTLS, caPEM, err := DevTLS()
	if err != nil {
		t.Fatal(err)
	}
	ic := &iamCluster{pem: caPEM}
	v := &Verifier{
		Hosts: []string{"127.0.0.1", "localhost"},
		Now:   func() time.Time { return time.Now().Add(ic.now) },
		Lookup: func(_ context.Context, ak string) (Credential, bool) {
			switch ak {
			case testKey:
				return Credential{SecretAccessKey: testSecret, Principal: "test"}, true
			case "ASIATEMP":
				return Credential{SecretAccessKey: testSecret, SessionToken: testToken, Principal: "temp"}, true
			}
			return Credential{}, false
		},
	}
	ic.gate = NewGate(v, srvTLS, nil)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", ic.gate.user, ic.gate.pass),
		kfake.ListenFn(ic.gate.Listen), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ic.c = c
	ic.ca = poolOf(caPEM)
	return ic
}

func poolOf(pemText []byte) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pemText)
	return p
}

func (ic *iamCluster) client(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(ic.c.ListenAddrs()...),
		kgo.DialTLSConfig(&tls.Config{RootCAs: ic.ca, MinVersion: tls.VersionTLS12}), kgo.RetryTimeout(2 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func iamAuth(ak, secret, token string) kgo.Opt {
	return kgo.SASL(saws.Auth{AccessKey: ak, SecretKey: secret, SessionToken: token, UserAgent: "test"}.AsManagedStreamingIAMMechanism())
}

func ping(cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

func TestIAMClusterAcceptsSignedClients(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	ic := startIAMCluster(t)
	for _, c := range []struct{ name, ak, token string }{{"long-term key", testKey, ""}, {"session credentials", "ASIATEMP", testToken}} {
		cl := ic.client(t, iamAuth(c.ak, testSecret, c.token), kgo.ConsumeTopics("t"), kgo.DefaultProduceTopic("t"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(c.name)}).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", c.name, err)
		}
		fs := cl.PollFetches(ctx)
		cancel()
		if err := fs.Err(); err != nil || fs.NumRecords() == 0 {
			t.Fatalf("%s: consume: %v (%d records)", c.name, err, fs.NumRecords())
		}
	}
	if ic.gate.Accepted.Load() < 2 || ic.gate.Refused.Load() != 0 {
		t.Fatalf("accepted %d refused %d", ic.gate.Accepted.Load(), ic.gate.Refused.Load())
	}
}

func TestIAMClusterRefuses(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	ic := startIAMCluster(t)
	cases := []struct {
		name string
		opt  kgo.Opt
		skew time.Duration
		want error
	}{
		{"wrong secret", iamAuth(testKey, "not-the-secret", ""), 0, kerr.SaslAuthenticationFailed},
		{"unknown key", iamAuth("AKIDUNKNOWN", testSecret, ""), 0, kerr.SaslAuthenticationFailed},
		{"session key without its token", iamAuth("ASIATEMP", testSecret, ""), 0, kerr.SaslAuthenticationFailed},
		{"expired signature", iamAuth(testKey, testSecret, ""), 6 * time.Minute, kerr.SaslAuthenticationFailed},
		{"signature from the future", iamAuth(testKey, testSecret, ""), -16 * time.Minute, kerr.SaslAuthenticationFailed},
		{"SCRAM", kgo.SASL(scram.Auth{User: ic.gate.user, Pass: ic.gate.pass}.AsSha256Mechanism()), 0, kerr.UnsupportedSaslMechanism},
	}
	for _, c := range cases {
		ic.now = c.skew
		before := ic.gate.Refused.Load()
		err := ping(ic.client(t, c.opt))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: ping error %v, want %v", c.name, err, c.want)
		}
		if ic.gate.Refused.Load() == before {
			t.Errorf("%s: the gate did not count a refusal", c.name)
		}
	}
	ic.now = 0
	// No SASL at all: kfake closes the connection on the first request that is not
	// ApiVersions or SASL.
	if err := ping(ic.client(t)); err == nil {
		t.Error("a client without SASL was served")
	}
	// Not even with the internal user's PLAIN password: PLAIN is refused at the handshake.
	cl := ic.client(t, kgo.SASL(plainMech{ic.gate.user, ic.gate.pass}))
	if err := ping(cl); !errors.Is(err, kerr.UnsupportedSaslMechanism) {
		t.Errorf("PLAIN with the internal password: %v", err)
	}
}

func TestIAMClusterRefusesKcatPlain(t *testing.T) {
	ic := startIAMCluster(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, ic.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kcat", "-b", ic.c.ListenAddrs()[0], "-L", "-m", "5",
		"-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=admin", "-X", "sasl.password=admin",
		"-X", "ssl.ca.location="+ca).CombinedOutput()
	if err == nil {
		t.Fatalf("kcat with SASL PLAIN listed the cluster:\n%s", out)
	}
	if !strings.Contains(string(out), "AWS_MSK_IAM") && !strings.Contains(strings.ToLower(string(out)), "mechanism") {
		t.Errorf("kcat's error does not say the mechanism was refused:\n%s", out)
	}
	if ic.gate.Refused.Load() == 0 {
		t.Errorf("the gate counted no refusal; kcat said:\n%s", out)
	}
}

// plainMech is SASL PLAIN (franz-go's sasl/plain, inlined to keep the test's imports short).
type plainMech struct{ user, pass string }

func (plainMech) Name() string { return "PLAIN" }
func (m plainMech) Authenticate(context.Context, string) (sasl.Session, []byte, error) {
	return plainSession{}, []byte("\x00" + m.user + "\x00" + m.pass), nil
}

type plainSession struct{}

func (plainSession) Challenge([]byte) (bool, []byte, error) { return true, nil, nil }
