package mirror

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2"
)

// env is a pair of kfake clusters, reached over TCP on 127.0.0.1.
type env struct {
	srcAddrs, tgtAddrs []string
}

func newCluster(tb testing.TB) []string {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c.ListenAddrs()
}

func newEnv(tb testing.TB) *env {
	return &env{srcAddrs: newCluster(tb), tgtAddrs: newCluster(tb)}
}

func (e *env) config(tb testing.TB, extra map[string]string) mm2.Config {
	tb.Helper()
	m := map[string]string{
		"source.cluster.bootstrap.servers": strings.Join(e.srcAddrs, ","),
		"target.cluster.bootstrap.servers": strings.Join(e.tgtAddrs, ","),
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

func client(tb testing.TB, addrs []string, opts ...kgo.Opt) *kgo.Client {
	tb.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.MetadataMinAge(10 * time.Millisecond)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cl.Close)
	return cl
}

func createTopic(tb testing.TB, addrs []string, topic string, partitions int32) {
	tb.Helper()
	adm := kadm.NewClient(client(tb, addrs))
	resp, err := adm.CreateTopic(context.Background(), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		tb.Fatalf("create topic %s: %v", topic, err)
	}
}

// produceN writes n records to topic, round-robin over its partitions, with unique keys
// "<topic>-<i>", values, two headers and explicit timestamps. first numbers the records.
func produceN(tb testing.TB, cl *kgo.Client, topic string, partitions int32, first, n, valueSize int) {
	tb.Helper()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := first; i < first+n; i++ {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, valueSize)
		copy(v, fmt.Sprintf("v%d-", i))
		r := &kgo.Record{
			Topic:     topic,
			Partition: int32(i) % partitions,
			Key:       fmt.Appendf(nil, "%s-%d", topic, i),
			Value:     v,
			Headers:   []kgo.RecordHeader{{Key: "seq", Value: fmt.Appendf(nil, "%d", i)}, {Key: "empty"}},
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		}
		if i%97 == 0 {
			r.Key = nil // null keys are kept null
		}
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

func producer(tb testing.TB, addrs []string) *kgo.Client {
	return client(tb, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
}

// runningTask is a SourceTask running in its own goroutine.
type runningTask struct {
	task   *SourceTask
	cancel context.CancelFunc
	done   chan error
	err    error
}

func startTask(tb testing.TB, opts SourceOptions, crash bool) *runningTask {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(tb)
	}
	task, err := NewSourceTask(opts)
	if err != nil {
		tb.Fatal(err)
	}
	task.crashOnStop.Store(crash)
	ctx, cancel := context.WithCancel(context.Background())
	rt := &runningTask{task: task, cancel: cancel, done: make(chan error, 1)}
	go func() { rt.done <- task.Run(ctx) }()
	tb.Cleanup(func() { rt.stop(tb) })
	return rt
}

// stop cancels the task and returns Run's error; it fails the test if Run takes more than
// 10 s to return. Calling it again returns the same error.
func (rt *runningTask) stop(tb testing.TB) error {
	tb.Helper()
	rt.cancel()
	select {
	case err, ok := <-rt.done:
		if ok {
			close(rt.done)
			rt.err = err
		}
		return rt.err
	case <-time.After(10 * time.Second):
		tb.Fatal("task did not stop within 10 s")
		return nil
	}
}

func testLogger(tb testing.TB) *slog.Logger {
	w := &tbWriter{tb: tb}
	tb.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// tbWriter sends log lines to the test log until the test ends (then drops them).
type tbWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// endOffsets sums the high watermarks of topics (0 for a missing topic).
func endOffsets(tb testing.TB, adm *kadm.Client, topics ...string) int64 {
	tb.Helper()
	lo, err := adm.ListEndOffsets(context.Background(), topics...)
	if err != nil {
		return 0
	}
	var n int64
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			n += o.Offset
		}
	})
	return n
}

