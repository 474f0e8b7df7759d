package mirror

import "github.com/fjord-io/fjord/workers/mm2/records"

// Offset syncs in the ENHANCED offset sync mode (fjord.consumer.group.offset.sync.mode).
//
// A run is a maximal sequence of records copied by one task lifetime with consecutive upstream
// and consecutive downstream offsets. On top of LEGACY's syncs (C1–C3 in workers/checkpoint),
// the task then writes, tagged with records.SyncKindHeader:
//
//   - "start" for the first record of every run (a superset of LEGACY's delta rule: every
//     change of delta starts a run, and so does a gap of the same size on both sides);
//   - "mid" every offset.lag.max records inside a run;
//   - "end" for the last record of a run, as soon as a gap after it is known — the next copy
//     is not adjacent on either side, or records after it are settled without a copy — and
//     before recorded progress passes the first offset after it (the sync holds progress as
//     any other; in transactional mode it is written by the same round);
//   - "position" for the position syncs of C3 (records settled without a copy), and, when the
//     first records a lifetime handles in a partition are not copied, one more at the first of
//     them, so that the history of a lifetime covers every offset it handled.
//
// So the checkpoint tasks know, for every offset a lifetime handled, whether it was copied and
// where (workers/checkpoint/doc.go, C4), which the translation through the opposite
// replicator's history needs.

// copySyncsLocked returns the ENHANCED syncs for the acknowledged copy of upstream offset up
// at downstream offset down. Callers hold ps.syncMu and ps.mu.
func (t *SourceTask) copySyncsLocked(ps *partState, up, down int64) []taggedSync {
	var out []taggedSync
	adjacent := ps.lastU >= 0 && up == ps.lastU+1 && down == ps.lastD+1
	switch {
	case !adjacent:
		out = t.gapSyncsLocked(ps, out, up, down)
		out = t.addSyncLocked(ps, out, up, down, records.SyncRunStart, up)
	case up-ps.syncUp >= t.cfg.OffsetLagMax:
		out = t.addSyncLocked(ps, out, up, down, records.SyncRunMid, up)
	}
	ps.lastU, ps.lastD, ps.runOpen = up, down, true
	return out
}

// gapSyncsLocked appends the syncs that must precede a sync at upstream offset up when a gap
// lies before it: the end of the open run, and the position of the lifetime's first handled
// offset when nothing was synced before (the next copy lands at or after down). Callers hold
// ps.syncMu and ps.mu.
func (t *SourceTask) gapSyncsLocked(ps *partState, out []taggedSync, up, down int64) []taggedSync {
	if ps.runOpen {
		out = t.addSyncLocked(ps, out, ps.lastU, ps.lastD, records.SyncRunEnd, ps.lastU+1)
		ps.runOpen = false
	}
	if !ps.begun && ps.firstUp >= 0 && ps.firstUp < up {
		out = t.addSyncLocked(ps, out, ps.firstUp, down, records.SyncPosition, ps.firstUp)
	}
	return out
}
