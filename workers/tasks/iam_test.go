package tasks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	saws "github.com/twmb/franz-go/pkg/sasl/aws"

	"github.com/fjord-io/fjord/server/kafkaiam"
	"github.com/fjord-io/fjord/server/sigv4"
	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/runtime"
)

// iamEnv is two AWS_MSK_IAM clusters over TLS (kafkaiam's gate on kfake) and the development
// STS that issues the role credentials they accept, with the AWS SDK of this process pointed
// at it. Session credentials last sessionTTL.
type iamEnv struct {
	src, tgt cluster
	sts      *kafkaiam.STS
	gates    []*kafkaiam.Gate
	caPEM    string
}

func newIAMEnv(t *testing.T, sessionTTL time.Duration) *iamEnv {
	t.Helper()
	v, s := kafkaiam.NewDev(sigv4.NewStaticStore(sigv4.Credential{AccessKeyID: "AKIDWORKER", SecretAccessKey: "worker-secret", AccountID: "000000000000"}))
	s.MinDuration = sessionTTL
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDWORKER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "worker-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	srvTLS, caPEM, err := kafkaiam.DevTLS()
	if err != nil {
		t.Fatal(err)
	}
	e := &iamEnv{sts: s, caPEM: string(caPEM)}
	for _, c := range []*cluster{&e.src, &e.tgt} {
		g := kafkaiam.NewGate(v, srvTLS, nil)
		e.gates = append(e.gates, g)
		k, err := kfake.NewCluster(append(g.Options(), kfake.NumBrokers(1))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(k.Close)
		// The test's own clients sign with the worker's long-term key.
		c.addrs = k.ListenAddrs()
		c.opts = []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: poolOf(t, caPEM), MinVersion: tls.VersionTLS12}),
			kgo.SASL(saws.Auth{AccessKey: "AKIDWORKER", SecretKey: "worker-secret"}.AsManagedStreamingIAMMechanism())}
	}
	return e
}

// mskIAMConfig is a MirrorMaker 2 configuration as AWS's MirrorMaker-on-MSK-Connect guide
// writes it: IAM for both clusters, the role left to the connector's serviceExecutionRoleArn.
func (e *iamEnv) mskIAMConfig(role string) map[string]string {
	conf := map[string]string{
		"source.cluster.alias":                  "src",
		"target.cluster.alias":                  "dst",
		"source.cluster.bootstrap.servers":      strings.Join(e.src.addrs, ","),
		"target.cluster.bootstrap.servers":      strings.Join(e.tgt.addrs, ","),
		"topics":                                "orders",
		"refresh.topics.interval.seconds":       "1",
		"emit.heartbeats.interval.seconds":      "1",
		"offset-syncs.topic.replication.factor": "1",
		"replication.factor":                    "1",
		mm2.KeyServiceExecutionRole:             role,
	}
	for _, p := range []string{"source.cluster.", "target.cluster."} {
		conf[p+"security.protocol"] = "SASL_SSL"
		conf[p+"sasl.mechanism"] = "AWS_MSK_IAM"
		conf[p+"sasl.jaas.config"] = "software.amazon.msk.auth.iam.IAMLoginModule required;"
		conf[p+"sasl.client.callback.handler.class"] = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
		conf[p+"ssl.truststore.type"] = "PEM"
		conf[p+"ssl.truststore.certificates"] = e.caPEM
	}
	return conf
}

// TestIAMReplication: a MirrorSource task configured as AWS's guide copies a topic between two
// AWS_MSK_IAM clusters with its service execution role's credentials. The role's sessions
// last 3 s (the development STS; AWS's minimum is 15 min) and the gate closes connections
// when their credentials expire, as MSK does: the task keeps copying across several
// expiries, with fresh credentials assumed each time, without ending or restarting.
func TestIAMReplication(t *testing.T) {
	e := newIAMEnv(t, 3*time.Second)
	old := mm2.IAMRefreshBefore
	mm2.IAMRefreshBefore = time.Second
	t.Cleanup(func() { mm2.IAMRefreshBefore = old })
	ctx := context.Background()
	if _, err := kadm.NewClient(e.src.client(t)).CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	const role = "arn:aws:iam::000000000000:role/mm2-iam-replication"
	done := start(t, catalog.MirrorSource, e.mskIAMConfig(role), &logBuffer{})

	prod := e.src.client(t, kgo.DefaultProduceTopic("orders"))
	tgtAdm := kadm.NewClient(e.tgt.client(t))
	endOf := func(topic string) int64 {
		ends, err := tgtAdm.ListEndOffsets(ctx, topic)
		if err != nil {
			return -1
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				sum += o.Offset
			}
		})
		return sum
	}
	n := 0
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for range 20 {
			prod.Produce(ctx, &kgo.Record{Key: []byte(fmt.Sprintf("k%d", n)), Value: []byte("v")}, nil)
			n++
		}
		if err := prod.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	waitFor(t, 30*time.Second, fmt.Sprintf("%d records in src.orders on the target", n), func() bool { return endOf("src.orders") == int64(n) })
	select {
	case err := <-done:
		t.Fatalf("the task ended: %v", err)
	default:
	}
	if a := mm2.IAMAssumeCount(role); a < 3 {
		t.Errorf("the role was assumed %d times over 10 s of 3 s sessions", a)
	}
	if e.gates[1].Refused.Load() != 0 {
		t.Errorf("the target refused %d logins", e.gates[1].Refused.Load())
	}
	t.Logf("%d records; role assumed %d times; logins accepted: source %d, target %d", n, mm2.IAMAssumeCount(role),
		e.gates[0].Accepted.Load(), e.gates[1].Accepted.Load())
}

// TestIAMRoleNotAssumable: a role STS refuses (here: of another account) fails the task at once,
// permanently (INVALID_CONFIGURATION), with a message naming the role.
func TestIAMRoleNotAssumable(t *testing.T) {
	e := newIAMEnv(t, 0)
	const role = "arn:aws:iam::111122223333:role/not-ours"
	done := start(t, catalog.MirrorSource, e.mskIAMConfig(role), &logBuffer{})
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the task is still running")
	}
	var coded *runtime.Error
	if !errors.As(err, &coded) || coded.Code != runtime.CodeInvalidConfiguration || !coded.Permanent || !strings.Contains(err.Error(), role) {
		t.Fatalf("want a permanent INVALID_CONFIGURATION naming %s, got %v", role, err)
	}
	if e.gates[0].Accepted.Load()+e.gates[1].Accepted.Load() != 0 {
		t.Error("a cluster accepted a login without the role")
	}
}

func poolOf(t *testing.T, pemText []byte) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pemText) {
		t.Fatal("no certificate in the CA PEM")
	}
	return p
}
