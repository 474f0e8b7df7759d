package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// runTxn is the exactly-once loop. Each round:
//
//  1. poll until CommitInterval has passed since the round's first record (or ctx ends);
//     the first poll of a round waits at most CommitInterval, so pending progress (a latest
//     start made concrete) is still committed when the source is idle;
//  2. BeginTransaction; produce the records (done as they are polled);
//  3. Flush: every record is acknowledged, which yields the downstream offsets;
//  4. write the round's offset syncs (non-transactional client) and wait for them, so a
//     committed offset never lacks its sync (a sync for records that then abort only points
//     at offsets read_committed consumers skip);
//  5. produce the progress records of the touched partitions, Flush, EndTransaction(commit).
//
// Any failure returns an error: the task stops and its restart resumes from the last
// committed progress, so an aborted round is simply replicated again. A fenced producer (a
// newer task with our transactional id) ends the same way, which is what a zombie must do.
func (t *SourceTask) runTxn(ctx, prodCtx context.Context) error {
	for {
		if ctx.Err() != nil || t.failed() {
			return nil // the last round was committed (or Run reports the fatal error)
		}
		if err := t.tgt.BeginTransaction(); err != nil {
			return fmt.Errorf("begin transaction: %w", err)
		}
		var deadline time.Time
		for {
			wait := t.opts.CommitInterval
			if !deadline.IsZero() {
				if wait = time.Until(deadline); wait <= 0 {
					break
				}
			}
			pctx, cancel := context.WithTimeout(ctx, wait)
			fetches := t.src.PollRecords(pctx, t.cfg.MaxPollRecords)
			cancel()
			t.handleFetchErrors(fetches)
			got := t.produceFetches(prodCtx, fetches)
			if got > 0 && deadline.IsZero() {
				deadline = time.Now().Add(t.opts.CommitInterval)
			}
			if ctx.Err() != nil || t.failed() || (got == 0 && deadline.IsZero()) {
				break // stopping, failing, or idle: commit what there is (pending progress too)
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

func (t *SourceTask) failed() bool {
	select {
	case <-t.fatal:
		return true
	default:
		return false
	}
}

// commitRound finishes the open transaction: flush, syncs, progress, commit. With nothing
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
	syncs, txnErr := t.txnSyncs, t.txnErr
	t.txnSyncs = nil
	t.txnMu.Unlock()
	if txnErr != nil {
		return abort(fmt.Errorf("produce in transaction: %w", txnErr))
	}
	if len(syncs) > 0 {
		for i := range syncs {
			s := syncs[i]
			t.syncCl.Produce(fctx, &kgo.Record{Key: s.Key(), Value: s.Value(), Partition: 0}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.txnMu.Lock()
					if t.txnErr == nil {
						t.txnErr = err
					}
					t.txnMu.Unlock()
				}
			})
		}
		if err := t.syncCl.Flush(fctx); err != nil {
			return abort(fmt.Errorf("flush offset syncs: %w", err))
		}
		t.txnMu.Lock()
		txnErr = t.txnErr
		t.txnMu.Unlock()
		if txnErr != nil {
			return abort(fmt.Errorf("write offset syncs to %s: %w", t.syncTopic, txnErr))
		}
	}
	type done struct {
		ps  *partState
		off int64
	}
	var written []done
	for _, ps := range t.partitions() {
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
					t.txnErr = err
				}
				t.txnMu.Unlock()
			}
		})
		written = append(written, done{ps, off})
	}
	if err := t.tgt.Flush(fctx); err != nil {
		return abort(fmt.Errorf("flush progress: %w", err))
	}
	t.txnMu.Lock()
	txnErr = t.txnErr
	t.txnMu.Unlock()
	if txnErr != nil {
		return abort(fmt.Errorf("write progress: %w", txnErr))
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
