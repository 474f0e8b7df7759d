package mirror

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/checkpoint"
	"github.com/fjord-io/fjord/workers/heartbeat"
	"github.com/fjord-io/fjord/workers/mm2"
)

func TestLineageCycle(t *testing.T) {
	src := func(c, topic string) LineageSource { return LineageSource{Cluster: c, Topic: topic} }
	// b.heartbeats on A came from heartbeats on B.
	bHeartbeats := remoteLineage("B", "heartbeats", Lineage{}, "A")
	if want := (Lineage{Sources: []LineageSource{src("B", "heartbeats")}}); !slices.Equal(bHeartbeats.Sources, want.Sources) {
		t.Fatalf("remoteLineage = %v, want %v", bHeartbeats, want)
	}
	for _, tc := range []struct {
		name   string
		up     Lineage
		target string
		remote string
		cycle  bool
	}{
		{"local topic", Lineage{}, "B", "src.orders", false},
		{"copy of the target's topic under another name", bHeartbeats, "B", "src.b.heartbeats", true},
		{"copy back into the topic the records came from (active-active)", Lineage{Sources: []LineageSource{src("B", "T")}}, "B", "T", false},
		{"identity copy of a renamed copy", Lineage{Sources: []LineageSource{src("A", "orders")}}, "A", "src.orders", true},
		{"chain to a third cluster", Lineage{Sources: []LineageSource{src("A", "T"), src("B", "a.T")}}, "C", "b.a.T", false},
		{"chain back to the origin", Lineage{Sources: []LineageSource{src("A", "T"), src("B", "a.T")}}, "A", "c.b.a.T", true},
	} {
		if got := LineageCycle(tc.up, tc.target, tc.remote); got != tc.cycle {
			t.Errorf("%s: LineageCycle(%v, %q, %q) = %v, want %v", tc.name, tc.up, tc.target, tc.remote, got, tc.cycle)
		}
	}
	// A copy never lists its own cluster; lineages merge without duplicates, sorted.
	l := remoteLineage("A", "T", Lineage{Sources: []LineageSource{src("B", "T"), src("C", "x")}}, "B")
	if want := []LineageSource{src("A", "T"), src("C", "x")}; !slices.Equal(l.Sources, want) {
		t.Errorf("remoteLineage = %v, want %v", l.Sources, want)
	}
	u := l.union(Lineage{Sources: []LineageSource{src("C", "x"), src("A", "S")}})
	if want := []LineageSource{src("A", "S"), src("A", "T"), src("C", "x")}; !slices.Equal(u.Sources, want) || !u.covers(l) || l.covers(u) {
		t.Errorf("union = %v, want %v", u.Sources, want)
	}
}

// userTopics lists a cluster's topics that are not internal (Kafka's, Connect's, MM2's or
// Fjord's own).
func userTopics(tb testing.TB, addrs []string) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	td, err := kadm.NewClient(client(tb, addrs)).ListTopics(ctx)
	if err != nil {
		tb.Fatalf("list topics: %v", err)
	}
	p := mm2.DefaultReplicationPolicy{}
	var out []string
	for _, name := range td.Names() {
		if !p.IsInternalTopic(name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// runBackground runs fn until the test ends; an error from it fails the test.
func runBackground(t *testing.T, what string, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", what, err)
		}
	})
}

