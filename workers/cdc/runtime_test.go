package cdc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
	"github.com/fjord-io/fjord/workers/connect/transforms"
	"github.com/fjord-io/fjord/workers/runtime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testConnector = "inventory-cdc"
	testPrefix    = "dbserver1"
	testTopic     = "dbserver1.inventory.customers"
	testOffsets   = "__amazon_msk_connect_offsets_inventory-cdc_id-1"
)

func newCluster(t *testing.T) []string { return newClusterB(t) }

func newClusterB(tb testing.TB) []string {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c.ListenAddrs()
}

// newTaskB builds a task of conf with engine e.
func newTaskB(tb testing.TB, conf map[string]string, e *testEngine, txnID string) *Task {
	tb.Helper()
	spec := &agentv1.TaskSpec{ConnectorClass: debezium.MySQLConnector, Config: conf, TaskCount: 1, TransactionalId: txnID}
	task, err := NewTask(spec, runtime.TaskEnv{Worker: &agentv1.WorkerSpec{WorkloadName: testConnector}}, e.factory, parseCommon)
	if err != nil {
		tb.Fatal(err)
	}
	return task
}

func client(t *testing.T, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// testConf is a Debezium connector's task configuration writing to the cluster at addrs.
func testConf(addrs []string, extra ...string) map[string]string {
	m := map[string]string{
		"name":                               testConnector,
		"connector.class":                    debezium.MySQLConnector,
		"topic.prefix":                       testPrefix,
		"max.batch.size":                     "50",
		"max.queue.size":                     "200",
		"poll.interval.ms":                   "20",
		"fjord.connect.bootstrap.servers":    strings.Join(addrs, ","),
		"fjord.connect.offset.storage.topic": testOffsets,
		"fjord.connect.config.storage.topic": "__amazon_msk_connect_configs_inventory-cdc_id-1",
		"fjord.connect.status.storage.topic": "__amazon_msk_connect_status_inventory-cdc_id-1",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

// testWriter writes a task's log to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func parseCommon(m map[string]string) (*debezium.Config, error) {
	p := &debezium.Parser{M: m}
	c := debezium.ParseCommon(p, debezium.TimeAdaptive, []string{debezium.TimeAdaptive})
	if len(p.Errs) > 0 {
		return nil, p.Errs
	}
	return c, nil
}

// testEngine is an engine whose Run is the test's function; it records the offsets it was
// started from and the offsets it learnt were durable.
type testEngine struct {
	run func(ctx context.Context, offset map[string]any, out Emitter) error

	mu      sync.Mutex
	started []map[string]any
	durable []map[string]any
	env     Env
	notify  chan struct{} // signalled on every Durable
}

func newEngine(run func(ctx context.Context, offset map[string]any, out Emitter) error) *testEngine {
	return &testEngine{run: run, notify: make(chan struct{}, 1)}
}

func (e *testEngine) Run(ctx context.Context, offset map[string]any, out Emitter) error {
	e.mu.Lock()
	e.started = append(e.started, offset)
	e.mu.Unlock()
	return e.run(ctx, offset, out)
}

func (e *testEngine) Durable(offset map[string]any) {
	e.mu.Lock()
	e.durable = append(e.durable, offset)
	e.mu.Unlock()
	select {
	case e.notify <- struct{}{}:
	default:
	}
}

// lastDurable is the position of the last durable offset (-1: none).
func (e *testEngine) lastDurable() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.durable) == 0 {
		return -1
	}
	n, _ := OffsetInt(e.durable[len(e.durable)-1], "pos")
	return n
}

