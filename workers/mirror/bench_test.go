package mirror

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkReplicate copies the same 100,000 records of 1 KiB (12 partitions) from one kfake
// cluster to a fresh one, alternately with a raw franz-go consume→produce loop and with a
// SourceTask (at-least-once, and transactional), and reports each one's MB/s from the same
// run, plus the medians over the iterations of the same-iteration ratios task/raw (target ≥
// 0.9), eos/raw (target ≥ 0.8) and eos/task: a ratio of two copies that ran back to back moves
// less than their rates do on a busy machine (use -benchtime 5x or more; -cpu 1 is a 1-MCU
// worker's GOMAXPROCS). A
// transactional copy counts until every record is committed, so the time its last round takes
// to commit is part of it. Both sides use franz-go's producer defaults (snappy, linger 10 ms,
// 50,000 buffered records), acks=all and the idempotent producer; the task also writes offset
// syncs and progress. Clusters and the benchmark share a process.
func BenchmarkReplicate(b *testing.B) {
	const (
		records    = 100_000
		valueSize  = 1024
		partitions = 12
	)
	srcAddrs := newCluster(b)
	createTopic(b, srcAddrs, "bench", partitions)
	produceN(b, producer(b, srcAddrs), "bench", partitions, 0, records, valueSize)
	total := float64(records * valueSize)

	var raw, task, eos time.Duration
	var taskRaw, eosRaw, eosTask []float64 // same-iteration speed ratios
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Rotate the order so that no variant always runs on a freshly collected heap.
		var r, t, e time.Duration
		runs := []func(){
			func() { r = timeRaw(b, srcAddrs, "bench", partitions, records) },
			func() { t = timeTask(b, srcAddrs, "bench", partitions, records, false, i) },
			func() { e = timeTask(b, srcAddrs, "bench", partitions, records, true, i) },
		}
		for j := range runs {
			runtime.GC()
			runs[(i+j)%len(runs)]()
		}
		raw, task, eos = raw+r, task+t, eos+e
		taskRaw, eosRaw, eosTask = append(taskRaw, r.Seconds()/t.Seconds()), append(eosRaw, r.Seconds()/e.Seconds()), append(eosTask, t.Seconds()/e.Seconds())
	}
	n := float64(b.N)
	mbps := func(d time.Duration) float64 { return total * n / d.Seconds() / 1e6 }
	median := func(v []float64) float64 {
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	b.ReportMetric(mbps(raw), "raw_MB/s")
	b.ReportMetric(mbps(task), "task_MB/s")
	b.ReportMetric(mbps(eos), "eos_MB/s")
	b.ReportMetric(median(taskRaw), "task/raw")
	b.ReportMetric(median(eosRaw), "eos/raw")
	b.ReportMetric(median(eosTask), "eos/task")
	b.ReportMetric(0, "ns/op")
}

// benchCluster is a target cluster that is closed (its memory freed) right after use.
func benchCluster(b *testing.B) ([]string, func()) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	return c.ListenAddrs(), c.Close
}

// timeRaw copies topic with a plain consume→produce loop into a fresh cluster.
func timeRaw(b *testing.B, srcAddrs []string, topic string, partitions int32, records int64) time.Duration {
	b.StopTimer()
	tgtAddrs, closeTgt := benchCluster(b)
	defer closeTgt()
	createTopic(b, tgtAddrs, "source."+topic, partitions)
	assign := map[int32]kgo.Offset{}
	for p := range partitions {
		assign[p] = kgo.NewOffset().AtStart()
	}
	src, err := kgo.NewClient(kgo.SeedBrokers(srcAddrs...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	tgt, err := kgo.NewClient(kgo.SeedBrokers(tgtAddrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer tgt.Close()
	var acked atomic.Int64
	b.StartTimer()
	start := time.Now()
	ctx := context.Background()
	for produced := int64(0); produced < records; {
		fs := src.PollRecords(ctx, 0)
		fs.EachRecord(func(r *kgo.Record) {
			produced++
			tgt.Produce(ctx, &kgo.Record{Topic: "source." + topic, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp},
				func(_ *kgo.Record, err error) {
					if err != nil {
						panic(err)
					}
					acked.Add(1)
				})
		})
	}
	if err := tgt.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	b.StopTimer()
	if acked.Load() != records {
		b.Fatalf("raw loop acknowledged %d of %d", acked.Load(), records)
	}
	return d
}

// timeTask copies topic with a SourceTask into a fresh cluster and returns the time until
// every record was acknowledged (committed, when transactional).
func timeTask(b *testing.B, srcAddrs []string, topic string, partitions int32, records int64, transactional bool, i int) time.Duration {
	b.StopTimer()
	tgtAddrs, closeTgt := benchCluster(b)
	defer closeTgt()
	e := &env{srcAddrs: srcAddrs, tgtAddrs: tgtAddrs}
	createTopic(b, e.tgtAddrs, "source."+topic, partitions)
	task, err := NewSourceTask(SourceOptions{
		Config:          e.config(b, map[string]string{"topics": topic}),
		ConnectorName:   fmt.Sprintf("bench-%d-%v", i, transactional),
		TaskCount:       1,
		Transactional:   transactional,
		TransactionalID: fmt.Sprintf("bench-%d", i),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b.StartTimer()
	start := time.Now()
	go func() { done <- task.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for !task.copied(records, transactional) {
		if time.Now().After(deadline) {
			b.Fatalf("task copied %d of %d within a minute", task.stats.acked.Load(), records)
		}
		time.Sleep(2 * time.Millisecond)
	}
	d := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	return d
}

// copied reports whether n records were acknowledged and, when transactional, committed
// (progress written up to the last offset of every partition).
func (t *SourceTask) copied(n int64, transactional bool) bool {
	if t.stats.acked.Load() < n {
		return false
	}
	if !transactional {
		return true
	}
	var done int64
	for _, ps := range t.partitions() {
		ps.mu.Lock()
		done += ps.written + 1
		ps.mu.Unlock()
	}
	return done >= n
}
