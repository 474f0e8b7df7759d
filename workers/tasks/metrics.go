package tasks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/runtime"
)

func (s *sink) Polled(_ string, _ int32, records int64) {
	if s.m != nil {
		s.m.Polled(records)
	}
}

func (s *sink) Topics(topics []string) {
	if s.m != nil {
		s.m.SetTopics(topics)
	}
}

// countError counts the authentication and authorization failures among the errors the
// MirrorSource engine reports. A "fatal" error also ends the task's Run, where counted counts
// it: it is not counted twice.
func (s *sink) countError(op string, err error) {
	if op != "fatal" {
		countAuthError(s.m, err)
	}
}

// checkpointSink adapts the runtime's per-task metrics to the checkpoint engine's sink.
type checkpointSink struct{ m *runtime.TaskMetrics }

func (s checkpointSink) Groups(n int) {
	if s.m != nil {
		s.m.SetConsumerGroups(n)
	}
}

func (s checkpointSink) OffsetSyncFailed(string, error) {
	if s.m != nil {
		s.m.OffsetSyncFailed()
	}
}

func (s checkpointSink) Error(_ string, err error) { countAuthError(s.m, err) }

// countedTask counts the authentication and authorization failures that end a task's Run: a
// refusal found by the security check before the engine starts, or an engine's fatal error.
type countedTask struct {
	runtime.Task
	m *runtime.TaskMetrics
}

// counted wraps the tasks f builds in countedTask.
func counted(f runtime.TaskFactory) runtime.TaskFactory {
	return func(ctx context.Context, spec *agentv1.TaskSpec, env runtime.TaskEnv) (runtime.Task, error) {
		t, err := f(ctx, spec, env)
		if err != nil {
			return nil, err
		}
		return countedTask{t, env.Metrics}, nil
	}
}

func (t countedTask) Run(ctx context.Context) error {
	err := t.Task.Run(ctx)
	if err != nil && ctx.Err() == nil {
		countAuthError(t.m, err)
	}
	return err
}

// authErrors are the Kafka errors that mean a cluster refused the client's identity or its
// permissions (MSK: AuthError).
var authErrors = []error{
	kerr.SaslAuthenticationFailed, kerr.UnsupportedSaslMechanism, kerr.IllegalSaslState,
	kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed,
	kerr.TransactionalIDAuthorizationFailed, kerr.DelegationTokenAuthorizationFailed,
}

// isAuthError reports whether err is, or wraps, an authentication or authorization failure.
func isAuthError(err error) bool {
	for _, e := range authErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func countAuthError(m *runtime.TaskMetrics, err error) {
	if m != nil && err != nil && isAuthError(err) {
		m.AuthError()
	}
}

// clientHooks is the kgo option that reports a client's completed metadata requests
// (KafkaClusterPingSuccessCount) and the throttling its brokers impose (ThrottleTime) for the
// cluster c it talks to.
func clientHooks(m *runtime.TaskMetrics, c runtime.Cluster) kgo.Opt {
	if m == nil {
		return kgo.WithHooks()
	}
	return kgo.WithHooks(clusterHook{m, c})
}

type clusterHook struct {
	m *runtime.TaskMetrics
	c runtime.Cluster
}

// metadataKey is the Metadata request's API key.
const metadataKey = 3

func (h clusterHook) OnBrokerE2E(meta kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if err := e2e.Err(); err != nil {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
			h.m.ClusterFailed(h.c, brokerAddr(meta), err, isAuthError(err))
		}
		return
	}
	h.m.ClusterOK(h.c)
	if key == metadataKey {
		h.m.PingSucceeded(h.c)
	}
}

// OnBrokerConnect records a failed dial (refused, timed out, a name that does not resolve).
func (h clusterHook) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		h.m.ClusterFailed(h.c, brokerAddr(meta), err, false)
	}
}

func brokerAddr(meta kgo.BrokerMetadata) string {
	return net.JoinHostPort(meta.Host, strconv.Itoa(int(meta.Port)))
}

// nameClusters names a MirrorMaker 2 task's clusters in its health messages.
func nameClusters(m *runtime.TaskMetrics, c mm2.Config) {
	if m == nil {
		return
	}
	m.NameCluster(runtime.ClusterSource, fmt.Sprintf("source cluster %q (source.cluster.bootstrap.servers %s)", c.SourceAlias, strings.Join(c.SourceBootstrap, ",")))
	m.NameCluster(runtime.ClusterTarget, fmt.Sprintf("target cluster %q (target.cluster.bootstrap.servers %s)", c.TargetAlias, strings.Join(c.TargetBootstrap, ",")))
}

func (h clusterHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	h.m.ObserveThrottle(h.c, d)
}
