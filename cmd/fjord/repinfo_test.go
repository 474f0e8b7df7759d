package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestUpdateReplicationInfoE2E: a replicator (exactly-once, the default) copies topics a, b and
// c while records stream into a, b, c and d. UpdateReplicationInfo excludes b and adds d
// (matched by nothing before): the call answers UPDATING, DescribeReplicator shows UPDATING
// and then RUNNING once the workers run the new info; the target's copy of b stops growing
// within 10 s and stays flat while b's stream goes on; d is copied from its first record; and
// a and c — copied across the workers' restart — hold every record exactly once, in order
// (read_committed, every payload's sequence number checked: 0 missing, 0 duplicated).
func TestUpdateReplicationInfoE2E(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3*time.Second)
	f.startAgent(t, "agent-1", 4)
	ctx := t.Context()
	const partitions = 3
	createTopics(t, f.src, partitions, "a", "b", "c", "d")

	// One corpus (and producer) per group of topics, so that each group's check knows exactly
	// what was produced to it; 100 records per partition and second each.
	cAC, cB, cD := newCorpus(), newCorpus(), newCorpus()
	sAC := cAC.stream(t, newProducer(t, f.src), []string{"a", "c"}, partitions, 1)
	sB := cB.stream(t, newProducer(t, f.src), []string{"b"}, partitions, 1)
	sD := cD.stream(t, newProducer(t, f.src), []string{"d"}, partitions, 1)

	arn := f.createReplicator(t, "rep-update", []string{"a", "b", "c"}, ktypes.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias)
	f.waitReplicatorRunning(t, arn, time.Minute)
	checkAC := newCommittedCheck(t, cAC, f.tgt, `^source\.(a|c)$`)
	checkB := newCommittedCheck(t, cB, f.tgt, `^source\.b$`)
	checkD := newCommittedCheck(t, cD, f.tgt, `^source\.d$`)
	checkB.waitFor(t, time.Minute, "b copied before the update", func() bool { return checkB.count() > 300 })
	checkAC.waitFor(t, time.Minute, "a and c copied before the update", func() bool { return checkAC.count() > 600 })

	describe := func() *kafka.DescribeReplicatorOutput {
		t.Helper()
		d, err := f.api.k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeReplicator: %v", err)
		}
		return d
	}
	d0 := describe()
	tUpd := time.Now()
	up, err := f.api.k.UpdateReplicationInfo(ctx, &kafka.UpdateReplicationInfoInput{
		ReplicatorArn: aws.String(arn), CurrentVersion: d0.CurrentVersion,
		SourceKafkaClusterArn: aws.String(f.srcARN), TargetKafkaClusterArn: aws.String(f.tgtARN),
		TopicReplication: &ktypes.TopicReplicationUpdate{
			TopicsToReplicate: []string{"a", "b", "c", "d"}, TopicsToExclude: []string{"b"},
			CopyAccessControlListsForTopics: aws.Bool(true), CopyTopicConfigurations: aws.Bool(true), DetectAndCopyNewTopics: aws.Bool(true),
		},
	})
	if err != nil {
		t.Fatalf("UpdateReplicationInfo: %v", err)
	}
	if up.ReplicatorState != ktypes.ReplicatorStateUpdating {
		t.Fatalf("UpdateReplicationInfo answered %s, want UPDATING", up.ReplicatorState)
	}

	// Watch for 20 s: the state (UPDATING, then RUNNING) and the end of b's copy on the
	// target, which must stop growing within 10 s and then stay flat.
	tgtAdm := kadm.NewClient(newClient(t, f.tgt))
	bEnd := func() int64 {
		ends, err := tgtAdm.ListEndOffsets(ctx, "source.b")
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			t.Fatalf("end offsets of source.b: %v", err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	// dEnd is the end of d's copy, 0 while it does not exist.
	dEnd := func() int64 {
		ends, err := tgtAdm.ListEndOffsets(ctx, "source.d")
		if err != nil {
			t.Fatalf("end offsets of source.d: %v", err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				n += o.Offset
			}
		})
		return n
	}
	var sawUpdating bool
	var running, dStart time.Duration // update → RUNNING, update → d's first copies
	lastEnd, lastGrowth := bEnd(), time.Duration(0)
	for time.Since(tUpd) < 20*time.Second {
		switch s := describe().ReplicatorState; {
		case s == ktypes.ReplicatorStateUpdating && running == 0:
			sawUpdating = true
		case s == ktypes.ReplicatorStateRunning && running == 0:
			running = time.Since(tUpd)
		case s != ktypes.ReplicatorStateRunning && running != 0, s == ktypes.ReplicatorStateFailed:
			t.Fatalf("replicator %s after it was RUNNING again", s)
		}
		if n := bEnd(); n != lastEnd {
			lastEnd, lastGrowth = n, time.Since(tUpd)
		}
		if dStart == 0 && dEnd() > 0 {
			dStart = time.Since(tUpd)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !sawUpdating {
		t.Error("DescribeReplicator never showed UPDATING after the update")
	}
	if running == 0 {
		t.Fatal("the replicator is not RUNNING 20 s after the update")
	}
	t.Logf("update → RUNNING: %.2f s; the copy of b last grew %.2f s after the update and stayed at %d offsets for %.1f s; d copied from %.2f s after the update",
		running.Seconds(), lastGrowth.Seconds(), lastEnd, (20*time.Second - lastGrowth).Seconds(), dStart.Seconds())
	if lastGrowth > 10*time.Second {
		t.Errorf("the copy of b still grew %.2f s after b was excluded; want it flat within 10 s", lastGrowth.Seconds())
	}
	if dStart == 0 || dStart > 10*time.Second {
		t.Errorf("d's copy started %.2f s after the update (0: not within 20 s); want within 10 s", dStart.Seconds())
	}
	if got := lastEnd; got != bEnd() {
		t.Errorf("the copy of b grew again")
	}

	// d is copied from its first record (startingPosition EARLIEST): records produced before
	// and after the update.
	checkD.waitFor(t, time.Minute, "d's first records copied", func() bool { return checkD.count() > 0 })

	sAC.halt(t)
	sB.halt(t)
	sD.halt(t)
	if n := bEnd(); n != lastEnd {
		t.Errorf("the copy of b grew from %d to %d offsets while b's stream ended", lastEnd, n)
	}
	nAC, nB, nD := produced(cAC), produced(cB), produced(cD)
	checkAC.waitFor(t, 2*time.Minute, fmt.Sprintf("all %d records of a and c", nAC), func() bool { return checkAC.count() == nAC })
	checkD.waitFor(t, 2*time.Minute, fmt.Sprintf("all %d records of d", nD), func() bool { return checkD.count() == nD })
	// Read on to the last stable offsets: nothing more is there (a duplicate or a stranger
	// fails the check as it is read).
	for _, c := range []struct {
		check  *committedCheck
		topics []string
	}{{checkAC, []string{"source.a", "source.c"}}, {checkB, []string{"source.b"}}, {checkD, []string{"source.d"}}} {
		ends, err := tgtAdm.ListCommittedOffsets(ctx, c.topics...)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			t.Fatalf("committed offsets of %v: %v", c.topics, err)
		}
		stable := map[tgtTP]int64{}
		ends.Each(func(o kadm.ListedOffset) { stable[tgtTP{o.Topic, o.Partition}] = o.Offset })
		c.check.waitFor(t, time.Minute, fmt.Sprintf("the last stable offsets of %v", c.topics), func() bool { return c.check.reached(stable) })
	}
	if got := checkAC.count(); got != nAC {
		t.Fatalf("a and c: %d records on the target, want %d", got, nAC)
	}
	if got := checkD.count(); got != nD {
		t.Fatalf("d: %d records on the target, want %d", got, nD)
	}
	if got := checkB.count(); got == 0 || got >= nB {
		t.Fatalf("b: %d of its %d records on the target; want the ones copied before it was excluded", got, nB)
	}
	t.Logf("a and c: %d records produced, each exactly once on the target (0 missing, 0 duplicated); d: all %d; b: the first %d of %d, then none",
		nAC, nD, checkB.count(), nB)
}

// produced counts the records of a corpus.
func produced(c *corpus) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, recs := range c.recs {
		n += len(recs)
	}
	return n
}
