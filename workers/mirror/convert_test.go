package mirror

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/connect/convert"
	"github.com/fjord-io/fjord/workers/mm2"
)

// jsonBytes is what Kafka's JsonConverter writes for MirrorSourceConnector's optional bytes.
func jsonBytes(b []byte, schemas bool) string {
	p := "null"
	if b != nil {
		p = `"` + base64.StdEncoding.EncodeToString(b) + `"`
	}
	if !schemas {
		return p
	}
	return `{"schema":{"type":"bytes","optional":true},"payload":` + p + `}`
}

// TestConverters copies records through the converters of a connector configuration: with
// JsonConverter the target holds the JSON forms of the keys and values (null ones included)
// and SimpleHeaderConverter's base64 headers, while Fjord's provenance header (an identity
// policy turns loop prevention on) stays as Fjord wrote it; with ByteArrayConverter, and with
// no converter, the bytes are the source's.
func TestConverters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		conf map[string]string
		key  func([]byte) []byte
		val  func([]byte) []byte
		hdr  func([]byte) []byte
	}{
		{"json", map[string]string{"key.converter": convert.JSONClass, "value.converter": convert.JSONClass,
			"value.converter.schemas.enable": "false", "header.converter": convert.SimpleHeaderClass},
			func(b []byte) []byte { return []byte(jsonBytes(b, true)) },
			func(b []byte) []byte { return []byte(jsonBytes(b, false)) },
			func(b []byte) []byte {
				if b == nil {
					return nil
				}
				return []byte(base64.StdEncoding.EncodeToString(b))
			}},
		{"bytearray", map[string]string{"key.converter": convert.ByteArrayClass, "value.converter": convert.ByteArrayClass,
			"header.converter": convert.ByteArrayClass}, same, same, same},
		{"none", nil, same, same, same},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			createTopic(t, e.srcAddrs, "events", 2)
			prod := producer(t, e.srcAddrs)
			produceN(t, prod, "events", 2, 0, 300, 20)
			// A tombstone, and a record with neither key nor headers.
			for _, r := range []*kgo.Record{{Topic: "events", Key: []byte("gone"), Partition: 1}, {Topic: "events", Value: []byte("v"), Partition: 0}} {
				if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			conf := map[string]string{"replication.policy.class": mm2.IdentityPolicyClass, "topics": "events"}
			for k, v := range tc.conf {
				conf[k] = v
			}
			rt := startTask(t, SourceOptions{Config: e.config(t, conf), ConnectorName: "conv", TaskCount: 1}, false)
			tgtAdm := kadm.NewClient(client(t, e.tgtAddrs))
			srcAdm := kadm.NewClient(client(t, e.srcAddrs))
			want := endOffsets(t, srcAdm, "events")
			waitFor(t, 20*time.Second, "every record copied", func() bool { return endOffsets(t, tgtAdm, "events") >= want })
			if err := rt.stop(t); err != nil {
				t.Fatal(err)
			}
			src, dst := readAll(t, e.srcAddrs, "events", false), readAll(t, e.tgtAddrs, "events", false)
			n := 0
			for p, recs := range src {
				if len(dst[p]) != len(recs) {
					t.Fatalf("partition %d: %d records on the target, %d on the source", p, len(dst[p]), len(recs))
				}
				for i, s := range recs {
					d := dst[p][i]
					n++
					if string(d.Key) != string(tc.key(s.Key)) || (d.Key == nil) != (tc.key(s.Key) == nil) {
						t.Fatalf("key of %d/%d: %q, want %q", p, s.Offset, d.Key, tc.key(s.Key))
					}
					if string(d.Value) != string(tc.val(s.Value)) || (d.Value == nil) != (tc.val(s.Value) == nil) {
						t.Fatalf("value of %d/%d: %q, want %q", p, s.Offset, d.Value, tc.val(s.Value))
					}
					if !d.Timestamp.Equal(s.Timestamp) {
						t.Fatalf("timestamp of %d/%d: %v, want %v", p, s.Offset, d.Timestamp, s.Timestamp)
					}
					if len(d.Headers) != len(s.Headers)+1 {
						t.Fatalf("headers of %d/%d: %v, want the source's %v and the provenance", p, s.Offset, d.Headers, s.Headers)
					}
					for j, h := range s.Headers {
						if d.Headers[j].Key != h.Key || string(d.Headers[j].Value) != string(tc.hdr(h.Value)) {
							t.Fatalf("header %d of %d/%d: %s=%q, want %s=%q", j, p, s.Offset, d.Headers[j].Key, d.Headers[j].Value, h.Key, tc.hdr(h.Value))
						}
					}
					last := d.Headers[len(d.Headers)-1]
					if last.Key != ProvenanceHeader || strings.ContainsAny(string(last.Value), "{=\"") || len(last.Value) == 0 {
						t.Fatalf("provenance header of %d/%d: %s=%q", p, s.Offset, last.Key, last.Value)
					}
				}
			}
			if n != 302 {
				t.Fatalf("%d records compared, want 302", n)
			}
		})
	}
}

