package main

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// createReplicatorFrom creates a replicator from the cluster fromARN to toARN (registered
// clusters), at EARLIEST, detecting new topics, replicating and synchronising every group.
func (f *fleet) createReplicatorFrom(t *testing.T, name, fromARN, toARN string, topics []string, naming ktypes.ReplicationTopicNameConfigurationType, tags map[string]string) string {
	t.Helper()
	out, err := f.api.k.CreateReplicator(t.Context(), &kafka.CreateReplicatorInput{
		Tags:                    tags,
		ReplicatorName:          aws.String(name),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/fjord-replicator"),
		KafkaClusters: []ktypes.KafkaCluster{
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(fromARN)},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-1"}}},
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(toARN)},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-2"}}},
		},
		ReplicationInfoList: []ktypes.ReplicationInfo{{
			SourceKafkaClusterArn: aws.String(fromARN),
			TargetKafkaClusterArn: aws.String(toARN),
			TargetCompressionType: ktypes.TargetCompressionTypeNone,
			TopicReplication: &ktypes.TopicReplication{
				TopicsToReplicate:      topics,
				DetectAndCopyNewTopics: aws.Bool(true),
				StartingPosition:       &ktypes.ReplicationStartingPosition{Type: ktypes.ReplicationStartingPositionTypeEarliest},
				TopicNameConfiguration: &ktypes.ReplicationTopicNameConfiguration{Type: naming},
			},
			ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{
				ConsumerGroupsToReplicate:       []string{".*"},
				DetectAndCopyNewConsumerGroups:  aws.Bool(true),
				SynchroniseConsumerGroupOffsets: aws.Bool(true),
			},
		}},
	})
	if err != nil {
		t.Fatalf("CreateReplicator %s: %v", name, err)
	}
	return aws.ToString(out.ReplicatorArn)
}

// readAll reads topic on addr read_committed from the start until want records arrived (or the
// deadline), and returns the values with how often each was seen.
func readAll(t *testing.T, addr, topic string, want int, timeout time.Duration) map[string]int {
	t.Helper()
	cl := openClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	defer cl.Close()
	seen := map[string]int{}
	n := 0
	deadline := time.Now().Add(timeout)
	for n < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			n++
		})
	}
	return seen
}

