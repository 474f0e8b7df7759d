// The "cdc" suite (this file, cdc_postgres.go, cdc_mysql.go) measures one task of a Debezium
// connector — the CDC runtime of workers/cdc (cdc.NewTask: engine → transforms → converters →
// Kafka, with its source offsets) — against a raw loop in the same run that reads the same
// changes with the same library and produces the raw row bytes. The databases are throwaway
// ones started by the suite (PostgreSQL with store/pgembed, MariaDB with
// workers/cdc/mysql/mysqltest), Kafka an in-process kfake cluster over TCP. It prints
//
//	cdc_postgres_events_per_s: change events/s of one PostgresConnector task (pgoutput) from
//	    -cdc-rows single-row INSERTs, from the task's start until the last event's record is
//	    in Kafka (the topic's end offset), JsonConverter with schemas.enable=false (true with
//	    -cdc-schemas); baseline:
//	    pglogrepl on a second slot producing each INSERT's raw tuple bytes
//	cdc_mysql_events_per_s: the same from a MariaDB binlog (MySqlConnector); baseline: vitess's
//	    binlog dump client producing each row event's raw row bytes
//	cdc_latency_p99_ms, cdc_latency_p50_ms (PostgreSQL), cdc_mysql_latency_p99_ms,
//	    cdc_mysql_latency_p50_ms: commit (the INSERT's autocommit returning to the client) →
//	    record fetched by a consumer of the topic, at a steady -cdc-latency-rate rows/s; the
//	    task and the raw loop read the same stream at the same time (two slots, two binlog
//	    clients), a round is -cdc-latency-round of commits after a discarded warm-up one
//
// Every throughput round reads the same changes again from slots created before the INSERTs
// (PostgreSQL) or from the start of the same binlog (MySQL), the task and the raw loop
// alternating as in every paired figure (paired.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/runtime"
)

// cdcConfig configures the cdc suite.
type cdcConfig struct {
	rows         int
	rounds       int
	latencyRate  int
	latencyRound time.Duration
	databases    string
	cpuProfile   string
	schemas      bool
}

func (c *cdcConfig) register() {
	flag.IntVar(&c.rows, "cdc-rows", 200_000, "single-row INSERTs each cdc throughput round reads")
	flag.IntVar(&c.rounds, "cdc-rounds", 5, "rounds of each cdc figure, after a discarded warm-up round")
	flag.IntVar(&c.latencyRate, "cdc-latency-rate", 2000, "rows/s committed while the cdc latency is measured")
	flag.DurationVar(&c.latencyRound, "cdc-latency-round", 4*time.Second, "commits per cdc latency round (the stream lasts a warm-up and -cdc-rounds of them)")
	flag.StringVar(&c.databases, "cdc-databases", "postgres,mysql", "databases the cdc suite measures")
	flag.BoolVar(&c.schemas, "cdc-schemas", false, "the tasks' JsonConverter writes schemas (schemas.enable=true, Kafka Connect's default) rather than the payload alone")
	flag.StringVar(&c.cpuProfile, "cdc-cpuprofile", "", "write a CPU profile of the cdc throughput rounds to PREFIX-postgres.pprof and PREFIX-mysql.pprof")
}

// cdcEnv is what the cdc suite's figures share: the kfake cluster and an admin client of it.
type cdcEnv struct {
	c     cdcConfig
	kf    *kfake.Cluster
	addrs []string
	cl    *kgo.Client
	adm   *kadm.Client
	log   *slog.Logger
}

