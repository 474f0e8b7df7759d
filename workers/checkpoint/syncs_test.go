package checkpoint

import (
	"testing"

	"github.com/fjord-io/fjord/workers/mm2/records"
)

func TestTranslate(t *testing.T) {
	t.Parallel()
	// Source partition: records 0..4, aborted 5..7 and its marker 8, records 9..13.
	// Target: 2 foreign records, copies of 0..2 at 2..4, a foreign record at 5, copies of
	// 3..4 at 6..7, copies of 9..13 at 8..12.
	delta := []records.OffsetSync{{UpstreamOffset: 0, DownstreamOffset: 2}, {UpstreamOffset: 3, DownstreamOffset: 6}, {UpstreamOffset: 9, DownstreamOffset: 8}}
	type want struct {
		x    int64
		down int64
		ok   bool
	}
	for _, tc := range []struct {
		name     string
		syncs    []records.OffsetSync
		progress int64 // -1: none
		cases    []want
	}{
		{"no syncs", nil, -1, []want{{0, 0, false}, {5, 0, false}}},
		{"delta syncs only", delta, -1, []want{
			{-1, 0, false},
			{0, 2, true}, {1, 3, true}, {2, 4, true}, // before the foreign record
			{3, 6, true}, {4, 7, true}, // after it
			{5, 8, true}, {6, 8, true}, {8, 8, true}, // in the source gap: the copy of 9
			{9, 8, true}, {10, 9, true}, // newest sync + 1
			{11, 0, false}, {14, 0, false}, // beyond what is proven replicated
		}},
		{"with progress", delta, 13, []want{
			{10, 9, true}, {13, 12, true}, {14, 13, true}, // position after the last copy
			{15, 0, false},
		}},
		{"position sync at the end (C3)", append(append([]records.OffsetSync{}, delta...), records.OffsetSync{UpstreamOffset: 13, DownstreamOffset: 12}), -1, []want{
			{12, 11, true}, {13, 12, true}, {14, 13, true}, {15, 0, false},
		}},
		{"restart re-copies from 3", append(append([]records.OffsetSync{}, delta...), records.OffsetSync{UpstreamOffset: 3, DownstreamOffset: 20}), -1, []want{
			{1, 3, true},                 // first copy, before the restart point
			{2, 4, true},                 // capped by nothing: the restart sync starts at 3 > 2
			{3, 20, true}, {4, 21, true}, // the newest copies
			{5, 0, false}, // the restarted engine has provably copied only 3
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newSyncLog(100)
			for _, s := range tc.syncs {
				s.Topic, s.Partition = "t", 0
				l.add(s, records.SyncUntagged)
			}
			if tc.progress >= 0 {
				l.setProgress("t", 0, tc.progress)
			}
			for _, c := range tc.cases {
				down, ok := l.translate("t", 0, c.x)
				if ok != c.ok || (ok && down != c.down) {
					t.Errorf("translate(%d) = %d, %v; want %d, %v", c.x, down, ok, c.down, c.ok)
				}
			}
			if _, ok := l.translate("t", 1, 0); ok {
				t.Error("translated a partition without syncs")
			}
		})
	}
}

func TestSyncLogBounds(t *testing.T) {
	t.Parallel()
	l := newSyncLog(3)
	for i := int64(0); i < 10; i++ {
		// Every record has a new delta: a sync each.
		l.add(records.OffsetSync{Topic: "t", UpstreamOffset: i, DownstreamOffset: 3 * i}, records.SyncUntagged)
	}
	if n := l.len("t", 0); n != 3 {
		t.Fatalf("kept %d syncs, want 3", n)
	}
	if _, ok := l.translate("t", 0, 6); ok {
		t.Error("translated an offset older than the history kept")
	}
	if d, ok := l.translate("t", 0, 7); !ok || d != 21 {
		t.Errorf("translate(7) = %d, %v; want 21", d, ok)
	}
	// Progress tombstone forgets the progress.
	l.setProgress("t", 0, 100)
	if _, ok := l.translate("t", 0, 50); !ok {
		t.Error("progress did not extend the bound")
	}
	l.setProgress("t", 0, -1)
	if _, ok := l.translate("t", 0, 50); ok {
		t.Error("tombstoned progress still extends the bound")
	}
}

func TestOwns(t *testing.T) {
	t.Parallel()
	// FNV-1a 32 of "a" is 0xe40c292c, and 0xe40c292c % 3 == 1.
	tasks := make([]*Task, 3)
	for i := range tasks {
		var err error
		tasks[i], err = NewTask(Options{SourceAlias: "s", TargetAlias: "t", Source: seed, Target: seed, TaskID: i, TaskCount: 3})
		if err != nil {
			t.Fatal(err)
		}
	}
	if !tasks[1].Owns("a") {
		t.Error(`task 1 of 3 does not own "a" (fnv32a = 0xe40c292c)`)
	}
	for _, g := range []string{"a", "b", "orders-app", "", "payments"} {
		n := 0
		for _, task := range tasks {
			if task.Owns(g) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("group %q owned by %d tasks, want exactly 1", g, n)
		}
	}
}
