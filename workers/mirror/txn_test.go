package mirror

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnCommitsWhenCaughtUp: with a commit interval of an hour, a transactional task still
// commits as soon as it has copied everything there is — records become visible to
// read_committed consumers without waiting for the interval — both when the source partitions
// end with their last record (the fetch reached the end) and when they end with transaction
// markers of a transactional source producer (the fetch of the last marker reached the end).
func TestTxnCommitsWhenCaughtUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	createTopic(t, e.srcAddrs, "trickle", 3)
	opts := SourceOptions{
		Config:        e.config(t, map[string]string{"exactly.once.support": "required"}),
		ConnectorName: "caught-up", TaskCount: 1, Transactional: true, TransactionalID: "fjord-caught-up-0",
		CommitInterval: time.Hour,
	}
	rt := startTask(t, opts, false)

	produceN(t, producer(t, e.srcAddrs), "trickle", 3, 0, 600, 100)
	waitCommitted(t, e, "trickle", "source.trickle", 600)

	txp := client(t, e.srcAddrs, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID("trickle-source"))
	for i := range 3 {
		if err := txp.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produceN(t, txp, "trickle", 3, 600+i*90, 90, 100)
		if err := txp.EndTransaction(context.Background(), kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	waitCommitted(t, e, "trickle", "source.trickle", 870)
	if err := rt.stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// waitCommitted waits until want records of src are committed on dst (read read_committed up to
// its high watermark, which waits for an open transaction below it to end) and checks them
// against the source: each once, in order, identical.
func waitCommitted(t *testing.T, e *env, src, dst string, want int) {
	t.Helper()
	count := func(m map[int32][]*kgo.Record) int {
		n := 0
		for _, recs := range m {
			n += len(recs)
		}
		return n
	}
	// readAll fails on a missing topic: wait for the task to create dst and write to it first.
	tgtAdm := kadm.NewClient(client(t, e.tgtAddrs))
	waitFor(t, 30*time.Second, dst+" on the target", func() bool { return endOffsets(t, tgtAdm, dst) > 0 })
	waitFor(t, 30*time.Second, fmt.Sprintf("%d committed records on %s", want, dst), func() bool {
		return count(readAll(t, e.tgtAddrs, dst, true)) >= want
	})
	srcRecs := readAll(t, e.srcAddrs, src, true)
	if n := count(srcRecs); n != want {
		t.Fatalf("the source holds %d records, want %d", n, want)
	}
	if dups, missing := compareCopy(t, srcRecs, readAll(t, e.tgtAddrs, dst, true)); dups != 0 || missing != 0 {
		t.Fatalf("%s → %s read_committed: %d duplicates, %d missing", src, dst, dups, missing)
	}
}