// TestNoRunawayTopicChain reproduces the runaway of two replication flows between the same two
// clusters under different aliases: IDENTICAL replicators a→b and b→a, and MirrorSource,
// MirrorCheckpoint and MirrorHeartbeat connectors src→dst (default replication policy; the
// heartbeat task writes heartbeats to dst). By alias alone nothing there is a cycle, and the clusters grew src.b.heartbeats,
// src.b.src.b.heartbeats, … and src.orders, src.src.orders, … without end. With the topic
// lineage the topic sets settle at once on what a correct topology holds and stay flat, and
// every copy holds exactly the records produced once.
func TestNoRunawayTopicChain(t *testing.T) {
	t.Parallel()
	a := newClusterOpts(t, kfake.ClusterID("cluster-a"))
	b := newClusterOpts(t, kfake.ClusterID("cluster-b"))
	const parts, n = 3, 300
	createTopic(t, a, "orders", parts)
	produceValues(t, producer(t, a), "orders", parts, "o", 0, n)

	all := map[string]string{"topics": ".*"}
	startTask(t, SourceOptions{Config: activeConfig(t, "a", "b", a, b, all), ConnectorName: "replicator-a-b", TaskCount: 1}, false)
	startTask(t, SourceOptions{Config: activeConfig(t, "b", "a", b, a, all), ConnectorName: "replicator-b-a", TaskCount: 1}, false)
	msCfg, err := mm2.ParseConfig(map[string]string{
		"source.cluster.alias":             "src",
		"target.cluster.alias":             "dst",
		"source.cluster.bootstrap.servers": strings.Join(a, ","),
		"target.cluster.bootstrap.servers": strings.Join(b, ","),
		"topics":                           ".*",
		"refresh.topics.interval.seconds":  "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	startTask(t, SourceOptions{Config: msCfg, ConnectorName: "mirror-source", TaskCount: 2}, false)
	startTask(t, SourceOptions{Config: msCfg, ConnectorName: "mirror-source", TaskID: 1, TaskCount: 2}, false)
	cpOpts := checkpoint.FromConfig(msCfg, 0, 1)
	cpOpts.Logger, cpOpts.Interval = testLogger(t), time.Second
	cp, err := checkpoint.NewTask(cpOpts)
	if err != nil {
		t.Fatal(err)
	}
	runBackground(t, "checkpoint task", cp.Run)
	// A consumer group on a, for the checkpoint task to translate.
	group := client(t, a, kgo.ConsumerGroup("orders-app"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	for polled := 0; polled < n; {
		fs := group.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume orders on a: %v", ctx.Err())
		}
		polled += fs.NumRecords()
	}
	if err := group.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	hb, err := heartbeat.NewTask(heartbeat.Options{SourceAlias: "src", TargetAlias: "dst", Target: []kgo.Opt{kgo.SeedBrokers(b...)},
		Interval: 200 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	runBackground(t, "heartbeat task", hb.Run)

	wantA := []string{"b.heartbeats", "orders"}
	wantB := []string{"heartbeats", "orders", "src.orders"} // and src.checkpoints.internal
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		gotA, gotB := userTopics(t, a), userTopics(t, b)
		if slices.Equal(gotA, wantA) && slices.Equal(gotB, wantB) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: topics on a = %v, on b = %v; want %v and %v", gotA, gotB, wantA, wantB)
		}
	}
	// Flat: twenty refresh intervals of every task later (and heartbeats all along), nothing new.
	for i := 0; i < 20; i++ {
		time.Sleep(time.Second)
		gotA, gotB := userTopics(t, a), userTopics(t, b)
		if !slices.Equal(gotA, wantA) || !slices.Equal(gotB, wantB) {
			t.Fatalf("after %d s: topics on a = %v, on b = %v; want %v and %v", i+1, gotA, gotB, wantA, wantB)
		}
	}
	waitFor(t, 10*time.Second, "checkpoints of orders-app on b", func() bool {
		return endOffsets(t, kadm.NewClient(client(t, b)), "src.checkpoints.internal") > 0
	})
	for _, topic := range append(userTopics(t, a), userTopics(t, b)...) {
		if strings.Count(topic, "src.") > 1 || strings.Count(topic, "b.") > 1 {
			t.Errorf("topic %q repeats an alias chain", topic)
		}
	}
	// Replication goes on (orders on a holds copies from b too, yet it is no copy itself), and
	// records do not loop: each copy of orders holds every record produced once.
	produceValues(t, producer(t, a), "orders", parts, "p", 0, n)
	for _, c := range []struct {
		addrs []string
		topic string
	}{{a, "orders"}, {b, "orders"}, {b, "src.orders"}} {
		adm := kadm.NewClient(client(t, c.addrs))
		waitFor(t, 20*time.Second, c.topic+" holding every record", func() bool { return endOffsets(t, adm, c.topic) >= 2*n })
	}
	time.Sleep(2 * time.Second)
	for _, c := range []struct {
		addrs []string
		topic string
	}{{a, "orders"}, {b, "orders"}, {b, "src.orders"}} {
		if got := count(readAll(t, c.addrs, c.topic, false)); got != 2*n {
			t.Errorf("%s holds %d records, want %d", c.topic, got, 2*n)
		}
	}
	// b.heartbeats on A is a copy of heartbeats on B: its lineage says so, by cluster ID.
	l := newLineageLog(kadm.NewClient(client(t, a)), []kgo.Opt{kgo.SeedBrokers(a...)})
	if err := l.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := l.byTopic["b.heartbeats"].Sources, []LineageSource{{Cluster: "cluster-b", Topic: "heartbeats"}}; !slices.Equal(got, want) {
		t.Errorf("lineage of b.heartbeats on a = %v, want %v", got, want)
	}
}