// TestActiveActiveE2E: two replicators with IDENTICAL topic names in opposite directions
// between two clusters, 10,000 records produced on each side while both run. Each side ends
// with exactly 20,000 records in the topic, none twice, and the end offsets stop moving: the
// provenance header keeps records from echoing back.
func TestActiveActiveE2E(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3*time.Second)
	f.startAgent(t, "aa-agent", 4)
	const topic, perSide = "shared", 10_000
	createTopics(t, f.src, 3, topic)
	createTopics(t, f.tgt, 3, topic)
	ab := f.createReplicatorFrom(t, "east-to-west", f.srcARN, f.tgtARN, []string{topic}, ktypes.ReplicationTopicNameConfigurationTypeIdentical, nil)
	ba := f.createReplicatorFrom(t, "west-to-east", f.tgtARN, f.srcARN, []string{topic}, ktypes.ReplicationTopicNameConfigurationTypeIdentical, nil)
	f.waitReplicatorRunning(t, ab, time.Minute)
	f.waitReplicatorRunning(t, ba, time.Minute)

	// Both sides produce at once, while replication runs.
	t0 := time.Now()
	done := make(chan error, 2)
	for _, side := range []struct{ name, addr string }{{"east", f.src}, {"west", f.tgt}} {
		prod := newProducer(t, side.addr)
		go func() {
			for i := range perSide {
				prod.Produce(t.Context(), &kgo.Record{Topic: topic, Partition: int32(i % 3), Key: []byte(strconv.Itoa(i)),
					Value: fmt.Appendf(nil, "%s-%d", side.name, i)}, nil)
			}
			done <- prod.Flush(t.Context())
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	for _, side := range []struct{ name, addr string }{{"east", f.src}, {"west", f.tgt}} {
		seen := readAll(t, side.addr, topic, 2*perSide, 2*time.Minute)
		var dups, east, west int
		for v, n := range seen {
			if n > 1 {
				dups++
			}
			switch {
			case strings.HasPrefix(v, "east-"):
				east++
			case strings.HasPrefix(v, "west-"):
				west++
			}
		}
		if len(seen) != 2*perSide || dups != 0 || east != perSide || west != perSide {
			t.Fatalf("%s holds %d distinct records (%d from east, %d from west), %d of them more than once; want %d each, none twice",
				side.name, len(seen), east, west, dups, perSide)
		}
		t.Logf("%s: %d records (%d local, %d replicated), none twice; settled %.1f s after the producers started",
			side.name, len(seen), perSide, perSide, time.Since(t0).Seconds())
	}
	// Nothing echoes: the end offsets stay where they are while both replicators keep running
	// (several refresh and commit intervals), and no new record shows up.
	before := map[string]map[string]map[int32]int64{"east": endOffsets(t, f.src, topic), "west": endOffsets(t, f.tgt, topic)}
	time.Sleep(6 * time.Second)
	after := map[string]map[string]map[int32]int64{"east": endOffsets(t, f.src, topic), "west": endOffsets(t, f.tgt, topic)}
	for side := range before {
		if !maps.EqualFunc(before[side], after[side], maps.Equal) {
			t.Errorf("%s end offsets moved after settling: %v → %v", side, before[side], after[side])
		}
	}
	for _, side := range []struct{ name, addr string }{{"east", f.src}, {"west", f.tgt}} {
		if seen := readAll(t, side.addr, topic, 2*perSide+1, 3*time.Second); len(seen) != 2*perSide {
			t.Errorf("%s now holds %d records, want %d", side.name, len(seen), 2*perSide)
		}
	}
}

// TestFailoverDrillE2E: a consumer group reads part of a topic on the source and commits; the
// replicator (exactly-once, the default, and at-least-once) copies the records and the group's offsets, while its
// worker process is killed with -9 and restarted by its agent. A member of the group on the
// target then reads first exactly the record after the last one it consumed on the source, per
// partition — transaction markers shift the target offsets, translation is exact.
func TestFailoverDrillE2E(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"exactly-once", "at-least-once"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			failoverDrill(t, mode)
		})
	}
}

