package heartbeat

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/mm2/records"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newCluster starts a kfake cluster reached over TCP on loopback.
func newCluster(t *testing.T, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// runTask starts task.Run and returns a stop function that cancels it and returns Run's error.
func runTask(t *testing.T, task *Task) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- task.Run(ctx) }()
	var stopped bool
	var err error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10s of cancellation")
			}
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestHeartbeats(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t) // three brokers: MM2's default replication factor fits
	task, err := NewTask(Options{
		SourceAlias: "east",
		TargetAlias: "west",
		Target:      []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Interval:    50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runTask(t, task)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("heartbeats"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	// Read until five heartbeats have arrived, with a deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []records.Heartbeat
	for len(got) < 5 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("only %d heartbeats before the deadline", len(got))
		}
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Logf("fetch %s/%d: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Partition != 0 {
				t.Errorf("heartbeat in partition %d, want 0", r.Partition)
			}
			hb, err := records.DecodeHeartbeat(r.Key, r.Value)
			if err != nil {
				t.Fatalf("decode heartbeat: %v", err)
			}
			if hb.Timestamp != r.Timestamp.UnixMilli() {
				t.Errorf("record timestamp %d != heartbeat timestamp %d", r.Timestamp.UnixMilli(), hb.Timestamp)
			}
			got = append(got, hb)
		})
	}
	for i, hb := range got {
		if hb.SourceClusterAlias != "east" || hb.TargetClusterAlias != "west" {
			t.Errorf("heartbeat %d: aliases %q -> %q, want east -> west", i, hb.SourceClusterAlias, hb.TargetClusterAlias)
		}
		if i > 0 && hb.Timestamp <= got[i-1].Timestamp {
			t.Errorf("heartbeat %d: timestamp %d does not advance past %d", i, hb.Timestamp, got[i-1].Timestamp)
		}
	}
	if now := time.Now().UnixMilli(); got[0].Timestamp > now || got[0].Timestamp < now-20_000 {
		t.Errorf("first heartbeat timestamp %d is not recent (now %d)", got[0].Timestamp, now)
	}

	// The topic is MM2's: one partition, compacted, three replicas.
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx, "heartbeats")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["heartbeats"].Partitions); n != 1 {
		t.Errorf("heartbeats has %d partitions, want 1", n)
	}
	if rf := td["heartbeats"].Partitions.NumReplicas(); rf != 3 {
		t.Errorf("heartbeats has %d replicas, want 3", rf)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "heartbeats")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("heartbeats", nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			policy = *c.Value
		}
	}
	if policy != "compact" {
		t.Errorf("cleanup.policy = %q, want compact", policy)
	}

	if err := stop(); err != nil {
		t.Fatalf("Run returned %v after cancellation, want nil", err)
	}
}

func TestExistingTopicAndSmallCluster(t *testing.T) {
	t.Parallel()
	// One broker: the default replication factor of 3 cannot be met, so the task falls back
	// to the broker default. The topic also already exists with 2 partitions: the task must
	// accept it (as MM2 does) and still write to partition 0.
	brokers := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "hb"))
	task, err := NewTask(Options{
		SourceAlias: "a", TargetAlias: "b",
		Target:   []kgo.Opt{kgo.SeedBrokers(brokers...)},
		Topic:    "hb",
		Interval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runTask(t, task)
	adm := kadm.NewClient(mustClient(t, brokers))
	deadline := time.Now().Add(20 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(context.Background(), "hb")
		if err == nil {
			if o, ok := ends.Lookup("hb", 0); ok && o.Offset >= 3 {
				if o1, _ := ends.Lookup("hb", 1); o1.Offset != 0 {
					t.Fatalf("partition 1 has %d records, want 0", o1.Offset)
				}
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeats in partition 0 before the deadline (last error %v)", err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, not a wait for an outcome
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// With a fresh topic name on the same one-broker cluster, the default replication factor
	// falls back to the broker's.
	task2, err := NewTask(Options{SourceAlias: "a", TargetAlias: "b", Target: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stop2 := runTask(t, task2)
	waitTopic(t, adm, "heartbeats")
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
}

func TestExplicitReplicationFactorTooLarge(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t, kfake.NumBrokers(1))
	task, err := NewTask(Options{SourceAlias: "a", TargetAlias: "b", Target: []kgo.Opt{kgo.SeedBrokers(brokers...)}, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := task.Run(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("Run = %v (ctx %v), want an invalid replication factor error", err, ctx.Err())
	}
}

func TestNewTaskValidation(t *testing.T) {
	t.Parallel()
	seed := []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}
	for name, o := range map[string]Options{
		"no source alias": {TargetAlias: "b", Target: seed},
		"no target alias": {SourceAlias: "a", Target: seed},
		"no target":       {SourceAlias: "a", TargetAlias: "b"},
		"disabled":        {SourceAlias: "a", TargetAlias: "b", Target: seed, Interval: -1},
	} {
		if _, err := NewTask(o); err == nil {
			t.Errorf("%s: NewTask accepted %+v", name, o)
		}
	}
	task, err := NewTask(Options{SourceAlias: "a", TargetAlias: "b", Target: seed})
	if err != nil {
		t.Fatal(err)
	}
	if task.opts.Interval != time.Second || task.opts.Topic != "heartbeats" {
		t.Errorf("defaults: interval %v topic %q", task.opts.Interval, task.opts.Topic)
	}
}

func mustClient(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	// A short metadata age: kgo otherwise answers admin metadata requests from a cache of
	// up to 5 s, which would hide a topic created meanwhile.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MetadataMinAge(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func waitTopic(t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		td, err := adm.ListTopics(context.Background(), topic)
		if err == nil && td.Has(topic) && td[topic].Err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s did not appear (last error %v)", topic, err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

func TestFromConfig(t *testing.T) {
	t.Parallel()
	cfg, err := mm2.ParseConfig(map[string]string{
		"source.cluster.alias": "east", "target.cluster.alias": "west",
		"source.cluster.bootstrap.servers": "127.0.0.1:1", "target.cluster.bootstrap.servers": "127.0.0.1:2",
		"emit.heartbeats.interval.seconds": "3",
	})
	if err != nil {
		t.Fatal(err)
	}
	task, err := NewTask(FromConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if o := task.opts; o.SourceAlias != "east" || o.TargetAlias != "west" || o.Interval != 3*time.Second || o.Topic != "heartbeats" {
		t.Errorf("FromConfig: %+v", o)
	}
	cfg.EmitHeartbeats = false
	if _, err := NewTask(FromConfig(cfg)); err == nil {
		t.Error("NewTask accepted a configuration with heartbeats disabled")
	}
}
