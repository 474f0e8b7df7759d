package records

import (
	"bytes"
	"testing"
)

// Each fuzz target checks that decoding arbitrary bytes never panics, and that whatever
// decodes re-encodes to the bytes it was read from (up to ignored trailing bytes): the decoder
// neither invents nor loses information.

func FuzzDecodeOffsetSync(f *testing.F) {
	for _, s := range []OffsetSync{{}, {Topic: "t1", Partition: 2, UpstreamOffset: 100, DownstreamOffset: 42}, {Topic: "é", Partition: -1, UpstreamOffset: -1, DownstreamOffset: 1 << 40}} {
		f.Add(s.Key(), s.Value())
	}
	f.Add([]byte{0xff, 0xff}, []byte{})
	f.Add([]byte{0x7f, 0xff, 'x'}, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		s, err := DecodeOffsetSync(key, value)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(key, s.Key()) || !bytes.HasPrefix(value, s.Value()) {
			t.Fatalf("re-encoding %+v gives %x/%x, not a prefix of %x/%x", s, s.Key(), s.Value(), key, value)
		}
	})
}

func FuzzDecodeCheckpoint(f *testing.F) {
	for _, c := range []Checkpoint{{}, {ConsumerGroupID: "g", Topic: "src.t", Partition: 1, UpstreamOffset: 7, DownstreamOffset: 5, Metadata: "m"}, {ConsumerGroupID: "grüppe", Topic: "x", Partition: 1 << 20, UpstreamOffset: -1, DownstreamOffset: -1, Metadata: "{\"a\":1}"}} {
		f.Add(c.Key(), c.Value())
	}
	f.Add([]byte{0, 1, 'g', 0, 1, 't', 0, 0, 0, 0}, []byte{0, 1})
	f.Add([]byte{0, 1, 'g', 0, 1, 't', 0, 0, 0, 0}, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x00})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		c, err := DecodeCheckpoint(key, value)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(key, c.Key()) || !bytes.HasPrefix(value, c.Value()) {
			t.Fatalf("re-encoding %+v gives %x/%x, not a prefix of %x/%x", c, c.Key(), c.Value(), key, value)
		}
	})
}

func FuzzDecodeHeartbeat(f *testing.F) {
	for _, h := range []Heartbeat{{}, {SourceClusterAlias: "a", TargetClusterAlias: "bb", Timestamp: 0x18c12345678}, {SourceClusterAlias: "us-west", TargetClusterAlias: "", Timestamp: -1}} {
		f.Add(h.Key(), h.Value())
	}
	f.Add([]byte{0, 1, 'a'}, []byte{0, 0, 1})
	f.Add([]byte{0, 0, 0, 0}, []byte{0, 2, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		h, err := DecodeHeartbeat(key, value)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(key, h.Key()) || !bytes.HasPrefix(value, h.Value()) {
			t.Fatalf("re-encoding %+v gives %x/%x, not a prefix of %x/%x", h, h.Key(), h.Value(), key, value)
		}
	})
}

func FuzzDecodeSourceOffset(f *testing.F) {
	f.Add(SourceOffset{Connector: "c", Cluster: "a", Topic: "t", Partition: 1, Offset: 2}.Key(), []byte(`{"offset":2}`))
	f.Add([]byte(`["c",{"topic":"t","partition":0,"cluster":"src"}]`), []byte(nil))
	f.Add([]byte(`[`), []byte(`{`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		o, err := DecodeSourceOffset(key, value)
		if err != nil {
			return
		}
		// JSON admits many spellings of one value: check semantic round trip only.
		back, err := DecodeSourceOffset(o.Key(), o.Value())
		if err != nil || back != o {
			t.Fatalf("round trip of %+v: %+v, %v", o, back, err)
		}
	})
}
