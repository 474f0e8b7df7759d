package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestExactlyOnceChaosE2E: a replicator created with the tag fjord:delivery=exactly-once
// copies 200,000 records (2 topics × 6 partitions, produced at a steady pace) while its worker
// process or its agent is killed with SIGKILL five times at random moments (a killed agent is
// started again under the same id; its worker dies with it). At the end a read_committed
// consumer of the target finds every source record exactly once: per partition, the same keys
// and values in the same order, and nothing else up to the last stable offset. The consumer
// reads throughout, which also measures each recovery: the time from the kill until it
// receives a record committed after the kill.
func TestExactlyOnceChaosE2E(t *testing.T) {
	t.Parallel()
	total, rate := 200_000, 10_000 // records, records/s
	if raceEnabled() {
		total, rate = 40_000, 2_000 // the race detector slows every process down several times
	}
	const kills = 5
	f := startFleet(t, 3*time.Second)
	agent := f.startAgent(t, "eos-agent", 4)
	ctx := t.Context()

	topics := []string{"eos.0", "eos.1"}
	const partitions = 6
	createTopics(t, f.src, partitions, topics...)
	c := newCorpus()
	arn := f.createExactlyOnceReplicator(t, "rep-eos", `eos\..*`)
	f.waitReplicatorRunning(t, arn, time.Minute)

	targets := []string{"source.eos.0", "source.eos.1"}
	check := newCommittedCheck(t, c, f.tgt, `^source\.eos\.`)
	prod := newProducer(t, f.src)
	p := produceAtRate(t, c, prod, topics, partitions, total, rate)
	check.waitFor(t, time.Minute, "the first committed records", func() bool { return check.count() > 0 })

	tgtAdm := kadm.NewClient(newClient(t, f.tgt))
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	workerKilled := false // in this agent process: its restart backoff doubles per crash
	var recoveries []time.Duration
	for i := range kills {
		// A random moment, 0.3–2.5 s after the previous recovery: the kills spread over the
		// stream's first half or so.
		time.Sleep(300*time.Millisecond + time.Duration(rng.Int64N(int64(2200*time.Millisecond))))
		what := "agent"
		if !workerKilled && rng.IntN(2) == 0 {
			what = "worker"
		}
		killedAt, streaming := time.Now(), !p.finished()
		switch what {
		case "worker":
			// The replicator's workers are the agent's only children (one, unless the
			// autoscaler added some).
			pids := childPIDs(agent.cmd.Process.Pid)
			if len(pids) == 0 {
				t.Fatalf("agent pid %d runs no worker process", agent.cmd.Process.Pid)
			}
			victim := pids[rng.IntN(len(pids))]
			if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
				t.Fatalf("kill worker %d: %v", victim, err)
			}
			poll(t, 10*time.Second, "the killed worker to exit", func() bool { return !alive(victim) })
			workerKilled = true
		case "agent":
			pids := childPIDs(agent.cmd.Process.Pid)
			agent.kill(t)
			// Its worker dies with it (Pdeathsig); the new agent starts a new one, which fences
			// the old one's transactions anyway.
			poll(t, 10*time.Second, "the killed agent's worker to exit", func() bool {
				for _, pid := range pids {
					if alive(pid) {
						return false
					}
				}
				return true
			})
			agent = f.startAgent(t, "eos-agent", 4)
			workerKilled = false
		}
		// Recovered: a record committed after the kill (at or past the committed end of its
		// partition at the kill) reached the consumer.
		ends, err := tgtAdm.ListCommittedOffsets(ctx, targets...)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			t.Fatalf("list committed offsets: %v", err)
		}
		stable := map[tgtTP]int64{}
		ends.Each(func(o kadm.ListedOffset) { stable[tgtTP{o.Topic, o.Partition}] = o.Offset })
		check.waitFor(t, time.Minute, fmt.Sprintf("records committed after kill %d (%s)", i+1, what), func() bool {
			return check.pastAny(stable) || (p.finished() && check.count() == total)
		})
		rec := time.Since(killedAt)
		recoveries = append(recoveries, rec)
		t.Logf("kill %d of %d: %s, %.1f s into the stream (still producing: %v); committed records flow again %.2f s later (%d of %d records consumed so far)",
			i+1, kills, what, killedAt.Sub(p.start).Seconds(), streaming, rec.Seconds(), check.count(), total)
	}
	p.wait(t)
	t.Logf("%d kills; recovery times (kill → a record committed after it read) %v", len(recoveries), recoveries)
	check.waitFor(t, 2*time.Minute, fmt.Sprintf("all %d records committed on the target", total), func() bool { return check.count() == total })
	t.Logf("all %d records on the target, read_committed, %.1f s after the stream ended", total, time.Since(p.end).Seconds())

	// Nothing else is committed: read on up to the last stable offset of every partition.
	ends, err := tgtAdm.ListCommittedOffsets(ctx, targets...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list committed offsets: %v", err)
	}
	stable := map[tgtTP]int64{}
	ends.Each(func(o kadm.ListedOffset) { stable[tgtTP{o.Topic, o.Partition}] = o.Offset })
	if len(stable) != len(topics)*partitions {
		t.Fatalf("target partitions %v, want %d", stable, len(topics)*partitions)
	}
	check.waitFor(t, time.Minute, "the consumer to reach the last stable offsets", func() bool { return check.reached(stable) })
	if n := check.count(); n != total {
		t.Fatalf("read_committed consumer got %d records, want %d", n, total)
	}
	// The copies were transactional: commit (and abort) markers take offsets too.
	if hw := sumOffsets(endOffsets(t, f.tgt, targets...)); hw <= int64(total) {
		t.Errorf("the target topics end at %d offsets in all for %d records: no transaction markers, so no transactions", hw, total)
	} else {
		t.Logf("the target topics hold %d offsets for %d records: %d transaction markers and aborted records", hw, total, hw-int64(total))
	}
	t.Logf("exactly once: each of the %d source records once on the target, in order, after %d kills", total, kills)
}

