package records

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The golden byte slices below are derived by hand from MM2's schemas (OffsetSync.java,
// Checkpoint.java, Heartbeat.java in org.apache.kafka.connect.mirror) and Kafka's Struct
// encoding: INT16/INT32/INT64 big-endian, STRING = INT16 byte length + UTF-8 bytes.

func TestOffsetSyncGolden(t *testing.T) {
	s := OffsetSync{Topic: "t1", Partition: 2, UpstreamOffset: 100, DownstreamOffset: 42}
	wantKey := []byte{
		0x00, 0x02, 't', '1', // topic STRING: length 2, "t1"
		0x00, 0x00, 0x00, 0x02, // partition INT32: 2
	}
	wantValue := []byte{
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, // upstreamOffset INT64: 100
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, // offset INT64: 42
	}
	checkGolden(t, s.Key(), wantKey, s.Value(), wantValue)
	got, err := DecodeOffsetSync(wantKey, wantValue)
	if err != nil || got != s {
		t.Fatalf("DecodeOffsetSync = %+v, %v; want %+v", got, err, s)
	}
}

func TestOffsetSyncGoldenLarge(t *testing.T) {
	// A multi-byte UTF-8 topic name and offsets that use every byte (and the sign bit).
	s := OffsetSync{Topic: "é", Partition: -1, UpstreamOffset: 0x0102030405060708, DownstreamOffset: -2}
	wantKey := []byte{
		0x00, 0x02, 0xc3, 0xa9, // topic STRING: 2 bytes of UTF-8 for U+00E9
		0xff, 0xff, 0xff, 0xff, // partition INT32: -1
	}
	wantValue := []byte{
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // upstreamOffset INT64: 0x0102030405060708
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, // offset INT64: -2
	}
	checkGolden(t, s.Key(), wantKey, s.Value(), wantValue)
}

func TestCheckpointGolden(t *testing.T) {
	c := Checkpoint{ConsumerGroupID: "g", Topic: "src.t", Partition: 1, UpstreamOffset: 7, DownstreamOffset: 5, Metadata: "m"}
	wantKey := []byte{
		0x00, 0x01, 'g', // group STRING: length 1, "g"
		0x00, 0x05, 's', 'r', 'c', '.', 't', // topic STRING: length 5, "src.t"
		0x00, 0x00, 0x00, 0x01, // partition INT32: 1
	}
	wantValue := []byte{
		0x00, 0x00, // version INT16: 0 (header)
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, // upstreamOffset INT64: 7
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, // offset INT64: 5
		0x00, 0x01, 'm', // metadata STRING: length 1, "m"
	}
	checkGolden(t, c.Key(), wantKey, c.Value(), wantValue)
	got, err := DecodeCheckpoint(wantKey, wantValue)
	if err != nil || got != c {
		t.Fatalf("DecodeCheckpoint = %+v, %v; want %+v", got, err, c)
	}
}

func TestCheckpointGoldenEmptyMetadata(t *testing.T) {
	c := Checkpoint{ConsumerGroupID: "", Topic: "x", Partition: 0, UpstreamOffset: 0, DownstreamOffset: 256}
	wantKey := []byte{
		0x00, 0x00, // group STRING: length 0
		0x00, 0x01, 'x', // topic STRING: length 1, "x"
		0x00, 0x00, 0x00, 0x00, // partition INT32: 0
	}
	wantValue := []byte{
		0x00, 0x00, // version INT16: 0
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // upstreamOffset INT64: 0
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, // offset INT64: 256
		0x00, 0x00, // metadata STRING: length 0 (empty, never null)
	}
	checkGolden(t, c.Key(), wantKey, c.Value(), wantValue)
}

func TestHeartbeatGolden(t *testing.T) {
	h := Heartbeat{SourceClusterAlias: "a", TargetClusterAlias: "bb", Timestamp: 0x18c12345678}
	wantKey := []byte{
		0x00, 0x01, 'a', // sourceClusterAlias STRING: length 1, "a"
		0x00, 0x02, 'b', 'b', // targetClusterAlias STRING: length 2, "bb"
	}
	wantValue := []byte{
		0x00, 0x00, // version INT16: 0 (header)
		0x00, 0x00, 0x01, 0x8c, 0x12, 0x34, 0x56, 0x78, // timestamp INT64: 0x18c12345678 ms
	}
	checkGolden(t, h.Key(), wantKey, h.Value(), wantValue)
	got, err := DecodeHeartbeat(wantKey, wantValue)
	if err != nil || got != h {
		t.Fatalf("DecodeHeartbeat = %+v, %v; want %+v", got, err, h)
	}
}