// readAll reads topic from the start to its current high watermark. With committed, it reads
// read_committed (waiting for open transactions below the watermark to end).
func readAll(tb testing.TB, addrs []string, topic string, committed bool) map[int32][]*kgo.Record {
	tb.Helper()
	adm := kadm.NewClient(client(tb, addrs))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		tb.Fatalf("end offsets of %s: %v %v", topic, err, ends.Error())
	}
	assign := map[int32]kgo.Offset{}
	last := map[int32]int64{}
	out := map[int32][]*kgo.Record{}
	ends.Each(func(o kadm.ListedOffset) {
		out[o.Partition] = nil
		if o.Offset > 0 {
			assign[o.Partition] = kgo.NewOffset().AtStart()
			last[o.Partition] = o.Offset - 1
		}
	})
	if len(assign) == 0 {
		return out
	}
	opts := []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}), kgo.KeepControlRecords()}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(addrs...))...)
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	for len(last) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			tb.Fatalf("reading %s: %v (partitions left: %v)", topic, ctx.Err(), last)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if l, ok := last[r.Partition]; ok && r.Offset >= l {
				delete(last, r.Partition)
			}
			if !r.Attrs.IsControl() && r.Offset <= ends[topic][r.Partition].Offset-1 {
				out[r.Partition] = append(out[r.Partition], r)
			}
		})
	}
	return out
}

// compareCopy checks that dst holds every record of src, per partition, in order (first
// occurrences), with identical key, value, headers and timestamp. Records are identified by
// their "seq" header. It returns the number of duplicates and the number missing.
func compareCopy(tb testing.TB, src, dst map[int32][]*kgo.Record) (dups, missing int) {
	tb.Helper()
	for p, want := range src {
		got := dst[p]
		seen := map[string]bool{}
		next := 0
		for _, r := range got {
			id := seq(r)
			if seen[id] {
				dups++
				continue
			}
			seen[id] = true
			if next >= len(want) {
				tb.Errorf("partition %d: unexpected record seq %s after the end of the source", p, id)
				continue
			}
			w := want[next]
			if seq(w) != id {
				tb.Errorf("partition %d: record %d is seq %s, want seq %s (order or loss)", p, next, id, seq(w))
				return dups, len(want) - next
			}
			if !bytes.Equal(w.Key, r.Key) || (w.Key == nil) != (r.Key == nil) || !bytes.Equal(w.Value, r.Value) ||
				!w.Timestamp.Equal(r.Timestamp) || !sameHeaders(w.Headers, withoutProvenance(r.Headers)) || r.Partition != w.Partition {
				tb.Errorf("partition %d seq %s: copy differs: key %q/%q ts %v/%v headers %v/%v", p, id, w.Key, r.Key, w.Timestamp, r.Timestamp, w.Headers, r.Headers)
			}
			next++
		}
		missing += len(want) - next
	}
	return dups, missing
}

func seq(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == "seq" {
			return string(h.Value)
		}
	}
	return "?"
}

// withoutProvenance drops the provenance header Fjord adds to copies under
// IdentityReplicationPolicy (checked by provenance_test.go).
func withoutProvenance(h []kgo.RecordHeader) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, 0, len(h))
	for _, x := range h {
		if x.Key != ProvenanceHeader {
			out = append(out, x)
		}
	}
	return out
}

func sameHeaders(a, b []kgo.RecordHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

// waitCopied waits until dst holds every record of src for each topic pair, and returns the
// duplicates found.
func waitCopied(tb testing.TB, e *env, pairs map[string]string, committed bool, timeout time.Duration) int {
	tb.Helper()
	srcAdm := kadm.NewClient(client(tb, e.srcAddrs))
	tgtAdm := kadm.NewClient(client(tb, e.tgtAddrs))
	var srcTopics, dstTopics []string
	for s, d := range pairs {
		srcTopics, dstTopics = append(srcTopics, s), append(dstTopics, d)
	}
	want := endOffsets(tb, srcAdm, srcTopics...)
	waitFor(tb, timeout, fmt.Sprintf("%d records on the target", want), func() bool {
		return endOffsets(tb, tgtAdm, dstTopics...) >= want
	})
	dups := 0
	deadline := time.Now().Add(timeout)
	for s, d := range pairs {
		src := readAll(tb, e.srcAddrs, s, false)
		for {
			sub := &quietTB{TB: tb}
			n, missing := compareCopy(sub, src, readAll(tb, e.tgtAddrs, d, committed))
			if missing == 0 || time.Now().After(deadline) {
				n, missing = compareCopy(tb, src, readAll(tb, e.tgtAddrs, d, committed))
				if missing > 0 {
					tb.Fatalf("%s → %s: %d records missing", s, d, missing)
				}
				dups += n
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return dups
}

// quietTB swallows errors so a comparison can be retried while replication catches up.
type quietTB struct{ testing.TB }

func (q *quietTB) Errorf(string, ...any) {}
func (q *quietTB) Helper()               {}
