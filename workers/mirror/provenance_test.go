package mirror

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/mm2/records"
)

func TestProvenanceStamp(t *testing.T) {
	t.Parallel()
	p := provenance{on: true, source: "A", target: "B"}
	hdr := func(kv ...string) []kgo.RecordHeader {
		var out []kgo.RecordHeader
		for i := 0; i < len(kv); i += 2 {
			out = append(out, kgo.RecordHeader{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return out
	}
	for name, tc := range map[string]struct {
		in   []kgo.RecordHeader
		want []kgo.RecordHeader // nil: skipped
	}{
		"no headers":           {nil, hdr(ProvenanceHeader, "A")},
		"user headers kept":    {hdr("seq", "1", "x", ""), hdr("seq", "1", "x", "", ProvenanceHeader, "A")},
		"appended":             {hdr(ProvenanceHeader, "C"), hdr(ProvenanceHeader, "C,A")},
		"position kept":        {hdr(ProvenanceHeader, "C", "seq", "1"), hdr(ProvenanceHeader, "C,A", "seq", "1")},
		"empty value":          {hdr(ProvenanceHeader, ""), hdr(ProvenanceHeader, "A")},
		"from the target":      {hdr(ProvenanceHeader, "B"), nil},
		"target in the list":   {hdr(ProvenanceHeader, "C,B,D"), nil},
		"target last":          {hdr(ProvenanceHeader, "C,B"), nil},
		"prefix is not a hit":  {hdr(ProvenanceHeader, "BB,xB,B2"), hdr(ProvenanceHeader, "BB,xB,B2,A")},
		"any header counts":    {hdr(ProvenanceHeader, "C", ProvenanceHeader, "B"), nil},
		"last header extended": {hdr(ProvenanceHeader, "C", ProvenanceHeader, "D"), hdr(ProvenanceHeader, "C", ProvenanceHeader, "D,A")},
	} {
		t.Run(name, func(t *testing.T) {
			orig := fmt.Sprint(tc.in)
			got, ok := p.stamp(tc.in)
			if fmt.Sprint(tc.in) != orig {
				t.Errorf("input modified: %v, was %s", tc.in, orig)
			}
			if tc.want == nil {
				if ok {
					t.Errorf("copied with %v, want skipped", got)
				}
				return
			}
			if !ok || !sameHeaders(got, tc.want) {
				t.Errorf("got %v %v, want %v", got, ok, tc.want)
			}
		})
	}
}

func TestClusterIdentities(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		srcID, tgtID, src, tgt string
		fallback               bool
	}{
		{"id-a", "id-b", "id-a", "id-b", false},
		{"kfake", "kfake", "A", "B", true},
		{"", "id-b", "A", "B", true},
	} {
		src, tgt, fb := clusterIdentities(tc.srcID, tc.tgtID, "A", "B")
		if src != tc.src || tgt != tc.tgt || fb != tc.fallback {
			t.Errorf("clusterIdentities(%q, %q) = %q %q %v, want %q %q %v", tc.srcID, tc.tgtID, src, tgt, fb, tc.src, tc.tgt, tc.fallback)
		}
	}
	if !keepsTopicNames(mm2.IdentityReplicationPolicy{SourceAlias: "A"}) || keepsTopicNames(mm2.DefaultReplicationPolicy{}) {
		t.Error("keepsTopicNames: identity policy must keep names, the default policy must not")
	}
}

// activeConfig is the MM2 config of one direction of an active-active pair on topic T.
func activeConfig(tb testing.TB, from, to string, fromAddrs, toAddrs []string, extra map[string]string) mm2.Config {
	tb.Helper()
	m := map[string]string{
		"source.cluster.alias":             from,
		"target.cluster.alias":             to,
		"source.cluster.bootstrap.servers": strings.Join(fromAddrs, ","),
		"target.cluster.bootstrap.servers": strings.Join(toAddrs, ","),
		"replication.policy.class":         mm2.IdentityPolicyClass,
		"topics":                           "T",
		"refresh.topics.interval.seconds":  "1",
	}
	for k, v := range extra {
		m[k] = v
	}
	c, err := mm2.ParseConfig(m)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func newClusterOpts(tb testing.TB, opts ...kfake.Opt) []string {
	tb.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c.ListenAddrs()
}

// produceValues writes values prefix-first … prefix-(first+n-1) to topic, round-robin over
// partitions, each with a "seq" header equal to its value.
func produceValues(tb testing.TB, cl *kgo.Client, topic string, partitions int32, prefix string, first, n int, extra ...kgo.RecordHeader) {
	tb.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := first; i < first+n; i++ {
		v := fmt.Sprintf("%s-%05d", prefix, i)
		r := &kgo.Record{Topic: topic, Partition: int32(i) % partitions, Value: []byte(v),
			Headers: append([]kgo.RecordHeader{{Key: "seq", Value: []byte(v)}}, extra...)}
		wg.Add(1)
		cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		tb.Fatalf("produce: %v", firstErr)
	}
}

// settled reports whether task has handled (copied and acknowledged, or skipped) every record
// of recs, its source partitions, with nothing in flight.
func settled(task *SourceTask, topic string, recs map[int32][]*kgo.Record) bool {
	for p, rs := range recs {
		if len(rs) == 0 {
			continue
		}
		ps := task.lookupSource(topic, p)
		if ps == nil {
			return false
		}
		ps.mu.Lock()
		ok := ps.acked >= rs[len(rs)-1].Offset && ps.head >= len(ps.inflight) && ps.skipHeld < 0
		ps.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}

// TestActiveActive is the loop-prevention acceptance: two tasks replicate topic T A→B and
// B→A with IdentityReplicationPolicy while 10,000 records are produced on each side; once
// settled, each side holds exactly the 20,000 distinct records, and nothing moves any more.
// At least once with distinct cluster IDs; transactional with both clusters left at kfake's
// default ID (the alias fallback).
func TestActiveActive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		transactional bool
		ids           bool
	}{
		{"at-least-once/cluster-ids", false, true},
		{"transactional/aliases", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var aOpts, bOpts []kfake.Opt
			if tc.ids {
				aOpts, bOpts = []kfake.Opt{kfake.ClusterID("cluster-a")}, []kfake.Opt{kfake.ClusterID("cluster-b")}
			}
			a, b := newClusterOpts(t, aOpts...), newClusterOpts(t, bOpts...)
			const parts, perSide = 3, 10_000
			createTopic(t, a, "T", parts)
			createTopic(t, b, "T", parts)
			var extra map[string]string
			if tc.transactional {
				extra = map[string]string{"exactly.once.support": "required"}
			}
			ab := startTask(t, SourceOptions{Config: activeConfig(t, "A", "B", a, b, extra), ConnectorName: "a-to-b", TaskCount: 1,
				Transactional: tc.transactional, TransactionalID: "fjord-a-to-b-0"}, false)
			ba := startTask(t, SourceOptions{Config: activeConfig(t, "B", "A", b, a, extra), ConnectorName: "b-to-a", TaskCount: 1,
				Transactional: tc.transactional, TransactionalID: "fjord-b-to-a-0"}, false)

			start := time.Now()
			var wg sync.WaitGroup
			for _, side := range []struct {
				prefix string
				addrs  []string
			}{{"A", a}, {"B", b}} {
				prod := producer(t, side.addrs)
				wg.Go(func() {
					for i := 0; i < perSide; i += 1000 {
						produceValues(t, prod, "T", parts, side.prefix, i, 1000)
					}
				})
			}
			wg.Wait()

			// Settled: every record on each side handled by the task reading it, the same
			// counts on two consecutive checks, with unchanged end offsets.
			admA, admB := kadm.NewClient(client(t, a)), kadm.NewClient(client(t, b))
			var lastEnds [2]int64
			stable := 0
			waitFor(t, 90*time.Second, "both sides settled", func() bool {
				ra := readAll(t, a, "T", tc.transactional)
				rb := readAll(t, b, "T", tc.transactional)
				ends := [2]int64{endOffsets(t, admA, "T"), endOffsets(t, admB, "T")}
				if count(ra) < 2*perSide || count(rb) < 2*perSide || !settled(ab.task, "T", ra) || !settled(ba.task, "T", rb) {
					stable = 0
					return false
				}
				if ends == lastEnds {
					stable++
				} else {
					stable, lastEnds = 0, ends
				}
				return stable >= 2
			})
			t.Logf("settled %v after the producers started; end offsets A=%d B=%d", time.Since(start).Round(time.Millisecond), lastEnds[0], lastEnds[1])

			for _, side := range []struct {
				name  string
				addrs []string
			}{{"A", a}, {"B", b}} {
				recs := readAll(t, side.addrs, "T", tc.transactional)
				seen := map[string]int{}
				for _, rs := range recs {
					for _, r := range rs {
						seen[string(r.Value)]++
					}
				}
				if n := count(recs); n != 2*perSide {
					t.Errorf("side %s: %d records in T, want %d", side.name, n, 2*perSide)
				}
				for _, prefix := range []string{"A", "B"} {
					for i := range perSide {
						if v := fmt.Sprintf("%s-%05d", prefix, i); seen[v] != 1 {
							t.Errorf("side %s: %s present %d times", side.name, v, seen[v])
							break
						}
					}
				}
				// Copies carry their provenance; local records carry none.
				want := map[bool]string{true: "B", false: "A"} // on A, copies came from B
				if tc.ids {
					want = map[bool]string{true: "cluster-b", false: "cluster-a"}
				}
				for _, rs := range recs {
					for _, r := range rs {
						copied := !strings.HasPrefix(string(r.Value), side.name+"-")
						got, has := header(r, ProvenanceHeader)
						if copied != has || (copied && got != want[side.name == "A"]) {
							t.Fatalf("side %s record %s: provenance %q (present %v)", side.name, r.Value, got, has)
						}
					}
				}
			}
			for _, rt := range []*runningTask{ab, ba} {
				if err := rt.stop(t); err != nil {
					t.Errorf("Run: %v", err)
				}
			}
			if e := [2]int64{endOffsets(t, admA, "T"), endOffsets(t, admB, "T")}; e != lastEnds {
				t.Errorf("end offsets moved after settling: %v, then %v", lastEnds, e)
			}
			t.Logf("skipped: A→B %d, B→A %d", ab.task.stats.skipped.Load(), ba.task.stats.skipped.Load())
		})
	}
}

func count(recs map[int32][]*kgo.Record) int {
	n := 0
	for _, rs := range recs {
		n += len(rs)
	}
	return n
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// TestSkippedRecordsTranslateExactly checks progress and offset syncs around skipped records:
// a source partition mixing local records and records that came from the target (skipped),
// one where every record is skipped, one that starts with skipped records while the target
// partition already holds records; across a restart. After each run progress covers every
// record, and translating every source offset with workers/checkpoint's rule is exact: a
// committed offset X maps to a position before which there are only copies of records below
// X and after which only copies of records at or after X.
func TestSkippedRecordsTranslateExactly(t *testing.T) {
	t.Parallel()
	for _, transactional := range []bool{false, true} {
		t.Run(fmt.Sprintf("transactional=%v", transactional), func(t *testing.T) {
			t.Parallel()
			a, b := newCluster(t), newCluster(t)
			createTopic(t, a, "T", 3)
			createTopic(t, b, "T", 3)
			extra := map[string]string{"offset.lag.max": "7"}
			if transactional {
				extra["exactly.once.support"] = "required"
			}
			cfg := activeConfig(t, "A", "B", a, b, extra)
			opts := SourceOptions{Config: cfg, ConnectorName: "skips", TaskCount: 1, Transactional: transactional, TransactionalID: "fjord-skips-0"}
			srcProd, tgtProd := producer(t, a), producer(t, b)
			fromB := kgo.RecordHeader{Key: ProvenanceHeader, Value: []byte("C,B")}
			produceTo := func(p int32, prefix string, first, n int, looped bool) {
				var hs []kgo.RecordHeader
				if looped {
					hs = append(hs, fromB)
				}
				for i := first; i < first+n; i++ {
					v := fmt.Sprintf("%s-%d-%05d", prefix, p, i)
					r := &kgo.Record{Topic: "T", Partition: p, Value: []byte(v), Headers: append([]kgo.RecordHeader{{Key: "seq", Value: []byte(v)}}, hs...)}
					if err := srcProd.ProduceSync(context.Background(), r).FirstErr(); err != nil {
						t.Fatal(err)
					}
				}
			}
			// The target's own records: the first copies land after them.
			produceValues(t, tgtProd, "T", 3, "b-local", 0, 30)

			run := func(phase string) {
				rt := startTask(t, opts, false)
				waitFor(t, 30*time.Second, phase+": every record handled", func() bool {
					return settled(rt.task, "T", readAll(t, a, "T", false))
				})
				if err := rt.stop(t); err != nil {
					t.Fatal(err)
				}
			}
			// Phase 1. p0: mixed, ending with skipped records; p1: only skipped; p2: starts
			// with skipped records, ends with a copied one.
			produceTo(0, "l", 0, 5, false)
			produceTo(0, "s", 0, 3, true)
			produceTo(0, "l", 5, 12, false)
			produceTo(0, "s", 3, 10, true)
			produceTo(1, "s", 0, 9, true)
			produceTo(2, "s", 0, 4, true)
			produceTo(2, "l", 0, 3, false)
			run("phase 1")
			first := translateAll(t, a, b, "mm2-offset-syncs.B.internal")
			checkExact(t, a, b, transactional, first)
			// Phase 2, after a restart: p0 resumes with skipped records then copies; p1 gets
			// its first copied record after more skipped ones; p2 ends skipped; and the
			// target's own records in between.
			produceValues(t, tgtProd, "T", 3, "b-local", 30, 9)
			produceTo(0, "s", 13, 4, true)
			produceTo(0, "l", 17, 3, false)
			produceTo(1, "s", 9, 2, true)
			produceTo(1, "l", 0, 1, false)
			produceTo(1, "s", 11, 2, true)
			produceTo(2, "l", 3, 2, false)
			produceTo(2, "s", 4, 20, true)
			run("phase 2")
			checkExact(t, a, b, transactional, first) // still exact with the copies made since
			checkExact(t, a, b, transactional, translateAll(t, a, b, "mm2-offset-syncs.B.internal"))
		})
	}
}

// TestMarkersAtEndTranslateExactly: source partitions that end in transaction markers — local
// records then a committed transaction; only records that came from the target (all skipped),
// the last ones in a committed transaction; a committed then an aborted transaction — are
// settled through their last marker while nothing more is produced: progress reaches the end
// offset − 1 and a group committed at the end (past the markers, as a Java read_committed
// consumer commits) translates at once, and exactly: to where the copy of the record produced
// next lands, after a restart that resumes past the markers.
func TestMarkersAtEndTranslateExactly(t *testing.T) {
	t.Parallel()
	for _, transactional := range []bool{false, true} {
		t.Run(fmt.Sprintf("transactional=%v", transactional), func(t *testing.T) {
			t.Parallel()
			a, b := newCluster(t), newCluster(t)
			createTopic(t, a, "T", 3)
			createTopic(t, b, "T", 3)
			extra := map[string]string{"offset.lag.max": "7"}
			if transactional {
				extra["exactly.once.support"] = "required"
			}
			cfg := activeConfig(t, "A", "B", a, b, extra)
			opts := SourceOptions{Config: cfg, ConnectorName: "markers", TaskCount: 1, Transactional: transactional, TransactionalID: "fjord-markers-0"}
			plain := producer(t, a)
			txp := client(t, a, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID("markers-source"))
			fromB := kgo.RecordHeader{Key: ProvenanceHeader, Value: []byte("C,B")}
			n := 0
			recs := func(p int32, k int, looped bool) []*kgo.Record {
				var out []*kgo.Record
				for range k {
					v := fmt.Sprintf("p%d-%05d", p, n)
					n++
					hs := []kgo.RecordHeader{{Key: "seq", Value: []byte(v)}}
					if looped {
						hs = append(hs, fromB)
					}
					out = append(out, &kgo.Record{Topic: "T", Partition: p, Value: []byte(v), Headers: hs})
				}
				return out
			}
			send := func(rs []*kgo.Record) {
				if err := plain.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			txn := func(commit bool, rs []*kgo.Record) {
				if err := txp.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
				err := txp.ProduceSync(context.Background(), rs...).FirstErr()
				if err == nil {
					err = txp.EndTransaction(context.Background(), kgo.TransactionEndTry(commit))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			// The target's own records: the first copies land after them.
			produceValues(t, producer(t, b), "T", 3, "b-local", 0, 6)

			run := func(phase string) {
				rt := startTask(t, opts, false)
				waitFor(t, 30*time.Second, phase+": every partition settled through its end", func() bool {
					return settledToEnd(t, rt.task, a, "T")
				})
				if err := rt.stop(t); err != nil {
					t.Fatal(err)
				}
			}
			send(recs(0, 5, false))
			txn(true, recs(0, 3, false))
			send(recs(1, 4, true))
			txn(true, recs(1, 3, true))
			send(recs(2, 5, false))
			txn(true, recs(2, 2, false))
			txn(false, recs(2, 3, false))
			run("phase 1")
			first := translateAll(t, a, b, "mm2-offset-syncs.B.internal")
			checkExact(t, a, b, transactional, first)
			// Phase 2, after a restart: one record per partition, the first each group at the
			// end must read on the target.
			for p := range int32(3) {
				send(recs(p, 1, false))
			}
			run("phase 2")
			checkExact(t, a, b, transactional, first)
			checkExact(t, a, b, transactional, translateAll(t, a, b, "mm2-offset-syncs.B.internal"))
		})
	}
}

// TestPositionSyncHoldsProgress: when progress passes records that are not copied (markers,
// skipped records) with a position sync, the recordable progress stays at the last copy until
// that sync is acknowledged. Progress among those records without the sync would make the
// checkpoint task translate a group there with the last copy's delta: past the next copy.
func TestPositionSyncHoldsProgress(t *testing.T) {
	t.Parallel()
	task := &SourceTask{syncCl: client(t, newCluster(t))}
	ps := &partState{acked: 9, nextDown: 30, skipHeld: -1, written: -1}
	ps.mu.Lock()
	syncs, held := task.settleSkippedLocked(ps, 12) // offsets 10-12 not copied
	c := ps.committable()
	ps.mu.Unlock()
	if held || len(syncs) != 1 || syncs[0].UpstreamOffset != 13 || syncs[0].DownstreamOffset != 30 {
		t.Fatalf("settle through 12 after the copy of 9 (next copy at 30): syncs %+v, held %v; want (13, 30)", syncs, held)
	}
	if c != 9 {
		t.Fatalf("committable %d before the position sync is acknowledged, want 9", c)
	}
	task.onSyncAck(ps, 13, nil)
	ps.mu.Lock()
	c = ps.committable()
	ps.mu.Unlock()
	if c != 12 {
		t.Fatalf("committable %d after the position sync is acknowledged, want 12", c)
	}
}

// settledToEnd reports whether task has settled every partition of topic through its end
// offset − 1 (transaction markers included) with nothing in flight or waiting.
func settledToEnd(tb testing.TB, task *SourceTask, srcAddrs []string, topic string) bool {
	tb.Helper()
	ends, err := kadm.NewClient(client(tb, srcAddrs)).ListEndOffsets(context.Background(), topic)
	if err != nil || ends.Error() != nil {
		return false
	}
	ok := true
	ends.Each(func(o kadm.ListedOffset) {
		ps := task.lookupSource(topic, o.Partition)
		if ps == nil {
			ok = false
			return
		}
		ps.mu.Lock()
		ok = ok && ps.acked >= o.Offset-1 && ps.head >= len(ps.inflight) && ps.skipHeld < 0
		ps.mu.Unlock()
	})
	return ok
}

// translateAll translates every offset of every partition of topic T (up to its end) with the
// offset syncs and the progress, as workers/checkpoint does; untranslatable offsets are left
// out, but a group at the end (the high watermark, past any transaction markers) must
// translate, and progress must have reached the offset before it.
func translateAll(t *testing.T, srcAddrs, tgtAddrs []string, syncTopic string) map[int32]map[int64]int64 {
	t.Helper()
	syncs := map[int32][]records.OffsetSync{}
	for _, recs := range readAll(t, srcAddrs, syncTopic, false) {
		for _, r := range recs {
			s, err := records.DecodeOffsetSync(r.Key, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if s.Topic == "T" {
				// Keep write order, dropping every older sync that starts at or after s.
				l := syncs[s.Partition]
				i := sort.Search(len(l), func(i int) bool { return l[i].UpstreamOffset >= s.UpstreamOffset })
				syncs[s.Partition] = append(l[:i], s)
			}
		}
	}
	progress := map[int32]int64{}
	for _, recs := range readAll(t, tgtAddrs, "mm2-offsets.A.internal", true) {
		for _, r := range recs {
			so, err := records.DecodeSourceOffset(r.Key, r.Value)
			if err == nil && so.Topic == "T" {
				progress[so.Partition] = so.Offset
			}
		}
	}
	ends, err := kadm.NewClient(client(t, srcAddrs)).ListEndOffsets(context.Background(), "T")
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]map[int64]int64{}
	for p := range readAll(t, srcAddrs, "T", false) {
		out[p] = map[int64]int64{}
		end, _ := ends.Lookup("T", p)
		last := end.Offset - 1
		if progress[p] != last {
			t.Errorf("partition %d: progress %d, want the last offset %d", p, progress[p], last)
		}
		list := syncs[p]
		for x := int64(0); x <= last+1; x++ {
			i := sort.Search(len(list), func(i int) bool { return list[i].UpstreamOffset > x })
			through := progress[p]
			if len(list) > 0 {
				through = max(through, list[len(list)-1].UpstreamOffset)
			}
			if i == 0 || x > through+1 {
				if x == last+1 {
					t.Errorf("partition %d: a group at the end (%d) does not translate; syncs %v", p, x, list)
				}
				continue
			}
			s := list[i-1]
			down := s.DownstreamOffset + (x - s.UpstreamOffset)
			if i < len(list) {
				down = min(down, list[i].DownstreamOffset)
			}
			out[p][x] = down
		}
	}
	return out
}

// checkExact checks translations against the copies now on the target: a group that
// committed X and resumes at its translation reads every copy of a record at or after X and
// no copy of a record before X — including copies written after the translation was made.
func checkExact(t *testing.T, srcAddrs, tgtAddrs []string, committed bool, translations map[int32]map[int64]int64) {
	t.Helper()
	src := readAll(t, srcAddrs, "T", false)
	dst := readAll(t, tgtAddrs, "T", committed)
	n := 0
	for p, tr := range translations {
		upOf := map[string]int64{}
		for _, r := range src[p] {
			upOf[string(r.Value)] = r.Offset
		}
		type cp struct{ up, down int64 }
		var copies []cp
		for _, r := range dst[p] {
			if up, ok := upOf[string(r.Value)]; ok {
				copies = append(copies, cp{up, r.Offset})
			}
		}
		for x, down := range tr {
			for _, c := range copies {
				if (c.down < down) != (c.up < x) {
					t.Fatalf("partition %d: offset %d translates to %d, but the copy of %d is at %d", p, x, down, c.up, c.down)
				}
			}
			n++
		}
	}
	t.Logf("%d translations exact", n)
}
