package mirror

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestConfigAlterations(t *testing.T) {
	t.Parallel()
	dyn, def := kmsg.ConfigSourceDynamicTopicConfig, kmsg.ConfigSourceDefaultConfig
	cfg := func(k, v string, src kmsg.ConfigSource) kadm.Config {
		return kadm.Config{Key: k, Value: kadm.StringPtr(v), Source: src}
	}
	for name, tc := range map[string]struct {
		want, last map[string]string
		have       []kadm.Config
		ops        string
	}{
		"in line": {
			want: map[string]string{"retention.ms": "1000"},
			have: []kadm.Config{cfg("retention.ms", "1000", dyn)},
		},
		"equal to the target's default": {
			want: map[string]string{"cleanup.policy": "delete"},
			have: []kadm.Config{cfg("cleanup.policy", "delete", def)},
		},
		"changed and new": {
			want: map[string]string{"retention.ms": "2000", "cleanup.policy": "compact"},
			have: []kadm.Config{cfg("retention.ms", "1000", dyn), cfg("cleanup.policy", "delete", def)},
			ops:  "SET cleanup.policy=compact SET retention.ms=2000 ",
		},
		"unknown on the target": {
			want: map[string]string{"x.y": "1"},
			ops:  "SET x.y=1 ",
		},
		"no longer set on the source, copied value": {
			last: map[string]string{"retention.ms": "2000"},
			have: []kadm.Config{cfg("retention.ms", "2000", dyn)},
			ops:  "DELETE retention.ms ",
		},
		"no longer set on the source, changed on the target": {
			last: map[string]string{"retention.ms": "2000"},
			have: []kadm.Config{cfg("retention.ms", "3000", dyn)},
		},
		"never set by the source": {
			have: []kadm.Config{cfg("max.message.bytes", "5000", dyn)},
		},
		"already back to default": {
			last: map[string]string{"retention.ms": "2000"},
			have: []kadm.Config{cfg("retention.ms", "2000", def)},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := ""
			for _, a := range configAlterations(tc.want, tc.last, kadm.ResourceConfig{Configs: tc.have}) {
				switch a.Op {
				case kadm.SetConfig:
					got += fmt.Sprintf("SET %s=%s ", a.Name, *a.Value)
				case kadm.DeleteConfig:
					got += fmt.Sprintf("DELETE %s ", a.Name)
				default:
					got += "?? "
				}
			}
			if got != tc.ops {
				t.Errorf("got %q, want %q", got, tc.ops)
			}
		})
	}
}

// topicConfig returns topic's config key on the cluster, and whether it is a topic override.
func topicConfig(tb testing.TB, adm *kadm.Client, topic, key string) (string, bool) {
	tb.Helper()
	rcs, err := adm.DescribeTopicConfigs(context.Background(), topic)
	if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
		return "", false
	}
	for _, c := range rcs[0].Configs {
		if c.Key == key && c.Value != nil {
			return *c.Value, c.Source == kmsg.ConfigSourceDynamicTopicConfig
		}
	}
	return "", false
}

func alterTopic(tb testing.TB, adm *kadm.Client, topic string, ops ...kadm.AlterConfig) {
	tb.Helper()
	resp, err := adm.AlterTopicConfigs(context.Background(), ops, topic)
	if err == nil {
		for _, r := range resp {
			err = r.Err
		}
	}
	if err != nil {
		tb.Fatalf("alter %s: %v", topic, err)
	}
}

