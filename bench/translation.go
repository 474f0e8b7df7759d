// The "translation" suite (this file) runs the failover drill of workers/failover at a
// realistic size: two kfake clusters over TCP in this process, MirrorSource and
// MirrorCheckpoint tasks in this process, consumer groups committing on the source at random
// points (a group consumer and admin commits, while replication runs, in the middle of runs
// without offset syncs, on aborted records and transaction markers, at partition ends), group
// offsets synced to the target, and every group joined on the target. It prints
//
//	offset_translation_error_records: records skipped + re-delivered over every group and
//	    partition, comparing the first record each group reads on the target with the record
//	    after its last commit on the source (target 0; MM2's own translation re-delivers up
//	    to offset.lag.max per partition)
//	offset_translation_drill_s: wall time of the drills (setup, replication, sync, check)
//
// for at-least-once and exactly-once delivery, each once straight and once with the checkpoint
// task stopped mid-work and the source task stopped and restarted as two tasks. The drill is
// failover.Run, the same drill the tests of workers/failover run at a smaller size.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/fjord-io/fjord/workers/failover"
)

// translationConfig configures the translation suite.
type translationConfig struct {
	records    int // records per drill
	partitions int // partitions of the drilled topic
	groups     int // groups committing at random points, besides the drill's own five
	seed       uint64
}

func (tc *translationConfig) register() {
	flag.IntVar(&tc.records, "translation-records", 50_000, "records produced to the source in each failover drill")
	flag.IntVar(&tc.partitions, "translation-partitions", 6, "partitions of the failover drill's topic")
	flag.IntVar(&tc.groups, "translation-groups", 8, "extra consumer groups committing at random points in each drill")
	flag.Uint64Var(&tc.seed, "translation-seed", 1, "seed of the drills' random commit points")
}

// runTranslationSuite runs the drills and prints their results.
func runTranslationSuite(tc translationConfig) error {
	if tc.partitions < 1 || tc.records < 6*tc.partitions {
		return errors.New("translation: need -translation-partitions >= 1 and -translation-records >= 6 per partition")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	logf("translation: %d partitions, ~%d records per drill, %d + 5 groups", tc.partitions, tc.records, tc.groups)
	var errRecords int
	start := time.Now()
	for _, eos := range []bool{false, true} {
		for _, restart := range []bool{false, true} {
			name := fmt.Sprintf("delivery=%s restart=%v", map[bool]string{false: "at-least-once", true: "exactly-once"}[eos], restart)
			res, err := failover.Run(context.Background(), failover.Options{
				Transactional: eos, Restart: restart, Partitions: tc.partitions, Records: tc.records,
				Groups: tc.groups, Seed: tc.seed, Patience: 5 * time.Minute, Logger: log,
			})
			if err != nil {
				return fmt.Errorf("drill %s: %w", name, err)
			}
			for _, m := range res.Mismatches[:min(len(res.Mismatches), 10)] {
				logf("translation: %s", m)
			}
			logf("translation: %s: %d group partitions, %d skipped, %d re-delivered, %.1fs", name, res.GroupPartitions, res.Skipped, res.Redelivered, res.Duration.Seconds())
			errRecords += res.Skipped + res.Redelivered
		}
	}
	elapsed := time.Since(start)
	// No baseline: ratio, min and max are 0.
	return emit(os.Stdout,
		single("offset_translation_error_records", "records", float64(errRecords), 0),
		single("offset_translation_drill_s", "s", elapsed.Seconds(), 0))
}