func failoverDrill(t *testing.T, delivery string) {
	f := startFleet(t, 3*time.Second)
	agent := f.startAgent(t, "drill-agent", 4)
	const topic, group, parts = "drill", "drill-readers", 4
	createTopics(t, f.src, parts, topic)
	prod := newProducer(t, f.src)
	produce := func(from, n int) {
		for i := from; i < from+n; i++ {
			p := int32(i % parts)
			prod.Produce(t.Context(), &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "p%d-%d", p, i/parts)}, nil)
		}
		if err := prod.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	produce(0, 4000)
	// Exactly-once is the default; at-least-once is asked for by tagging the running
	// replicator, which restarts its worker with the new delivery.
	arn := f.createReplicatorFrom(t, "drill", f.srcARN, f.tgtARN, []string{topic}, ktypes.ReplicationTopicNameConfigurationTypePrefixedWithSourceClusterAlias, nil)
	f.waitReplicatorRunning(t, arn, time.Minute)
	if delivery != "exactly-once" {
		var before []int
		poll(t, time.Minute, "the replicator's worker process", func() bool {
			before = childPIDs(agent.cmd.Process.Pid)
			return len(before) == 1
		})
		if _, err := f.api.k.TagResource(t.Context(), &kafka.TagResourceInput{ResourceArn: aws.String(arn),
			Tags: map[string]string{"fjord:delivery": delivery}}); err != nil {
			t.Fatal(err)
		}
		poll(t, time.Minute, "the worker restarted with the tagged delivery", func() bool {
			ws := childPIDs(agent.cmd.Process.Pid)
			return len(ws) == 1 && ws[0] != before[0]
		})
	}
	d, err := f.api.k.DescribeReplicator(t.Context(), &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	remote := aws.ToString(d.ReplicationInfoList[0].SourceKafkaClusterAlias) + "." + topic

	// The group consumes part of every partition on the source (a different amount each),
	// commits what it consumed and leaves.
	limit := map[int32]int{0: 137, 1: 512, 2: 999, 3: 1}
	last := map[int32]string{}   // partition → value of the last record consumed
	offsets := map[int32]int64{} // partition → offset of the next record
	c := openClient(t, f.src, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	counts := map[int32]int{}
	for done := 0; done < parts; {
		fs := c.PollFetches(t.Context())
		fs.EachRecord(func(r *kgo.Record) {
			if counts[r.Partition] == limit[r.Partition] {
				return
			}
			counts[r.Partition]++
			last[r.Partition], offsets[r.Partition] = string(r.Value), r.Offset+1
			if counts[r.Partition] == limit[r.Partition] {
				done++
			}
		})
	}
	commit := map[string]map[int32]kgo.EpochOffset{topic: {}}
	for p, o := range offsets {
		commit[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	var commitErr error
	c.CommitOffsetsSync(t.Context(), commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		commitErr = err
		if err == nil {
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if e := kerr.ErrorForCode(rp.ErrorCode); e != nil && commitErr == nil {
						commitErr = e
					}
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatalf("commit: %v", commitErr)
	}
	c.Close()
	committed, err := kadm.NewClient(newClient(t, f.src)).FetchOffsets(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}

	// kill -9 the replicator's worker; the agent restarts it. More records arrive meanwhile.
	workers := childPIDs(agent.cmd.Process.Pid)
	if len(workers) != 1 {
		t.Fatalf("agent runs %d worker processes, want 1", len(workers))
	}
	if err := syscall.Kill(workers[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	produce(4000, 2000)
	poll(t, time.Minute, "a restarted worker", func() bool {
		ws := childPIDs(agent.cmd.Process.Pid)
		return len(ws) == 1 && ws[0] != workers[0]
	})

	// The group's offsets reach the target (translated), then a member there reads on.
	tadm := kadm.NewClient(newClient(t, f.tgt))
	t1 := time.Now()
	poll(t, 2*time.Minute, "the group's offsets on the target", func() bool {
		o, err := tadm.FetchOffsets(t.Context(), group)
		if err != nil {
			return false
		}
		n := 0
		o.Each(func(o kadm.OffsetResponse) {
			if o.Topic == remote && o.Err == nil && o.At >= 0 {
				n++
			}
		})
		return n == len(last)
	})
	t.Logf("group offsets synchronised to the target %.1f s after the kill", time.Since(t1).Seconds())
	tc := openClient(t, f.tgt, kgo.ConsumerGroup(group), kgo.ConsumeTopics(remote), kgo.DisableAutoCommit(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer tc.Close()
	first := map[int32]string{}
	deadline := time.Now().Add(time.Minute)
	for len(first) < len(last) && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		fs := tc.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			if _, ok := first[r.Partition]; !ok {
				first[r.Partition] = string(r.Value)
			}
		})
	}
	skipped, redelivered := 0, 0
	for p, v := range last {
		var lp, seq int
		fmt.Sscanf(v, "p%d-%d", &lp, &seq)
		want := fmt.Sprintf("p%d-%d", p, seq+1)
		got := first[p]
		var gp, gseq int
		fmt.Sscanf(got, "p%d-%d", &gp, &gseq)
		switch {
		case got == want:
		case got == "" || gseq > seq+1:
			skipped += gseq - seq - 1
			t.Errorf("partition %d: first record on the target %q, want %q (source commit %v)", p, got, want, committed)
		default:
			redelivered += seq + 1 - gseq
			t.Errorf("partition %d: first record on the target %q, want %q (source commit %v)", p, got, want, committed)
		}
	}
	if len(first) != parts {
		t.Errorf("the target member read %d partitions, want %d", len(first), parts)
	}
	t.Logf("%s failover drill across a kill -9: %d partitions resumed; %d records skipped, %d re-delivered", delivery, len(first), skipped, redelivered)
}
