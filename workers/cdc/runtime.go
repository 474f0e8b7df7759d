package cdc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/convert"
	"github.com/fjord-io/fjord/workers/connect/transforms"
	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/runtime"
)

// StopTimeout bounds how long a stopping task keeps trying to commit its in-flight round
// once its context is done.
const StopTimeout = 30 * time.Second

// Chain is a connector's single message transforms, applied in order (transforms.Chain).
type Chain interface {
	// Apply returns the transformed record, or nil when the record is dropped.
	Apply(r *transforms.Record) (*transforms.Record, error)
}

// newChain builds the transforms of a configuration (the transforms=… keys); nil when it
// configures none.
func newChain(conf map[string]string) (Chain, error) {
	c, err := transforms.New(conf)
	if err != nil || c.Len() == 0 {
		return nil, err
	}
	return c, nil
}

// Task is the task of a Debezium connector: it runs the connector's Engine and writes what the
// engine emits to the connector's Kafka cluster, in rounds. A round is what the engine queued
// (at most max.batch.size records, extended to the next record that carries an offset, so that
// the records of one change event are never split): its records pass the connector's
// transforms and converters and are produced; once every one is acknowledged the round's
// source offsets (the last of each source partition) are written to the Connect offsets topic
// and acknowledged too, then the engine learns they are durable (Acknowledger). With
// exactly.once.support the round's records and offset records are one Kafka transaction.
type Task struct {
	name   string
	conf   map[string]string
	cc     *mm2.ConnectCluster
	common *debezium.Config
	engine Engine
	log    *slog.Logger
	hooks  []kgo.Opt
	txnID  string
	// offsetsTopic is where the source offsets are written: offsets.storage.topic, else the
	// Connect runtime's offsets topic.
	offsetsTopic string

	keyConv, valueConv convert.Converter
	headerConv         convert.HeaderConverter
	chain              Chain
	creation           catalog.TopicCreation
	metrics            *metrics

	// beforeCommit, for tests, runs when a round's records and offsets are acknowledged and
	// before the round is committed; last is the round's last offset, engineDone is closed
	// once the engine returned.
	beforeCommit func(last map[string]any, engineDone <-chan struct{})
}

// NewTask builds the task of a Debezium connector: f builds its engine, parse reads the
// connector's configuration (the common keys every engine shares). hooks are added to every
// Kafka client of the task. An error is an invalid configuration.
func NewTask(spec *agentv1.TaskSpec, env runtime.TaskEnv, f Factory, parse func(map[string]string) (*debezium.Config, error), hooks ...kgo.Opt) (*Task, error) {
	conf := spec.GetConfig()
	cc, err := mm2.ParseConnectCluster(conf)
	if err != nil {
		return nil, err
	}
	if cc == nil {
		return nil, &debezium.FieldError{Key: mm2.KeyConnectBootstrap, Message: "is required: a Debezium connector writes to its Kafka cluster (kafkaCluster)"}
	}
	common, err := parse(conf)
	if err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	name := conf["name"]
	if name == "" {
		name = env.Worker.GetWorkloadName()
	}
	t := &Task{name: name, conf: conf, cc: cc, common: common, hooks: hooks,
		log: log.With("component", "cdc", "connector", name)}
	if t.keyConv, err = converter(conf, convert.Key); err != nil {
		return nil, err
	}
	if t.valueConv, err = converter(conf, convert.Value); err != nil {
		return nil, err
	}
	if class, ok := conf[string(convert.Header)]; ok {
		if t.headerConv, err = convert.NewHeader(class, convert.Options(conf, convert.Header)); err != nil {
			return nil, err
		}
	} else {
		t.headerConv = convert.SimpleHeader{}
	}
	if t.chain, err = newChain(conf); err != nil {
		return nil, err
	}
	var errs []catalog.FieldError
	if t.creation, errs = catalog.ParseTopicCreation(conf); len(errs) > 0 {
		return nil, fieldErrors(errs)
	}
	t.offsetsTopic = cc.OffsetsTopic
	if v := strings.TrimSpace(conf["offsets.storage.topic"]); v != "" {
		t.offsetsTopic = v
	}
	t.txnID = spec.GetTransactionalId()
	if t.txnID == "" {
		switch strings.ToLower(strings.TrimSpace(conf["exactly.once.support"])) {
		case "required", "requested":
			t.txnID = catalog.TransactionalID("connector", name, int(spec.GetTaskIndex()))
		}
	}
	t.metrics, err = newMetrics(env)
	if err != nil {
		return nil, err
	}
	t.engine, err = f(Env{Name: name, Config: conf, Common: common, TaskIndex: int(spec.GetTaskIndex()), Logger: t.log,
		Metrics: t.metrics, KafkaOpts: t.kafkaOpts})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// fieldErrors is the catalog's problems as one error.
func fieldErrors(errs []catalog.FieldError) error {
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}

// converter is the key or value converter conf names; Kafka Connect's default is the
// JsonConverter with schemas.enable=true.
func converter(conf map[string]string, kind convert.Kind) (convert.Converter, error) {
	class, ok := conf[string(kind)]
	if !ok || strings.TrimSpace(class) == "" {
		class = convert.JSONClass
	}
	return convert.New(kind, class, convert.Options(conf, kind))
}

// kafkaOpts are the options of a client of the cluster at bootstrap: the connector's Kafka
// cluster's security when it is that cluster, and the task's hooks.
func (t *Task) kafkaOpts(bootstrap []string) []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(bootstrap...), kgo.WithLogger(runtime.KgoLogger(t.log))}
	if mm2.SameServers(bootstrap, t.cc.Bootstrap) {
		opts = append(opts, t.cc.Security.Opts()...)
	}
	return append(opts, t.hooks...)
}