// TestSyncTopicConfigs is the config-sync acceptance: with the default 5 s interval, task 0
// copies retention.ms and cleanup.policy changed on the source to the target topic; a config
// the source stops overriding is reset on the target; excluded and target-only configs are
// left alone. Task 1 does not sync.
func TestSyncTopicConfigs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srcAdm, tgtAdm := kadm.NewClient(client(t, e.srcAddrs)), kadm.NewClient(client(t, e.tgtAddrs))
	createTopic(t, e.srcAddrs, "cfg", 2)
	alterTopic(t, srcAdm, "cfg", kadm.AlterConfig{Name: "retention.ms", Value: kadm.StringPtr("3600000")})
	cfg := e.config(t, nil)
	if !cfg.SyncTopicConfigs || cfg.SyncTopicConfigsInterval != 5*time.Second {
		t.Fatalf("default config sync: %v every %v, want on every 5s", cfg.SyncTopicConfigs, cfg.SyncTopicConfigsInterval)
	}
	var tasks []*runningTask
	for id := range 2 {
		tasks = append(tasks, startTask(t, SourceOptions{Config: cfg, ConnectorName: "cfg", TaskID: id, TaskCount: 2}, false))
	}
	waitFor(t, 20*time.Second, "target topic created with the source's retention.ms", func() bool {
		v, _ := topicConfig(t, tgtAdm, "source.cfg", "retention.ms")
		return v == "3600000"
	})
	// Someone sets an override on the target only: it is never removed.
	alterTopic(t, tgtAdm, "source.cfg", kadm.AlterConfig{Name: "max.message.bytes", Value: kadm.StringPtr("500000")})

	start := time.Now()
	alterTopic(t, srcAdm, "cfg",
		kadm.AlterConfig{Name: "retention.ms", Value: kadm.StringPtr("7200000")},
		kadm.AlterConfig{Name: "cleanup.policy", Value: kadm.StringPtr("compact")},
		kadm.AlterConfig{Name: "min.insync.replicas", Value: kadm.StringPtr("1")}, // excluded by MM2's filter
	)
	waitFor(t, 20*time.Second, "retention.ms and cleanup.policy on the target", func() bool {
		r, _ := topicConfig(t, tgtAdm, "source.cfg", "retention.ms")
		c, _ := topicConfig(t, tgtAdm, "source.cfg", "cleanup.policy")
		return r == "7200000" && c == "compact"
	})
	t.Logf("config change on the source → target in %v (interval 5 s)", time.Since(start).Round(time.Millisecond))
	if _, override := topicConfig(t, tgtAdm, "source.cfg", "min.insync.replicas"); override {
		t.Error("min.insync.replicas was copied")
	}

	start = time.Now()
	alterTopic(t, srcAdm, "cfg", kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "retention.ms"})
	waitFor(t, 20*time.Second, "retention.ms reset on the target", func() bool {
		_, override := topicConfig(t, tgtAdm, "source.cfg", "retention.ms")
		return !override
	})
	t.Logf("config reset on the source → target in %v", time.Since(start).Round(time.Millisecond))
	if v, override := topicConfig(t, tgtAdm, "source.cfg", "max.message.bytes"); !override || v != "500000" {
		t.Errorf("target-only max.message.bytes = %q (override %v), want 500000 kept", v, override)
	}
	if v, _ := topicConfig(t, tgtAdm, "source.cfg", "cleanup.policy"); v != "compact" {
		t.Errorf("cleanup.policy = %q after the reset round", v)
	}
	for _, rt := range tasks {
		if err := rt.stop(t); err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// TestPartitionGrowth: partitions added to a source topic appear on the target and their
// records are replicated, with two tasks and the 5 s refresh interval replicators get.
func TestPartitionGrowth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	createTopic(t, e.srcAddrs, "grow", 2)
	produceN(t, producer(t, e.srcAddrs), "grow", 2, 0, 200, 50)
	cfg := e.config(t, map[string]string{"refresh.topics.interval.seconds": "5"})
	var tasks []*runningTask
	for id := range 2 {
		tasks = append(tasks, startTask(t, SourceOptions{Config: cfg, ConnectorName: "grow", TaskID: id, TaskCount: 2}, false))
	}
	waitCopied(t, e, map[string]string{"grow": "source.grow"}, false, 20*time.Second)

	tgtAdm := kadm.NewClient(client(t, e.tgtAddrs))
	start := time.Now()
	if _, err := kadm.NewClient(client(t, e.srcAddrs)).UpdatePartitions(context.Background(), 5, "grow"); err != nil {
		t.Fatal(err)
	}
	produceN(t, producer(t, e.srcAddrs), "grow", 5, 200, 500, 50) // a client that sees 5 partitions
	waitFor(t, 20*time.Second, "5 partitions on the target", func() bool {
		td, err := tgtAdm.ListTopics(context.Background(), "source.grow")
		return err == nil && len(td["source.grow"].Partitions) == 5
	})
	grown := time.Since(start)
	if dups := waitCopied(t, e, map[string]string{"grow": "source.grow"}, false, 20*time.Second); dups != 0 {
		t.Errorf("%d duplicates", dups)
	}
	t.Logf("partitions added on the source: target grown after %v, their records replicated after %v (refresh 5 s)",
		grown.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	for _, rt := range tasks {
		if err := rt.stop(t); err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// TestCreateManyTargetTopics: a task that starts on 600 source topics creates all their target
// topics, each with its own source configs, in batched requests: CreateTopics requests of up
// to createTargetTopicsBatch topics on the target and one DescribeConfigs for them on the
// source (plus the config sync's rounds), not one of each per topic.
func TestCreateManyTargetTopics(t *testing.T) {
	t.Parallel()
	clusters := make([]*kfake.Cluster, 2)
	for i := range clusters {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		clusters[i] = c
	}
	src, tgt := clusters[0], clusters[1]
	var creates, describes atomic.Int64
	tgt.ControlKey(int16(kmsg.CreateTopics), func(r kmsg.Request) (kmsg.Response, error, bool) {
		tgt.KeepControl()
		for _, rt := range r.(*kmsg.CreateTopicsRequest).Topics {
			if strings.HasPrefix(rt.Topic, "source.many-") {
				creates.Add(1)
				break
			}
		}
		return nil, nil, false
	})
	src.ControlKey(int16(kmsg.DescribeConfigs), func(r kmsg.Request) (kmsg.Response, error, bool) {
		src.KeepControl()
		for _, rs := range r.(*kmsg.DescribeConfigsRequest).Resources {
			if strings.HasPrefix(rs.ResourceName, "many-") {
				describes.Add(1)
				break
			}
		}
		return nil, nil, false
	})
	e := &env{srcAddrs: src.ListenAddrs(), tgtAddrs: tgt.ListenAddrs()}
	const n = 600
	retention := func(i int) string { return strconv.Itoa(3_600_000 * (1 + i%3)) }
	srcAdm := kadm.NewClient(client(t, e.srcAddrs))
	for g := range 3 { // three groups of topics with different retention.ms
		var names []string
		for i := g; i < n; i += 3 {
			names = append(names, fmt.Sprintf("many-%03d", i))
		}
		resp, err := srcAdm.CreateTopics(context.Background(), 2, 1, map[string]*string{"retention.ms": kadm.StringPtr(retention(g))}, names...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	rt := startTask(t, SourceOptions{Config: e.config(t, nil), ConnectorName: "many", TaskID: 0, TaskCount: 1}, false)
	tgtAdm := kadm.NewClient(client(t, e.tgtAddrs))
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("source.many-%03d", i)
	}
	waitFor(t, 30*time.Second, "600 target topics with their source's retention.ms", func() bool {
		rcs, err := tgtAdm.DescribeTopicConfigs(context.Background(), names...)
		if err != nil {
			return false
		}
		ok := 0
		for _, rc := range rcs {
			var i int
			if _, err := fmt.Sscanf(rc.Name, "source.many-%03d", &i); err != nil || rc.Err != nil {
				continue
			}
			for _, c := range rc.Configs {
				if c.Key == "retention.ms" && c.Value != nil && *c.Value == retention(i) {
					ok++
				}
			}
		}
		return ok == n
	})
	t.Logf("%d target topics created with their configs in %v: %d CreateTopics requests, %d DescribeConfigs requests on the source",
		n, time.Since(start).Round(time.Millisecond), creates.Load(), describes.Load())
	if c := creates.Load(); c > 3 {
		t.Errorf("%d CreateTopics requests for %d topics, want %d", c, n, (n+createTargetTopicsBatch-1)/createTargetTopicsBatch)
	}
	if d := describes.Load(); d > 4 {
		t.Errorf("%d DescribeConfigs requests for the configs of %d topics", d, n)
	}
	if err := rt.stop(t); err != nil {
		t.Errorf("Run: %v", err)
	}
}