// runCDCSuite runs the cdc figures and prints their results.
func runCDCSuite(c cdcConfig) error {
	if c.rows < 1 || c.rounds < 1 || c.latencyRate < 1 || c.latencyRound <= 0 {
		return errors.New("cdc: -cdc-rows, -cdc-rounds, -cdc-latency-rate and -cdc-latency-round must be positive")
	}
	kf, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return err
	}
	defer kf.Close()
	e := &cdcEnv{c: c, kf: kf, addrs: kf.ListenAddrs(),
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cdcLogLevel()}))}
	if e.cl, err = kgo.NewClient(kgo.SeedBrokers(e.addrs...)); err != nil {
		return err
	}
	defer e.cl.Close()
	e.adm = kadm.NewClient(e.cl)
	for _, db := range strings.Split(c.databases, ",") {
		switch strings.TrimSpace(db) {
		case "postgres":
			err = runCDCPostgres(e)
		case "mysql":
			err = runCDCMySQL(e)
		default:
			err = fmt.Errorf("cdc: unknown database %q in -cdc-databases: use postgres and/or mysql", db)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// connectConf are the runtime keys of a task writing to the suite's kfake cluster.
func (e *cdcEnv) connectConf(conf map[string]string) map[string]string {
	conf["fjord.connect.bootstrap.servers"] = strings.Join(e.addrs, ",")
	conf["fjord.connect.offset.storage.topic"] = "__amazon_msk_connect_offsets_bench-cdc"
	conf["fjord.connect.config.storage.topic"] = "__amazon_msk_connect_configs_bench-cdc"
	conf["fjord.connect.status.storage.topic"] = "__amazon_msk_connect_status_bench-cdc"
	// JsonConverter without schemas (the payload alone) unless -cdc-schemas.
	conf["key.converter"] = "org.apache.kafka.connect.json.JsonConverter"
	conf["value.converter"] = "org.apache.kafka.connect.json.JsonConverter"
	conf["key.converter.schemas.enable"] = strconv.FormatBool(e.c.schemas)
	conf["value.converter.schemas.enable"] = strconv.FormatBool(e.c.schemas)
	return conf
}

// startTask builds and runs a task of a connector class; stop stops it and returns Run's error.
func (e *cdcEnv) startTask(class string, conf map[string]string, f cdc.Factory, parse func(map[string]string) (*debezium.Config, error)) (stop func() error, failed <-chan error, err error) {
	spec := &agentv1.TaskSpec{ConnectorClass: class, Config: conf, TaskCount: 1}
	task, err := cdc.NewTask(spec, runtime.TaskEnv{Worker: &agentv1.WorkerSpec{WorkloadName: conf["name"]}, Logger: e.log}, f, parse)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- task.Run(ctx) }()
	var once sync.Once
	var runErr error
	return func() error {
		once.Do(func() {
			cancel()
			runErr = <-done
		})
		return runErr
	}, done, nil
}

// producer is a client producing the raw loops' records, with the task's producer settings.
func (e *cdcEnv) producer(topic string) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(10000),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
}

// createTopic creates a one-partition topic (what the task creates for its own topics).
func (e *cdcEnv) createTopic(ctx context.Context, topic string) error {
	resp, err := e.adm.CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	return err
}

// deleteTopics deletes topics (a round's records, so that kfake's memory stays flat).
func (e *cdcEnv) deleteTopics(topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.adm.DeleteTopics(ctx, topics...); err != nil {
		logf("cdc: delete topics %v: %v", topics, err)
	}
}

// waitEnd waits until topic's partitions hold n records, polling their end offsets; it fails
// when failed reports an error first or after patience.
func (e *cdcEnv) waitEnd(topic string, n int64, failed <-chan error, patience time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	var last int64
	for {
		ends, err := e.adm.ListEndOffsets(ctx, topic)
		if err == nil {
			var sum int64
			ends.Each(func(o kadm.ListedOffset) {
				if o.Err == nil {
					sum += o.Offset
				}
			})
			last = sum
			if sum >= n {
				return nil
			}
		}
		select {
		case err := <-failed:
			if err == nil { // finished: its records are acknowledged, the end offsets follow
				failed = nil
				continue
			}
			return fmt.Errorf("failed after %d of %d records in %s: %w", last, n, topic, err)
		case <-ctx.Done():
			return fmt.Errorf("%d of %d records in %s after %v", last, n, topic, patience)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// arrivals records when a consumer fetched the record of each row id.
type arrivals struct {
	at []atomic.Int64 // unix nanoseconds, 0 until fetched
	n  atomic.Int64
}

func newArrivals(rows int) *arrivals { return &arrivals{at: make([]atomic.Int64, rows+1)} }

// consume fetches topic from its start until ctx is done, recording each record's row id
// (the last number of its key) and fetch time.
func (e *cdcEnv) consume(ctx context.Context, topic string, a *arrivals) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(time.Second),
		kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return err
	}
	go func() {
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			now := time.Now().UnixNano()
			fs.EachRecord(func(r *kgo.Record) {
				if id, ok := lastNumber(r.Key); ok && id > 0 && id < int64(len(a.at)) {
					if a.at[id].CompareAndSwap(0, now) {
						a.n.Add(1)
					}
				}
			})
		}
	}()
	return nil
}

// lastNumber is the last decimal number in b (the id of {"id":7}, of {"schema":…,
// "payload":{"id":7}} and of 7).
func lastNumber(b []byte) (int64, bool) {
	end := len(b)
	for end > 0 && (b[end-1] < '0' || b[end-1] > '9') {
		end--
	}
	start := end
	for start > 0 && b[start-1] >= '0' && b[start-1] <= '9' {
		start--
	}
	if start == end {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b[start:end]), 10, 64)
	return n, err == nil
}

