package main

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
)

// connectREST calls a Kafka Connect REST API without credentials (fjord dev's account) and
// decodes the JSON answer into out; it returns the status code and the body.
func connectREST(t *testing.T, addr, method, path string, body, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+addr+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s → %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

type restStatus struct {
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	} `json:"connector"`
	Tasks []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	} `json:"tasks"`
}

func (s restStatus) taskStates() []string {
	var out []string
	for _, t := range s.Tasks {
		out = append(out, t.State)
	}
	return out
}

func (s restStatus) all(state string) bool {
	for _, t := range s.Tasks {
		if t.State != state {
			return false
		}
	}
	return s.Connector.State == state && len(s.Tasks) > 0
}

// TestConnectRESTE2E is the acceptance against a live `fjord dev` (its agent runs real
// worker processes): a MirrorSourceConnector created with the AWS API shows in GET
// /connectors?expand=status with its tasks; PUT pause stops its writes (the target's end
// offsets stay flat for 10 s while the source grows) and resume continues with nothing lost
// and nothing duplicated; PUT stop then DELETE offsets resets it (resumed, it copies the
// topic again from the start); validate returns Connect's per-key errors; POST and DELETE
// /connectors create and delete a connector the AWS API sees.
func TestConnectRESTE2E(t *testing.T) {
	t.Parallel()
	bin := buildFjord(t)
	// The corpus's records are stamped an hour in the past: keep them longer than that.
	d := startDev(t, bin, filepath.Join(reachableTempDir(t), "dev"), "--kafka-retention", "48h")
	rest := d.rest
	if err := os.MkdirAll(filepath.Join(d.dataDir, "s3", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dataDir, "s3", "plugins", "mm2.zip"), pluginZip(t), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fleet{api: newAPIClients(t, d.http), src: d.source, tgt: d.target}
	plugin := f.customPlugin(t)

	var root map[string]string
	if code, raw := connectREST(t, rest, "GET", "/", nil, &root); code != 200 || root["kafka_cluster_id"] != "fjord-dev-target" {
		t.Fatalf("GET / → %d %s", code, raw)
	}

	topics := []string{"orders"}
	createTopics(t, d.source, 3, topics...)
	prod := newProducer(t, d.source)
	c := newCorpus()
	c.produce(t, prod, topics, 3, 3_000)
	arn := f.createConnector(t, plugin, "orders-mirror", 1, map[string]string{
		"connector.class": classSource, "tasks.max": "2",
		"source.cluster.alias": "east", "target.cluster.alias": "west",
		"source.cluster.bootstrap.servers": d.source, "target.cluster.bootstrap.servers": d.target,
		"topics": "orders", "refresh.topics.interval.seconds": "1",
		"key.converter":   "org.apache.kafka.connect.converters.ByteArrayConverter",
		"value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
	})
	f.waitConnector(t, arn, kctypes.ConnectorStateRunning, 2*time.Minute)

	// The connector created with the AWS API, with its two tasks RUNNING on the dev agent.
	var expanded map[string]struct {
		Status restStatus `json:"status"`
		Info   struct {
			Config map[string]string `json:"config"`
			Tasks  []map[string]any  `json:"tasks"`
			Type   string            `json:"type"`
		} `json:"info"`
	}
	poll(t, time.Minute, "GET /connectors?expand=status to show both tasks RUNNING", func() bool {
		connectREST(t, rest, "GET", "/connectors?expand=status&expand=info", nil, &expanded)
		e, ok := expanded["orders-mirror"]
		return ok && e.Status.all("RUNNING") && len(e.Status.Tasks) == 2
	})
	e := expanded["orders-mirror"]
	if e.Info.Type != "source" || len(e.Info.Tasks) != 2 || e.Info.Config["topics"] != "orders" || !strings.HasPrefix(e.Status.Tasks[0].WorkerID, "dev-agent-1/") {
		t.Errorf("expanded connector: %+v", e)
	}
	t.Logf("GET /connectors?expand=status: connector %s on %s, tasks %v", e.Status.Connector.State, e.Status.Connector.WorkerID, e.Status.taskStates())
	var tasksConfig map[string]map[string]string
	connectREST(t, rest, "GET", "/connectors/orders-mirror/tasks-config", nil, &tasksConfig)
	if len(tasksConfig) != 2 || tasksConfig["orders-mirror-1"]["task.class"] != classSource {
		t.Errorf("GET tasks-config → %v", tasksConfig)
	}

	check := newMirrorCheck(t, c, d.target, func(s string) string { return "east." + s }, `^east\.orders$`)
	check.waitComplete(t, 2*time.Minute, "3,000 records under east.orders")

	// Records keep arriving; then pause.
	s := c.stream(t, prod, topics, 3, 1)
	defer s.halt(t)
	target := []string{"east.orders"}
	before := sumOffsets(endOffsets(t, d.target, target...))
	poll(t, time.Minute, "the connector to copy streamed records", func() bool {
		return sumOffsets(endOffsets(t, d.target, target...)) > before+100
	})
	if code, raw := connectREST(t, rest, "PUT", "/connectors/orders-mirror/pause", nil, nil); code != 202 {
		t.Fatalf("PUT pause → %d %s", code, raw)
	}
	t0 := time.Now()
	var st restStatus
	connectREST(t, rest, "GET", "/connectors/orders-mirror/status", nil, &st)
	if !st.all("PAUSED") || len(st.Tasks) != 2 {
		t.Errorf("status after pause: %+v", st)
	}
	desc := f.describeConnector(t, arn)
	if desc.ConnectorState != kctypes.ConnectorStateRunning || desc.StateDescription == nil || aws.ToString(desc.StateDescription.Code) != "PAUSED" {
		t.Errorf("DescribeConnector of the paused connector: %s %+v", desc.ConnectorState, desc.StateDescription)
	}
	// The workers restart with no task (they flush first): the target stops moving, then
	// stays flat for 10 s while the source grows.
	last, lastChange := endOffsets(t, d.target, target...), time.Now()
	poll(t, time.Minute, "the target's end offsets to stop moving after pause", func() bool {
		now := endOffsets(t, d.target, target...)
		if !maps.EqualFunc(now, last, maps.Equal) {
			last, lastChange = now, time.Now()
		}
		return time.Since(lastChange) > 2*time.Second
	})
	t.Logf("writes stopped %.2f s after PUT pause", lastChange.Sub(t0).Seconds())
	flat := endOffsets(t, d.target, target...)
	srcBefore := sumOffsets(endOffsets(t, d.source, topics...))
	time.Sleep(10 * time.Second)
	if now := endOffsets(t, d.target, target...); !maps.EqualFunc(now, flat, maps.Equal) {
		t.Errorf("target end offsets moved while paused: %v → %v", flat, now)
	}
	grew := sumOffsets(endOffsets(t, d.source, topics...)) - srcBefore
	if grew < 100 {
		t.Errorf("the source grew by only %d records in 10 s: the pause was not tested", grew)
	}
	t.Logf("paused: target flat for 10 s while the source got %d more records", grew)
	var paused struct {
		Offsets []map[string]map[string]any `json:"offsets"`
	}
	connectREST(t, rest, "GET", "/connectors/orders-mirror/offsets", nil, &paused)
	for _, o := range paused.Offsets {
		p := int32(o["partition"]["partition"].(float64))
		if next := int64(o["offset"]["offset"].(float64)) + 1; next != flat["east.orders"][p] {
			t.Errorf("offset of orders/%d while paused: next %d, but the target holds %d records", p, next, flat["east.orders"][p])
		}
	}
	t.Logf("offsets while paused: %v", paused.Offsets)

	// Resume: everything, nothing twice.
	if code, raw := connectREST(t, rest, "PUT", "/connectors/orders-mirror/resume", nil, nil); code != 202 {
		t.Fatalf("PUT resume → %d %s", code, raw)
	}
	s.halt(t)
	check.waitComplete(t, 2*time.Minute, "every record after resume")
	if check.dups != 0 {
		t.Errorf("%d records duplicated across pause/resume", check.dups)
	}
	t.Logf("after resume: %d records read, %d lost, %d duplicated", check.seen, 0, check.dups)
	poll(t, time.Minute, "status RUNNING after resume", func() bool {
		connectREST(t, rest, "GET", "/connectors/orders-mirror/status", nil, &st)
		return st.all("RUNNING")
	})
	if desc := f.describeConnector(t, arn); desc.StateDescription != nil {
		t.Errorf("stateDescription after resume: %+v", desc.StateDescription)
	}

	// A restart of the tasks restarts their worker (a new process), which runs them again.
	starts := func() int { return strings.Count(d.stderr.String(), `"msg":"worker process started"`) }
	before = int64(starts())
	var restarted restStatus
	if code, raw := connectREST(t, rest, "POST", "/connectors/orders-mirror/restart?includeTasks=true", nil, &restarted); code != 202 ||
		restarted.Connector.State != "RESTARTING" || len(restarted.Tasks) != 2 || restarted.Tasks[0].State != "RESTARTING" {
		t.Fatalf("POST restart?includeTasks=true → %d %s", code, raw)
	}
	poll(t, time.Minute, "a new worker process running the tasks after the restart", func() bool {
		connectREST(t, rest, "GET", "/connectors/orders-mirror/status", nil, &st)
		return int64(starts()) > before && st.all("RUNNING")
	})

	// Validate: Connect's per-key errors.
	var infos struct {
		ErrorCount int `json:"error_count"`
		Configs    []struct {
			Value struct {
				Name   string   `json:"name"`
				Errors []string `json:"errors"`
			} `json:"value"`
		} `json:"configs"`
	}
	connectREST(t, rest, "PUT", "/connector-plugins/MirrorSourceConnector/config/validate", map[string]string{
		"connector.class": "MirrorSourceConnector", "tasks.max": "-1", "source.cluster.alias": "east",
		"source.cluster.bootstrap.servers": d.source, "errors.tolerance": "sometimes"}, &infos)
	bad := map[string]bool{}
	for _, ci := range infos.Configs {
		if len(ci.Value.Errors) > 0 {
			bad[ci.Value.Name] = true
		}
	}
	if infos.ErrorCount < 2 || !bad["tasks.max"] || !bad["errors.tolerance"] {
		t.Errorf("validate of a bad configuration: %d errors on %v", infos.ErrorCount, bad)
	}

	// Stop, then reset the offsets: resumed, the connector copies the topic again.
	var offs struct {
		Offsets []map[string]map[string]any `json:"offsets"`
	}
	if code, raw := connectREST(t, rest, "DELETE", "/connectors/orders-mirror/offsets", nil, nil); code != 400 {
		t.Errorf("DELETE offsets of a running connector → %d %s, want 400", code, raw)
	}
	if code, raw := connectREST(t, rest, "PUT", "/connectors/orders-mirror/stop", nil, nil); code != 204 {
		t.Fatalf("PUT stop → %d %s", code, raw)
	}
	connectREST(t, rest, "GET", "/connectors/orders-mirror/status", nil, &st)
	if st.Connector.State != "STOPPED" || len(st.Tasks) != 0 {
		t.Errorf("status after stop: %+v", st)
	}
	copied := sumOffsets(endOffsets(t, d.target, target...))
	var code int
	var raw string
	poll(t, time.Minute, "DELETE offsets once the workers stopped", func() bool {
		code, raw = connectREST(t, rest, "DELETE", "/connectors/orders-mirror/offsets", nil, nil)
		if code != 200 && code != 409 {
			t.Fatalf("DELETE offsets → %d %s", code, raw)
		}
		return code == 200
	})
	connectREST(t, rest, "GET", "/connectors/orders-mirror/offsets", nil, &offs)
	if len(offs.Offsets) != 0 {
		t.Fatalf("offsets after the reset: %+v", offs)
	}
	if code, raw := connectREST(t, rest, "PUT", "/connectors/orders-mirror/resume", nil, nil); code != 202 {
		t.Fatalf("PUT resume → %d %s", code, raw)
	}
	poll(t, 2*time.Minute, "the reset connector to copy the topic again", func() bool {
		return sumOffsets(endOffsets(t, d.target, target...)) >= 2*copied
	})
	poll(t, 30*time.Second, "the reset connector to record its offsets again", func() bool {
		connectREST(t, rest, "GET", "/connectors/orders-mirror/offsets", nil, &offs)
		return len(offs.Offsets) == 3 && offs.Offsets[0]["partition"]["topic"] == "orders"
	})
	t.Logf("after the reset the target holds %d records (%d copied before)", sumOffsets(endOffsets(t, d.target, target...)), copied)

	// POST /connectors → CreateConnector with the defaults; DELETE → DeleteConnector.
	var info map[string]any
	if code, raw := connectREST(t, rest, "POST", "/connectors", map[string]any{"name": "beats", "config": map[string]string{
		"connector.class": "MirrorHeartbeatConnector", "source.cluster.alias": "east", "target.cluster.alias": "west",
		"source.cluster.bootstrap.servers": d.source, "target.cluster.bootstrap.servers": d.target,
		"emit.heartbeats.interval.seconds": "1"}}, &info); code != 201 {
		t.Fatalf("POST /connectors → %d %s", code, raw)
	}
	poll(t, time.Minute, "the REST-created connector RUNNING", func() bool {
		connectREST(t, rest, "GET", "/connectors/beats/status", nil, &st)
		return st.all("RUNNING")
	})
	if code, raw := connectREST(t, rest, "DELETE", "/connectors/beats", nil, nil); code != 204 {
		t.Fatalf("DELETE /connectors/beats → %d %s", code, raw)
	}
	var names []string
	connectREST(t, rest, "GET", "/connectors", nil, &names)
	if len(names) != 1 || names[0] != "orders-mirror" {
		t.Errorf("GET /connectors after the delete: %v", names)
	}
}

// TestConnectRESTServerFlag: `fjord server --connect-rest-addr` serves the API with HTTP basic
// authentication by the credentials file (no unauthenticated access, unlike fjord dev).
func TestConnectRESTServerFlag(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	f := startFleet(t, 3*time.Second, "--connect-rest-addr", addr, "--connect-rest-region", "us-east-1")
	plugin := f.customPlugin(t)
	f.createConnector(t, plugin, "via-aws", 1, map[string]string{"connector.class": classHeartbeat,
		"source.cluster.alias": "east", "target.cluster.alias": "west",
		"source.cluster.bootstrap.servers": f.src, "target.cluster.bootstrap.servers": f.tgt})
	req := func(user, pass string) (int, string) {
		r, err := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr+"/connectors", nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(raw))
	}
	if code, body := req("test", "test"); code != 200 || body != `["via-aws"]` {
		t.Errorf("GET /connectors with test/test → %d %s", code, body)
	}
	if code, body := req("", ""); code != 401 || !strings.Contains(body, `"error_code":401`) {
		t.Errorf("GET /connectors without credentials → %d %s", code, body)
	}
	if code, body := req("test", "nope"); code != 401 || !strings.Contains(body, `"error_code":401`) {
		t.Errorf("GET /connectors with a wrong secret → %d %s", code, body)
	}
}
