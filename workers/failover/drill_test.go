package failover

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// patience bounds every wait of a test, so that a broken test fails instead of hanging.
const patience = defaultPatience

// TestFailoverDrill moves consumer groups from the source to the target and checks, per
// group and partition, that a member of the group on the target reads first exactly the
// record after the last one the group consumed (committed) on the source: nothing skipped,
// nothing read again. Groups commit through a real group consumer and through the admin API
// at random points (also in the middle of runs without offset syncs, on aborted records and
// transaction markers of the source, and at the end of partitions), while replication runs
// and records keep arriving.
func TestFailoverDrill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		eos     bool
		restart bool
		lagMax  int64
	}{
		{name: "at-least-once", eos: false},
		{name: "exactly-once", eos: true},
		// The checkpoint task is stopped in the middle of its work and the source task is
		// stopped, then both restart — the source as two tasks, so partitions move.
		{name: "at-least-once/restart", eos: false, restart: true},
		{name: "exactly-once/restart", eos: true, restart: true},
		// offset.lag.max far above the partition sizes: syncs only where the delta changes,
		// so groups commit inside long runs no sync names.
		{name: "at-least-once/unsynced-runs", eos: false, lagMax: 1_000_000},
		{name: "exactly-once/unsynced-runs", eos: true, lagMax: 1_000_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := Run(t.Context(), testOptions(t, Options{
				Transactional: tc.eos, Restart: tc.restart, LagMax: tc.lagMax, Seed: uint64(len(tc.name)),
				Partitions: 6, Records: 3_000, // 300 records per partition in the first batch
			}))
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, res)
		})
	}
}

// TestFailoverDrillIdleEnd moves groups that committed at the very end of source partitions
// ending in transaction markers — past the last marker, as a Java read_committed consumer
// does — while nothing more is produced: the target groups must get the translated end
// without waiting for a new record, and after that a member of each group on the target
// reads first the record produced next. One partition ends in an aborted transaction, the
// others in a committed one. With restart, the source tasks stop after the first groups were
// synced, more transactions end the partitions, and two new tasks (partitions move) resume
// past the markers their predecessor settled.
func TestFailoverDrillIdleEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		eos, restart bool
	}{
		{name: "at-least-once", eos: false},
		{name: "exactly-once", eos: true},
		{name: "at-least-once/restart", eos: false, restart: true},
		{name: "exactly-once/restart", eos: true, restart: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			d := startDrill(t, Options{Transactional: tc.eos, Partitions: 3, Seed: uint64(len(tc.name))})
			must(t, d.producePlain(ctx, 50))
			endInTransactions(t, d)
			must(t, d.startSources(ctx, 1))
			must(t, d.startCheckpoint(ctx))
			must(t, d.commitAtEnd(ctx, "idle-end-1"))
			must(t, d.waitSynced(ctx))
			checkAtCopyEnd(t, d, "idle-end-1")
			if tc.restart {
				must(t, d.stopSources())
				must(t, d.producePlain(ctx, 5))
				endInTransactions(t, d) // copied only after the restart
				must(t, d.startSources(ctx, 2))
				must(t, d.commitAtEnd(ctx, "idle-end-2"))
				must(t, d.waitSynced(ctx))
				checkAtCopyEnd(t, d, "idle-end-2")
			}
			must(t, d.producePlain(ctx, 1)) // the record each group must read first on the target
			res, err := d.verify(ctx)
			must(t, err)
			checkResult(t, res)
		})
	}
}

// checkResult fails t on every mismatch of a drill, and unless it checked group partitions.
func checkResult(t *testing.T, res Result) {
	t.Helper()
	for _, m := range res.Mismatches {
		t.Error(m)
	}
	t.Logf("%d group partitions checked: %d records skipped, %d re-delivered", res.GroupPartitions, res.Skipped, res.Redelivered)
	if res.Skipped+res.Redelivered != 0 || res.GroupPartitions == 0 {
		t.Errorf("translation error: %d records skipped, %d re-delivered over %d group partitions", res.Skipped, res.Redelivered, res.GroupPartitions)
	}
}

// endInTransactions ends every partition with a committed transaction, and partition 0 with
// an aborted one after it: the partitions end in a commit marker, or in aborted records and an
// abort marker.
func endInTransactions(t *testing.T, d *drill) {
	t.Helper()
	for p := range d.partitions {
		must(t, d.transaction(t.Context(), p, 2, true))
	}
	must(t, d.transaction(t.Context(), 0, 2, false))
}

// checkAtCopyEnd checks that group's committed offset on the target is, on every partition it
// committed on the source, the end of the copy: after every committed record of the target
// partition, and at most its high watermark.
func checkAtCopyEnd(t *testing.T, d *drill, group string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	ends, err := d.tgtAdm.ListEndOffsets(ctx, tgtTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	copies := readTopic(t, d.tgt, tgtTopic, true)
	at := d.targetOffsets(ctx)[group]
	for p := range d.commits[group] {
		end, _ := ends.Lookup(tgtTopic, p)
		last := int64(-1)
		if rs := copies[p]; len(rs) > 0 {
			last = rs[len(rs)-1].Offset
		}
		if at[p] <= last || at[p] > end.Offset {
			t.Errorf("group %s partition %d: target offset %d, want the end of the copy: after its last record %d, at most its end %d", group, p, at[p], last, end.Offset)
		}
	}
}

func mode(eos bool) string {
	if eos {
		return "exactly-once"
	}
	return "at-least-once"
}

// testOptions are opts for a drill of t: the tasks log to t, and checkpoints are decoded with
// the decoder written from MM2's schema (mm2schema_test.go), not with Fjord's own.
func testOptions(t *testing.T, opts Options) Options {
	opts.Logger = testLogger(t)
	opts.decodeCheckpoint = decodeCheckpointBySchema
	return opts
}

// startDrill starts a drill (testOptions) that stops when t ends; a task that failed fails t.
func startDrill(t *testing.T, opts Options) *drill {
	t.Helper()
	d, err := newDrill(t.Context(), testOptions(t, opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newCluster(t testing.TB) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// newTestClient is a client of the cluster at addrs that is closed when t ends.
func newTestClient(t testing.TB, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := newClient(addrs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// startTask runs f until t ends; an error it returns fails t.
func startTask(t testing.TB, name string, f func(context.Context) error) {
	r := start(context.Background(), name, f)
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Error(err)
		}
	})
}

// readTopic reads topic from the start to its current end, per partition (data records only).
func readTopic(t testing.TB, addrs []string, topic string, committed bool) map[int32][]*kgo.Record {
	t.Helper()
	out, err := readPartitions(context.Background(), patience, addrs, topic, committed)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testLogger(t testing.TB) *slog.Logger {
	w := &tbWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// tbWriter sends log lines to the test log until the test ends.
type tbWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}
