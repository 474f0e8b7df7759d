package mirror

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/mm2/records"
)

// Loop prevention for replication policies that keep topic names (IdentityReplicationPolicy).
//
// MM2 prevents cycles by name: a topic replicated from cluster A is called A.<topic>, and
// IsCycle refuses to send it back to A. With identical names that cannot work, so in active-
// active pairs (A→B and B→A on the same topic T) every record would bounce forever. Fjord marks
// every copy it writes with a provenance header and does not copy a record back to a cluster
// it already came from:
//
//   - header key [ProvenanceHeader]; value: the identities of the clusters the record was
//     replicated from, oldest first, joined with ',' (an existing value gets the source's
//     identity appended, so A→B→C yields "A,B" on C);
//   - a record whose provenance lists the target's identity is not copied (it came from there);
//   - a cluster's identity is its cluster ID (Metadata); when the source and the target report
//     the same ID, or none (two test clusters left at a default such as kfake's "kfake"),
//     both sides use their cluster aliases instead and a warning is logged once at start.
//     Tasks replicating in opposite directions must then use the same aliases for the same
//     clusters.
//
// Heartbeats topics keep MM2's naming (IsCycle applies to them); they carry the header too.
// Policies that rename topics (DefaultReplicationPolicy) leave records untouched: MM2's naming
// already prevents cycles and copies stay byte-identical, as MM2's.
//
// # Skipped records, progress and offset syncs
//
// A skipped record is settled — recorded progress may pass it — only once every record
// produced before it is acknowledged: it is attached to the last record in flight (the
// flight's "through"), whose acknowledgement settles it, or, with nothing in flight, it is
// settled at once. Progress thus never passes an unacknowledged record and never stalls
// behind skipped ones, even in a partition where every record is skipped.
//
// Transaction markers of the source (control records; aborted records lie before their abort
// marker) are settled the same way: they are never copied, and a partition that ends in them
// is settled through its last marker as soon as a fetch returns it.
//
// Translation stays exact (workers/checkpoint/doc.go). Skipped records are a gap on the
// source side, so the next copied record has a new delta and gets an offset sync (C2); any
// translated position in the gap lies between the last copy before it and the first copy
// after it, and only records that are not copies of this source (the target's own records)
// can lie there. When progress is about to pass skipped records with no copied record after
// them — the tail of a partition — the task first writes the sync (s+1, n), s the last
// skipped offset and n the target position after the last copy (C3's "(p, d+1)" case), so a
// group that committed s+1 resumes where the next copy will land; recorded progress stays
// before the skipped records until that sync is acknowledged (transactional mode: both are
// written by the same round). A partition whose first records in the task's lifetime are
// skipped has no copy to take n from: n is then the target partition's end offset, listed
// before anything of the partition is produced (every later copy lands at or after it).
// While that listing fails the skipped records stay unsettled and it is retried at the next
// poll.

// ProvenanceHeader is the record header in which Fjord lists the clusters a record was
// replicated from, when the replication policy keeps topic names.
const ProvenanceHeader = "fjord.provenance"

// provenance is a task's loop-prevention state; the zero value is off.
type provenance struct {
	on bool
	// source is appended to each copy's provenance; records listing target are skipped.
	source, target string
}

// keepsTopicNames reports whether policy names remote topics like their source topics, so that
// names cannot tell where records came from.
func keepsTopicNames(p mm2.ReplicationPolicy) bool {
	return p.FormatRemoteTopic("fjord-probe-alias", "fjord-probe-topic") == "fjord-probe-topic"
}

// clusterIdentities picks the identities of the source and target clusters from their
// cluster IDs, falling back to the aliases when the IDs cannot tell the clusters apart.
func clusterIdentities(srcID, tgtID, srcAlias, tgtAlias string) (src, tgt string, fallback bool) {
	if srcID == "" || tgtID == "" || srcID == tgtID {
		return srcAlias, tgtAlias, true
	}
	return srcID, tgtID, false
}

// identities are the source cluster's and tgt's identities for loop prevention: their cluster
// ids, or their aliases when both report the same id (or none), which the log says of what.
func (t *SourceTask) identities(ctx context.Context, tgt *kadm.Client, what string) (srcIdent, tgtIdent string, err error) {
	var srcID, tgtID string
	if err := retry(ctx, t.log, "describe clusters", func() error {
		sm, err := t.srcAdm.BrokerMetadata(ctx)
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		tm, err := tgt.BrokerMetadata(ctx)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		srcID, tgtID = sm.Cluster, tm.Cluster
		return nil
	}); err != nil {
		return "", "", err
	}
	srcIdent, tgtIdent, fallback := clusterIdentities(srcID, tgtID, t.cfg.SourceAlias, t.cfg.TargetAlias)
	if fallback {
		t.log.Warn("source and target clusters report the same cluster id (or none); "+what+" use the cluster aliases instead",
			"source_cluster_id", srcID, "target_cluster_id", tgtID)
	}
	return srcIdent, tgtIdent, nil
}