// pacer calls insert(id) for ids 1..rows at rate rows/s, recording each commit's time; a
// slow insert is caught up with, not skipped.
func pace(ctx context.Context, rows, rate int, insert func(id int) error, committed []int64) error {
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for id := 1; id <= rows; id++ {
		if d := time.Until(start.Add(time.Duration(id-1) * interval)); d > 0 {
			time.Sleep(d)
		}
		if err := insert(id); err != nil {
			return fmt.Errorf("insert %d: %w", id, err)
		}
		committed[id] = time.Now().UnixNano()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// latencyRounds splits the committed rows into a warm-up and c.rounds rounds of
// c.latencyRound by commit time and adds each round's p99 and p50 (ms) of the task and the
// raw loop to p99 and p50.
func (e *cdcEnv) latencyRounds(committed []int64, task, raw *arrivals, p99, p50 *paired) error {
	rows := len(committed) - 1
	perRound := int(e.c.latencyRound.Seconds() * float64(e.c.latencyRate))
	warm := rows - e.c.rounds*perRound
	for r := 0; r < e.c.rounds; r++ {
		lo, hi := warm+r*perRound+1, warm+(r+1)*perRound
		var tl, rl []float64
		for id := lo; id <= hi; id++ {
			t, b := task.at[id].Load(), raw.at[id].Load()
			if t == 0 || b == 0 {
				return fmt.Errorf("row %d never arrived (task %v, raw loop %v)", id, t != 0, b != 0)
			}
			tl = append(tl, float64(t-committed[id])/1e6)
			rl = append(rl, float64(b-committed[id])/1e6)
		}
		slices.Sort(tl)
		slices.Sort(rl)
		q := func(v []float64, p float64) float64 { return v[min(len(v)-1, int(p*float64(len(v))))] }
		p99.add(q(tl, 0.99), q(rl, 0.99))
		p50.add(q(tl, 0.50), q(rl, 0.50))
		logf("cdc: %s round %d: task p50 %.1f ms p99 %.1f ms max %.1f ms; raw loop p50 %.1f ms p99 %.1f ms max %.1f ms",
			p99.bench, r+1, q(tl, 0.5), q(tl, 0.99), tl[len(tl)-1], q(rl, 0.5), q(rl, 0.99), rl[len(rl)-1])
	}
	return nil
}

// latencyRows is how many rows the latency stream commits: a warm-up round and c.rounds.
func (e *cdcEnv) latencyRows() int {
	return (e.c.rounds + 1) * int(e.c.latencyRound.Seconds()*float64(e.c.latencyRate))
}

// waitArrived waits until every row reached both consumers.
func waitArrived(rows int, as ...*arrivals) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for _, a := range as {
			if a.n.Load() < int64(rows) {
				done = false
			}
		}
		if done {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cdcLogLevel is the tasks' log level: $BENCH_CDC_LOG (debug, info, warn), else error.
func cdcLogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("BENCH_CDC_LOG"))); err != nil {
		return slog.LevelError
	}
	return l
}

// timeTask runs one CDC task (class, conf, engine) until topic holds rows records and returns
// its events/s; what names the round in the log.
func (e *cdcEnv) timeTask(ctx context.Context, what, topic string, rows int64, class string, conf map[string]string,
	f cdc.Factory, parse func(map[string]string) (*debezium.Config, error)) (float64, error) {
	var err error
	start := time.Now()
	var stop func() error
	var failed <-chan error
	pprof.Do(ctx, pprof.Labels("side", "task"), func(context.Context) {
		stop, failed, err = e.startTask(class, conf, f, parse)
	})
	if err != nil {
		return 0, err
	}
	err = e.waitEnd(topic, rows, failed, 5*time.Minute)
	took := time.Since(start)
	if serr := stop(); err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("task: %w", err)
	}
	logf("cdc: %s: task %d events in %v (%.0f/s)", what, rows, took.Round(time.Millisecond), float64(rows)/took.Seconds())
	return float64(rows) / took.Seconds(), nil
}

// timeRaw runs a raw loop producing to a new topic until it holds rows records and returns its
// events/s.
func (e *cdcEnv) timeRaw(ctx context.Context, what, topic string, rows int64, loop func(ctx context.Context, cl *kgo.Client) error) (float64, error) {
	if err := e.createTopic(ctx, topic); err != nil {
		return 0, err
	}
	defer e.deleteTopics(topic)
	cl, err := e.producer(topic)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := make(chan error, 1)
	start := time.Now()
	pprof.Do(rctx, pprof.Labels("side", "raw"), func(rctx context.Context) {
		go func() { failed <- loop(rctx, cl) }()
	})
	err = e.waitEnd(topic, rows, failed, 5*time.Minute)
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("raw loop: %w", err)
	}
	logf("cdc: %s: raw loop %d events in %v (%.0f/s)", what, rows, took.Round(time.Millisecond), float64(rows)/took.Seconds())
	return float64(rows) / took.Seconds(), nil
}
