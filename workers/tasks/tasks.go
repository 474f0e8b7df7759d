// Package tasks is the registry of connector classes a Fjord worker runs: it turns a TaskSpec
// (a connector class and its keys) into a running engine task — MirrorSourceConnector
// (workers/mirror), MirrorCheckpointConnector (workers/checkpoint), MirrorHeartbeatConnector
// (workers/heartbeat), Debezium's MySqlConnector and PostgresConnector (workers/cdc) — and
// wires the engines' metrics into the worker runtime's.
package tasks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/cdc/mysql"
	"github.com/fjord-io/fjord/workers/cdc/postgres"
	"github.com/fjord-io/fjord/workers/checkpoint"
	"github.com/fjord-io/fjord/workers/heartbeat"
	"github.com/fjord-io/fjord/workers/mirror"
	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/runtime"
)

// Engines maps every engine of the catalog to the factory of its tasks: the workers' half of
// the one class registry (TestEnginesMatchCatalog proves both halves are the same list).
func Engines() map[catalog.Engine]runtime.TaskFactory {
	return map[catalog.Engine]runtime.TaskFactory{
		catalog.EngineMirrorSource:     counted(newSource),
		catalog.EngineMirrorCheckpoint: counted(newCheckpoint),
		catalog.EngineMirrorHeartbeat:  counted(newHeartbeat),
		catalog.EngineDebeziumMySQL:    counted(newCDC(mysql.New, parseMySQL)),
		catalog.EngineDebeziumPostgres: counted(newCDC(postgres.New, parsePostgres)),
	}
}

// newCDC is the task factory of a Debezium connector class: the CDC runtime (workers/cdc)
// running the class's engine, inside the connector's Connect runtime.
func newCDC(f cdc.Factory, parse func(map[string]string) (*debezium.Config, error)) runtime.TaskFactory {
	return func(_ context.Context, spec *agentv1.TaskSpec, env runtime.TaskEnv) (runtime.Task, error) {
		t, err := cdc.NewTask(spec, env, f, parse, clientHooks(env.Metrics, runtime.ClusterTarget))
		if err != nil {
			return nil, err
		}
		cc, err := mm2.ParseConnectCluster(spec.Config)
		if err != nil {
			return nil, err
		}
		if env.Metrics != nil {
			env.Metrics.NameCluster(runtime.ClusterTarget, fmt.Sprintf("the connector's Kafka cluster (kafkaCluster.apacheKafkaCluster.bootstrapServers %s)", strings.Join(cc.Bootstrap, ",")))
		}
		return inConnect(t, cc, spec, env), nil
	}
}

// parseMySQL and parsePostgres read the keys of a Debezium connector's configuration that the
// CDC runtime uses; every problem is reported.
func parseMySQL(m map[string]string) (*debezium.Config, error) {
	c, errs := debezium.ParseMySQL(m)
	if len(errs) > 0 {
		return nil, errs
	}
	return c.Config, nil
}

func parsePostgres(m map[string]string) (*debezium.Config, error) {
	c, errs := debezium.ParsePostgres(m)
	if len(errs) > 0 {
		return nil, errs
	}
	return c.Config, nil
}

// Registry returns the factory of every class of the catalog, under its name and its aliases.
func Registry() runtime.Registry {
	engines := Engines()
	reg := runtime.Registry{}
	for _, c := range catalog.Classes() {
		f, ok := engines[c.Engine]
		if !ok {
			continue // TestEnginesMatchCatalog fails: a class without an engine
		}
		reg[c.Name] = f
		for _, a := range c.Aliases {
			reg[a] = f
		}
	}
	return reg
}

// parse reads a task's MM2 configuration; an error is an invalid configuration.
func parse(spec *agentv1.TaskSpec) (mm2.Config, error) {
	c, err := mm2.ParseConfig(spec.Config)
	if err != nil {
		return mm2.Config{}, err
	}
	return c, nil
}

func newSource(_ context.Context, spec *agentv1.TaskSpec, env runtime.TaskEnv) (runtime.Task, error) {
	c, err := parse(spec)
	if err != nil {
		return nil, err
	}
	nameClusters(env.Metrics, c)
	name := spec.Config["name"]
	if name == "" {
		name = env.Worker.GetWorkloadName()
	}
	transactional := c.Transactional || spec.TransactionalId != ""
	opts := mirror.SourceOptions{
		Config: c, ConnectorName: name, TaskID: int(spec.TaskIndex), TaskCount: max(int(spec.TaskCount), 1),
		Logger: env.Logger, Metrics: newSink(env.Metrics), Transactional: transactional, TransactionalID: spec.TransactionalId,
		SourceOpts: append(c.SourceSecurityOpts(), clientHooks(env.Metrics, runtime.ClusterSource)),
		TargetOpts: append(c.TargetSecurityOpts(), clientHooks(env.Metrics, runtime.ClusterTarget)),
		Runtime:    runtimeOf(c, clientHooks(env.Metrics, runtime.ClusterTarget)),
	}
	if transactional && opts.TransactionalID == "" {
		opts.TransactionalID = catalog.TransactionalID("connector", name, int(spec.TaskIndex))
	}
	t, err := mirror.NewSourceTask(opts)
	if err != nil {
		return nil, err
	}
	return inConnect(secured(t, c, true, env.Metrics), c.Connect, spec, env), nil
}

