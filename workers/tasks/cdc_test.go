package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/cdc"
	"github.com/fjord-io/fjord/workers/connect/data"
	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/runtime"
)

// cdcEngine emits one record per change and then waits; fail makes it fail after them.
type cdcEngine struct {
	fail error
}

func (e cdcEngine) Run(ctx context.Context, _ map[string]any, out cdc.Emitter) error {
	s := &data.Schema{Type: data.StructType, Name: "db1.inventory.orders.Key", Fields: []data.Field{{Name: "id", Schema: data.Int32Schema}}}
	for i := range 3 {
		r := cdc.Record{Topic: "db1.inventory.orders", KeySchema: s, Key: data.NewStruct(s).Put("id", int32(i)),
			ValueSchema: s, Value: data.NewStruct(s).Put("id", int32(i)), Partition: cdc.Partition("db1"),
			Offset: map[string]any{"pos": int64(i)}, Timestamp: time.Now()}
		if err := out.Emit(ctx, r); err != nil {
			return nil
		}
	}
	if e.fail != nil {
		time.Sleep(500 * time.Millisecond) // the records are committed first
		return e.fail
	}
	<-ctx.Done()
	return nil
}

// TestCDCInConnect: a Debezium connector's task runs in its Connect runtime like the
// MirrorMaker 2 ones — internal topics, config and RUNNING status records — and writes its
// records and source offsets there; an engine's failure is the task's FAILED status, with the
// password of the configuration hidden from the trace.
func TestCDCInConnect(t *testing.T) {
	t.Parallel()
	addrs := newCluster(t)
	conf := map[string]string{
		"connector.class":                          catalog.DebeziumMySQL,
		"database.hostname":                        "mysql.internal",
		"database.password":                        "hunter2-secret",
		"database.server.name":                     "db1",
		"database.user":                            "debezium",
		"database.server.id":                       "184054",
		"database.history.kafka.topic":             "dbhistory.db1",
		"database.history.kafka.bootstrap.servers": strings.Join(addrs, ","),
		"fjord.connect.bootstrap.servers":          strings.Join(addrs, ","),
		"fjord.connect.offset.storage.topic":       "__amazon_msk_connect_offsets_cdc_id-1",
		"fjord.connect.config.storage.topic":       "__amazon_msk_connect_configs_cdc_id-1",
		"fjord.connect.status.storage.topic":       "__amazon_msk_connect_status_cdc_id-1",
		"fjord.connect.connector.config": mm2.EncodeConnectorConfig(map[string]string{
			"connector.class": catalog.DebeziumMySQL, "database.hostname": "mysql.internal", "database.server.name": "db1"}),
	}
	run := func(e cdcEngine) (<-chan error, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		spec := &agentv1.TaskSpec{ConnectorClass: catalog.DebeziumMySQL, Config: conf, TaskCount: 1}
		env := runtime.TaskEnv{Worker: &agentv1.WorkerSpec{WorkloadName: "cdc"}, Logger: slog.New(slog.DiscardHandler)}
		task, err := newCDC(func(cdc.Env) (cdc.Engine, error) { return e, nil }, parseMySQL)(ctx, spec, env)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		done, stopped := make(chan error, 1), make(chan struct{})
		go func() {
			defer close(stopped)
			done <- task.Run(ctx)
		}()
		return done, func() {
			cancel()
			select {
			case <-stopped:
			case <-time.After(30 * time.Second):
				t.Error("the task did not stop")
			}
		}
	}
	adm := kadm.NewClient(cluster{addrs: addrs}.client(t))
	read := func(topic string) map[string][]byte {
		out := map[string][]byte{}
		ends, err := adm.ListEndOffsets(t.Context(), topic)
		if err != nil {
			return out
		}
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		cl := cluster{addrs: addrs}.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		defer cl.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		for n := int64(0); n < total && ctx.Err() == nil; {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out[string(r.Key)] = r.Value; n++ })
		}
		return out
	}
	state := func() string {
		var s struct {
			State string  `json:"state"`
			Trace *string `json:"trace"`
		}
		v := read(conf["fjord.connect.status.storage.topic"])["status-task-cdc-0"]
		if json.Unmarshal(v, &s) != nil {
			return ""
		}
		if s.Trace != nil {
			return s.State + ": " + *s.Trace
		}
		return s.State
	}

	_, stop := run(cdcEngine{})
	waitFor(t, 20*time.Second, "RUNNING", func() bool { return state() == "RUNNING" })
	waitFor(t, 20*time.Second, "the offset of the third record", func() bool {
		return string(read(conf["fjord.connect.offset.storage.topic"])[`["cdc",{"server":"db1"}]`]) == `{"pos":2}`
	})
	if n := len(read("db1.inventory.orders")); n != 3 {
		t.Errorf("%d keys in db1.inventory.orders, want 3", n)
	}
	configs := read(conf["fjord.connect.config.storage.topic"])
	if c := string(configs["connector-cdc"]); !strings.Contains(c, "mysql.internal") || strings.Contains(c, "hunter2") {
		t.Errorf("config record %s: want the server's record, without the password", c)
	}
	if !strings.Contains(string(configs["task-cdc-0"]), `"task.class":"io.debezium.connector.mysql.MySqlTask"`) {
		t.Errorf("task config record %s", configs["task-cdc-0"])
	}
	stop()

	done, stop := run(cdcEngine{fail: errors.New("access denied for password hunter2-secret")})
	defer stop()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "access denied") {
			t.Fatalf("Run = %v, want the engine's error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the task did not fail")
	}
	st := state()
	if !strings.HasPrefix(st, "FAILED: ") || strings.Contains(st, "hunter2") || !strings.Contains(st, "[hidden]") {
		t.Errorf("status %q: want FAILED with the password hidden", st)
	}
}

// TestCDCClasses: the Debezium classes build their tasks through the registry under every
// name; a configuration without the Connect cluster or with an invalid key is refused.
func TestCDCClasses(t *testing.T) {
	t.Parallel()
	for _, class := range []string{catalog.DebeziumMySQL, "MySqlConnector", "MySql", catalog.DebeziumPostgres, "PostgresConnector", "Postgres"} {
		f, ok := Registry()[class]
		if !ok {
			t.Errorf("registry lacks %s", class)
			continue
		}
		spec := &agentv1.TaskSpec{ConnectorClass: class, Config: map[string]string{"database.hostname": "db", "topic.prefix": "p"}}
		if _, err := f(t.Context(), spec, runtime.TaskEnv{}); err == nil || !strings.Contains(err.Error(), mm2.KeyConnectBootstrap) {
			t.Errorf("%s without a Connect cluster: %v, want an error naming %s", class, err, mm2.KeyConnectBootstrap)
		}
		spec.Config = map[string]string{"topic.prefix": "p", "fjord.connect.bootstrap.servers": "127.0.0.1:1",
			"fjord.connect.offset.storage.topic": "o", "fjord.connect.config.storage.topic": "c", "fjord.connect.status.storage.topic": "s"}
		if _, err := f(t.Context(), spec, runtime.TaskEnv{}); err == nil || !strings.Contains(err.Error(), "database.hostname") {
			t.Errorf("%s without database.hostname: %v", class, err)
		}
	}
}
