package failover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/checkpoint"
	"github.com/fjord-io/fjord/workers/mirror"
	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/mm2/records"
)

// TestFailbackDrill runs an active-active pair in the ENHANCED offset sync mode: clusters A
// and B with the topic "orders" under the same name (IdentityReplicationPolicy), MirrorSource
// and MirrorCheckpoint tasks A→B and B→A. Records are written on both sides in turns, each
// turn replicated before the next (nothing is written concurrently on both sides). Group G
// consumes part of "orders" on A and commits; once A→B synced G to B, G consumes more on B —
// copies of A's records and B's own records — and commits there; once B→A synced G back to A,
// a member of G on A must read first, on every partition, the first record of A's partition
// that G consumed on neither side. Records are compared by origin identity (their value, which
// a copy keeps): the records G consumed are those it read on A, then those it read on B.
func TestFailbackDrill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		eos  bool
	}{
		{name: "at-least-once"},
		{name: "exactly-once", eos: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newPair(t, tc.eos)
			d.start()
			// Turns, per partition: 3 records of B; 20 of A in two transactions, then an
			// aborted one on A; 10 of B; 6 of A in two transactions, then 4 more; 5 of B in
			// two transactions, then an aborted one on B. Transaction markers and aborted
			// records are gaps that the other side does not have (and in exactly-once mode
			// each replication round adds a marker to its target), so the offsets of the two
			// sides differ, by different amounts from region to region.
			d.write(d.b, "B", 3, plain)
			d.write(d.a, "A", 20, committed)
			d.write(d.a, "A", 4, aborted)
			d.write(d.b, "B", 10, plain)
			d.write(d.a, "A", 6, committed)
			d.write(d.a, "A", 4, plain)
			d.write(d.b, "B", 5, committed)
			d.write(d.b, "B", 2, aborted)

			// G on A: partition 0 stops inside A's first turn, 1 near its end, 2 at its end
			// (next on A: markers, aborted records, then copies of B's records).
			onA := d.consume(d.a, "G", []int{5, 12, 23})
			d.waitSynced(d.ckB, "G", d.committed(d.a, "G"), d.b)
			// G on B, from where A→B put it: on partition 0 through B's second turn into A's
			// last, on 1 into B's turn, on 2 exactly through B's turn.
			onB := d.consume(d.b, "G", []int{36, 13, 10})
			d.waitSynced(d.ckA, "G", d.committed(d.b, "G"), d.a)

			skipped, redelivered := d.verifyFailback("G", append(onA, onB...))
			t.Logf("failback: %d records skipped, %d re-delivered", skipped, redelivered)
			if skipped != 0 {
				t.Errorf("failback skipped %d records", skipped)
			}
			if redelivered != 0 {
				t.Errorf("failback re-delivered %d records although nothing was written concurrently", redelivered)
			}
		})
	}
}

const pairTopic = "orders"

// pair is two kfake clusters A and B replicating "orders" both ways.
type pair struct {
	t          *testing.T
	eos        bool
	a, b       []string
	cfgAB      mm2.Config
	cfgBA      mm2.Config
	partitions int32
	next       map[string]int // per cluster and partition: value counter
	ckA, ckB   *checkpointWatch
}