// Run runs the engine and writes its records until ctx is done (then the in-flight round is
// committed and Run returns nil) or the engine or a write fails (the error is returned; the
// restarted task resumes from the last durable offset).
func (t *Task) Run(ctx context.Context) error {
	opts := append(t.kafkaOpts(t.cc.Bootstrap),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(max(4*t.common.MaxBatchSize, 10000)),
		kgo.ProducerLinger(0))
	if t.txnID != "" {
		opts = append(opts, kgo.TransactionalID(t.txnID), kgo.TransactionTimeout(time.Minute))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return &runtime.Error{Code: runtime.CodeInvalidConfiguration, Permanent: true, Err: err}
	}
	defer cl.Close()
	defer t.metrics.reset()

	// The producing context outlives ctx by StopTimeout, so the in-flight round commits.
	prodCtx, cancelProd := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelProd()
	var stopTimer atomic.Pointer[time.Timer]
	stopWatch := context.AfterFunc(ctx, func() { stopTimer.Store(time.AfterFunc(StopTimeout, cancelProd)) })
	defer func() {
		stopWatch()
		if tm := stopTimer.Load(); tm != nil {
			tm.Stop()
		}
	}()

	w := &writer{Task: t, cl: cl, parts: map[string]int{}, next: map[string]int{}, keyed: kgo.StickyKeyPartitioner(nil).ForTopic("")}
	if t.txnID != "" {
		// Initialising the producer id fences an older task with our transactional id and
		// aborts its open transaction, so the offsets read below are final.
		if err := retry(ctx, t.log, "initialise the transactional producer", func() error {
			_, _, err := cl.ProducerID(ctx)
			return err
		}); err != nil {
			return stopped(ctx, err)
		}
	}
	if _, err := w.ensureTopic(ctx, t.offsetsTopic); err != nil {
		return stopped(ctx, err)
	}
	offset, err := w.readOffsets(ctx)
	if err != nil {
		return stopped(ctx, err)
	}
	if offset != nil {
		t.log.Info("resuming from the stored source offset", "offset", offset)
	} else {
		t.log.Info("no stored source offset")
	}

	q := &queue{ch: make(chan Record, t.common.MaxQueueSize), stop: make(chan struct{})}
	eng := &engineRun{done: make(chan struct{})}
	engCtx, cancelEng := context.WithCancel(ctx)
	go func() {
		defer close(eng.done)
		defer func() {
			if p := recover(); p != nil {
				eng.err = &runtime.Error{Code: runtime.CodeTaskPanicked, Err: fmt.Errorf("the engine panicked: %v", p)}
			}
		}()
		err := t.engine.Run(engCtx, offset, q)
		if err != nil && engCtx.Err() != nil {
			// Stopping (or the writer failed): what the engine says then is no failure of its
			// own, and what it queued before is still committed.
			t.log.Debug("the engine returned while stopping", "error", err)
			err = nil
		}
		eng.err = err
	}()
	err = w.loop(ctx, prodCtx, q, eng)
	cancelEng()
	q.close()
	<-eng.done
	return err
}