func same(b []byte) []byte { return b }

// TestConverterFailureStopsTask: a record its converter cannot write fails the task, as in
// Connect with errors.tolerance=none, and progress stays before it.
func TestConverterFailureStopsTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	createTopic(t, e.srcAddrs, "events", 1)
	prod := producer(t, e.srcAddrs)
	for i, r := range []*kgo.Record{
		{Topic: "events", Value: []byte("ok"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}},
		{Topic: "events", Value: []byte("bad"), Headers: []kgo.RecordHeader{{Key: "h"}}}, // a null required bytes header
	} {
		if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(i, err)
		}
	}
	cfg := e.config(t, map[string]string{"header.converter": convert.JSONClass})
	rt := startTask(t, SourceOptions{Config: cfg, ConnectorName: "bad", TaskCount: 1}, false)
	select {
	case err := <-rt.done:
		rt.err = err
		close(rt.done)
		if err == nil || !strings.Contains(err.Error(), "header.converter") || !strings.Contains(err.Error(), "offset 1") {
			t.Fatalf("Run: %v, want a header.converter error at offset 1", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the task did not fail")
	}
	progress := readProgressTopic(t, e.tgtAddrs, mm2.OffsetsTopic("source"))
	for k, v := range progress {
		if strings.Contains(k, `"events"`) && v != `{"offset":0}` {
			t.Fatalf("progress %s = %s, want offset 0 (before the record that failed)", k, v)
		}
	}
	dst := readAll(t, e.tgtAddrs, "source.events", false)
	if len(dst[0]) != 1 || string(dst[0][0].Value) != "ok" {
		t.Fatalf("target holds %v, want only the first record", dst[0])
	}
}

// TestOffsetFlushInterval: offset.flush.interval.ms sets how often an at-least-once task
// records progress; a transactional task keeps its transaction interval.
func TestOffsetFlushInterval(t *testing.T) {
	e := &env{srcAddrs: []string{"127.0.0.1:1"}, tgtAddrs: []string{"127.0.0.1:2"}}
	cfg := e.config(t, map[string]string{"offset.flush.interval.ms": "250"})
	for _, tc := range []struct {
		opts SourceOptions
		want time.Duration
	}{
		{SourceOptions{Config: cfg, ConnectorName: "c", TaskCount: 1}, 250 * time.Millisecond},
		{SourceOptions{Config: cfg, ConnectorName: "c", TaskCount: 1, CommitInterval: time.Second}, time.Second},
		{SourceOptions{Config: cfg, ConnectorName: "c", TaskCount: 1, Transactional: true, TransactionalID: "x"}, DefaultTxnInterval},
		{SourceOptions{Config: e.config(t, nil), ConnectorName: "c", TaskCount: 1}, DefaultCommitInterval},
	} {
		task, err := NewSourceTask(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if task.opts.CommitInterval != tc.want {
			t.Errorf("CommitInterval %v, want %v (options %+v)", task.opts.CommitInterval, tc.want, tc.opts.CommitInterval)
		}
	}
	if _, err := mm2.ParseConfig(map[string]string{"source.cluster.bootstrap.servers": "a:1", "target.cluster.bootstrap.servers": "b:1",
		"offset.flush.interval.ms": "0"}); err == nil || !strings.Contains(err.Error(), "offset.flush.interval.ms") {
		t.Errorf("offset.flush.interval.ms=0: %v", err)
	}
}
