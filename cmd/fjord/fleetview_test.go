package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
)

// The JSON the admin CLI prints (protojson of the admin API's messages: lowerCamelCase, int64
// as strings).
type agentJSON struct {
	AgentID          string       `json:"agentId"`
	Address          string       `json:"address"`
	Version          string       `json:"version"`
	McuCapacity      int          `json:"mcuCapacity"`
	McuUsed          int          `json:"mcuUsed"`
	State            string       `json:"state"`
	Connected        bool         `json:"connected"`
	ServerID         string       `json:"serverId"`
	LastHeartbeat    *string      `json:"lastHeartbeatTime"`
	DisconnectedTime *string      `json:"disconnectedTime"`
	Workers          []workerJSON `json:"workers"`
	Enrollment       *struct {
		Serial      string `json:"serial"`
		RevokedTime string `json:"revokedTime"`
	} `json:"enrollment"`
}

type workerJSON struct {
	WorkerID     string `json:"workerId"`
	WorkloadArn  string `json:"workloadArn"`
	WorkloadName string `json:"workloadName"`
	WorkloadKind string `json:"workloadKind"`
	AgentID      string `json:"agentId"`
	Mcu          int    `json:"mcu"`
	Epoch        int64  `json:"epoch,string"`
	TaskIDs      []int  `json:"taskIds"`
	TaskCount    int    `json:"taskCount"`
	State        string `json:"state"`
	Metrics      *struct {
		CPU    float64 `json:"cpuUtilizationPercent"`
		Memory float64 `json:"memoryUtilizationPercent"`
	} `json:"metrics"`
}

type eventJSON struct {
	EventID  int64  `json:"eventId,string"`
	Time     string `json:"time"`
	Kind     string `json:"kind"`
	Reason   string `json:"reason"`
	AgentID  string `json:"agentId"`
	WorkerID string `json:"workerId"`
}

type workloadJSON struct {
	WorkloadArn  string `json:"workloadArn"`
	WorkloadName string `json:"workloadName"`
	Kind         string `json:"kind"`
	State        string `json:"state"`
	Desired      struct {
		Workers      int `json:"workers"`
		McuPerWorker int `json:"mcuPerWorker"`
		Tasks        int `json:"tasks"`
	} `json:"desired"`
	Workers      []workerJSON `json:"workers"`
	RecentEvents []eventJSON  `json:"recentEvents"`
}

// cliAgentsList runs `fjord agents list --output json` and returns the agents by id.
func (f *fleet) cliAgentsList(t *testing.T) map[string]agentJSON {
	t.Helper()
	out := runFjord(t, f.bin, "agents", "list", "--server", f.srv.grpcAddr, "--output", "json")
	var resp struct {
		Agents []agentJSON `json:"agents"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("agents list printed %q: %v", out, err)
	}
	m := map[string]agentJSON{}
	for _, a := range resp.Agents {
		m[a.AgentID] = a
	}
	return m
}

func (f *fleet) cliDescribeWorkload(t *testing.T, arn string) workloadJSON {
	t.Helper()
	out := runFjord(t, f.bin, "workloads", "describe", arn, "--server", f.srv.grpcAddr, "--output", "json")
	var d workloadJSON
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("workloads describe printed %q: %v", out, err)
	}
	return d
}

func (f *fleet) cliWorkloadEvents(t *testing.T, arn string, extra ...string) ([]eventJSON, string) {
	t.Helper()
	out := runFjord(t, f.bin, append([]string{"workloads", "events", arn, "--server", f.srv.grpcAddr, "--output", "json"}, extra...)...)
	var resp struct {
		Events    []eventJSON `json:"events"`
		NextToken string      `json:"nextToken"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("workloads events printed %q: %v", out, err)
	}
	return resp.Events, resp.NextToken
}