// createExactlyOnceReplicator creates a replicator of the topics matching regex from the source
// to the target cluster (prefixed names, EARLIEST), tagged fjord:delivery=exactly-once.
func (f *fleet) createExactlyOnceReplicator(t *testing.T, name, regex string) string {
	t.Helper()
	out, err := f.api.k.CreateReplicator(t.Context(), &kafka.CreateReplicatorInput{
		ReplicatorName:          aws.String(name),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/fjord-replicator"),
		Tags:                    map[string]string{"fjord:delivery": "exactly-once"},
		KafkaClusters: []ktypes.KafkaCluster{
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(f.srcARN)},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-1"}}},
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(f.tgtARN)},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-2"}}},
		},
		ReplicationInfoList: []ktypes.ReplicationInfo{{
			SourceKafkaClusterArn: aws.String(f.srcARN),
			TargetKafkaClusterArn: aws.String(f.tgtARN),
			TargetCompressionType: ktypes.TargetCompressionTypeNone,
			TopicReplication: &ktypes.TopicReplication{
				TopicsToReplicate: []string{regex},
				StartingPosition:  &ktypes.ReplicationStartingPosition{Type: ktypes.ReplicationStartingPositionTypeEarliest},
			},
			ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
		}},
	})
	if err != nil {
		t.Fatalf("CreateReplicator %s: %v", name, err)
	}
	return aws.ToString(out.ReplicatorArn)
}

// pacedProducer produces a corpus's records at a steady rate in the background.
type pacedProducer struct {
	start, end time.Time // end: when the last record was acknowledged
	done       chan struct{}
	err        error
}

