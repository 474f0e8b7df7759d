package heartbeat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/mm2/records"
)

// DefaultInterval is MM2's emit.heartbeats.interval.seconds default.
const DefaultInterval = time.Second

// DefaultReplicationFactor is MM2's heartbeats.topic.replication.factor default.
const DefaultReplicationFactor int16 = 3

// Options configure a Task. Zero values take the documented defaults.
type Options struct {
	// SourceAlias and TargetAlias are source.cluster.alias and target.cluster.alias; both
	// are required and go into every heartbeat's key.
	SourceAlias, TargetAlias string

	// Target reaches the target cluster: kgo.SeedBrokers plus any TLS, SASL or logger
	// options. Required. The task adds its own partitioner and produce topic.
	Target []kgo.Opt

	// Topic is the heartbeats topic; default "heartbeats" (ReplicationPolicy.HeartbeatsTopic).
	Topic string

	// Interval is emit.heartbeats.interval.seconds; default 1 s. A negative interval
	// (emit.heartbeats.enabled=false) is refused: MM2 starts no task in that case.
	Interval time.Duration

	// ReplicationFactor is heartbeats.topic.replication.factor, used only when the task
	// creates the topic. 0 means MM2's default of 3, falling back to the broker's default
	// when the cluster has fewer brokers than that (MM2 would log the failure and let the
	// producer auto-create an uncompacted topic); any other value is used as given, and -1
	// asks for the broker's default.
	ReplicationFactor int16

	// Logger receives the task's logs; default discards them.
	Logger *slog.Logger
	// ErrorFunc, if set, is called with every heartbeat the target failed to write, from the
	// producer's goroutine; it must not block.
	ErrorFunc func(error)

	// NowFunc is the clock for heartbeat timestamps; default time.Now.
	NowFunc func() time.Time
}

// FromConfig maps a parsed MirrorHeartbeatConnector configuration onto Options. The caller
// appends security options (TLS, SASL) to Target. With emit.heartbeats.enabled=false the
// interval is negative and NewTask refuses to build a task, as MM2 starts none.
func FromConfig(cfg mm2.Config) Options {
	interval := cfg.EmitHeartbeatsInterval
	if !cfg.EmitHeartbeats {
		interval = -1
	}
	topic := mm2.HeartbeatsTopic
	if cfg.Policy != nil {
		topic = cfg.Policy.HeartbeatsTopic()
	}
	return Options{
		SourceAlias:       cfg.SourceAlias,
		TargetAlias:       cfg.TargetAlias,
		Target:            []kgo.Opt{kgo.SeedBrokers(cfg.TargetBootstrap...)},
		Topic:             topic,
		Interval:          interval,
		ReplicationFactor: int16(cfg.InternalReplicationFactor),
	}
}

// Task emits heartbeats until its context ends. It is not safe to Run a Task twice at once.
type Task struct {
	opts Options
	log  *slog.Logger
}

// NewTask validates opts and fills in the defaults. It does not connect to anything.
func NewTask(opts Options) (*Task, error) {
	if opts.SourceAlias == "" || opts.TargetAlias == "" {
		return nil, errors.New("heartbeat: source and target cluster aliases are required")
	}
	if len(opts.Target) == 0 {
		return nil, errors.New("heartbeat: target cluster client options are required")
	}
	if opts.Interval < 0 {
		return nil, errors.New("heartbeat: heartbeats are disabled (negative interval); do not start a task")
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Topic == "" {
		opts.Topic = mm2.HeartbeatsTopic
	}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	hb := records.Heartbeat{SourceClusterAlias: opts.SourceAlias, TargetClusterAlias: opts.TargetAlias}
	if err := hb.Validate(); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "heartbeat", "source_alias", opts.SourceAlias, "target_alias", opts.TargetAlias)
	return &Task{opts: opts, log: log}, nil
}

// Run creates the heartbeats topic if needed, then writes one heartbeat every interval until
// ctx ends, when it returns nil. It returns an error only when the topic cannot be created
// for a reason retrying will not fix (an invalid configuration or replication factor).
// Failures to reach the cluster or to produce are logged and retried.
func (t *Task) Run(ctx context.Context) error {
	cl, err := kgo.NewClient(append(slices.Clone(t.opts.Target),
		kgo.DefaultProduceTopic(t.opts.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)...)
	if err != nil {
		return fmt.Errorf("heartbeat: target client: %w", err)
	}
	defer cl.Close()

	if err := mm2.EnsureCompactedTopic(ctx, kadm.NewClient(cl), t.opts.Topic, t.opts.ReplicationFactor, t.log); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("heartbeat: %w", err)
	}

	var inflight atomic.Bool
	emit := func() {
		if !inflight.CompareAndSwap(false, true) {
			t.log.Warn("previous heartbeat not yet acknowledged; skipping this one")
			return
		}
		now := t.opts.NowFunc()
		hb := records.Heartbeat{
			SourceClusterAlias: t.opts.SourceAlias,
			TargetClusterAlias: t.opts.TargetAlias,
			Timestamp:          now.UnixMilli(),
		}
		rec := &kgo.Record{Key: hb.Key(), Value: hb.Value(), Partition: 0, Timestamp: now}
		cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
			inflight.Store(false)
			if err != nil && ctx.Err() == nil {
				t.log.Warn("write heartbeat", "topic", t.opts.Topic, "error", err)
				if t.opts.ErrorFunc != nil {
					t.opts.ErrorFunc(err)
				}
			}
		})
	}

	emit()
	tick := time.NewTicker(t.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			emit()
		}
	}
}