// waitDurable waits until the offset at pos is durable.
func (e *testEngine) waitDurable(ctx context.Context, pos int64) error {
	for e.lastDurable() < pos {
		select {
		case <-e.notify:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (e *testEngine) factory(env Env) (Engine, error) {
	e.env = env
	return e, nil
}

var (
	testKeySchema   = &data.Schema{Type: data.StructType, Name: testTopic + ".Key", Fields: []data.Field{{Name: "id", Schema: data.Int32Schema}}}
	testValueSchema = &data.Schema{Type: data.StructType, Name: testTopic + ".Value", Optional: true, Fields: []data.Field{
		{Name: "id", Schema: data.Int32Schema}, {Name: "seq", Schema: data.Int64Schema}}}
)

// rec is the change record of seq for key id, whose offset is {"pos": seq}.
func rec(id int32, seq int64) Record {
	return Record{Topic: testTopic, KeySchema: testKeySchema, Key: data.NewStruct(testKeySchema).Put("id", id),
		ValueSchema: testValueSchema, Value: data.NewStruct(testValueSchema).Put("id", id).Put("seq", seq),
		Timestamp: time.UnixMilli(1700000000000 + seq), Partition: Partition(testPrefix), Offset: map[string]any{"pos": seq}}
}

// started runs a task of conf with engine e until the test stops it; stop cancels it and
// returns Run's result.
func started(t *testing.T, conf map[string]string, e *testEngine, txnID string, opts ...func(*Task)) (stop func() error, done <-chan error) {
	t.Helper()
	spec := &agentv1.TaskSpec{ConnectorClass: debezium.MySQLConnector, Config: conf, TaskCount: 1, TransactionalId: txnID}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	task, err := NewTask(spec, runtime.TaskEnv{Worker: &agentv1.WorkerSpec{WorkloadName: testConnector}, Logger: log}, e.factory, parseCommon)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(task)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	fin := make(chan struct{})
	var runErr error
	go func() {
		runErr = task.Run(ctx)
		close(fin)
		ch <- runErr
	}()
	stop = func() error {
		cancel()
		select {
		case <-fin:
			return runErr
		case <-time.After(30 * time.Second):
			return errors.New("Run did not return within 30 s of its stop")
		}
	}
	t.Cleanup(func() { stop() })
	return stop, ch
}

// consumed is every record of topic, read_committed.
func consumed(t *testing.T, addrs []string, topic string) []*kgo.Record {
	t.Helper()
	adm := kadm.NewClient(client(t, addrs))
	ends, err := adm.ListCommittedOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	cl := client(t, addrs, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset - 1
		}
	})
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v (still to read %v)", topic, ctx.Err(), remaining)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if last, ok := remaining[r.Partition]; ok && r.Offset >= last {
				delete(remaining, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}

// storedOffsets are the records of the offsets topic under the test connector's key.
func storedOffsets(t *testing.T, addrs []string) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	for _, r := range consumed(t, addrs, testOffsets) {
		if string(r.Key) == `["`+testConnector+`",{"server":"`+testPrefix+`"}]` {
			out = append(out, r)
		}
	}
	return out
}

// payload is the seq of a record written with the default JsonConverter.
func payloadSeq(t *testing.T, r *kgo.Record) int64 {
	t.Helper()
	var v struct {
		Payload struct{ Seq int64 } `json:"payload"`
	}
	if err := json.Unmarshal(r.Value, &v); err != nil {
		t.Fatalf("value %s: %v", r.Value, err)
	}
	return v.Payload.Seq
}

func emitRange(ctx context.Context, out Emitter, from, to int64) error {
	for s := from; s <= to; s++ {
		if err := out.Emit(ctx, rec(int32(s%7), s)); err != nil {
			return err
		}
	}
	return nil
}

// TestOffsetsStoredAndResumed: a round's records are written, then its offset under Kafka
// Connect's key for the connector and its partition (partitioned by murmur2 of the key); the
// engine learns it is durable; a restarted task passes the stored offset to its engine.
func TestOffsetsStoredAndResumed(t *testing.T) {
	t.Parallel()
	addrs := newCluster(t)
	conf := testConf(addrs)
	e := newEngine(func(ctx context.Context, _ map[string]any, out Emitter) error {
		if err := emitRange(ctx, out, 1, 120); err != nil {
			return nil
		}
		<-ctx.Done()
		return nil
	})
	stop, _ := started(t, conf, e, "")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := e.waitDurable(ctx, 120); err != nil {
		t.Fatalf("offset 120 not durable: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run after stop = %v, want nil", err)
	}
	if e.started[0] != nil {
		t.Errorf("first run started from %v, want nil (no stored offset)", e.started[0])
	}
	recs := consumed(t, addrs, testTopic)
	if len(recs) != 120 {
		t.Fatalf("%d records, want 120", len(recs))
	}
	offs := storedOffsets(t, addrs)
	if len(offs) == 0 {
		t.Fatal("no offset record")
	}
	last := offs[len(offs)-1]
	if string(last.Value) != `{"pos":120}` {
		t.Errorf("last offset record %s, want {\"pos\":120}", last.Value)
	}
	want := kgo.StickyKeyPartitioner(nil).ForTopic(testOffsets).Partition(&kgo.Record{Key: last.Key}, 25)
	for _, o := range offs {
		if int(o.Partition) != want {
			t.Errorf("offset record in partition %d, want %d (murmur2 of the key over 25 partitions)", o.Partition, want)
		}
	}
	if len(e.durable) < len(offs) || !reflect.DeepEqual(e.durable[len(e.durable)-1], map[string]any{"pos": int64(120)}) {
		t.Errorf("durable %v (%d), offsets written %d", e.durable[len(e.durable)-1], len(e.durable), len(offs))
	}

	// Restart: the engine starts from the stored offset and emits what follows it.
	e2 := newEngine(func(ctx context.Context, offset map[string]any, out Emitter) error {
		from, _ := OffsetInt(offset, "pos")
		if err := emitRange(ctx, out, from+1, from+10); err != nil {
			return nil
		}
		<-ctx.Done()
		return nil
	})
	stop2, _ := started(t, conf, e2, "")
	if err := e2.waitDurable(ctx, 130); err != nil {
		t.Fatalf("offset 130 not durable: %v", err)
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e2.started, []map[string]any{{"pos": int64(120)}}) {
		t.Errorf("restarted engine started from %v, want pos 120", e2.started)
	}
	recs = consumed(t, addrs, testTopic)
	for i, r := range recs {
		if s := payloadSeq(t, r); s != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, s)
		}
	}
	if len(recs) != 130 {
		t.Errorf("%d records, want 130", len(recs))
	}
}