func pairConfig(t *testing.T, src, tgt string, srcAddrs, tgtAddrs []string, eos bool) mm2.Config {
	t.Helper()
	keys := mirrorKeys(src, tgt, srcAddrs, tgtAddrs, pairTopic, eos)
	keys["replication.policy.class"] = mm2.IdentityPolicyClass
	keys["fjord.consumer.group.offset.sync.mode"] = "ENHANCED"
	cfg, err := mm2.ParseConfig(keys)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newPair(t *testing.T, eos bool) *pair {
	p := &pair{t: t, eos: eos, a: newCluster(t), b: newCluster(t), partitions: 3, next: map[string]int{}}
	p.cfgAB = pairConfig(t, "A", "B", p.a, p.b, eos)
	p.cfgBA = pairConfig(t, "B", "A", p.b, p.a, eos)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for _, addrs := range [][]string{p.a, p.b} {
		resp, err := kadm.NewClient(newTestClient(t, addrs)).CreateTopic(ctx, p.partitions, 1, nil, pairTopic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create %s: %v", pairTopic, err)
		}
	}
	// Each side's checkpoints topic is on the other side.
	p.ckB = newCheckpointFollower(t, p.b, "A.checkpoints.internal")
	p.ckA = newCheckpointFollower(t, p.a, "B.checkpoints.internal")
	return p
}

// start runs the four tasks.
func (p *pair) start() {
	log := testLogger(p.t)
	for _, dir := range []struct {
		name, peer string
		cfg        mm2.Config
	}{{"ab", "ba", p.cfgAB}, {"ba", "ab", p.cfgBA}} {
		src, err := mirror.NewSourceTask(mirror.SourceOptions{
			Config: dir.cfg, ConnectorName: dir.name, TaskID: 0, TaskCount: 1,
			Transactional: p.eos, TransactionalID: "failback-" + dir.name,
			CommitInterval: 100 * time.Millisecond, Logger: log,
		})
		if err != nil {
			p.t.Fatal(err)
		}
		startTask(p.t, "source task "+dir.name, src.Run)
		opts := checkpoint.FromConfig(dir.cfg, 0, 1)
		if !opts.Enhanced {
			p.t.Fatal("the configuration does not select the ENHANCED mode")
		}
		opts.SourceConnector, opts.PeerConnector = dir.name, dir.peer
		opts.ReplicationFactor = -1
		opts.Logger = log
		cp, err := checkpoint.NewTask(opts)
		if err != nil {
			p.t.Fatal(err)
		}
		startTask(p.t, "checkpoint task "+dir.name, cp.Run)
	}
}

// How a turn writes its records.
type writeMode int

const (
	plain     writeMode = iota // a plain producer
	committed                  // two committed transactions, one per half
	aborted                    // an aborted transaction: nothing to read or replicate
)

// write produces n records to every partition of the cluster at addrs, with values
// "<origin>-p<partition>-<i>", then waits until the other side holds copies of all of them.
func (p *pair) write(addrs []string, origin string, n int, mode writeMode) {
	t := p.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	opts := []kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0)}
	if mode != plain {
		opts = append(opts, kgo.TransactionalID("failback-writer-"+origin))
	}
	cl := newTestClient(t, addrs, opts...)
	batch := func(recs []*kgo.Record) {
		if mode != plain {
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
		}
		err := cl.ProduceSync(ctx, recs...).FirstErr()
		if err == nil && mode != plain {
			err = cl.EndTransaction(ctx, kgo.TransactionEndTry(mode == committed))
		}
		if err != nil {
			t.Fatalf("produce on %s: %v", origin, err)
		}
	}
	var first, second []*kgo.Record
	for part := range p.partitions {
		key := fmt.Sprintf("%s-p%d", origin, part)
		for i := range n {
			v := fmt.Sprintf("%s-%d", key, p.next[key])
			if mode == aborted {
				v = fmt.Sprintf("aborted-%s-%d", key, i)
			} else {
				p.next[key]++
			}
			r := &kgo.Record{Topic: pairTopic, Partition: part, Value: []byte(v)}
			if mode == committed && i >= n/2 {
				second = append(second, r)
			} else {
				first = append(first, r)
			}
		}
	}
	batch(first)
	if len(second) > 0 {
		batch(second)
	}
	// Turns must not overlap: the next one starts once both sides hold every record.
	p.waitReplicated()
}

// waitReplicated waits until both clusters hold the same records (by value) on every
// partition.
func (p *pair) waitReplicated() {
	t := p.t
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		a, b := values(readTopic(t, p.a, pairTopic, true)), values(readTopic(t, p.b, pairTopic, true))
		same := true
		for part := range p.partitions {
			x, y := slices.Clone(a[part]), slices.Clone(b[part])
			slices.Sort(x)
			slices.Sort(y)
			if !slices.Equal(x, y) {
				same = false
			}
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("clusters not replicated after %v", patience)
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

func values(parts map[int32][]*kgo.Record) map[int32][]string {
	out := map[int32][]string{}
	for part, rs := range parts {
		for _, r := range rs {
			out[part] = append(out[part], string(r.Value))
		}
	}
	return out
}

// consumed is a record G read, by origin identity.
type consumed struct {
	partition int32
	value     string
}

// consume joins group on the cluster at addrs, reads want[p] records of each partition p
// from where the group stands, commits right after them and leaves. It returns the records
// read.
func (p *pair) consume(addrs []string, group string, want []int) []consumed {
	t := p.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(pairTopic),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	read := map[int32][]*kgo.Record{}
	done := func() bool {
		for part, n := range want {
			if len(read[int32(part)]) < n {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s: read %d records per partition, want %v", group, len(read), want)
		}
		fs.EachRecord(func(r *kgo.Record) { read[r.Partition] = append(read[r.Partition], r) })
	}
	var out []consumed
	var last []*kgo.Record // the last record consumed per partition: the commit is right after it
	for part, n := range want {
		rs := read[int32(part)][:n]
		for _, r := range rs {
			out = append(out, consumed{r.Partition, string(r.Value)})
		}
		last = append(last, rs[n-1])
	}
	if err := cl.CommitRecords(ctx, last...); err != nil {
		t.Fatalf("group %s: commit: %v", group, err)
	}
	return out
}

// committed is group's committed offset per partition of "orders" on the cluster at addrs.
func (p *pair) committed(addrs []string, group string) map[int32]int64 {
	t := p.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	out := map[int32]int64{}
	os, err := kadm.NewClient(newTestClient(t, addrs)).FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return out // not synced there yet
	}
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	os.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.Topic == pairTopic {
			out[o.Partition] = o.At
		}
	})
	return out
}