// TestFleetViewE2E runs the fleet view's CLI (`fjord agents list`, `fjord workloads describe`
// and `fjord workloads events`, the real binary) against a `fjord server` with real `fjord
// agent`s running a real connector: an agent is listed from its Hello on, its workers with
// their tasks, state and utilization; a cleanly stopped agent is DRAINING and disconnected
// and its worker moves; a killed one is disconnected at once and DEAD when its lease expires;
// the connector's placement and events follow.
func TestFleetViewE2E(t *testing.T) {
	t.Parallel()
	// A lease long enough that DRAINING (from Goodbye) cannot be mistaken for lease expiry.
	const ttl = 15 * time.Second
	f := startFleet(t, ttl)
	startAgent := func(id string, mcu string) *fjordAgent {
		a := &fjordAgent{id: id, httpAddr: freeAddr(t)}
		a.proc = startProc(t, "fjord agent "+id, f.bin, append([]string{"agent", "--server", f.srv.grpcAddr, "--token-file", f.tokenFile,
			"--mcu", mcu, "--id", id, "--http-addr", a.httpAddr, "--drain-timeout", "10s", "--metrics-interval", "1s"}, f.agentTrust(id)...)...)
		waitOK(t, a.proc, a.httpAddr, "/readyz", time.Minute)
		return a
	}

	// Joining: /readyz answers once the server welcomed the agent, which it does after
	// recording the Hello: the very next list shows it.
	a := startAgent("view-a", "2")
	got := f.cliAgentsList(t)["view-a"]
	if got.State != "ALIVE" || !got.Connected || got.McuCapacity != 2 || got.McuUsed != 0 || got.Version != "dev" ||
		!strings.HasPrefix(got.Address, "127.0.0.1:") || got.ServerID == "" || got.LastHeartbeat == nil || got.DisconnectedTime != nil {
		t.Fatalf("joined agent: %+v", got)
	}

	// A connector on it: listed with its worker, tasks, state and utilization.
	plugin := f.customPlugin(t)
	arn := f.createConnector(t, plugin, "viewed-heartbeat", 1, map[string]string{
		"connector.class":                  classHeartbeat,
		"tasks.max":                        "1",
		"source.cluster.alias":             "east",
		"target.cluster.alias":             "west",
		"source.cluster.bootstrap.servers": f.src,
		"target.cluster.bootstrap.servers": f.tgt,
		"emit.heartbeats.interval.seconds": "1",
	})
	f.waitConnector(t, arn, kctypes.ConnectorStateRunning, time.Minute)
	var w workerJSON
	poll(t, time.Minute, "the worker's metrics in agents list", func() bool {
		got = f.cliAgentsList(t)["view-a"]
		if len(got.Workers) != 1 {
			return false
		}
		w = got.Workers[0]
		return w.Metrics != nil
	})
	if got.McuUsed != 1 || w.WorkloadArn != arn || w.WorkloadName != "viewed-heartbeat" || w.WorkloadKind != "connector" ||
		w.AgentID != "view-a" || w.Mcu != 1 || w.State != "RUNNING" || !slices.Equal(w.TaskIDs, []int{0}) || w.TaskCount != 1 ||
		w.Metrics.CPU < 0 || w.Metrics.Memory <= 0 {
		t.Fatalf("agent with the connector's worker: %+v, worker %+v, metrics %+v", got, w, *w.Metrics)
	}
	t.Logf("view-a runs %s: epoch %d, tasks %v, CPU %.2f%%, memory %.2f%%", w.WorkerID, w.Epoch, w.TaskIDs, w.Metrics.CPU, w.Metrics.Memory)

	d := f.cliDescribeWorkload(t, arn)
	if d.Kind != "connector" || d.WorkloadName != "viewed-heartbeat" || d.State != "RUNNING" ||
		d.Desired.Workers != 1 || d.Desired.McuPerWorker != 1 || d.Desired.Tasks != 1 ||
		len(d.Workers) != 1 || d.Workers[0].AgentID != "view-a" || d.Workers[0].State != "RUNNING" || d.Workers[0].Epoch != w.Epoch {
		t.Fatalf("workloads describe: %+v", d)
	}
	kinds := func(evs []eventJSON) map[string][]string {
		m := map[string][]string{}
		for _, e := range evs {
			m[e.Kind] = append(m[e.Kind], e.AgentID)
		}
		return m
	}
	if k := kinds(d.RecentEvents); !slices.Contains(k["place"], "view-a") || len(k["running"]) != 1 {
		t.Fatalf("recent events: %+v", d.RecentEvents)
	}

	// A second agent joins.
	b := startAgent("view-b", "2")
	if got := f.cliAgentsList(t)["view-b"]; got.State != "ALIVE" || !got.Connected || got.McuUsed != 0 {
		t.Fatalf("second agent after its Hello: %+v", got)
	}

	// Clean stop of view-a (SIGTERM): it says Goodbye, stops its worker and closes its
	// stream — DRAINING and disconnected, long before its lease could expire.
	stoppedAt := time.Now()
	if !a.stop(t, 30*time.Second) {
		t.Fatal("view-a did not stop on SIGTERM")
	}
	poll(t, ttl, "view-a disconnected", func() bool {
		got = f.cliAgentsList(t)["view-a"]
		return !got.Connected
	})
	t.Logf("view-a DRAINING and disconnected in the list %.2f s after SIGTERM", time.Since(stoppedAt).Seconds())
	if got.State != "DRAINING" || got.DisconnectedTime == nil {
		t.Fatalf("cleanly stopped agent: %+v", got)
	}
	// Its worker moved to view-b with a new epoch.
	poll(t, time.Minute, "the worker RUNNING on view-b", func() bool {
		d = f.cliDescribeWorkload(t, arn)
		return len(d.Workers) == 1 && d.Workers[0].AgentID == "view-b" && d.Workers[0].State == "RUNNING"
	})
	if d.Workers[0].Epoch <= w.Epoch || d.State != "RUNNING" {
		t.Fatalf("moved worker: %+v (was epoch %d)", d, w.Epoch)
	}
	if got := f.cliAgentsList(t); got["view-b"].McuUsed != 1 || len(got["view-b"].Workers) != 1 || got["view-a"].McuUsed != 0 || len(got["view-a"].Workers) != 0 {
		t.Fatalf("agents after the move: %+v", got)
	}

	// Every event, newest first; paging one at a time gives the same list.
	events, next := f.cliWorkloadEvents(t, arn)
	if next != "" {
		t.Fatalf("events: a next token with a default page of 100: %q", next)
	}
	for i := 1; i < len(events); i++ {
		if events[i].EventID >= events[i-1].EventID {
			t.Fatalf("events not newest first: %+v", events)
		}
	}
	k := kinds(events)
	if !slices.Contains(k["place"], "view-a") || !slices.Contains(k["move"], "view-b") || len(k["running"]) != 1 {
		t.Fatalf("events: %+v", events)
	}
	for _, e := range events {
		if e.Kind == "move" && !strings.Contains(e.Reason, "view-a") {
			t.Errorf("move event does not name the agent it left: %+v", e)
		}
	}
	page, next := f.cliWorkloadEvents(t, arn, "--max-results", "1")
	if len(page) != 1 || next == "" || page[0] != events[0] {
		t.Fatalf("first page of 1: %+v, next %q", page, next)
	}
	paged, next := f.cliWorkloadEvents(t, arn, "--max-results", "1", "--all")
	if next != "" || !slices.Equal(paged, events) {
		t.Fatalf("every page of 1: %+v, want %+v", paged, events)
	}

	// The default output is for people.
	table := runFjord(t, f.bin, "agents", "list", "--server", f.srv.grpcAddr)
	for _, want := range []string{"AGENT", "view-a", "DRAINING", "view-b", "1/2", "viewed-heartbeat", "RUNNING"} {
		if !strings.Contains(table, want) {
			t.Errorf("agents list table lacks %q:\n%s", want, table)
		}
	}
	text := runFjord(t, f.bin, "workloads", "describe", arn, "--server", f.srv.grpcAddr)
	for _, want := range []string{"viewed-heartbeat (connector)", "Desired:", "1 workers × 1 MCU, 1 tasks", "Placement:", "view-b", "Recent events", "move"} {
		if !strings.Contains(text, want) {
			t.Errorf("workloads describe text lacks %q:\n%s", want, text)
		}
	}
	if ev := runFjord(t, f.bin, "workloads", "events", arn, "--server", f.srv.grpcAddr, "--max-results", "2"); !strings.Contains(ev, "--next-token") {
		t.Errorf("workloads events with more pages does not say how to continue:\n%s", ev)
	}
	t.Logf("fjord agents list:\n%s", table)
	t.Logf("fjord workloads describe:\n%s", text)

	// kill -9 of view-b: disconnected at once (its stream dies with it), ALIVE until the
	// lease expires, then DEAD.
	killedAt := time.Now()
	b.kill(t)
	poll(t, ttl, "view-b disconnected", func() bool {
		got = f.cliAgentsList(t)["view-b"]
		return !got.Connected
	})
	t.Logf("view-b disconnected in the list %.2f s after kill -9 (state %s)", time.Since(killedAt).Seconds(), got.State)
	poll(t, ttl+30*time.Second, "view-b DEAD", func() bool {
		got = f.cliAgentsList(t)["view-b"]
		return got.State == "DEAD"
	})
	t.Logf("view-b DEAD %.2f s after kill -9 (lease TTL %v)", time.Since(killedAt).Seconds(), ttl)
	if got.Connected || got.DisconnectedTime == nil {
		t.Fatalf("dead agent: %+v", got)
	}
	// With no agent left the worker waits, and the events say so.
	poll(t, time.Minute, "the worker unplaced", func() bool {
		d = f.cliDescribeWorkload(t, arn)
		return len(d.Workers) == 1 && d.Workers[0].AgentID == "" && d.Workers[0].State == "PENDING"
	})
	events, _ = f.cliWorkloadEvents(t, arn)
	if k := kinds(events); len(k["evict"]) == 0 && len(k["unplaceable"]) == 0 {
		t.Fatalf("events after the last agent died: %+v", events)
	}
}
