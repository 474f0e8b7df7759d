package mirror

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTargetCompression: producer.compression.type (a replicator's targetCompressionType)
// decides the codec of the record batches written to the target, read back raw with a
// FetchRequest (attributes & 0x07). The source is written uncompressed, so any compression
// seen on the target is the task's.
func TestTargetCompression(t *testing.T) {
	t.Parallel()
	for codec, want := range map[string]int16{"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			createTopic(t, e.srcAddrs, "z", 2)
			src := client(t, e.srcAddrs, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
			produceN(t, src, "z", 2, 0, 400, 1024) // 1 KiB values of one repeated letter: compressible
			cfg := e.config(t, map[string]string{"producer.compression.type": codec})
			rt := startTask(t, SourceOptions{Config: cfg, ConnectorName: "z", TaskCount: 1}, false)
			waitCopied(t, e, map[string]string{"z": "source.z"}, false, 20*time.Second)
			if err := rt.stop(t); err != nil {
				t.Fatal(err)
			}
			codecs := batchCodecs(t, e.tgtAddrs, "source.z")
			if len(codecs) == 0 {
				t.Fatal("no record batches fetched")
			}
			for c, n := range codecs {
				if c != want {
					t.Errorf("%d batches with codec %d, want only %d (%s)", n, c, want, codec)
				}
			}
			t.Logf("%s: batches by codec %v", codec, codecs)
		})
	}
}

// batchCodecs fetches every partition of topic from offset 0 with a raw FetchRequest and
// counts its record batches by compression codec (attributes & 0x07).
func batchCodecs(tb testing.TB, addrs []string, topic string) map[int16]int {
	tb.Helper()
	cl := client(tb, addrs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	td, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil || td[topic].Err != nil {
		tb.Fatalf("describe %s: %v %v", topic, err, td[topic].Err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxBytes = 64 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, td[topic].ID
	for _, p := range td[topic].Partitions.Numbers() {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p
		rp.PartitionMaxBytes = 32 << 20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		tb.Fatalf("fetch: %v", err)
	}
	out := map[int16]int{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				tb.Fatalf("fetch partition %d: %v", p.Partition, err)
			}
			raw := p.RecordBatches
			for len(raw) >= 12 {
				n := 12 + int(int32(binary.BigEndian.Uint32(raw[8:12])))
				if n > len(raw) {
					break // a partial batch at the end of the response
				}
				var b kmsg.RecordBatch
				if err := b.ReadFrom(raw[:n]); err != nil {
					tb.Fatalf("partition %d: record batch: %v", p.Partition, err)
				}
				if b.Magic != 2 {
					tb.Fatalf("partition %d: magic %d", p.Partition, b.Magic)
				}
				out[b.Attributes&0x07]++
				raw = raw[n:]
			}
			if p.HighWatermark > 0 && bytes.Equal(p.RecordBatches, raw) {
				tb.Fatalf("partition %d: no complete batch in %d bytes", p.Partition, len(raw))
			}
		}
	}
	return out
}
