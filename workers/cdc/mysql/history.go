package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	vtmysql "vitess.io/vitess/go/mysql"
)

// HistoryRecord is one record of the schema history topic, in Debezium's JSON
// (io.debezium.relational.history.HistoryRecord).
type HistoryRecord struct {
	Source       map[string]any `json:"source"`
	Position     map[string]any `json:"position"`
	TS           int64          `json:"ts_ms"`
	DatabaseName string         `json:"databaseName,omitempty"`
	SchemaName   string         `json:"schemaName,omitempty"`
	DDL          string         `json:"ddl"`
	TableChanges []TableChange  `json:"tableChanges"`
}

// history is the connector's schema history topic: one partition, never compacted away.
type history struct {
	cl    *kgo.Client
	topic string
}

func openHistory(ctx context.Context, e *engine) (*history, error) {
	var opts []kgo.Opt
	if e.env.KafkaOpts != nil {
		opts = e.env.KafkaOpts(e.cfg.HistoryBootstrap)
	} else {
		opts = []kgo.Opt{kgo.SeedBrokers(e.cfg.HistoryBootstrap...)}
	}
	opts = append(opts, kgo.DefaultProduceTopic(e.cfg.HistoryTopic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedRecords(1000), kgo.ProducerLinger(0))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, permanent("schema.history.internal.kafka.bootstrap.servers: %v", err)
	}
	h := &history{cl: cl, topic: e.cfg.HistoryTopic}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(cctx, 1, -1, map[string]*string{
		"cleanup.policy": strp("delete"), "retention.ms": strp("-1"), "retention.bytes": strp("-1")}, h.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("creating the schema history topic %s: %w", h.topic, err)
	}
	return h, nil
}

func (h *history) close() { h.cl.Close() }

// write appends records and waits until they are durable.
func (h *history) write(ctx context.Context, recs ...HistoryRecord) error {
	if len(recs) == 0 {
		return nil
	}
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		krs[i] = &kgo.Record{Topic: h.topic, Partition: 0, Value: b}
	}
	if err := h.cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return fmt.Errorf("writing the schema history topic %s: %w", h.topic, err)
	}
	return nil
}

// read returns every record of the topic.
func (h *history) read(ctx context.Context) ([]HistoryRecord, error) {
	ends, err := kadm.NewClient(h.cl).ListEndOffsets(ctx, h.topic)
	if err != nil {
		return nil, fmt.Errorf("reading the schema history topic %s: %w", h.topic, err)
	}
	end, ok := ends.Lookup(h.topic, 0)
	if !ok || end.Err != nil {
		return nil, fmt.Errorf("reading the schema history topic %s: %v", h.topic, end.Err)
	}
	if end.Offset == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(append(h.readOpts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{h.topic: {0: kgo.NewOffset().AtStart()}}))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []HistoryRecord
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, fmt.Errorf("reading the schema history topic %s: %w", h.topic, ferr)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			var hr HistoryRecord
			if err := json.Unmarshal(r.Value, &hr); err == nil {
				out = append(out, hr)
			}
			if r.Offset >= end.Offset-1 {
				done = true
			}
		})
		if done {
			return out, nil
		}
	}
}

// readOpts are the history client's options, for a consumer.
func (h *history) readOpts() []kgo.Opt {
	return h.cl.Opts()
}

// rebuild restores the tables' schemas as of start from the schema history topic; without
// history (a topic deleted, an offset written elsewhere) it falls back to the live schemas.
func (e *engine) rebuild(ctx context.Context, c *vtmysql.Conn, start position) error {
	recs, err := e.history.read(ctx)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		e.log.Warn("the schema history topic is empty: reading the tables' schemas from the live database", "topic", e.history.topic)
		return e.loadLive(c)
	}
	defs := map[string]*TableDef{}
	for _, r := range recs {
		if p, ok := parseOffset(r.Position); ok && start.less(p) {
			continue
		}
		for _, tc := range r.TableChanges {
			db, name, ok := parseTableID(tc.ID)
			if !ok {
				continue
			}
			switch strings.ToUpper(tc.Type) {
			case "CREATE", "ALTER":
				if tc.Table != nil {
					defs[db+"."+name] = tc.Table
				}
			case "DROP":
				delete(defs, db+"."+name)
			}
		}
	}
	e.tables = map[string]*table{}
	for id, d := range defs {
		db, name, _ := strings.Cut(id, ".")
		t, err := e.buildTable(db, name, d)
		if err != nil {
			return permanent("%v", err)
		}
		e.tables[id] = t
	}
	e.log.Info("rebuilt the tables' schemas from the schema history topic", "topic", e.history.topic, "records", len(recs), "tables", len(defs))
	return nil
}
