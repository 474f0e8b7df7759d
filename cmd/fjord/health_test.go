package main

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// flakyCluster is a one-broker kfake cluster that can be made unreachable: while down, it
// closes every connection at its first request (its data stays).
type flakyCluster struct {
	c    *kfake.Cluster
	addr string
	down atomic.Bool
}

func startFlakyCluster(t *testing.T) *flakyCluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	f := &flakyCluster{c: c, addr: c.ListenAddrs()[0]}
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if f.down.Load() {
			return nil, errors.New("the test took the cluster down"), true
		}
		return nil, nil, false
	})
	return f
}

// replicatorState describes a replicator: its state and state info.
func (f *fleet) replicatorState(t *testing.T, arn string) (ktypes.ReplicatorState, string, string) {
	t.Helper()
	d, err := f.api.k.DescribeReplicator(t.Context(), &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(arn)})
	if err != nil {
		t.Fatalf("DescribeReplicator: %v", err)
	}
	var code, msg string
	if d.StateInfo != nil {
		code, msg = aws.ToString(d.StateInfo.Code), aws.ToString(d.StateInfo.Message)
	}
	return d.ReplicatorState, code, msg
}

// TestClusterHealthE2E: with --unhealthy-after 5s, a replicator whose source cluster stops
// answering is FAILED with CLUSTER_UNREACHABLE naming the cluster and the broker within the
// bound + 10 s, while its worker keeps retrying; once the cluster answers again it is RUNNING
// by itself and every record (before and after) is replicated once. A replicator whose source
// broker's name does not resolve is FAILED with DNS_RESOLUTION_FAILED.
func TestClusterHealthE2E(t *testing.T) {
	t.Parallel()
	const bound = 5 * time.Second
	f := startFleet(t, 3*time.Second, "--unhealthy-after", bound.String())
	f.startAgent(t, "health-agent", 8)
	flaky := startFlakyCluster(t)
	flakyARN := f.registerCluster(t, "flaky", flaky.addr)
	createTopics(t, flaky.addr, 2, "health.a")
	arn := f.createReplicatorFrom(t, "rep-health", flakyARN, f.tgtARN, []string{`health\..*`}, ktypes.ReplicationTopicNameConfigurationTypeIdentical, nil)
	f.waitReplicatorRunning(t, arn, time.Minute)

	prod := newClient(t, flaky.addr)
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			prod.Produce(t.Context(), &kgo.Record{Topic: "health.a", Value: []byte{byte(i), byte(i >> 8)}}, nil)
		}
		if err := prod.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 500)
	consumeN(t, f.tgt, "health.a", 500, time.Minute)

	down := time.Now()
	flaky.down.Store(true)
	var msg string
	poll(t, bound+10*time.Second+5*time.Second, "the replicator FAILED with CLUSTER_UNREACHABLE", func() bool {
		st, code, m := f.replicatorState(t, arn)
		msg = m
		return st == ktypes.ReplicatorStateFailed && code == "CLUSTER_UNREACHABLE"
	})
	t.Logf("FAILED %.1f s after the cluster went down (bound %v): %s", time.Since(down).Seconds(), bound, msg)
	if !strings.Contains(msg, flaky.addr) || !strings.Contains(msg, "broker") {
		t.Errorf("state message %q does not name the cluster's broker %s", msg, flaky.addr)
	}
	if got := serverMetric(t, f, `fjord_workload_state{kind="replicator",state="FAILED",workload_arn="`+arn+`",workload_name="rep-health"}`); got != "1" {
		t.Errorf("fjord_workload_state FAILED = %q while the cluster is down", got)
	}

	flaky.down.Store(false)
	up := time.Now()
	poll(t, 30*time.Second, "the replicator RUNNING again", func() bool {
		st, _, _ := f.replicatorState(t, arn)
		return st == ktypes.ReplicatorStateRunning
	})
	t.Logf("RUNNING again %.1f s after the cluster came back", time.Since(up).Seconds())
	produce(500, 1000)
	consumeN(t, f.tgt, "health.a", 1000, time.Minute)

	// A broker name that does not resolve.
	dnsARN := f.registerCluster(t, "nowhere", "broker-1.nowhere.invalid:9092")
	arn2 := f.createReplicatorFrom(t, "rep-dns", dnsARN, f.tgtARN, []string{`.*`}, ktypes.ReplicationTopicNameConfigurationTypeIdentical, nil)
	poll(t, bound+40*time.Second, "the replicator FAILED with DNS_RESOLUTION_FAILED", func() bool {
		st, code, m := f.replicatorState(t, arn2)
		msg = m
		return st == ktypes.ReplicatorStateFailed && code == "DNS_RESOLUTION_FAILED"
	})
	t.Logf("unresolvable source: %s", msg)
	if !strings.Contains(msg, "nowhere.invalid") {
		t.Errorf("state message %q does not name the broker", msg)
	}
}