// resolveProvenance turns loop prevention on for policies that keep topic names.
func (t *SourceTask) resolveProvenance(ctx context.Context) error {
	if !keepsTopicNames(t.policy) {
		return nil
	}
	src, tgt, err := t.identities(ctx, t.rtAdm, "provenance headers") // where the copies land
	if err != nil {
		return err
	}
	t.prov = provenance{on: true, source: src, target: tgt}
	t.log.Info("loop prevention by provenance header", "header", ProvenanceHeader, "source_identity", src, "target_identity", tgt)
	return nil
}

// stamp returns the headers of the copy of a record with headers h, or false when the record
// must not be copied because it came from the target. h is not modified.
func (p provenance) stamp(h []kgo.RecordHeader) ([]kgo.RecordHeader, bool) {
	last := -1
	for i := range h {
		if h[i].Key == ProvenanceHeader {
			if listsIdentity(h[i].Value, p.target) {
				return nil, false
			}
			last = i
		}
	}
	if last < 0 {
		out := make([]kgo.RecordHeader, len(h), len(h)+1)
		copy(out, h)
		return append(out, kgo.RecordHeader{Key: ProvenanceHeader, Value: []byte(p.source)}), true
	}
	out := slices.Clone(h)
	v := h[last].Value
	nv := make([]byte, 0, len(v)+1+len(p.source))
	if len(v) > 0 {
		nv = append(append(nv, v...), ',')
	}
	out[last].Value = append(nv, p.source...)
	return out, true
}

// listsIdentity reports whether the ','-separated list v holds id.
func listsIdentity(v []byte, id string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		if i < 0 {
			return string(v) == id
		}
		if string(v[:i]) == id {
			return true
		}
		v = v[i+1:]
	}
	return false
}

// settleSkippedLocked lets progress pass the records that are not copied (skipped records,
// transaction markers) through upstream offset off, with nothing in flight before them. It
// returns the offset sync to emit first (the caller emits it after releasing ps.mu, still
// holding ps.syncMu), or held when the target position is not known yet (see anchorHeld).
// Callers hold ps.syncMu and ps.mu.
func (t *SourceTask) settleSkippedLocked(ps *partState, off int64) (syncs []taggedSync, held bool) {
	if t.syncCl == nil {
		ps.acked = off
		return nil, false
	}
	if ps.nextDown < 0 {
		ps.skipHeld = off
		return nil, true
	}
	up := off + 1
	// Until the sync is acknowledged, progress stays before the records it passes (hold): with
	// progress among them and no sync, a group there would translate with the delta of the
	// last copy, past the position of the next one.
	hold := ps.acked + 1
	kind := records.SyncUntagged
	if t.enhanced {
		syncs = t.gapSyncsLocked(ps, syncs, up, ps.nextDown)
		kind = records.SyncPosition
	}
	syncs = t.addSyncLocked(ps, syncs, up, ps.nextDown, kind, hold)
	ps.acked = off
	return syncs, false
}

// anchorHeld settles the skipped records of partitions that had nothing copied yet in this
// task's lifetime, taking the target partition's end offset as the position of the next copy.
// Run's goroutine calls it after producing a poll's records: nothing of those partitions is in
// flight, so every later copy lands at or after the end offset listed now. On failure the
// partitions stay held and the next poll retries.
func (t *SourceTask) anchorHeld(ctx context.Context) {
	var topics []string
	for ps := range t.held {
		ps.mu.Lock()
		settled := ps.skipHeld < 0 // a record copied since settles them
		ps.mu.Unlock()
		if settled {
			delete(t.held, ps)
			continue
		}
		if !slices.Contains(topics, ps.target.topic) {
			topics = append(topics, ps.target.topic)
		}
	}
	if len(topics) == 0 {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ends, err := t.rtAdm.ListEndOffsets(lctx, topics...)
	if err != nil {
		t.log.Warn("list target end offsets for skipped records; retrying at the next poll", "error", err)
		return
	}
	for ps := range t.held {
		lo, ok := ends.Lookup(ps.target.topic, ps.target.partition)
		if !ok || lo.Err != nil {
			continue
		}
		ps.syncMu.Lock()
		ps.mu.Lock()
		var syncs []taggedSync
		if ps.skipHeld >= 0 && ps.head >= len(ps.inflight) && ps.nextDown < 0 {
			ps.nextDown = lo.Offset
			syncs, _ = t.settleSkippedLocked(ps, ps.skipHeld)
		}
		ps.skipHeld = -1
		ps.mu.Unlock()
		for _, s := range syncs {
			t.emitSync(ps, s)
		}
		ps.syncMu.Unlock()
		t.markDirty(ps)
		delete(t.held, ps)
	}
}
