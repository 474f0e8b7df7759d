package checkpoint

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2"
)

// TestNewGroupSyncedInItsRound checks that a group that appears on the source after the task
// started reaches the target in the round that first lists it: the periodic sync
// (SyncInterval, an hour here) is not what delivers it, so a new group is on the target within
// one Interval (emit.checkpoints.interval.seconds).
func TestNewGroupSyncedInItsRound(t *testing.T) {
	t.Parallel()
	srcB, tgtB := cluster(t), cluster(t)
	src, tgt := client(t, srcB), client(t, tgtB)
	sadm, tadm := kadm.NewClient(src), kadm.NewClient(tgt)
	ctx := context.Background()
	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	for _, c := range []struct {
		adm    *kadm.Client
		parts  int32
		topic  string
		config map[string]*string
	}{{sadm, 1, srcTopic, nil}, {sadm, 1, syncTopic, compact}, {tadm, 1, tgtTopic, nil}, {tadm, 1, progTopic, compact}} {
		resp, err := c.adm.CreateTopic(ctx, c.parts, -1, c.config, c.topic)
		if err == nil {
			err = resp.Err
		}
		must(t, err)
	}
	produce(t, src, 0, "a", "b", "c", "d", "e")
	cp := newCopier(t, srcB, src, tgt)
	cp.foreign(0, 3) // delta 3
	cp.copy(0, 5)
	cp.progress(0)
	commit(t, sadm, "early", map[int32]int64{0: 2})

	task, err := NewTask(Options{
		SourceAlias:      "src",
		TargetAlias:      "tgt",
		Source:           []kgo.Opt{kgo.SeedBrokers(srcB...)},
		Target:           []kgo.Opt{kgo.SeedBrokers(tgtB...)},
		Topics:           mm2.MustFilter([]string{".*"}, nil),
		Groups:           mm2.MustFilter([]string{".*"}, nil),
		Interval:         100 * time.Millisecond,
		SyncGroupOffsets: true,
		SyncInterval:     time.Hour,
	})
	must(t, err)
	rctx, rcancel := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- task.Run(rctx) }()
	defer func() {
		rcancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run returned %v after cancellation", err)
		}
	}()

	// The start-up sync delivers the group that existed before the task.
	eventually(t, "early group synced", targetOffset(tadm, "early", 0, cp.expect(0, 2)))
	// A group created afterwards, and a group that moves on, are synced by the rounds.
	commit(t, sadm, "late", map[int32]int64{0: 4})
	eventually(t, "late group synced", targetOffset(tadm, "late", 0, cp.expect(0, 4)))
	commit(t, sadm, "early", map[int32]int64{0: 5})
	eventually(t, "early group moved on", targetOffset(tadm, "early", 0, cp.expect(0, 5)))
}
