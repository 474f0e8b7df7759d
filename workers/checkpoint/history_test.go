package checkpoint

import (
	"testing"

	"github.com/fjord-io/fjord/workers/mm2/records"
)

type tagged struct {
	up, down int64
	kind     records.SyncKind
}

func logOf(progress int64, syncs ...tagged) *syncLog {
	l := newSyncLog(DefaultMaxSyncsPerPartition)
	for _, s := range syncs {
		l.add(records.OffsetSync{Topic: "t", UpstreamOffset: s.up, DownstreamOffset: s.down}, s.kind)
	}
	if progress >= 0 {
		l.setProgress("t", 0, progress)
	}
	return l
}

const (
	start = records.SyncRunStart
	mid   = records.SyncRunMid
	end   = records.SyncRunEnd
	pos   = records.SyncPosition
)

// TestHistorySpans checks the spans derived from tagged syncs and progress.
func TestHistorySpans(t *testing.T) {
	t.Parallel()
	// Source offsets 0-2 skipped (the lifetime's first position), 3-6 copied to 10-13, 7-8
	// skipped, 9-10 copied to 20-21 (a run of one record's start and end merge), 11 copied to
	// 30, still open through progress 14.
	l := logOf(14,
		tagged{0, 10, pos},
		tagged{3, 10, start}, tagged{5, 12, mid}, tagged{6, 13, end},
		tagged{9, 20, start}, tagged{10, 21, end},
		tagged{11, 30, start}, tagged{11, 30, end}, // superseded by itself: a run of one
		tagged{12, 32, start},
	)
	h, tagged, ok := l.history("t", 0)
	if !ok || !tagged {
		t.Fatalf("history: ok %v tagged %v", ok, tagged)
	}
	want := []span{
		{u: 0, d: 10, n: 3},
		{u: 3, d: 10, n: 4, copy: true, exact: true},
		{u: 7, d: 14, n: 2},
		{u: 9, d: 20, n: 2, copy: true, exact: true},
		{u: 11, d: 30, n: 1, copy: true, exact: true},
		{u: 12, d: 32, n: 3, copy: true, exact: true},
	}
	if len(h.spans) != len(want) {
		t.Fatalf("spans %+v, want %+v", h.spans, want)
	}
	for i := range want {
		if h.spans[i] != want[i] {
			t.Errorf("span %d: %+v, want %+v", i, h.spans[i], want[i])
		}
	}
	if h.next != 15 || h.nextDown != 35 {
		t.Errorf("frontier (%d, %d), want (15, 35)", h.next, h.nextDown)
	}
	for _, c := range []struct {
		x, pos       int64
		frontier, ok bool
	}{
		{0, 10, false, true}, {4, 11, false, true}, {7, 20, false, true}, {8, 20, false, true},
		{10, 21, false, true}, {14, 34, false, true}, {15, 35, true, true}, {16, 0, false, false},
	} {
		pos, frontier, ok := h.forward(c.x)
		if pos != c.pos || frontier != c.frontier || ok != c.ok {
			t.Errorf("forward(%d) = %d, %v, %v; want %d, %v, %v", c.x, pos, frontier, ok, c.pos, c.frontier, c.ok)
		}
	}
	for _, c := range []struct {
		y, pos       int64
		frontier, ok bool
	}{
		{0, 3, false, true}, {11, 4, false, true}, {14, 9, false, true}, {21, 10, false, true},
		{22, 11, false, true}, {33, 13, false, true}, {35, 15, true, true},
	} {
		pos, frontier, ok := h.reverse(c.y)
		if pos != c.pos || frontier != c.frontier || ok != c.ok {
			t.Errorf("reverse(%d) = %d, %v, %v; want %d, %v, %v", c.y, pos, frontier, ok, c.pos, c.frontier, c.ok)
		}
	}
	if got := h.skipCopies(4); got != 7 {
		t.Errorf("skipCopies(4) = %d, want 7", got)
	}
	if got := h.skipCopies(12); got != 15 {
		t.Errorf("skipCopies(12) = %d, want 15", got)
	}
}

// TestHistoryCutRun: a run whose end was never synced (a new lifetime started) keeps only
// what C2 bounds, and untagged syncs give no history.
func TestHistoryCutRun(t *testing.T) {
	t.Parallel()
	h, _, _ := logOf(-1, tagged{0, 0, start}, tagged{10, 8, start}).history("t", 0)
	if len(h.spans) < 2 || h.spans[0] != (span{u: 0, d: 0, n: 8, copy: true}) || h.spans[1] != (span{u: 8, d: 8, n: 2}) {
		t.Errorf("spans %+v, want an inexact copy span [0, 8) and a gap [8, 10)", h.spans)
	}
	if _, tagged, ok := logOf(-1, tagged{0, 0, records.SyncUntagged}).history("t", 0); tagged || !ok {
		t.Errorf("untagged syncs: tagged %v ok %v, want false true", tagged, ok)
	}
}

// TestFailback: the partitions of two clusters S and T, same records in the same order.
//
//	S: s0 s1 t0' t1' t2' s2 s3            (0-6; t0'-t2' copies of T's t0-t2)
//	T: M s0' s1' t0 t1 t2 M s2' s3' M     (0-9; M transaction markers of S→T's copies)
//
// S→T (own) copies s0,s1 → 1,2 and s2,s3 → 7,8; T→S (peer) copies t0-t2 → 2-4.
func TestFailback(t *testing.T) {
	t.Parallel()
	own, _, _ := logOf(6,
		tagged{0, 1, start}, tagged{1, 2, end}, tagged{5, 7, start}, tagged{6, 8, end}).history("t", 0)
	peer, _, _ := logOf(9,
		tagged{0, 0, pos}, tagged{3, 2, start}, tagged{5, 4, end}, tagged{6, 5, pos}).history("t", 0)
	for _, c := range []struct {
		x, want int64
	}{
		{0, 1}, // nothing consumed: s0'
		{1, 2}, // s0 consumed: s1'
		{2, 3}, // s0, s1: t0
		{3, 4}, // through t0': t1
		{5, 7}, // through t2': s2' (after a marker)
		{6, 8}, // through s2: s3'
		{7, 9}, // all: the end
	} {
		got, ok := failback(own, peer, c.x)
		if !ok || got != c.want {
			t.Errorf("failback(%d) = %d, %v; want %d", c.x, got, ok, c.want)
		}
	}
}
