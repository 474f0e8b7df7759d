package failover

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2/records"
)

// This file decodes MirrorMaker 2's internal records from the schemas Apache Kafka documents
// in connect/mirror (Checkpoint.java, OffsetSync.java), independently of
// workers/mm2/records, and checks that it reads what Fjord writes during a real replication.
//
// Kafka's protocol Struct serialization (org.apache.kafka.common.protocol.types): fields in
// schema order, big-endian; INT16/INT32/INT64 are 2/4/8 bytes; STRING is an INT16 length
// followed by that many bytes of UTF-8, a negative length being an error (STRING is not
// nullable); Schema.read ignores bytes after the last field.
//
//	Checkpoint   key   {group: STRING, topic: STRING, partition: INT32}
//	             value {version: INT16} header, then for version 0
//	                   {upstreamOffset: INT64, offset: INT64, metadata: STRING}
//	OffsetSync   key   {topic: STRING, partition: INT32}
//	             value {upstreamOffset: INT64, offset: INT64} (no version header)

// errSchema is wrapped by every decoding error of this file.
var errSchema = errors.New("does not match the MM2 schema")

// mm2Checkpoint is a Checkpoint record as MM2's schema names its fields.
type mm2Checkpoint struct {
	Group          string
	Topic          string
	Partition      int32
	UpstreamOffset int64
	Offset         int64 // downstream
	Metadata       string
}

// mm2OffsetSync is an OffsetSync record as MM2's schema names its fields.
type mm2OffsetSync struct {
	Topic          string
	Partition      int32
	UpstreamOffset int64
	Offset         int64 // downstream
}

// structReader reads one Struct from a buffer, as Schema.read does.
type structReader struct {
	buf *bytes.Reader
	err error
}

func newStruct(b []byte) *structReader { return &structReader{buf: bytes.NewReader(b)} }

func (s *structReader) fixed(field string, v any) {
	if s.err != nil {
		return
	}
	if err := binary.Read(s.buf, binary.BigEndian, v); err != nil {
		s.err = fmt.Errorf("%w: field %s: %v", errSchema, field, err)
	}
}

func (s *structReader) i16(field string) (v int16) { s.fixed(field, &v); return v }
func (s *structReader) i32(field string) (v int32) { s.fixed(field, &v); return v }
func (s *structReader) i64(field string) (v int64) { s.fixed(field, &v); return v }

func (s *structReader) str(field string) string {
	n := s.i16(field)
	if s.err != nil {
		return ""
	}
	if n < 0 {
		s.err = fmt.Errorf("%w: field %s: string length %d cannot be negative", errSchema, field, n)
		return ""
	}
	if int(n) > s.buf.Len() {
		s.err = fmt.Errorf("%w: field %s: string length %d exceeds the %d bytes left", errSchema, field, n, s.buf.Len())
		return ""
	}
	b := make([]byte, n)
	_, _ = s.buf.Read(b)
	return string(b)
}

func decodeCheckpointSchema(key, value []byte) (mm2Checkpoint, error) {
	var c mm2Checkpoint
	k := newStruct(key)
	c.Group, c.Topic, c.Partition = k.str("group"), k.str("topic"), k.i32("partition")
	v := newStruct(value)
	if version := v.i16("version"); v.err == nil && version != 0 {
		return mm2Checkpoint{}, fmt.Errorf("%w: checkpoint value version %d (only 0 is defined)", errSchema, version)
	}
	c.UpstreamOffset, c.Offset, c.Metadata = v.i64("upstreamOffset"), v.i64("offset"), v.str("metadata")
	if err := errors.Join(k.err, v.err); err != nil {
		return mm2Checkpoint{}, err
	}
	return c, nil
}

// decodeCheckpointBySchema is decodeCheckpointSchema for a drill's checkpoint watch, which
// then checks every checkpoint it reads against MM2's schema rather than Fjord's decoder.
func decodeCheckpointBySchema(key, value []byte) (records.Checkpoint, error) {
	c, err := decodeCheckpointSchema(key, value)
	return records.Checkpoint{ConsumerGroupID: c.Group, Topic: c.Topic, Partition: c.Partition,
		UpstreamOffset: c.UpstreamOffset, DownstreamOffset: c.Offset, Metadata: c.Metadata}, err
}

func decodeOffsetSyncSchema(key, value []byte) (mm2OffsetSync, error) {
	var s mm2OffsetSync
	k := newStruct(key)
	s.Topic, s.Partition = k.str("topic"), k.i32("partition")
	v := newStruct(value)
	s.UpstreamOffset, s.Offset = v.i64("upstreamOffset"), v.i64("offset")
	if err := errors.Join(k.err, v.err); err != nil {
		return mm2OffsetSync{}, err
	}
	return s, nil
}