// produceAtRate produces n records, round-robin over topics × partitions, at about rate
// records/s (in 10 ms ticks), then waits for every acknowledgement.
func produceAtRate(t *testing.T, c *corpus, cl *kgo.Client, topics []string, partitions int32, n, rate int) *pacedProducer {
	p := &pacedProducer{start: time.Now(), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	go func() {
		defer close(p.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < n; {
			select {
			case <-ctx.Done():
				p.err = ctx.Err()
				return
			case now := <-tick.C:
				for due := min(n, int(now.Sub(p.start).Seconds()*float64(rate))+1); i < due; i++ {
					r := c.next(topics[i%len(topics)], int32(i/len(topics))%partitions)
					cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
						if err != nil {
							mu.Lock()
							p.err = cmpOr(p.err, err)
							mu.Unlock()
						}
					})
				}
			}
		}
		err := cl.Flush(ctx)
		mu.Lock()
		p.err = cmpOr(p.err, err)
		mu.Unlock()
		p.end = time.Now()
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

func (p *pacedProducer) finished() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits until every record was produced and acknowledged.
func (p *pacedProducer) wait(t *testing.T) {
	t.Helper()
	<-p.done
	if p.err != nil {
		t.Fatalf("produce: %v", p.err)
	}
}

// tgtTP is a target topic partition.
type tgtTP struct {
	topic     string
	partition int32
}

// committedCheck is a read_committed consumer of the target topics matching a regex (prefixed
// names: source.<topic>) that checks every record against the corpus as it arrives: per
// partition, the next record must be the next one produced to the same source partition, with
// the same key and value. A duplicate, a gap or a stranger fails the test. It keeps control
// records, so that it knows when it has read up to a partition's last stable offset.
type committedCheck struct {
	c        *corpus
	cl       *kgo.Client
	next     map[srcTP]int   // records checked per source partition
	last     map[tgtTP]int64 // last offset read per target partition (control records included)
	lastData map[tgtTP]int64 // last offset of a data record read per target partition
	errs     []string
}

func newCommittedCheck(t *testing.T, c *corpus, tgt, regex string) *committedCheck {
	t.Helper()
	cl := newClient(t, tgt, kgo.ConsumeRegex(), kgo.ConsumeTopics(regex), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.MetadataMaxAge(time.Second),
		kgo.FetchMaxWait(250*time.Millisecond))
	return &committedCheck{c: c, cl: cl, next: map[srcTP]int{}, last: map[tgtTP]int64{}, lastData: map[tgtTP]int64{}}
}

// count is the number of records checked.
func (m *committedCheck) count() int {
	n := 0
	for _, v := range m.next {
		n += v
	}
	return n
}

// pastAny reports whether a data record at or after the given offset of its partition was read.
func (m *committedCheck) pastAny(stable map[tgtTP]int64) bool {
	for k, end := range stable {
		if last, ok := m.lastData[k]; ok && last >= end {
			return true
		}
	}
	return false
}

// reached reports whether every partition was read up to its given last stable offset.
func (m *committedCheck) reached(stable map[tgtTP]int64) bool {
	for k, end := range stable {
		if end > 0 && m.last[k] < end-1 {
			return false
		}
	}
	return true
}

// waitFor reads the target until cond holds, failing at the first wrong record or after timeout.
func (m *committedCheck) waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	readUntil(t, m.cl, 200*time.Millisecond, timeout, what, cond, m.add,
		func() string { return fmt.Sprintf("%d records checked", m.count()) }, func() []string { return m.errs })
}

func (m *committedCheck) add(r *kgo.Record) {
	k := tgtTP{r.Topic, r.Partition}
	m.last[k] = max(m.last[k], r.Offset)
	if r.Attrs.IsControl() {
		return
	}
	m.lastData[k] = max(m.lastData[k], r.Offset)
	where := fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)
	topic, ok := bytes.CutPrefix([]byte(r.Topic), []byte("source."))
	if !ok {
		m.errs = append(m.errs, where+": not a prefixed copy")
		return
	}
	sk := srcTP{string(topic), r.Partition}
	m.c.mu.Lock()
	recs := m.c.recs[sk]
	m.c.mu.Unlock()
	i := m.next[sk]
	if i >= len(recs) {
		m.errs = append(m.errs, fmt.Sprintf("%s: record %d of a source partition that has %d: a duplicate or a stranger (value %q)", where, i, len(recs), r.Value))
		return
	}
	want := recs[i]
	if !bytes.Equal(want.key, r.Key) || (want.key == nil) != (r.Key == nil) || !bytes.Equal(want.value, r.Value) {
		m.errs = append(m.errs, fmt.Sprintf("%s: key %q value %q, want record %d of %s/%d: key %q value %q (a duplicate, a gap or a reordering)",
			where, r.Key, r.Value, i, sk.topic, sk.partition, want.key, want.value))
		return
	}
	m.next[sk] = i + 1
}