// waitSynced waits until the checkpoints followed by ck hold, for every partition, a
// checkpoint of group at the upstream offset at[partition], and group on the cluster at addrs
// (the checkpoints' target) has committed its downstream offset.
func (p *pair) waitSynced(ck *checkpointWatch, group string, at map[int32]int64, addrs []string) {
	t := p.t
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		latest, err := ck.poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		cur := p.committed(addrs, group)
		var missing []string
		for part, x := range at {
			c, ok := latest[cpKey{group, part}]
			switch {
			case !ok || c.UpstreamOffset != x:
				missing = append(missing, fmt.Sprintf("%s/%d: no checkpoint of upstream %d (have %+v)", group, part, x, c))
			case cur[part] != c.DownstreamOffset:
				missing = append(missing, fmt.Sprintf("%s/%d: at %d, checkpoint says %d", group, part, cur[part], c.DownstreamOffset))
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(missing)
			t.Fatalf("group not synced after %v:\n%s", patience, strings.Join(missing, "\n"))
		}
		time.Sleep(100 * time.Millisecond) // poll interval
	}
}

// verifyFailback joins group on A and, per partition, compares the first record it reads with
// A's partition (read_committed, in order): skipped counts the records before it that the
// group did not consume, re-delivered the records from it on that the group did consume.
func (p *pair) verifyFailback(group string, seen []consumed) (skipped, redelivered int) {
	t := p.t
	t.Helper()
	done := map[consumed]bool{}
	for _, c := range seen {
		if done[c] {
			t.Errorf("group %s consumed %q twice before the failback", group, c.value)
		}
		done[c] = true
	}
	log := readTopic(t, p.a, pairTopic, true)
	// One more record per partition on A, so that a group at the end has something to read.
	p.write(p.a, "A", 1, plain)
	log = readTopic(t, p.a, pairTopic, true)
	first := p.firstOn(p.a, group)
	for part := range p.partitions {
		rs := log[part]
		at := slices.IndexFunc(rs, func(r *kgo.Record) bool { return string(r.Value) == string(first[part].Value) })
		if at < 0 {
			t.Errorf("partition %d: first record read %q is not in A's partition", part, first[part].Value)
			continue
		}
		want := slices.IndexFunc(rs, func(r *kgo.Record) bool { return !done[consumed{part, string(r.Value)}] })
		for i, r := range rs {
			c := done[consumed{part, string(r.Value)}]
			switch {
			case i < at && !c:
				skipped++
			case i >= at && c:
				redelivered++
			}
		}
		if at != want {
			t.Logf("partition %d: first read %q at index %d, first record not consumed on either side %q at index %d",
				part, first[part].Value, at, rs[want].Value, want)
		}
	}
	return skipped, redelivered
}

// firstOn joins group on the cluster at addrs (read_committed, no commits) and returns the
// first record it reads on every partition.
func (p *pair) firstOn(addrs []string, group string) map[int32]*kgo.Record {
	t := p.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(pairTopic),
		kgo.DisableAutoCommit(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	first := map[int32]*kgo.Record{}
	for len(first) < int(p.partitions) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("group %s: read the first record of %d of %d partitions", group, len(first), p.partitions)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = r
			}
		})
	}
	return first
}

// newCheckpointFollower follows the checkpoints topic on the cluster at addrs until t ends.
func newCheckpointFollower(t testing.TB, addrs []string, topic string) *checkpointWatch {
	t.Helper()
	w, err := newCheckpointWatch(addrs, topic, pairTopic, records.DecodeCheckpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	return w
}