// encodeCheckpointSchema and encodeOffsetSyncSchema write the documented layout, for the fuzz
// target's round trip (strings must fit an INT16 length).
func encodeCheckpointSchema(c mm2Checkpoint) (key, value []byte) {
	var k, v bytes.Buffer
	putStr(&k, c.Group)
	putStr(&k, c.Topic)
	_ = binary.Write(&k, binary.BigEndian, c.Partition)
	_ = binary.Write(&v, binary.BigEndian, int16(0))
	_ = binary.Write(&v, binary.BigEndian, c.UpstreamOffset)
	_ = binary.Write(&v, binary.BigEndian, c.Offset)
	putStr(&v, c.Metadata)
	return k.Bytes(), v.Bytes()
}

func encodeOffsetSyncSchema(s mm2OffsetSync) (key, value []byte) {
	var k, v bytes.Buffer
	putStr(&k, s.Topic)
	_ = binary.Write(&k, binary.BigEndian, s.Partition)
	_ = binary.Write(&v, binary.BigEndian, s.UpstreamOffset)
	_ = binary.Write(&v, binary.BigEndian, s.Offset)
	return k.Bytes(), v.Bytes()
}

func putStr(b *bytes.Buffer, s string) {
	_ = binary.Write(b, binary.BigEndian, int16(len(s)))
	b.WriteString(s)
}

// readInternal reads every record of topic on addrs up to its current end (a one-partition
// internal topic, read_uncommitted: the offset syncs are never transactional).
func readInternal(t testing.TB, addrs []string, topic string) []*kgo.Record {
	t.Helper()
	recs := readTopic(t, addrs, topic, false)
	return recs[0]
}

// TestMM2SchemaConformance runs a replication with checkpoints and group offset sync, in
// both delivery modes, and decodes every record Fjord wrote to the offset-syncs and
// checkpoints topics with the decoder above: each must decode, name the replicated topic,
// and agree with what the drill knows (checkpoints carry the groups' source commits and the
// offsets the target groups received).
func TestMM2SchemaConformance(t *testing.T) {
	t.Parallel()
	for _, eos := range []bool{false, true} {
		t.Run(mode(eos), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			d := startDrill(t, Options{Transactional: eos, Partitions: 3, LagMax: 7, Seed: 11})
			must(t, d.produce(ctx, 200))
			must(t, d.startSources(ctx, 1))
			must(t, d.startCheckpoint(ctx))
			must(t, d.consumeAndCommit(ctx, "conformance-live", 90))
			must(t, d.commitRandom(ctx, "conformance-admin", 3))
			must(t, d.produce(ctx, 5))
			must(t, d.waitSynced(ctx))

			syncs := readInternal(t, d.src, "mm2-offset-syncs."+targetAlias+".internal")
			if len(syncs) == 0 {
				t.Fatal("no offset syncs written")
			}
			last := map[int32]int64{}
			for _, r := range syncs {
				s, err := decodeOffsetSyncSchema(r.Key, r.Value)
				if err != nil {
					t.Fatalf("offset sync at %d: %v (key %x value %x)", r.Offset, err, r.Key, r.Value)
				}
				if s.Topic != srcTopic || s.Partition < 0 || s.Partition >= d.partitions || s.UpstreamOffset < 0 || s.Offset < 0 {
					t.Errorf("offset sync at %d: %+v does not name a replicated partition", r.Offset, s)
				}
				if len(r.Value) != 16 {
					t.Errorf("offset sync value is %d bytes, the schema has 16", len(r.Value))
				}
				last[s.Partition] = s.UpstreamOffset
			}
			if len(last) != int(d.partitions) {
				t.Errorf("offset syncs name %d partitions, want %d", len(last), d.partitions)
			}

			cps := readInternal(t, d.tgt, sourceAlias+".checkpoints.internal")
			latest := map[[2]string]mm2Checkpoint{}
			for _, r := range cps {
				c, err := decodeCheckpointSchema(r.Key, r.Value)
				if err != nil {
					t.Fatalf("checkpoint at %d: %v (key %x value %x)", r.Offset, err, r.Key, r.Value)
				}
				if c.Topic != tgtTopic || !utf8.ValidString(c.Group) {
					t.Errorf("checkpoint at %d: %+v does not name the target topic", r.Offset, c)
				}
				latest[[2]string{c.Group, fmt.Sprint(c.Partition)}] = c
			}
			tgtOffsets := d.targetOffsets(ctx)
			for group, parts := range d.commits {
				for p, x := range parts {
					c, ok := latest[[2]string{group, fmt.Sprint(p)}]
					if !ok {
						t.Errorf("no checkpoint for group %s partition %d", group, p)
						continue
					}
					if c.UpstreamOffset != x {
						t.Errorf("group %s partition %d: checkpoint upstream %d, the group committed %d", group, p, c.UpstreamOffset, x)
					}
					if got := tgtOffsets[group][p]; got != c.Offset {
						t.Errorf("group %s partition %d: checkpoint downstream %d, target group has %d", group, p, c.Offset, got)
					}
				}
			}
			if t.Failed() {
				return
			}
			if dir := *corpusDir; dir != "" {
				writeCorpus(t, dir, syncs, cps)
			}
		})
	}
}