// stopped is err, or nil when ctx is done (a stop is not a failure).
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// engineRun is the engine's goroutine: done is closed when Run returned err.
type engineRun struct {
	done chan struct{}
	err  error
}

// failed is the engine's error once it returned one.
func (e *engineRun) failed() error {
	select {
	case <-e.done:
		return e.err
	default:
		return nil
	}
}

// queue is the Emitter: a bounded queue (max.queue.size) between the engine and the writer.
type queue struct {
	ch       chan Record
	stop     chan struct{}
	stopOnce sync.Once
}

var errStopped = errors.New("cdc: the task is stopping")

// Emit implements Emitter.
func (q *queue) Emit(ctx context.Context, recs ...Record) error {
	for _, r := range recs {
		select {
		case q.ch <- r:
		case <-ctx.Done():
			return ctx.Err()
		case <-q.stop:
			return errStopped
		}
	}
	return nil
}

func (q *queue) close() { q.stopOnce.Do(func() { close(q.stop) }) }

// writer is a running task's producing side.
type writer struct {
	*Task
	cl *kgo.Client
	// parts are the partition counts of the topics written to, next the next partition of
	// each for records without key.
	parts   map[string]int
	next    map[string]int
	brokers int
	keyed   kgo.TopicPartitioner
	// lastPart and lastKey are the last source partition's offset key (offsetKey).
	lastPart map[string]any
	lastKey  []byte
}

// loop takes rounds from q and commits them until the engine returns.
func (w *writer) loop(ctx, prodCtx context.Context, q *queue, eng *engineRun) error {
	for {
		batch, ended := w.take(q, eng, true)
		if len(batch) > 0 {
			if err := w.round(prodCtx, batch, eng); err != nil {
				if ctx.Err() != nil && errors.Is(err, context.Canceled) {
					return nil
				}
				return err
			}
			continue
		}
		if !ended {
			continue
		}
		if err := eng.err; err != nil {
			return err // the queued records are not committed: the restart reads them again
		}
		// The engine returned nil: it was stopped, or it has nothing more to do
		// (snapshot.mode=initial_only). What it queued is committed.
		for {
			batch, _ := w.take(q, eng, false)
			if len(batch) == 0 {
				break
			}
			if err := w.round(prodCtx, batch, eng); err != nil {
				return stopped(ctx, err)
			}
		}
		<-ctx.Done()
		return nil
	}
}

// take is the next round's records: it waits (when wait is set) for a first record or the end
// of the engine (ended), then takes what is queued up to max.batch.size records, and past that
// the records up to the next one carrying an offset (waiting for them at most poll.interval.ms
// each).
func (w *writer) take(q *queue, eng *engineRun, wait bool) (batch []Record, ended bool) {
	if wait {
		select {
		case r := <-q.ch:
			batch = append(batch, r)
		case <-eng.done:
			return nil, true
		}
	}
	limit := w.common.MaxBatchSize
more:
	for len(batch) < limit {
		select {
		case r := <-q.ch:
			batch = append(batch, r)
		default:
			break more
		}
	}
	if len(batch) == 0 || batch[len(batch)-1].Offset != nil {
		return batch, false
	}
	timer := time.NewTimer(w.common.PollInterval)
	defer timer.Stop()
	for len(batch) < 2*limit && batch[len(batch)-1].Offset == nil {
		select {
		case r := <-q.ch:
			batch = append(batch, r)
		case <-timer.C:
			return batch, false
		case <-eng.done:
			if !wait {
				return batch, false
			}
			wait = false // take what is left without blocking on the engine again
			select {
			case r := <-q.ch:
				batch = append(batch, r)
			default:
				return batch, false
			}
		}
	}
	return batch, false
}

// offsetKey is a source partition's key in the offsets topic, as Kafka Connect writes it with
// its internal JsonConverter (schemas.enable=false): ["<connector>",{<partition>}].
func offsetKey(connector string, partition map[string]any) ([]byte, error) {
	return json.Marshal([]any{connector, partition})
}