func newCheckpoint(_ context.Context, spec *agentv1.TaskSpec, env runtime.TaskEnv) (runtime.Task, error) {
	c, err := parse(spec)
	if err != nil {
		return nil, err
	}
	nameClusters(env.Metrics, c)
	if !c.EmitCheckpoints && !c.SyncGroupOffsets {
		return idle{}, nil // MM2 starts no checkpoint task then
	}
	progressTopic, progressOpts := progressOf(c, clientHooks(env.Metrics, runtime.ClusterTarget))
	t, err := checkpoint.NewTask(checkpoint.Options{
		ProgressTopic: progressTopic, Progress: progressOpts,
		SourceAlias: c.SourceAlias, TargetAlias: c.TargetAlias,
		Source: slices.Concat([]kgo.Opt{kgo.SeedBrokers(c.SourceBootstrap...)}, c.ConsumerOpts(), c.SourceSecurityOpts(),
			[]kgo.Opt{clientHooks(env.Metrics, runtime.ClusterSource)}),
		Target: slices.Concat([]kgo.Opt{kgo.SeedBrokers(c.TargetBootstrap...)}, c.ProducerOpts(), c.TargetSecurityOpts(),
			[]kgo.Opt{clientHooks(env.Metrics, runtime.ClusterTarget)}),
		Policy: c.Policy, Topics: c.Topics, Groups: c.Groups,
		TaskID: int(spec.TaskIndex), TaskCount: max(int(spec.TaskCount), 1),
		OffsetSyncsOnTarget: c.OffsetSyncsLocation == mm2.LocationTarget,
		Enhanced:            c.OffsetSyncMode == mm2.SyncModeEnhanced,
		SourceConnector:     c.SourceConnector,
		PeerConnector:       c.PeerConnector,
		Interval:            c.EmitCheckpointsInterval, NoCheckpoints: !c.EmitCheckpoints,
		SyncGroupOffsets: c.SyncGroupOffsets, SyncInterval: c.SyncGroupOffsetsInterval,
		ReplicationFactor: int16(c.InternalReplicationFactor),
		Logger:            env.Logger,
		Metrics:           checkpointSink{env.Metrics},
	})
	if err != nil {
		return nil, err
	}
	return inConnect(secured(t, c, true, env.Metrics), c.Connect, spec, env), nil
}

func newHeartbeat(_ context.Context, spec *agentv1.TaskSpec, env runtime.TaskEnv) (runtime.Task, error) {
	c, err := parse(spec)
	if err != nil {
		return nil, err
	}
	nameClusters(env.Metrics, c)
	if !c.EmitHeartbeats {
		return idle{}, nil
	}
	t, err := heartbeat.NewTask(heartbeat.Options{
		SourceAlias: c.SourceAlias, TargetAlias: c.TargetAlias,
		Target: slices.Concat([]kgo.Opt{kgo.SeedBrokers(c.TargetBootstrap...)}, c.ProducerOpts(), c.TargetSecurityOpts(),
			[]kgo.Opt{clientHooks(env.Metrics, runtime.ClusterTarget)}),
		Topic:    c.Policy.HeartbeatsTopic(),
		Interval: c.EmitHeartbeatsInterval, ReplicationFactor: int16(c.InternalReplicationFactor),
		Logger:    env.Logger,
		ErrorFunc: func(err error) { countAuthError(env.Metrics, err) },
	})
	if err != nil {
		return nil, err
	}
	return inConnect(secured(t, c, false, env.Metrics), c.Connect, spec, env), nil
}

// idle is a task with nothing to do (its feature is disabled): it runs until stopped.
type idle struct{}

func (idle) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// sink adapts the runtime's per-task metrics to the MirrorSource engine's sink; the engine
// reports lag per partition (when it changed), the runtime keeps the task's total. The total is
// kept up to date per report (O(1)), never summed over the partitions (which made a report of
// 12,000 partitions cost 72 million map steps).
type sink struct {
	m     *runtime.TaskMetrics
	mu    sync.Mutex
	lag   map[lagKey]int64
	total int64
}

type lagKey struct {
	topic     string
	partition int32
}

func newSink(m *runtime.TaskMetrics) *sink { return &sink{m: m, lag: map[lagKey]int64{}} }

func (s *sink) Replicated(_ string, _ int32, records, bytes int64) {
	if s.m != nil {
		s.m.Add(records, bytes)
	}
}

func (s *sink) Latency(_ string, _ int32, _, max time.Duration) {
	if s.m != nil {
		s.m.ObserveLatency(max)
	}
}

func (s *sink) Lag(topic string, partition int32, records int64) {
	if s.m == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := lagKey{topic, partition}
	s.total += records - s.lag[k]
	s.lag[k] = records
	s.m.SetLag(s.total)
}

func (s *sink) Error(op string, err error) { s.countError(op, err) }