// TestJavaOffsets: an offset Kafka Connect wrote for Java Debezium (other connectors' and
// other partitions' records around it) is what the engine starts from, numbers as int64; a
// later null value erases it.
func TestJavaOffsets(t *testing.T) {
	t.Parallel()
	addrs := newCluster(t)
	conf := testConf(addrs)
	adm := kadm.NewClient(client(t, addrs))
	compact := "compact"
	if _, err := adm.CreateTopic(t.Context(), 25, 1, map[string]*string{"cleanup.policy": &compact}, testOffsets); err != nil {
		t.Fatal(err)
	}
	key := []byte(`["` + testConnector + `",{"server":"` + testPrefix + `"}]`)
	java := &kgo.Record{Topic: testOffsets, Key: key,
		Value: []byte(`{"transaction_id":null,"ts_sec":1700000000,"file":"mysql-bin.000003","pos":154,"gtids":"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5","row":1,"server_id":223344,"event":2,"ratio":0.5}`)}
	others := []*kgo.Record{
		{Topic: testOffsets, Key: []byte(`["another",{"server":"` + testPrefix + `"}]`), Value: []byte(`{"pos":1}`)},
		{Topic: testOffsets, Key: []byte(`["` + testConnector + `",{"server":"other"}]`), Value: []byte(`{"pos":2}`)},
		{Topic: testOffsets, Key: []byte(`not json`), Value: []byte(`{"pos":3}`)},
	}
	producer := client(t, addrs) // the default partitioner: murmur2 of the key, as Connect's producer
	if err := producer.ProduceSync(t.Context(), append([]*kgo.Record{java}, others...)...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	run := func() map[string]any {
		e := newEngine(func(ctx context.Context, _ map[string]any, _ Emitter) error { <-ctx.Done(); return nil })
		stop, _ := started(t, conf, e, "")
		deadline := time.Now().Add(20 * time.Second)
		for {
			e.mu.Lock()
			n := len(e.started)
			e.mu.Unlock()
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the engine did not start")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		return e.started[0]
	}
	want := map[string]any{"transaction_id": nil, "ts_sec": int64(1700000000), "file": "mysql-bin.000003", "pos": int64(154),
		"gtids": "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", "row": int64(1), "server_id": int64(223344), "event": int64(2), "ratio": 0.5}
	if got := run(); !reflect.DeepEqual(got, want) {
		t.Errorf("started from %#v, want %#v", got, want)
	}
	if err := producer.ProduceSync(t.Context(), &kgo.Record{Topic: testOffsets, Key: key}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := run(); got != nil {
		t.Errorf("after a null offset, started from %v, want nil", got)
	}
}

// TestAtLeastOnceOrder: many rounds over three partitions; every key's records arrive in the
// order the engine emitted them, and the stored offset is the last one.
func TestAtLeastOnceOrder(t *testing.T) {
	t.Parallel()
	addrs := newCluster(t)
	conf := testConf(addrs, "topic.creation.default.partitions", "3", "max.batch.size", "17", "max.queue.size", "40")
	const n = 3000
	e := newEngine(func(ctx context.Context, _ map[string]any, out Emitter) error {
		for s := int64(1); s <= n; s += 3 {
			// Three records at once, as one change event's records are emitted.
			if err := out.Emit(ctx, rec(int32(s%11), s), rec(int32((s+1)%11), s+1), rec(int32((s+2)%11), s+2)); err != nil {
				return nil
			}
		}
		<-ctx.Done()
		return nil
	})
	stop, _ := started(t, conf, e, "")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := e.waitDurable(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	recs := consumed(t, addrs, testTopic)
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	last := map[string]int64{}
	parts := map[string]int32{}
	for _, r := range recs {
		s := payloadSeq(t, r)
		k := string(r.Key)
		if s <= last[k] {
			t.Fatalf("key %s: seq %d after %d", k, s, last[k])
		}
		if p, ok := parts[k]; ok && p != r.Partition {
			t.Fatalf("key %s in partitions %d and %d", k, p, r.Partition)
		}
		last[k], parts[k] = s, r.Partition
	}
	if len(e.durable) < 2 {
		t.Errorf("%d rounds, want many (max.batch.size 17)", len(e.durable))
	}
	prev := int64(0)
	for _, d := range e.durable {
		p, _ := OffsetInt(d, "pos")
		if p <= prev {
			t.Fatalf("durable offsets out of order: %v", e.durable)
		}
		prev = p
	}
}

// TestExactlyOnceAbortedRound: with a transactional id each round is a transaction holding
// its records and its offset; an engine that fails while a round is open aborts it — its
// records are never visible to read_committed consumers and the stored offset stays the last
// committed round's — and the restarted task resumes from there without duplicates.
func TestExactlyOnceAbortedRound(t *testing.T) {
	t.Parallel()
	addrs := newCluster(t)
	conf := testConf(addrs, "exactly.once.support", "required")
	txnID := catalog.TransactionalID("connector", testConnector, 0)
	boom := &runtime.Error{Code: "DATABASE_GONE", Err: errors.New("the binlog reader failed")}
	ready := make(chan struct{})
	var readyOnce sync.Once
	var e *testEngine
	e = newEngine(func(ctx context.Context, _ map[string]any, out Emitter) error {
		if err := emitRange(ctx, out, 1, 30); err != nil {
			return nil
		}
		if err := e.waitDurable(ctx, 30); err != nil {
			return nil
		}
		if err := emitRange(ctx, out, 31, 40); err != nil {
			return nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil
		}
		return boom
	})
	hook := func(task *Task) {
		task.beforeCommit = func(last map[string]any, engineDone <-chan struct{}) {
			if p, _ := OffsetInt(last, "pos"); p > 30 {
				readyOnce.Do(func() { close(ready) })
				<-engineDone
			}
		}
	}
	_, done := started(t, conf, e, txnID, hook)
	select {
	case err := <-done:
		if err != boom { //nolint:errorlint // the engine's error, as it is
			t.Fatalf("Run = %v, want the engine's error as it is", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return the engine's error")
	}
	recs := consumed(t, addrs, testTopic)
	if len(recs) != 30 || payloadSeq(t, recs[29]) != 30 {
		t.Fatalf("read_committed sees %d records, want the 30 of the committed rounds", len(recs))
	}
	offs := storedOffsets(t, addrs)
	if len(offs) == 0 || string(offs[len(offs)-1].Value) != `{"pos":30}` {
		t.Fatalf("stored offsets %v, want the last at pos 30", offs)
	}
	if p := e.lastDurable(); p != 30 {
		t.Errorf("durable up to %d, want 30", p)
	}
	// Every committed record is in exactly one transaction with its offset: the records are
	// transactional.
	for _, r := range recs {
		if !r.Attrs.IsTransactional() {
			t.Fatalf("record %d not transactional", payloadSeq(t, r))
		}
	}

	e2 := newEngine(func(ctx context.Context, offset map[string]any, out Emitter) error {
		from, _ := OffsetInt(offset, "pos")
		if err := emitRange(ctx, out, from+1, 40); err != nil {
			return nil
		}
		<-ctx.Done()
		return nil
	})
	stop2, _ := started(t, conf, e2, txnID)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := e2.waitDurable(ctx, 40); err != nil {
		t.Fatal(err)
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e2.started, []map[string]any{{"pos": int64(30)}}) {
		t.Errorf("restart from %v, want pos 30", e2.started)
	}
	recs = consumed(t, addrs, testTopic)
	if len(recs) != 40 {
		t.Fatalf("%d records after the restart, want 40", len(recs))
	}
	for i, r := range recs {
		if s := payloadSeq(t, r); s != int64(i+1) {
			t.Fatalf("record %d is seq %d: a duplicate or a gap", i, s)
		}
	}
}

// topicChain is a transforms chain for the hook test: it routes records to another topic and
// drops the records of odd seq.
type topicChain struct{}

func (topicChain) Apply(r *transforms.Record) (*transforms.Record, error) {
	if s, ok := r.Value.(*data.Struct); ok && s.Get("seq").(int64)%2 == 1 {
		return nil, nil
	}
	out := *r
	out.Topic = "routed." + r.Topic
	return &out, nil
}

// TestTransformsAndSkipped: records pass the connector's transforms (topic changed, records
// dropped); a dropped record and an offset-only record (a skipped operation) still move the
// offset.
func TestTransformsAndSkipped(t *testing.T) {
	t.Parallel()
	addrs := newCluster(t)
	conf := testConf(addrs)
	e := newEngine(func(ctx context.Context, _ map[string]any, out Emitter) error {
		if err := emitRange(ctx, out, 1, 10); err != nil {
			return nil
		}
		if err := out.Emit(ctx, Record{Partition: Partition(testPrefix), Offset: map[string]any{"pos": int64(11)}}); err != nil {
			return nil
		}
		<-ctx.Done()
		return nil
	})
	stop, _ := started(t, conf, e, "", func(task *Task) { task.chain = topicChain{} })
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := e.waitDurable(ctx, 11); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	recs := consumed(t, addrs, "routed."+testTopic)
	if len(recs) != 5 {
		t.Fatalf("%d routed records, want the 5 of even seq", len(recs))
	}
	for _, r := range recs {
		if payloadSeq(t, r)%2 != 0 {
			t.Errorf("record of seq %d not dropped", payloadSeq(t, r))
		}
	}
	if d, err := kadm.NewClient(client(t, addrs)).ListTopics(t.Context(), testTopic); err != nil || d.Has(testTopic) {
		t.Errorf("the original topic exists (%v): nothing was written to it", err)
	}
	offs := storedOffsets(t, addrs)
	if string(offs[len(offs)-1].Value) != `{"pos":11}` {
		t.Errorf("stored offset %s, want pos 11 (the offset-only record's)", offs[len(offs)-1].Value)
	}
}

// TestTransformsConfigured: the connector's transforms (transforms.New) apply: Kafka's
// RegexRouter routes, Debezium's ExtractNewRecordState unwraps; an unknown transform fails
// NewTask naming its key.
func TestTransformsConfigured(t *testing.T) {
	t.Parallel()
	e := newEngine(nil)
	spec := &agentv1.TaskSpec{Config: testConf([]string{"127.0.0.1:1"}, "transforms", "flat", "transforms.flat.type", "org.apache.kafka.connect.transforms.Flatten$Value")}
	if _, err := NewTask(spec, runtime.TaskEnv{}, e.factory, parseCommon); err == nil || !strings.Contains(err.Error(), "transforms.flat.type") {
		t.Errorf("NewTask = %v, want an error naming transforms.flat.type", err)
	}
	spec.Config = testConf([]string{"127.0.0.1:1"})
	if task, err := NewTask(spec, runtime.TaskEnv{}, e.factory, parseCommon); err != nil || task.chain != nil {
		t.Errorf("NewTask = %v, %v; want no chain", task, err)
	}

	addrs := newCluster(t)
	conf := testConf(addrs, "transforms", "route",
		"transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex", `dbserver1\.inventory\.(.*)`, "transforms.route.replacement", "cdc.$1",
		"value.converter.schemas.enable", "false")
	e = newEngine(func(ctx context.Context, _ map[string]any, out Emitter) error {
		if err := emitRange(ctx, out, 1, 3); err != nil {
			return nil
		}
		<-ctx.Done()
		return nil
	})
	stop, _ := started(t, conf, e, "")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := e.waitDurable(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	recs := consumed(t, addrs, "cdc.customers")
	if len(recs) != 3 || string(recs[2].Value) != `{"id":3,"seq":3}` {
		t.Errorf("routed records %d, last %s", len(recs), recs[len(recs)-1].Value)
	}
}

// TestConverters: the default converters are Kafka Connect's JsonConverter with schemas and
// SimpleHeaderConverter; the configured ones apply with their options.
func TestConverters(t *testing.T) {
	t.Parallel()
	emit := func(ctx context.Context, _ map[string]any, out Emitter) error {
		r := rec(7, 1)
		r.Headers = []Header{{Key: "__debezium.oldkey", Schema: testKeySchema, Value: data.NewStruct(testKeySchema).Put("id", int32(6))}}
		tomb := Record{Topic: testTopic, KeySchema: testKeySchema, Key: data.NewStruct(testKeySchema).Put("id", int32(7)),
			Partition: Partition(testPrefix), Offset: map[string]any{"pos": int64(2)}}
		if err := out.Emit(ctx, r, tomb); err != nil {
			return nil
		}
		<-ctx.Done()
		return nil
	}
	for _, c := range []struct {
		name      string
		conf      []string
		key, val  string
		tombstone bool
	}{
		{"defaults", nil,
			`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"dbserver1.inventory.customers.Key"},"payload":{"id":7}}`,
			`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"seq"}],"optional":true,"name":"dbserver1.inventory.customers.Value"},"payload":{"id":7,"seq":1}}`,
			true},
		{"schemas disabled", []string{"key.converter", "org.apache.kafka.connect.json.JsonConverter", "key.converter.schemas.enable", "false",
			"value.converter", "JsonConverter", "value.converter.schemas.enable", "false"},
			`{"id":7}`, `{"id":7,"seq":1}`, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			addrs := newCluster(t)
			e := newEngine(emit)
			stop, _ := started(t, testConf(addrs, c.conf...), e, "")
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			if err := e.waitDurable(ctx, 2); err != nil {
				t.Fatal(err)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			recs := consumed(t, addrs, testTopic)
			if len(recs) != 2 {
				t.Fatalf("%d records, want 2", len(recs))
			}
			if string(recs[0].Key) != c.key || string(recs[0].Value) != c.val {
				t.Errorf("record\nkey   %s\nvalue %s\nwant\nkey   %s\nvalue %s", recs[0].Key, recs[0].Value, c.key, c.val)
			}
			if len(recs[0].Headers) != 1 || recs[0].Headers[0].Key != "__debezium.oldkey" || string(recs[0].Headers[0].Value) != `{"id":6}` {
				t.Errorf("headers %v, want __debezium.oldkey as SimpleHeaderConverter writes a struct", recs[0].Headers)
			}
			if recs[1].Value != nil || string(recs[1].Key) != c.key {
				t.Errorf("tombstone %s=%s, want the key and a null value", recs[1].Key, recs[1].Value)
			}
			if recs[0].Timestamp.UnixMilli() != 1700000000001 {
				t.Errorf("timestamp %v, want the record's", recs[0].Timestamp)
			}
		})
	}
}

// TestTopicCreation: a missing topic is created before the first record with
// topic.creation.default.* (partitions, topic configs), a matching group's settings override
// them; an existing topic is left as it is.
func TestTopicCreation(t *testing.T) {
	t.Parallel()
	addrs := newCluster(t)
	adm := kadm.NewClient(client(t, addrs))
	if _, err := adm.CreateTopic(t.Context(), 2, 1, nil, "dbserver1.inventory.existing"); err != nil {
		t.Fatal(err)
	}
	conf := testConf(addrs, "topic.creation.default.partitions", "3", "topic.creation.default.cleanup.policy", "compact",
		"topic.creation.groups", "big", "topic.creation.big.include", `dbserver1\.inventory\.big.*`, "topic.creation.big.partitions", "5",
		"topic.creation.big.retention.ms", "1000000")
	e := newEngine(func(ctx context.Context, _ map[string]any, out Emitter) error {
		var recs []Record
		for i, topic := range []string{testTopic, "dbserver1.inventory.bigtable", "dbserver1.inventory.existing"} {
			r := rec(1, int64(i+1))
			r.Topic = topic
			recs = append(recs, r)
		}
		if err := out.Emit(ctx, recs...); err != nil {
			return nil
		}
		<-ctx.Done()
		return nil
	})
	stop, _ := started(t, conf, e, "")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := e.waitDurable(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	d, err := adm.ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for topic, n := range map[string]int{testTopic: 3, "dbserver1.inventory.bigtable": 5, "dbserver1.inventory.existing": 2, testOffsets: 25} {
		if got := len(d[topic].Partitions); got != n {
			t.Errorf("%s has %d partitions, want %d", topic, got, n)
		}
	}
	configs, err := adm.DescribeTopicConfigs(t.Context(), testTopic, "dbserver1.inventory.bigtable", testOffsets)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		testTopic:                      {"cleanup.policy": "compact"},
		"dbserver1.inventory.bigtable": {"cleanup.policy": "compact", "retention.ms": "1000000"},
		testOffsets:                    {"cleanup.policy": "compact"},
	}
	for _, rc := range configs {
		for k, v := range want[rc.Name] {
			found := false
			for _, c := range rc.Configs {
				if c.Key == k && c.Value != nil && *c.Value == v {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: %s is not %s", rc.Name, k, v)
			}
		}
	}
	for _, topic := range []string{testTopic, "dbserver1.inventory.bigtable", "dbserver1.inventory.existing"} {
		if n := len(consumed(t, addrs, topic)); n != 1 {
			t.Errorf("%s has %d records, want 1", topic, n)
		}
	}
}

// TestFailures: an engine's error is Run's as it is; a record the converter refuses fails the
// task without storing its offset; a task whose engine panics fails instead of crashing.
func TestFailures(t *testing.T) {
	t.Parallel()
	addrs := newCluster(t)
	permanent := &runtime.Error{Code: catalog.CodeInvalidConfiguration, Permanent: true, Err: errors.New("binlog_format is STATEMENT, not ROW")}
	wait := func(done <-chan error) error {
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not return")
			return nil
		}
	}
	e := newEngine(func(context.Context, map[string]any, Emitter) error { return permanent })
	_, done := started(t, testConf(addrs), e, "")
	if err := wait(done); err != permanent { //nolint:errorlint // as it is
		t.Errorf("Run = %v, want the engine's error", err)
	}

	bad := newEngine(func(ctx context.Context, _ map[string]any, out Emitter) error {
		r := rec(1, 1)
		r.Value = "not a struct"
		if err := out.Emit(ctx, r); err != nil {
			return nil
		}
		<-ctx.Done()
		return nil
	})
	_, done = started(t, testConf(addrs), bad, "")
	if err := wait(done); err == nil || !strings.Contains(err.Error(), "value.converter") {
		t.Errorf("Run = %v, want the value converter's error", err)
	}
	if len(bad.durable) != 0 {
		t.Errorf("durable %v after a failed round", bad.durable)
	}

	panicky := newEngine(func(context.Context, map[string]any, Emitter) error { panic("engine bug") })
	_, done = started(t, testConf(addrs), panicky, "")
	var coded *runtime.Error
	if err := wait(done); !errors.As(err, &coded) || coded.Code != runtime.CodeTaskPanicked {
		t.Errorf("Run = %v, want TASK_PANICKED", err)
	}
}

// TestBackPressure: Emit blocks once max.queue.size records wait, and returns when the task
// stops; the engine returns Emit's error, which is no failure then: Run returns nil and the
// records queued before the stop are committed.
func TestBackPressure(t *testing.T) {
	t.Parallel()
	addrs := newCluster(t)
	conf := testConf(addrs)
	var count atomic.Int64
	e := newEngine(func(ctx context.Context, _ map[string]any, out Emitter) error {
		for s := int64(1); ; s++ {
			if err := out.Emit(ctx, rec(1, s)); err != nil {
				return err // as the contract says: Emit's error as it is (here ctx's)
			}
			count.Store(s)
		}
	})
	gate := make(chan struct{})
	stop, _ := started(t, conf, e, "", func(task *Task) {
		task.beforeCommit = func(map[string]any, <-chan struct{}) { <-gate }
	})
	// The first round waits at the gate; the engine fills the queue, then blocks.
	deadline := time.Now().Add(20 * time.Second)
	for prev := int64(-1); ; {
		time.Sleep(100 * time.Millisecond)
		n := count.Load()
		if n > 0 && n == prev {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine never blocked (%d records emitted)", n)
		}
		prev = n
	}
	// At most a round (max.batch.size 50) plus the queue (max.queue.size 200).
	if n := count.Load(); n > 50+200 {
		t.Errorf("the engine emitted %d records past a blocked round: the queue is not bounded", n)
	}
	close(gate)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	n := count.Load()
	recs := consumed(t, addrs, testTopic)
	if int64(len(recs)) != n {
		t.Errorf("%d records written, %d emitted: a stop commits what was queued", len(recs), n)
	}
}

// TestMetrics: the engine's metrics reach the task's gauges and the worker's counters.
func TestMetrics(t *testing.T) {
	t.Parallel()
	addrs := newCluster(t)
	reg := prometheus.NewRegistry()
	tm := &runtime.TaskMetrics{}
	e := newEngine(func(ctx context.Context, _ map[string]any, out Emitter) error {
		<-ctx.Done()
		return nil
	})
	spec := &agentv1.TaskSpec{Config: testConf(addrs)}
	_, err := NewTask(spec, runtime.TaskEnv{Registry: reg, Metrics: tm}, e.factory, parseCommon)
	if err != nil {
		t.Fatal(err)
	}
	m := e.env.Metrics
	m.Polled(3)
	m.BehindSource(1500 * time.Millisecond)
	m.Snapshot(true, "inventory.customers", 42, 100, 1, 4)
	gauges := func() map[string]float64 {
		out := map[string]float64{}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				name := mf.GetName()
				for _, l := range m.GetLabel() {
					name += "/" + l.GetValue()
				}
				out[name] = m.GetGauge().GetValue()
			}
		}
		return out
	}
	g := gauges()
	if v := g[MetricBehindSource]; v != 1500 {
		t.Errorf("%s = %v", MetricBehindSource, v)
	}
	if v := g[MetricSnapshotRows+"/inventory.customers"]; v != 42 {
		t.Errorf("%s = %v", MetricSnapshotRows, v)
	}
	if g[MetricSnapshotRunning] != 1 || g[MetricSnapshotTablesTotal] != 4 {
		t.Errorf("snapshot gauges %v", g)
	}
	names := map[string]bool{}
	for n := range g {
		names[strings.Split(n, "/")[0]] = true
	}
	catalogued := catalog.MetricNames()
	for _, n := range []string{MetricBehindSource, MetricSnapshotRunning, MetricSnapshotRows, MetricSnapshotTablesDone, MetricSnapshotTablesTotal} {
		if !names[n] {
			t.Errorf("%s not registered", n)
		}
		if catalogued[n] != "gauge" {
			t.Errorf("%s is not a catalogued gauge", n)
		}
	}
	// A second task of the same worker (a restart) registers again without error.
	if _, err := NewTask(spec, runtime.TaskEnv{Registry: reg, Metrics: tm}, e.factory, parseCommon); err != nil {
		t.Errorf("second NewTask: %v", err)
	}
	m.Snapshot(false, "", 0, 0, 4, 4)
	if g := gauges(); g[MetricSnapshotRunning] != 0 || g[MetricSnapshotTablesDone] != 4 {
		t.Errorf("snapshot gauges after the snapshot %v", g)
	}
}

// TestNewTaskRefusals: a configuration the task cannot run is refused when the task is built,
// naming the key.
func TestNewTaskRefusals(t *testing.T) {
	t.Parallel()
	addrs := []string{"127.0.0.1:1"}
	for key, conf := range map[string]map[string]string{
		"value.converter":                   testConf(addrs, "value.converter", "io.confluent.connect.avro.AvroConverter"),
		"key.converter.schemas.enable":      testConf(addrs, "key.converter.schemas.enable", "maybe"),
		"topic.creation.default.partitions": testConf(addrs, "topic.creation.default.partitions", "none"),
		"fjord.connect.bootstrap.servers":   {"topic.prefix": testPrefix},
		"fjord.connect.status.storage.topic": func() map[string]string {
			c := testConf(addrs)
			delete(c, "fjord.connect.status.storage.topic")
			return c
		}(),
		"topic.prefix": testConf(addrs, "topic.prefix", "bad prefix!"),
	} {
		e := newEngine(nil)
		if _, err := NewTask(&agentv1.TaskSpec{Config: conf}, runtime.TaskEnv{}, e.factory, parseCommon); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("NewTask = %v, want an error naming %s", err, key)
		}
	}
}

// TestConnectorOffsetsTopic: with offsets.storage.topic (KIP-618) the offsets are written to
// the connector's own topic; a connector that has none there yet starts from the runtime's
// offsets topic, as Kafka Connect does.
func TestConnectorOffsetsTopic(t *testing.T) {
	t.Parallel()
	addrs := newCluster(t)
	first := newEngine(func(ctx context.Context, _ map[string]any, out Emitter) error {
		if err := emitRange(ctx, out, 1, 5); err != nil {
			return nil
		}
		<-ctx.Done()
		return nil
	})
	stop, _ := started(t, testConf(addrs), first, "")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := first.waitDurable(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	conf := testConf(addrs, "offsets.storage.topic", "inventory-cdc-offsets")
	resume := func() *testEngine {
		return newEngine(func(ctx context.Context, offset map[string]any, out Emitter) error {
			from, _ := OffsetInt(offset, "pos")
			if err := emitRange(ctx, out, from+1, from+3); err != nil {
				return nil
			}
			<-ctx.Done()
			return nil
		})
	}
	for _, want := range []int64{5, 8} {
		e := resume()
		stop, _ := started(t, conf, e, "")
		if err := e.waitDurable(ctx, want+3); err != nil {
			t.Fatal(err)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(e.started, []map[string]any{{"pos": want}}) {
			t.Errorf("started from %v, want pos %d", e.started, want)
		}
	}
	var own []*kgo.Record
	for _, r := range consumed(t, addrs, "inventory-cdc-offsets") {
		if strings.HasPrefix(string(r.Key), `["`+testConnector+`"`) {
			own = append(own, r)
		}
	}
	if len(own) == 0 || string(own[len(own)-1].Value) != `{"pos":11}` {
		t.Errorf("the connector's offsets topic holds %d records", len(own))
	}
	if offs := storedOffsets(t, addrs); string(offs[len(offs)-1].Value) != `{"pos":5}` {
		t.Errorf("the runtime's offsets topic moved: %s", offs[len(offs)-1].Value)
	}
}

// TestOffsetKeyReuse: a round's offset key is encoded once per source partition and encoded
// again when the partition changes, also when the same map is changed in place.
func TestOffsetKeyReuse(t *testing.T) {
	w := &writer{Task: &Task{name: "c"}}
	p := map[string]any{"server": "db1"}
	k1, err := w.offsetKey(p)
	if err != nil || string(k1) != `["c",{"server":"db1"}]` {
		t.Fatalf("offsetKey = %s, %v", k1, err)
	}
	if k2, _ := w.offsetKey(map[string]any{"server": "db1"}); &k2[0] != &k1[0] {
		t.Error("the same partition was encoded again")
	}
	p["server"] = "db2"
	if k3, _ := w.offsetKey(p); string(k3) != `["c",{"server":"db2"}]` {
		t.Errorf("changed partition: %s", k3)
	}
	if k4, _ := w.offsetKey(map[string]any{"server": "db2", "x": []any{1}}); string(k4) != `["c",{"server":"db2","x":[1]}]` {
		t.Errorf("partition with a list: %s", k4)
	}
}
