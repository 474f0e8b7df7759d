package checkpoint

import (
	"sort"

	"github.com/fjord-io/fjord/workers/mm2/records"
)

// DefaultMaxSyncsPerPartition is how many offset syncs a Task keeps per source partition by
// default: groups committed further back than the oldest kept sync are not translated.
const DefaultMaxSyncsPerPartition = 4096

// topicPartition names a partition.
type topicPartition struct {
	topic     string
	partition int32
}

// offsetPair is an offset sync without its partition, with its kind (ENHANCED mode).
type offsetPair struct {
	up, down int64
	kind     records.SyncKind
}

// syncLog is the in-memory history of offset syncs per source partition, as the translation
// rule in doc.go needs it: in write order, strictly increasing in upstream offset (a new sync
// removes every older one that does not start before it), newest max entries. It also keeps
// the source engine's recorded progress per partition, the other proof of how far
// replication got.
type syncLog struct {
	max      int
	parts    map[topicPartition][]offsetPair
	progress map[topicPartition]int64
}

func newSyncLog(max int) *syncLog {
	return &syncLog{max: max, parts: make(map[topicPartition][]offsetPair), progress: make(map[topicPartition]int64)}
}

// setProgress records that the source engine has replicated source partition
// topic/partition through upstream offset last (a SourceOffset record); a negative last
// forgets it (a tombstone).
func (l *syncLog) setProgress(topic string, partition int32, last int64) {
	tp := topicPartition{topic, partition}
	if last < 0 {
		delete(l.progress, tp)
		return
	}
	l.progress[tp] = last
}

// add records a sync read from the offset-syncs topic, in topic order.
func (l *syncLog) add(s records.OffsetSync, kind records.SyncKind) {
	tp := topicPartition{s.Topic, s.Partition}
	list := l.parts[tp]
	if n := len(list); n > 0 && list[n-1].up == s.UpstreamOffset && list[n-1].down == s.DownstreamOffset &&
		kind == records.SyncRunEnd && list[n-1].kind == records.SyncRunStart {
		kind = records.SyncRunOne // the end of a run of one record, whose start was synced just before
	}
	// A sync supersedes every earlier one that starts at or after it: for any X ≥ s.up, s is
	// newer and starts no later, so those are never again "the newest sync with up ≤ X".
	i := sort.Search(len(list), func(i int) bool { return list[i].up >= s.UpstreamOffset })
	list = append(list[:i], offsetPair{s.UpstreamOffset, s.DownstreamOffset, kind})
	if len(list) > l.max {
		list = append(list[:0], list[len(list)-l.max:]...)
	}
	l.parts[tp] = list
}

// translate returns the downstream offset for committed upstream offset x of the source
// partition topic/partition, or false when x cannot be translated exactly (yet).
func (l *syncLog) translate(topic string, partition int32, x int64) (int64, bool) {
	tp := topicPartition{topic, partition}
	list := l.parts[tp]
	if len(list) == 0 || x < 0 {
		return 0, false
	}
	// through is the last upstream offset replication provably reached with every sync up to
	// it read: the newest sync, or the engine's progress (read before the syncs).
	through := list[len(list)-1].up
	if p, ok := l.progress[tp]; ok {
		through = max(through, p)
	}
	if x > through+1 {
		return 0, false // a sync for a record before x may not be written yet
	}
	// i is the first sync starting after x; the one before it is S.
	i := sort.Search(len(list), func(i int) bool { return list[i].up > x })
	if i == 0 {
		return 0, false // older than the history kept
	}
	s := list[i-1]
	down := s.down + (x - s.up)
	if i < len(list) {
		down = min(down, list[i].down)
	}
	return down, true
}

// len is the number of syncs kept for a partition (for tests).
func (l *syncLog) len(topic string, partition int32) int {
	return len(l.parts[topicPartition{topic, partition}])
}
