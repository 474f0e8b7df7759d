package checkpoint

import (
	"sort"

	"github.com/fjord-io/fjord/workers/mm2/records"
)

// span is a stretch [u, u+n) of source offsets of one partition in a history of ENHANCED
// offset syncs (C4 in doc.go). A copy span was copied to [d, d+n) of the target; a gap span
// was not copied, and the next copy lands at or after d. A copy span that is not exact was cut
// short by a new task lifetime (or a dropped sync) before its end was synced: its offsets
// follow its delta, but some of them may not be copies.
type span struct {
	u, d, n int64
	copy    bool
	exact   bool
}

// history is what a replicator's ENHANCED offset syncs and progress say about one source
// partition: spans covering [spans[0].u, next) without holes, and nextDown, where the copies
// of the offsets from next on land at the earliest.
type history struct {
	spans    []span
	next     int64
	nextDown int64
}

// history builds the history of a source partition. tagged is false when a sync of the
// partition has no kind (MM2 or LEGACY syncs: the history cannot be told apart from the
// records); ok is false when the partition has no sync at all.
func (l *syncLog) history(topic string, partition int32) (h history, tagged, ok bool) {
	tp := topicPartition{topic, partition}
	list := l.parts[tp]
	if len(list) == 0 {
		return history{}, true, false
	}
	open := -1                            // index of the copy span of a run whose end is not known yet
	gapAt, gapDown := int64(-1), int64(0) // a gap that starts at gapAt, up to the next sync
	// closeAt ends what is open before a sync at (u, d) that does not continue it.
	closeAt := func(u, d int64) {
		switch {
		case open >= 0:
			s := &h.spans[open]
			// C2: every copy between s and the sync has s's delta, so none lies past either
			// bound; what lies past the shorter one was not copied.
			s.n, s.exact = min(u-s.u, d-s.d), false
			if end := s.u + s.n; end < u {
				h.spans = append(h.spans, span{u: end, d: d, n: u - end})
			}
			open = -1
		case gapAt >= 0 && gapAt < u:
			h.spans = append(h.spans, span{u: gapAt, d: gapDown, n: u - gapAt})
		}
		gapAt = -1
	}
	for _, e := range list {
		if e.kind == records.SyncUntagged {
			return history{}, false, true
		}
		if open >= 0 {
			s := &h.spans[open]
			if (e.kind == records.SyncRunMid || e.kind == records.SyncRunEnd) && e.up > s.u && e.down-e.up == s.d-s.u {
				s.n = e.up - s.u + 1
				if e.kind == records.SyncRunEnd {
					open, gapAt, gapDown = -1, e.up+1, e.down+1
				}
				continue
			}
		}
		closeAt(e.up, e.down)
		switch e.kind {
		case records.SyncPosition:
			gapAt, gapDown = e.up, e.down
		case records.SyncRunEnd, records.SyncRunOne:
			h.spans = append(h.spans, span{u: e.up, d: e.down, n: 1, copy: true, exact: true})
			gapAt, gapDown = e.up+1, e.down+1
		default: // a start, or a mid whose start was dropped: the run goes on from here
			h.spans = append(h.spans, span{u: e.up, d: e.down, n: 1, copy: true, exact: true})
			open = len(h.spans) - 1
		}
	}
	next := int64(0) // first offset the progress does not cover
	if p, ok := l.progress[tp]; ok {
		next = p + 1
	}
	switch {
	case open >= 0:
		// C4: a gap after the open run would have had its end synced before the progress
		// passed it, so the run goes on through the progress.
		s := &h.spans[open]
		s.n = max(s.n, next-s.u)
		h.next, h.nextDown = s.u+s.n, s.d+s.n
	default:
		if n := next - gapAt; n > 0 {
			h.spans = append(h.spans, span{u: gapAt, d: gapDown, n: n})
		}
		h.next, h.nextDown = max(gapAt, next), gapDown
	}
	return h, true, true
}

// find is the index of the span holding source offset x, or -1.
func (h history) find(x int64) int {
	i := sort.Search(len(h.spans), func(i int) bool { return h.spans[i].u > x }) - 1
	if i < 0 || x >= h.spans[i].u+h.spans[i].n {
		return -1
	}
	return i
}

// forward maps committed source offset x to the target position of the copy of the first
// copied record at or after x. frontier says there is no such copy yet: the position is
// where the next copy will land at the earliest. ok is false when the history does not cover
// x: older than the history, or past what the replicator provably handled.
func (h history) forward(x int64) (pos int64, frontier, ok bool) {
	if len(h.spans) == 0 || x < h.spans[0].u || x > h.next {
		return 0, false, false
	}
	if x == h.next {
		return h.nextDown, true, true
	}
	i := h.find(x)
	if s := h.spans[i]; s.copy {
		return s.d + (x - s.u), false, true
	}
	for _, s := range h.spans[i+1:] {
		if s.copy {
			return s.d, false, true
		}
	}
	return h.nextDown, true, true
}

// reverse maps target offset y of the history's target to the first source offset whose
// record's copy lies at or after y: every record copied from below it lies below y. frontier
// says no known copy lies at or after y: the offset is where the history ends. ok is false
// when records before the history may have copies at or after y.
func (h history) reverse(y int64) (pos int64, frontier, ok bool) {
	if len(h.spans) == 0 {
		return 0, false, false
	}
	// Copies of records before the history lie before its first target offset; when the
	// history does not start at the partition's first offset, they may lie at or after y.
	if first := h.spans[0]; first.u > 0 && y < first.d {
		return 0, false, false
	}
	for _, s := range h.spans {
		if !s.copy {
			continue
		}
		if y < s.d {
			return s.u, false, true
		}
		if y < s.d+s.n {
			return s.u + (y - s.d), false, true
		}
	}
	return h.next, true, true
}

// skipCopies returns the first offset at or after x (of the history's source) that does not
// lie in an exact copy span: the records of exact copy spans were copied, so they are not
// copies of the other side.
func (h history) skipCopies(x int64) int64 {
	for {
		i := h.find(x)
		if i < 0 || !h.spans[i].copy || !h.spans[i].exact {
			return x
		}
		x = h.spans[i].u + h.spans[i].n
	}
}