func TestSourceOffsetGolden(t *testing.T) {
	o := SourceOffset{Connector: "mirror-source", Cluster: "us-east", Topic: "orders", Partition: 3, Offset: 1234}
	wantKey := `["mirror-source",{"cluster":"us-east","partition":3,"topic":"orders"}]`
	wantValue := `{"offset":1234}`
	checkGolden(t, o.Key(), []byte(wantKey), o.Value(), []byte(wantValue))
	got, err := DecodeSourceOffset([]byte(wantKey), []byte(wantValue))
	if err != nil || got != o {
		t.Fatalf("DecodeSourceOffset = %+v, %v; want %+v", got, err, o)
	}
}

func TestSourceOffsetDecodeLenient(t *testing.T) {
	// Connect writes the partition map from a HashMap: any order, optional whitespace.
	key := `[ "c" , {"topic":"t","partition":0,"cluster":"src"} ]`
	got, err := DecodeSourceOffset([]byte(key), []byte(`{"offset": 9}`))
	want := SourceOffset{Connector: "c", Cluster: "src", Topic: "t", Partition: 0, Offset: 9}
	if err != nil || got != want {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	got, err = DecodeSourceOffset([]byte(key), nil)
	if !errors.Is(err, ErrTombstone) || got.Topic != "t" {
		t.Fatalf("tombstone: got %+v, %v", got, err)
	}
}

func TestSourceOffsetNoHTMLEscape(t *testing.T) {
	o := SourceOffset{Connector: "a<b>&c", Cluster: "x", Topic: "t"}
	if want := `["a<b>&c",{"cluster":"x","partition":0,"topic":"t"}]`; string(o.Key()) != want {
		t.Fatalf("Key = %s, want %s", o.Key(), want)
	}
}

func TestSourceOffsetMalformed(t *testing.T) {
	for _, tc := range []struct{ key, value string }{
		{``, `{"offset":1}`},
		{`[]`, `{"offset":1}`},
		{`["c"]`, `{"offset":1}`},
		{`[null,{"cluster":"a","partition":0,"topic":"t"}]`, `{"offset":1}`},
		{`[1,{"cluster":"a","partition":0,"topic":"t"}]`, `{"offset":1}`},
		{`["c",{"cluster":"a","topic":"t"}]`, `{"offset":1}`},
		{`["c",{"cluster":"a","partition":1.5,"topic":"t"}]`, `{"offset":1}`},
		{`["c",{"cluster":"a","partition":0,"topic":"t"},3]`, `{"offset":1}`},
		{`["c",{"cluster":"a","partition":0,"topic":"t"}]`, `{}`},
		{`["c",{"cluster":"a","partition":0,"topic":"t"}]`, `{"offset":"1"}`},
		{`["c",{"cluster":"a","partition":0,"topic":"t"}]`, `[`},
	} {
		if _, err := DecodeSourceOffset([]byte(tc.key), []byte(tc.value)); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeSourceOffset(%s, %s) = %v, want ErrMalformed", tc.key, tc.value, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	long := strings.Repeat("x", MaxStringLen)
	for _, s := range []OffsetSync{{}, {Topic: long, Partition: 1<<31 - 1, UpstreamOffset: -1, DownstreamOffset: 1<<63 - 1}} {
		got, err := DecodeOffsetSync(s.Key(), s.Value())
		if err != nil || got != s {
			t.Errorf("offset sync round trip: %v", err)
		}
	}
	for _, c := range []Checkpoint{{}, {ConsumerGroupID: long, Topic: "ü.t", Partition: 7, UpstreamOffset: 1, DownstreamOffset: 2, Metadata: long}} {
		got, err := DecodeCheckpoint(c.Key(), c.Value())
		if err != nil || got != c {
			t.Errorf("checkpoint round trip: %v", err)
		}
	}
	for _, h := range []Heartbeat{{}, {SourceClusterAlias: long, TargetClusterAlias: "b", Timestamp: -5}} {
		got, err := DecodeHeartbeat(h.Key(), h.Value())
		if err != nil || got != h {
			t.Errorf("heartbeat round trip: %v", err)
		}
	}
	for _, o := range []SourceOffset{{}, {Connector: "c \"q\" \\ \n", Cluster: "é", Topic: "t", Partition: -1, Offset: -1 << 63}} {
		got, err := DecodeSourceOffset(o.Key(), o.Value())
		if err != nil || got != o {
			t.Errorf("source offset round trip: got %+v, %v; want %+v", got, err, o)
		}
	}
}

func TestTooLongString(t *testing.T) {
	long := strings.Repeat("x", MaxStringLen+1)
	c := Checkpoint{ConsumerGroupID: "g", Topic: "t", Metadata: long}
	if err := c.Validate(); err == nil {
		t.Fatal("Validate accepted metadata longer than a Kafka STRING")
	}
	// Encoded anyway, it must not read back as something else.
	if _, err := DecodeCheckpoint(c.Key(), c.Value()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("decode of over-long metadata: %v, want ErrMalformed", err)
	}
	if err := (OffsetSync{Topic: long}).Validate(); err == nil {
		t.Fatal("OffsetSync.Validate accepted an over-long topic")
	}
	if err := (Heartbeat{TargetClusterAlias: long}).Validate(); err == nil {
		t.Fatal("Heartbeat.Validate accepted an over-long alias")
	}
}

func TestMalformed(t *testing.T) {
	okSync := OffsetSync{Topic: "t", Partition: 1, UpstreamOffset: 2, DownstreamOffset: 3}
	okCP := Checkpoint{ConsumerGroupID: "g", Topic: "t", Partition: 1, UpstreamOffset: 2, DownstreamOffset: 3, Metadata: "m"}
	okHB := Heartbeat{SourceClusterAlias: "a", TargetClusterAlias: "b", Timestamp: 1}
	cases := map[string]error{}
	decodeSync := func(k, v []byte) error { _, err := DecodeOffsetSync(k, v); return err }
	decodeCP := func(k, v []byte) error { _, err := DecodeCheckpoint(k, v); return err }
	decodeHB := func(k, v []byte) error { _, err := DecodeHeartbeat(k, v); return err }
	// Every strict prefix of a valid key or value is too short.
	for i := range len(okSync.Key()) {
		cases["sync key prefix"] = errors.Join(cases["sync key prefix"], want(decodeSync(okSync.Key()[:i], okSync.Value())))
	}
	for i := range len(okSync.Value()) {
		cases["sync value prefix"] = errors.Join(cases["sync value prefix"], want(decodeSync(okSync.Key(), okSync.Value()[:i])))
	}
	for i := range len(okCP.Key()) {
		cases["checkpoint key prefix"] = errors.Join(cases["checkpoint key prefix"], want(decodeCP(okCP.Key()[:i], okCP.Value())))
	}
	for i := range len(okCP.Value()) {
		cases["checkpoint value prefix"] = errors.Join(cases["checkpoint value prefix"], want(decodeCP(okCP.Key(), okCP.Value()[:i])))
	}
	for i := range len(okHB.Key()) {
		cases["heartbeat key prefix"] = errors.Join(cases["heartbeat key prefix"], want(decodeHB(okHB.Key()[:i], okHB.Value())))
	}
	for i := range len(okHB.Value()) {
		cases["heartbeat value prefix"] = errors.Join(cases["heartbeat value prefix"], want(decodeHB(okHB.Key(), okHB.Value()[:i])))
	}
	// A negative (null) string length and an unknown version.
	cases["null topic"] = want(decodeSync([]byte{0xff, 0xff, 0, 0, 0, 0}, okSync.Value()))
	cases["checkpoint version 1"] = want(decodeCP(okCP.Key(), append([]byte{0, 1}, okCP.Value()[2:]...)))
	cases["heartbeat version -1"] = want(decodeHB(okHB.Key(), append([]byte{0xff, 0xff}, okHB.Value()[2:]...)))
	cases["nil everything"] = errors.Join(want(decodeSync(nil, nil)), want(decodeCP(nil, nil)), want(decodeHB(nil, nil)))
	for name, err := range cases {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// want returns nil when err is a malformed-record error, and an error describing the miss
// otherwise.
func want(err error) error {
	if errors.Is(err, ErrMalformed) {
		return nil
	}
	return errors.New("decoder accepted malformed input or returned the wrong error: " + errString(err))
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestTrailingBytesIgnored(t *testing.T) {
	// MM2's Schema.read stops after the last field; so does Fjord.
	s := OffsetSync{Topic: "t", Partition: 1, UpstreamOffset: 2, DownstreamOffset: 3}
	got, err := DecodeOffsetSync(append(s.Key(), 9), append(s.Value(), 9, 9))
	if err != nil || got != s {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func checkGolden(t *testing.T, key, wantKey, value, wantValue []byte) {
	t.Helper()
	if !bytes.Equal(key, wantKey) {
		t.Errorf("key\n got %x\nwant %x", key, wantKey)
	}
	if !bytes.Equal(value, wantValue) {
		t.Errorf("value\n got %x\nwant %x", value, wantValue)
	}
}