// offsetKey is offsetKey(w.name, partition), the last one reused while the partition stays
// the same (engines emit every record with the same partition, mostly the same map).
func (w *writer) offsetKey(partition map[string]any) ([]byte, error) {
	if w.lastKey != nil && samePartitionMap(w.lastPart, partition) {
		return w.lastKey, nil
	}
	key, err := offsetKey(w.name, partition)
	if err != nil {
		return nil, err
	}
	w.lastPart, w.lastKey = maps.Clone(partition), key
	return key, nil
}

// samePartitionMap reports whether a and b hold the same keys with the same string or number
// values (false for other values, which are then encoded again).
func samePartitionMap(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok {
			return false
		}
		switch av.(type) {
		case string, bool, int, int32, int64, uint32, uint64, float64:
			if av != bv {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// round converts, produces and commits one round.
func (w *writer) round(ctx context.Context, batch []Record, eng *engineRun) error {
	type pending struct {
		key   []byte
		value map[string]any
	}
	var (
		recs    []*kgo.Record
		offsets []pending
		last    map[string]any
		nbytes  int64
	)
	for i := range batch {
		r := &batch[i]
		if r.Offset != nil {
			last = r.Offset
			if r.Partition != nil {
				key, err := w.offsetKey(r.Partition)
				if err != nil {
					return fmt.Errorf("cdc: source partition %v: %w", r.Partition, err)
				}
				j := 0
				for j < len(offsets) && !bytes.Equal(offsets[j].key, key) {
					j++
				}
				if j == len(offsets) {
					offsets = append(offsets, pending{key: key})
				}
				offsets[j].value = r.Offset
			}
		}
		if r.Topic == "" && r.Key == nil && r.Value == nil {
			continue // only moves the offset (a skipped operation)
		}
		kr, err := w.convert(r)
		if err != nil {
			return err
		}
		if kr == nil {
			continue // dropped by a transform
		}
		nbytes += int64(len(kr.Key) + len(kr.Value))
		for _, h := range kr.Headers {
			nbytes += int64(len(h.Key) + len(h.Value))
		}
		recs = append(recs, kr)
	}
	if err := w.ensureTopics(ctx, recs); err != nil {
		return err
	}
	var offRecs []*kgo.Record
	for _, o := range offsets {
		v, err := json.Marshal(o.value)
		if err != nil {
			return fmt.Errorf("cdc: source offset %v: %w", o.value, err)
		}
		offRecs = append(offRecs, &kgo.Record{Topic: w.offsetsTopic, Key: o.key, Value: v, Partition: -1})
	}
	for _, r := range offRecs {
		if err := w.partition(r); err != nil {
			return err
		}
	}

	txn := w.txnID != ""
	if txn {
		if err := w.cl.BeginTransaction(); err != nil {
			return fmt.Errorf("cdc: begin transaction: %w", err)
		}
	}
	abort := func(cause error) error {
		if !txn {
			return cause
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StopTimeout)
		defer cancel()
		if err := w.cl.AbortBufferedRecords(actx); err != nil {
			w.log.Warn("abort buffered records", "error", err)
		}
		if err := w.cl.EndTransaction(actx, kgo.TryAbort); err != nil {
			w.log.Warn("abort transaction", "error", err)
		}
		return cause
	}
	var (
		errMu    sync.Mutex
		firstErr error
	)
	produce := func(rs []*kgo.Record, what string) error {
		for _, r := range rs {
			w.cl.Produce(ctx, r, func(r *kgo.Record, err error) {
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("cdc: write %s to %s: %w", what, r.Topic, err)
					}
					errMu.Unlock()
				}
			})
		}
		if err := w.cl.Flush(ctx); err != nil {
			return err
		}
		errMu.Lock()
		defer errMu.Unlock()
		return firstErr
	}
	if err := produce(recs, "records"); err != nil {
		return abort(err)
	}
	if err := eng.failed(); err != nil {
		return abort(err) // the engine failed mid-round: its offsets are not recorded
	}
	if err := produce(offRecs, "source offsets"); err != nil {
		return abort(err)
	}
	if w.beforeCommit != nil {
		w.beforeCommit(last, eng.done)
	}
	if err := eng.failed(); err != nil {
		return abort(err)
	}
	if txn {
		if err := w.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return abort(fmt.Errorf("cdc: commit transaction: %w", err))
		}
	}
	w.metrics.written(int64(len(recs)), nbytes)
	if ack, ok := w.engine.(Acknowledger); ok && last != nil {
		ack.Durable(last)
	}
	return nil
}

