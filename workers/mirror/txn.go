package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// runTxn is the exactly-once loop. Each round:
//
//  1. poll and produce (BeginTransaction first) until the round ends: CommitInterval after its
//     first record at the latest; earlier, once the round is at least quietTime old, when the
//     source has nothing more right now — the last fetch of every partition reached its end,
//     or a poll waited quietTime for nothing. The first poll of a round waits at most
//     CommitInterval, so pending progress (a latest start made concrete) is still committed
//     when the source is idle;
//  2. Flush: every record is acknowledged, which yields the downstream offsets;
//  3. write the round's offset syncs (non-transactional client) and the progress records of
//     the touched partitions (in the transaction) at once, and wait for both, so a committed
//     offset never lacks its sync (a sync for records that then abort only points at offsets
//     read_committed consumers skip);
//  4. EndTransaction(commit).
//
// Ending a round as soon as the source is drained is Kafka Connect's transaction.boundary=poll
// under load it cannot keep up with: a task that keeps up commits every quietTime or so (its
// records become visible to read_committed consumers with that latency), a task with a backlog
// commits every CommitInterval (the per-round cost — the producer drains, three round trips —
// is then spread over an interval's worth of records), and the last records of a backlog are
// committed at once instead of waiting for the interval. While a round commits, franz-go keeps
// the next fetch buffered, so the next round starts producing at once.
//
// Any failure returns an error: the task stops and its restart resumes from the last
// committed progress, so an aborted round is simply replicated again. A fenced producer (a
// newer task with our transactional id) ends the same way, which is what a zombie must do.
func (t *SourceTask) runTxn(ctx, prodCtx context.Context) error {
	interval := t.opts.CommitInterval
	quiet := quietTime(interval)
	for {
		if ctx.Err() != nil || t.failed() {
			return nil // the last round was committed (or Run reports the fatal error)
		}
		if err := t.tgt.BeginTransaction(); err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		var first time.Time // the round's first record
		behind := map[tp]bool{}
		for {
			wait := interval
			if !first.IsZero() {
				age := time.Since(first)
				if age >= interval {
					break
				}
				wait = min(interval-age, quiet)
				if len(behind) == 0 {
					wait = max(quiet-age, time.Millisecond)
				}
			}
			pctx, cancel := context.WithTimeout(ctx, wait)
			fetches := t.src.PollRecords(pctx, t.cfg.MaxPollRecords)
			cancel()
			t.handleFetchErrors(fetches)
			t.produceFetches(prodCtx, fetches)
			noteEnds(fetches, behind)
			// Records count even when none of them is copied (loop prevention skips some, and
			// transaction markers are never copied): their progress is committed like the
			// others', with the position sync of a partition that ends in them.
			got := fetches.NumRecords()
			if got > 0 && first.IsZero() {
				first = time.Now()
			}
			if ctx.Err() != nil || t.failed() || got == 0 {
				break // stopping, failing, idle or quiet: commit what there is (pending progress too)
			}
			if len(behind) == 0 && time.Since(first) >= quiet {
				break // caught up
			}
		}
		if t.crashOnStop.Load() && ctx.Err() != nil {
			return nil // simulated crash: leave the transaction open for the next task to fence
		}
		if err := t.commitRound(prodCtx); err != nil {
			return err
		}
	}
}

// quietTime is how long a transaction lasts at least when the source has nothing more to
// copy, and how long a poll waits for more before the round commits: a tenth of the commit
// interval, at most 25 ms. It bounds the commits of a task that keeps up to about 40 a second.
func quietTime(interval time.Duration) time.Duration {
	return max(min(interval/10, 25*time.Millisecond), time.Millisecond)
}

// noteEnds records in behind the partitions whose fetch stopped short of the partition's end
// (the last stable offset: the source is read read_committed) and forgets those that reached
// it. Transaction markers are fetched as records (control records), so a partition that ends
// in markers has reached its end once its last marker was fetched.
func noteEnds(fetches kgo.Fetches, behind map[tp]bool) {
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Err != nil {
			return
		}
		end := p.HighWatermark
		if p.LastStableOffset >= 0 && p.LastStableOffset < end {
			end = p.LastStableOffset
		}
		k := tp{p.Topic, p.Partition}
		if n := len(p.Records); n == 0 || p.Records[n-1].Offset+1 >= end {
			delete(behind, k)
		} else {
			behind[k] = true
		}
	})
}