// FuzzMM2SchemaDecode feeds arbitrary bytes to the schema decoder: it must never panic, and
// whatever it accepts must re-encode to the bytes it read (up to trailing bytes, which
// Schema.read ignores), and Fjord's own decoders (workers/mm2/records) must reach the same
// verdict and the same fields. The first byte picks the record type. The seeds are real records
// captured from TestMM2SchemaConformance (testdata/fuzz/FuzzMM2SchemaDecode, regenerate with
// -mm2schema.corpus=testdata/fuzz/FuzzMM2SchemaDecode) plus hand-made edge cases.
func FuzzMM2SchemaDecode(f *testing.F) {
	ck, cv := encodeCheckpointSchema(mm2Checkpoint{Group: "g", Topic: "east.orders", Partition: 2, UpstreamOffset: 41, Offset: 57, Metadata: ""})
	f.Add(byte(0), ck, cv)
	sk, sv := encodeOffsetSyncSchema(mm2OffsetSync{Topic: "orders", Partition: 5, UpstreamOffset: 1 << 40, Offset: 3})
	f.Add(byte(1), sk, sv)
	f.Add(byte(0), []byte{0xff, 0xff}, []byte{0, 1})               // negative length, version 1
	f.Add(byte(1), []byte{0, 5, 'a'}, []byte{0, 0, 0, 0, 0, 0, 0}) // short string, short value
	f.Add(byte(0), append(ck, 1, 2, 3), append(cv, 9))             // trailing bytes
	f.Fuzz(func(t *testing.T, kind byte, key, value []byte) {
		if kind%2 == 0 {
			c, err := decodeCheckpointSchema(key, value)
			// Fjord's own decoder must agree on every input: same verdict, same fields.
			f, ferr := records.DecodeCheckpoint(key, value)
			if (err == nil) != (ferr == nil) || (err == nil && (mm2Checkpoint{f.ConsumerGroupID, f.Topic, f.Partition, f.UpstreamOffset, f.DownstreamOffset, f.Metadata}) != c) {
				t.Fatalf("schema decoder: %+v, %v; records.DecodeCheckpoint: %+v, %v", c, err, f, ferr)
			}
			if err != nil {
				if !errors.Is(err, errSchema) {
					t.Fatalf("error does not wrap errSchema: %v", err)
				}
				return
			}
			k, v := encodeCheckpointSchema(c)
			if !bytes.HasPrefix(key, k) || !bytes.HasPrefix(value, v) {
				t.Fatalf("%+v re-encodes to %x / %x, read from %x / %x", c, k, v, key, value)
			}
			return
		}
		s, err := decodeOffsetSyncSchema(key, value)
		f, ferr := records.DecodeOffsetSync(key, value)
		if (err == nil) != (ferr == nil) || (err == nil && (mm2OffsetSync{f.Topic, f.Partition, f.UpstreamOffset, f.DownstreamOffset}) != s) {
			t.Fatalf("schema decoder: %+v, %v; records.DecodeOffsetSync: %+v, %v", s, err, f, ferr)
		}
		if err != nil {
			if !errors.Is(err, errSchema) {
				t.Fatalf("error does not wrap errSchema: %v", err)
			}
			return
		}
		k, v := encodeOffsetSyncSchema(s)
		if !bytes.HasPrefix(key, k) || !bytes.HasPrefix(value, v) {
			t.Fatalf("%+v re-encodes to %x / %x, read from %x / %x", s, k, v, key, value)
		}
	})
}

var corpusDir = flag.String("mm2schema.corpus", "", "TestMM2SchemaConformance writes the records it read as FuzzMM2SchemaDecode seeds into this directory")

// writeCorpus writes one seed file per distinct real record (at most 8 of each type).
func writeCorpus(t *testing.T, dir string, syncs, cps []*kgo.Record) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(kind byte, rs []*kgo.Record) {
		for i, r := range rs[:min(len(rs), 8)] {
			body := fmt.Sprintf("go test fuzz v1\nbyte(%s)\n[]byte(%q)\n[]byte(%q)\n", strconv.QuoteRune(rune(kind)), r.Key, r.Value)
			name := filepath.Join(dir, fmt.Sprintf("real-%d-%d", kind, i))
			if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, cps)
	write(1, syncs)
}