// serverMetric reads one series of the server's /metrics ("" when absent).
func serverMetric(t *testing.T, f *fleet, series string) string {
	t.Helper()
	body := httpGet(t, "http://"+f.srv.httpAddr+"/metrics")
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// TestUpdateToUnreachableClusterRollsBack: an UpdateConnector that points a running
// connector at a source cluster nothing answers on rolls back (ROLLBACK_COMPLETE, errorInfo
// naming the cluster) and the connector runs on its old configuration.
func TestUpdateToUnreachableClusterRollsBack(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3*time.Second)
	f.startAgent(t, "rollback-agent", 4)
	plugin := f.customPlugin(t)
	ctx := t.Context()
	conf := map[string]string{
		"connector.class":                  "org.apache.kafka.connect.mirror.MirrorSourceConnector",
		"tasks.max":                        "1",
		"source.cluster.alias":             "east",
		"target.cluster.alias":             "west",
		"source.cluster.bootstrap.servers": f.src,
		"target.cluster.bootstrap.servers": f.tgt,
		"topics":                           `rb\..*`,
		"key.converter":                    "org.apache.kafka.connect.converters.ByteArrayConverter",
		"value.converter":                  "org.apache.kafka.connect.converters.ByteArrayConverter",
	}
	arn := f.createConnector(t, plugin, "rollback-me", 1, conf)
	f.waitConnector(t, arn, kctypes.ConnectorStateRunning, time.Minute)
	d := f.describeConnector(t, arn)
	bad := map[string]string{}
	for k, v := range conf {
		bad[k] = v
	}
	bad["source.cluster.bootstrap.servers"] = freeAddr(t) // nothing listens there
	up, err := f.api.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn),
		CurrentVersion: d.CurrentVersion, ConnectorConfiguration: bad})
	if err != nil {
		t.Fatalf("UpdateConnector: %v", err)
	}
	op := waitOpEnded(ctx, t, f.api, aws.ToString(up.ConnectorOperationArn))
	if op.ConnectorOperationState != kctypes.ConnectorOperationStateRollbackComplete {
		t.Fatalf("the update to an unreachable cluster ended %s (errorInfo %+v), want ROLLBACK_COMPLETE", op.ConnectorOperationState, op.ErrorInfo)
	}
	if op.ErrorInfo == nil || !strings.Contains(aws.ToString(op.ErrorInfo.Message), bad["source.cluster.bootstrap.servers"]) {
		t.Errorf("errorInfo %+v does not name the unreachable cluster %s", op.ErrorInfo, bad["source.cluster.bootstrap.servers"])
	} else {
		t.Logf("rolled back: %s: %s", aws.ToString(op.ErrorInfo.Code), aws.ToString(op.ErrorInfo.Message))
	}
	after := f.waitConnector(t, arn, kctypes.ConnectorStateRunning, time.Minute)
	if got := after.ConnectorConfiguration["source.cluster.bootstrap.servers"]; got != f.src {
		t.Errorf("after the rollback source.cluster.bootstrap.servers = %q, want the old %q", got, f.src)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