// convert passes r through the transforms and converters: nil when a transform dropped it.
func (w *writer) convert(r *Record) (*kgo.Record, error) {
	tr := &transforms.Record{Topic: r.Topic, KeySchema: r.KeySchema, Key: r.Key, ValueSchema: r.ValueSchema, Value: r.Value,
		Timestamp: r.Timestamp}
	for _, h := range r.Headers {
		tr.Headers = append(tr.Headers, transforms.Header{Key: h.Key, Schema: h.Schema, Value: h.Value})
	}
	if w.chain != nil {
		out, err := w.chain.Apply(tr)
		if err != nil {
			return nil, fmt.Errorf("cdc: transforms of a record of %s: %w", r.Topic, err)
		}
		if out == nil {
			return nil, nil
		}
		tr = out
	}
	key, err := w.keyConv.FromConnect(tr.Topic, tr.KeySchema, tr.Key)
	if err != nil {
		return nil, fmt.Errorf("cdc: key.converter, a record of %s: %w", tr.Topic, err)
	}
	value, err := w.valueConv.FromConnect(tr.Topic, tr.ValueSchema, tr.Value)
	if err != nil {
		return nil, fmt.Errorf("cdc: value.converter, a record of %s: %w", tr.Topic, err)
	}
	kr := &kgo.Record{Topic: tr.Topic, Key: key, Value: value, Timestamp: tr.Timestamp, Partition: -1}
	if tr.Partition != nil {
		kr.Partition = *tr.Partition
	}
	for _, h := range tr.Headers {
		b, err := w.headerConv.FromConnectHeader(tr.Topic, h.Key, h.Schema, h.Value)
		if err != nil {
			return nil, fmt.Errorf("cdc: header.converter, header %s of a record of %s: %w", h.Key, tr.Topic, err)
		}
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: b})
	}
	return kr, nil
}

// partition sets r's partition as Kafka's producer chooses it: murmur2 of the key, the next
// partition in turn without a key, or the one a transform chose.
func (w *writer) partition(r *kgo.Record) error {
	n := w.parts[r.Topic]
	if n <= 0 {
		return fmt.Errorf("cdc: no partition count of topic %s", r.Topic)
	}
	switch {
	case r.Partition >= 0:
		if int(r.Partition) >= n {
			return fmt.Errorf("cdc: a transform chose partition %d of topic %s, which has %d", r.Partition, r.Topic, n)
		}
	case r.Key != nil:
		r.Partition = int32(w.keyed.Partition(r, n))
	default:
		r.Partition = int32(w.next[r.Topic] % n)
		w.next[r.Topic]++
	}
	return nil
}

// ensureTopics creates the topics of recs that do not exist yet and sets each record's
// partition.
func (w *writer) ensureTopics(ctx context.Context, recs []*kgo.Record) error {
	for _, r := range recs {
		if _, ok := w.parts[r.Topic]; !ok {
			n, err := w.ensureTopic(ctx, r.Topic)
			if err != nil {
				return err
			}
			w.parts[r.Topic] = n
		}
		if err := w.partition(r); err != nil {
			return err
		}
	}
	return nil
}

// OffsetInt reads an integer of a source offset as the runtime hands it to Run (int64, or
// float64 for a JSON number with a fraction or beyond int64) or as an engine built it (any Go
// integer, json.Number, a decimal string).
func OffsetInt(offset map[string]any, key string) (int64, bool) {
	switch v := offset[key].(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<63 {
			return 0, false
		}
		return int64(v), true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// decodeOffset decodes a stored source offset: JSON objects as map[string]any, integers as
// int64, other numbers as float64.
func decodeOffset(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return numbers(m).(map[string]any), nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

// samePartition reports whether a stored partition (decoded JSON) is p.
func samePartition(stored json.RawMessage, p map[string]any) bool {
	want, err := json.Marshal(p)
	if err != nil {
		return false
	}
	var a, b any
	if json.Unmarshal(stored, &a) != nil || json.Unmarshal(want, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}