func (t *SourceTask) failed() bool {
	select {
	case <-t.fatal:
		return true
	default:
		return false
	}
}

// fullWalkRounds: every so many transaction rounds (10 s at the default 250 ms), a commit
// looks at every owned partition's progress, not only at the partitions marked dirty.
const fullWalkRounds = 40

// commitRound finishes the open transaction: flush, syncs and progress, commit. With nothing
// produced and no progress pending it just ends the (empty) transaction.
func (t *SourceTask) commitRound(prodCtx context.Context) error {
	abort := func(cause error) error {
		actx, cancel := context.WithTimeout(context.Background(), t.opts.StopTimeout)
		defer cancel()
		if err := t.tgt.AbortBufferedRecords(actx); err != nil {
			t.log.Warn("abort buffered records", "error", err)
		}
		if err := t.tgt.EndTransaction(actx, kgo.TryAbort); err != nil {
			t.log.Warn("abort transaction", "error", err)
		}
		return cause
	}
	fctx, cancel := context.WithTimeout(prodCtx, t.opts.StopTimeout+time.Minute)
	defer cancel()
	if err := t.tgt.Flush(fctx); err != nil {
		return abort(fmt.Errorf("flush transaction: %w", err))
	}
	t.txnMu.Lock()
	syncs, txnErr, dirty := t.txnSyncs, t.txnErr, t.txnDirty
	t.txnSyncs, t.txnDirty = nil, nil
	t.txnRound++
	full := t.txnRound%fullWalkRounds == 0
	t.txnMu.Unlock()
	if full {
		dirty = t.partitions()
	}
	if txnErr != nil {
		return abort(fmt.Errorf("produce in transaction: %w", txnErr))
	}
	// The syncs (another client, often another cluster) and the progress records are written
	// at once; the commit waits for both.
	var syncDone chan error
	if len(syncs) > 0 {
		for i := range syncs {
			s := syncs[i]
			t.syncCl.Produce(fctx, syncRecord(s), func(_ *kgo.Record, err error) {
				if err != nil {
					t.txnMu.Lock()
					if t.txnErr == nil {
						t.txnErr = fmt.Errorf("write offset syncs to %s: %w", t.syncTopic, err)
					}
					t.txnMu.Unlock()
				}
			})
		}
		syncDone = make(chan error, 1)
		go func() { syncDone <- t.syncCl.Flush(fctx) }()
	}
	type done struct {
		ps  *partState
		off int64
	}
	var written []done
	seen := make(map[*partState]bool, len(dirty))
	for _, ps := range dirty {
		if seen[ps] {
			continue
		}
		seen[ps] = true
		ps.mu.Lock()
		off, touched := ps.acked, ps.inTxn
		ps.inTxn = false
		change := off >= 0 && (touched || off != ps.written)
		ps.mu.Unlock()
		if !change {
			continue
		}
		t.tgt.Produce(fctx, t.progressRecord(ps.src, off), func(_ *kgo.Record, err error) {
			if err != nil {
				t.txnMu.Lock()
				if t.txnErr == nil {
					t.txnErr = fmt.Errorf("write progress: %w", err)
				}
				t.txnMu.Unlock()
			}
		})
		written = append(written, done{ps, off})
	}
	flushErr := t.tgt.Flush(fctx)
	if syncDone != nil {
		if err := <-syncDone; err != nil {
			return abort(fmt.Errorf("flush offset syncs: %w", err))
		}
	}
	if flushErr != nil {
		return abort(fmt.Errorf("flush progress: %w", flushErr))
	}
	t.txnMu.Lock()
	txnErr = t.txnErr
	t.txnMu.Unlock()
	if txnErr != nil {
		return abort(txnErr)
	}
	if err := t.tgt.EndTransaction(fctx, kgo.TryCommit); err != nil {
		return abort(fmt.Errorf("commit transaction: %w", err))
	}
	for _, d := range written {
		d.ps.mu.Lock()
		d.ps.written = d.off
		d.ps.mu.Unlock()
	}
	return nil
}
