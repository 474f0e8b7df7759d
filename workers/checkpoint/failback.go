package checkpoint

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2/records"
)

// peerFollowers read the opposite replicator's progress (on the source) and offset syncs (on
// the target) in the ENHANCED mode; both nil otherwise.
type peerFollowers struct {
	progress, syncs *follower
}

// applyPeerSync adds a record of the opposite replicator's offset-syncs topic to its history.
func (t *Task) applyPeerSync(rec *kgo.Record) {
	s, err := records.DecodeOffsetSync(rec.Key, rec.Value)
	if err != nil {
		t.log.Warn("skipping undecodable offset sync of the opposite replicator", "partition", rec.Partition, "offset", rec.Offset, "error", err)
		return
	}
	t.peer.add(s, syncKind(rec))
}

// applyPeerProgress records a progress record of the opposite replicator (MirrorSource tasks
// replicating from TargetAlias).
func (t *Task) applyPeerProgress(rec *kgo.Record) {
	so, err := records.DecodeSourceOffset(rec.Key, rec.Value)
	tombstone := errors.Is(err, records.ErrTombstone)
	if err != nil && !tombstone {
		return
	}
	if so.Cluster != t.opts.TargetAlias || (t.opts.PeerConnector != "" && so.Connector != t.opts.PeerConnector) {
		return
	}
	if tombstone {
		so.Offset = -1
	}
	t.peer.setProgress(so.Topic, so.Partition, so.Offset)
}

// translate returns the target offset for committed offset x of source partition
// topic/partition (target names the target topic), or false when it cannot be translated
// exactly (yet). Without Enhanced, and in the ENHANCED mode for partitions the opposite
// replicator has no history of or whose syncs are not tagged, it is the forward translation
// of doc.go; otherwise the failback translation (doc.go, "Failback").
func (t *Task) translate(topic, target string, partition int32, x int64) (int64, bool) {
	if !t.opts.Enhanced {
		return t.syncs.translate(topic, partition, x)
	}
	peer, peerTagged, peerOK := t.peer.history(target, partition)
	own, ownTagged, ownOK := t.syncs.history(topic, partition)
	if !peerOK || !peerTagged || !ownTagged {
		return t.syncs.translate(topic, partition, x)
	}
	if !ownOK {
		return 0, false
	}
	return failback(own, peer, x)
}

// failback translates committed offset x of the source with the history own of this
// replicator (source → target) and peer of the opposite one (target → source): the first
// target offset at which a record lies that a group positioned at x on the source has not
// consumed there — an original of the target whose copy lies at or after x, or a copy of a
// source record at or after x — skipping the records known to be neither.
func failback(own, peer history, x int64) (int64, bool) {
	// First copy of a source record at or after x.
	mine, frontier, ok := own.forward(x)
	if !ok {
		return 0, false
	}
	if frontier {
		// No such copy yet: the next one lands at mine or later. The target's own records
		// there, which the opposite replicator copied, are not copies of the source.
		mine = peer.skipCopies(mine)
	}
	// First record of the target whose copy lies at or after x.
	theirs, peerFrontier, ok := peer.reverse(x)
	if !ok {
		return 0, false
	}
	if peerFrontier && theirs < mine {
		// The opposite replicator has not read the target that far: what it has not read may
		// be records of the target that the group did not consume. Wait for it.
		return 0, false
	}
	return min(mine, theirs), true
}
