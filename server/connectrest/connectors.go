package connectrest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
)

// Connect's states of connectors and tasks.
const (
	stateRunning    = "RUNNING"
	stateFailed     = "FAILED"
	statePaused     = "PAUSED"
	stateStopped    = "STOPPED"
	stateUnassigned = "UNASSIGNED"
	stateRestarting = "RESTARTING"
)

// hidden replaces the value of a secret key in responses; a PUT that sends it back keeps the
// stored value.
const hidden = "[hidden]"

// conflict is Connect's 409 while a rebalance or a configuration change is in progress.
func conflict() *Error {
	return connectError(http.StatusConflict, "Cannot complete request because of a conflicting operation (e.g. worker rebalance)")
}

func notFound(name string) *Error {
	return connectError(http.StatusNotFound, "Connector %s not found", name)
}

// storeError is a store failure as Connect's error: 503 when the database is unavailable, else
// 500 (logged by serve).
func storeError(err error) *Error {
	if store.IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded) {
		return connectError(http.StatusServiceUnavailable, "the service is unavailable for a moment; retry")
	}
	e := connectError(http.StatusInternalServerError, "internal error")
	e.cause = err
	return e
}

// lookup finds a connector of the caller's account by name; a DELETING connector is gone for
// Connect.
func (a *API) lookup(r *request, name string) (*store.Resource, error) {
	// Names sort before every longer name they prefix: the first match is the one.
	list, err := a.st.Connectors.List(r.ctx, store.ListParams{AccountID: r.caller.AccountID, Region: r.caller.Region, NamePrefix: name, Limit: 1})
	if err != nil {
		return nil, storeError(err)
	}
	if len(list) == 0 || list[0].Name != name || list[0].State == "DELETING" {
		return nil, notFound(name)
	}
	return list[0], nil
}

// connectorType is Connect's "source" or "sink" (or "unknown").
func connectorType(conf map[string]string) string {
	if c, ok := catalog.Lookup(conf["connector.class"]); ok {
		return string(c.Kind)
	}
	return "unknown"
}

// shownConfig is a stored configuration as Connect shows it: with its name, and secret values
// hidden (config-provider references are shown).
func shownConfig(name string, conf map[string]string) map[string]string {
	class, _ := catalog.Lookup(conf["connector.class"])
	out := make(map[string]string, len(conf)+1)
	for k, v := range conf {
		if class.IsSecretKey(k) && !catalog.HasReference(v) {
			v = hidden
		}
		out[k] = v
	}
	out["name"] = name
	return out
}

type taskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// taskInfo is Connect's TaskInfo: a task and its configuration.
type taskInfo struct {
	ID     taskID            `json:"id"`
	Config map[string]string `json:"config"`
}

type connectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []taskID          `json:"tasks"`
	Type   string            `json:"type"`
}

type stateInfo struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type taskState struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type statusInfo struct {
	Name      string      `json:"name"`
	Connector stateInfo   `json:"connector"`
	Tasks     []taskState `json:"tasks"`
	Type      string      `json:"type"`
}

// view is one connector as the Connect routes see it.
type view struct {
	r       *store.Resource
	d       *kc.DescribeConnectorResponse
	workers []store.Worker // not stopping
}

func (a *API) view(r *request, name string) (*view, error) {
	res, err := a.lookup(r, name)
	if err != nil {
		return nil, err
	}
	d, err := workload.ConnectorDescription(res)
	if err != nil {
		return nil, storeError(err)
	}
	ws, err := a.st.WorkloadWorkers(r.ctx, res.ARN)
	if err != nil {
		return nil, storeError(err)
	}
	v := &view{r: res, d: d}
	for _, w := range ws {
		if !w.Stopping {
			v.workers = append(v.workers, w)
		}
	}
	return v, nil
}

func (v *view) info() connectorInfo {
	out := connectorInfo{Name: v.r.Name, Config: shownConfig(v.r.Name, v.d.ConnectorConfiguration), Tasks: []taskID{},
		Type: connectorType(v.d.ConnectorConfiguration)}
	for _, t := range v.taskIDs() {
		out.Tasks = append(out.Tasks, taskID{Connector: v.r.Name, Task: t})
	}
	return out
}

// taskIDs are the connector's tasks as its workers hold them, sorted.
func (v *view) taskIDs() []int {
	var ids []int
	for _, w := range v.workers {
		ids = append(ids, w.Tasks...)
	}
	sort.Ints(ids)
	return slices.Compact(ids)
}

// taskReport is a task's status as the agent gateway keeps it (workers.reported_tasks).
type taskReport struct {
	TaskID int    `json:"taskId"`
	State  string `json:"state"`
	Error  string `json:"error"`
}

func (v *view) status(serverID string) statusInfo {
	r := v.r
	out := statusInfo{Name: r.Name, Tasks: []taskState{}, Type: connectorType(v.d.ConnectorConfiguration)}
	out.Connector.WorkerID = serverID // the connector itself lives in the control plane
	for _, w := range v.workers {
		if w.AgentID != "" {
			out.Connector.WorkerID = w.AgentID
			break
		}
	}
	switch {
	case r.State == "FAILED":
		out.Connector.State, out.Connector.Trace = stateFailed, strings.TrimPrefix(r.StateCode+": "+r.StateMessage, ": ")
	case r.TargetState == store.TargetStopped:
		out.Connector.State = stateStopped
	case r.TargetState == store.TargetPaused:
		out.Connector.State = statePaused
	case r.State == "CREATING":
		out.Connector.State = stateUnassigned
	default:
		out.Connector.State = stateRunning
	}
	if r.TargetState == store.TargetStopped {
		return out
	}
	for _, w := range v.workers {
		var reports []taskReport
		current := w.AgentID != "" && w.Report.Epoch == w.Epoch && w.Report.AgentID == w.AgentID
		if current {
			_ = json.Unmarshal(w.Report.Tasks, &reports)
		}
		workerID := ""
		if w.AgentID != "" {
			workerID = fmt.Sprintf("%s/worker-%d", w.AgentID, w.Ordinal)
		}
		for _, t := range w.Tasks {
			ts := taskState{ID: t, State: stateUnassigned, WorkerID: workerID}
			switch {
			case w.AgentID == "":
			case r.TargetState == store.TargetPaused:
				ts.State = statePaused
			case r.State == "FAILED":
				ts.State, ts.Trace = stateFailed, out.Connector.Trace
			case current:
				found := false
				for _, rep := range reports {
					if rep.TaskID != t {
						continue
					}
					found = true
					switch rep.State {
					case "RUNNING":
						ts.State = stateRunning
					case "FAILED":
						ts.State, ts.Trace = stateFailed, rep.Error
					}
				}
				if !found && w.Report.State == "FAILED" {
					ts.State, ts.Trace = stateFailed, w.Report.Error
				}
			}
			out.Tasks = append(out.Tasks, ts)
		}
	}
	sort.Slice(out.Tasks, func(i, j int) bool { return out.Tasks[i].ID < out.Tasks[j].ID })
	return out
}

// ---- connectors ----

func (a *API) list(r *request) (int, any, error) {
	var expand []string
	for _, e := range r.URL.Query()["expand"] {
		for _, x := range strings.Split(e, ",") {
			if x = strings.TrimSpace(x); x == "status" || x == "info" {
				expand = append(expand, x)
			}
		}
	}
	var names []string
	after := store.ListParams{AccountID: r.caller.AccountID, Region: r.caller.Region, Limit: 1000}
	for {
		page, err := a.st.Connectors.List(r.ctx, after)
		if err != nil {
			return 0, nil, storeError(err)
		}
		for _, res := range page {
			if res.State != "DELETING" {
				names = append(names, res.Name)
			}
		}
		if len(page) < after.Limit {
			break
		}
		after.AfterName, after.AfterARN = page[len(page)-1].Name, page[len(page)-1].ARN
	}
	if _, ok := r.URL.Query()["expand"]; !ok {
		return http.StatusOK, append([]string{}, names...), nil
	}
	// With expand (even only unknown expansions, which are ignored) Connect answers a map.
	out := map[string]map[string]any{}
	for _, n := range names {
		v, err := a.view(r, n)
		if err != nil {
			continue // deleted meanwhile
		}
		m := map[string]any{}
		for _, e := range expand {
			if e == "status" {
				m["status"] = v.status(a.srv.ID())
			} else {
				m["info"] = v.info()
			}
		}
		out[n] = m
	}
	return http.StatusOK, out, nil
}

func (a *API) info(r *request) (int, any, error) {
	v, err := a.view(r, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, v.info(), nil
}

func (a *API) config(r *request) (int, any, error) {
	v, err := a.view(r, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, shownConfig(v.r.Name, v.d.ConnectorConfiguration), nil
}

func (a *API) status(r *request) (int, any, error) {
	v, err := a.view(r, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, v.status(a.srv.ID()), nil
}

func (a *API) tasks(r *request) (int, any, error) {
	v, err := a.view(r, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	out := []taskInfo{}
	class := v.d.ConnectorConfiguration["connector.class"]
	if c, ok := catalog.Lookup(class); ok {
		class = c.Name
	}
	for _, t := range v.taskIDs() {
		conf := shownConfig(v.r.Name, v.d.ConnectorConfiguration)
		conf["task.class"] = class
		out = append(out, taskInfo{ID: taskID{Connector: v.r.Name, Task: t}, Config: conf})
	}
	return http.StatusOK, out, nil
}

// tasksConfig is the deprecated GET /connectors/{name}/tasks-config (kcctl describe
// --tasks-config): {"<name>-<task>": config}.
func (a *API) tasksConfig(r *request) (int, any, error) {
	code, body, err := a.tasks(r)
	if err != nil {
		return code, body, err
	}
	out := map[string]map[string]string{}
	for _, t := range body.([]taskInfo) {
		out[fmt.Sprintf("%s-%d", t.ID.Connector, t.ID.Task)] = t.Config
	}
	return http.StatusOK, out, nil
}

func (a *API) taskStatus(r *request) (int, any, error) {
	v, err := a.view(r, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	id, err := a.taskParam(r, v)
	if err != nil {
		return 0, nil, err
	}
	for _, t := range v.status(a.srv.ID()).Tasks {
		if t.ID == id {
			return http.StatusOK, t, nil
		}
	}
	return 0, nil, connectError(http.StatusNotFound, "No status found for task %s-%d", v.r.Name, id)
}

// taskParam is the {task} path value, a task the connector has.
func (a *API) taskParam(r *request, v *view) (int, error) {
	id, err := strconv.Atoi(r.PathValue("task"))
	if err != nil || id < 0 || !slices.Contains(v.taskIDs(), id) {
		return 0, connectError(http.StatusNotFound, "Task not found: %s-%s", v.r.Name, r.PathValue("task"))
	}
	return id, nil
}

// createRequest is POST /connectors's body.
type createRequest struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
}

func (a *API) create(r *request) (int, any, error) {
	var body createRequest
	if err := decode(r, &body); err != nil {
		return 0, nil, err
	}
	name := strings.TrimSpace(body.Name)
	if name == "" {
		return 0, nil, connectError(http.StatusBadRequest, "Connector name must not be empty")
	}
	if body.Config == nil {
		return 0, nil, connectError(http.StatusBadRequest, "Connector config must not be empty")
	}
	if n, ok := body.Config["name"]; ok && n != name {
		return 0, nil, connectError(http.StatusBadRequest, "Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name)
	}
	if _, err := a.lookup(r, name); err == nil {
		return 0, nil, connectError(http.StatusConflict, "Connector %s already exists", name)
	}
	info, err := a.createConnector(r, name, body.Config)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, info, nil
}

// connectConfig is a configuration from a Connect client as Fjord stores it: without "name"
// (the connector's name is its connectorName) and with hidden secret values sent back replaced
// by the stored ones.
func connectConfig(conf, stored map[string]string) map[string]string {
	out := maps.Clone(conf)
	delete(out, "name")
	for k, v := range out {
		if old, ok := stored[k]; ok && v == hidden {
			out[k] = old
		}
	}
	return out
}

// validationError is Connect's 400 for a configuration its validation refuses.
func validationError(conf map[string]string, bootstrap string) error {
	_, errs := catalog.Validate(workload.WithRuntimeDefaults(conf, bootstrap))
	if len(errs) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Connector configuration is invalid and contains the following %d error(s):\n", len(errs))
	for _, e := range errs {
		fmt.Fprintf(&b, "%s: %s\n", e.Key, e.Message)
	}
	b.WriteString("You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`")
	return connectError(http.StatusBadRequest, "%s", b.String())
}

// bootstrapOf is the kafkaCluster of a connector created through this API: the cluster its
// records are written to (target.cluster.bootstrap.servers for MirrorMaker 2's classes), else
// bootstrap.servers, else the server's default.
func (a *API) bootstrapOf(conf map[string]string) string {
	for _, k := range []string{"target.cluster.bootstrap.servers", "bootstrap.servers"} {
		if v := strings.TrimSpace(conf[k]); v != "" && !catalog.HasReference(v) {
			return v
		}
	}
	return a.cfg.DefaultBootstrapServers
}

// createConnector calls CreateConnector with the account's defaults for the members Connect
// has no notion of (api-docs/connect-rest.md).
func (a *API) createConnector(r *request, name string, config map[string]string) (connectorInfo, error) {
	conf := connectConfig(config, nil)
	if strings.TrimSpace(conf["connector.class"]) == "" {
		return connectorInfo{}, connectError(http.StatusBadRequest, "Connector config %v contains no connector type", keysOf(config))
	}
	bootstrap := a.bootstrapOf(conf)
	if bootstrap == "" {
		return connectorInfo{}, connectError(http.StatusBadRequest,
			"Connector config names no Kafka cluster: set target.cluster.bootstrap.servers or bootstrap.servers (the connector's kafkaCluster)")
	}
	if err := validationError(conf, bootstrap); err != nil {
		return connectorInfo{}, err
	}
	plugin, rev, err := a.pluginFor(r, conf["connector.class"])
	if err != nil {
		return connectorInfo{}, err
	}
	req := &kc.CreateConnectorRequest{
		ConnectorName:          proto.String(name),
		ConnectorConfiguration: conf,
		ConnectorDescription:   proto.String("created through the Kafka Connect REST API"),
		Capacity:               &kc.Capacity{ProvisionedCapacity: &kc.ProvisionedCapacity{McuCount: proto.Int32(1), WorkerCount: proto.Int32(1)}},
		KafkaCluster: &kc.KafkaCluster{ApacheKafkaCluster: &kc.ApacheKafkaCluster{BootstrapServers: proto.String(bootstrap),
			Vpc: &kc.Vpc{Subnets: []string{"connect-rest"}}}},
		KafkaClusterClientAuthentication: &kc.KafkaClusterClientAuthentication{AuthenticationType: proto.String("NONE")},
		KafkaClusterEncryptionInTransit:  &kc.KafkaClusterEncryptionInTransit{EncryptionType: proto.String("PLAINTEXT")},
		KafkaConnectVersion:              proto.String("3.7.x"),
		Plugins:                          []*kc.Plugin{{CustomPlugin: &kc.CustomPlugin{CustomPluginArn: proto.String(plugin), Revision: proto.Int64(rev)}}},
		ServiceExecutionRoleArn:          proto.String(fmt.Sprintf("arn:aws:iam::%s:role/fjord-connect-rest", r.caller.AccountID)),
	}
	if _, err := a.srv.KafkaConnect().CreateConnector(r.ctx, req); err != nil {
		return connectorInfo{}, fromAPI(err)
	}
	return connectorInfo{Name: name, Config: shownConfig(name, conf), Tasks: []taskID{}, Type: connectorType(conf)}, nil
}

func keysOf(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// pluginFor picks the custom plugin of a connector created through this API: the ACTIVE plugin
// (latest revision) whose class index holds the class, else, for a class that ships with
// Apache Kafka (MirrorMaker 2), the first ACTIVE plugin by name — MSK Connect needs a plugin
// even then (a placeholder ZIP).
func (a *API) pluginFor(r *request, class string) (string, int64, error) {
	class = strings.TrimSpace(class)
	p := store.ListParams{AccountID: r.caller.AccountID, Region: r.caller.Region, States: []string{"ACTIVE"}, Limit: 1000}
	plugins, err := a.st.CustomPlugins.List(r.ctx, p)
	if err != nil {
		return "", 0, storeError(err)
	}
	type cand struct {
		arn string
		rev int64
	}
	var fallback *cand
	for _, pl := range plugins {
		rev, err := a.st.CustomPlugins.LatestRevision(r.ctx, pl.ARN)
		if err != nil {
			continue
		}
		if fallback == nil {
			fallback = &cand{pl.ARN, rev.Revision}
		}
		pc, err := a.st.PluginClassesOf(r.ctx, pl.ARN, rev.Revision)
		if err != nil {
			continue
		}
		for _, c := range pc.Classes {
			simple := c[strings.LastIndexAny(c, ".$")+1:]
			if c == class || simple == class || strings.TrimSuffix(simple, "Connector") == class {
				return pl.ARN, rev.Revision, nil
			}
		}
	}
	if c, ok := catalog.Lookup(class); ok && c.BuiltIn && fallback != nil {
		return fallback.arn, fallback.rev, nil
	}
	return "", 0, connectError(http.StatusBadRequest,
		"No ACTIVE custom plugin of this account holds connector class %s: create one with the AWS API (CreateCustomPlugin; a placeholder ZIP for MirrorMaker 2's classes)", class)
}

func (a *API) putConfig(r *request) (int, any, error) {
	name := r.PathValue("name")
	var conf map[string]string
	if err := decode(r, &conf); err != nil {
		return 0, nil, err
	}
	if conf == nil {
		return 0, nil, connectError(http.StatusBadRequest, "Connector config must not be empty")
	}
	if n, ok := conf["name"]; ok && n != name {
		return 0, nil, connectError(http.StatusBadRequest, "Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name)
	}
	v, err := a.view(r, name)
	var nf *Error
	if errors.As(err, &nf) && nf.Code == http.StatusNotFound {
		info, err := a.createConnector(r, name, conf)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, info, nil
	}
	if err != nil {
		return 0, nil, err
	}
	if v.r.State == "UPDATING" {
		return 0, nil, conflict()
	}
	next := connectConfig(conf, v.d.ConnectorConfiguration)
	if maps.Equal(next, v.d.ConnectorConfiguration) {
		return http.StatusOK, v.info(), nil
	}
	if err := validationError(next, v.d.GetKafkaCluster().GetApacheKafkaCluster().GetBootstrapServers()); err != nil {
		return 0, nil, err
	}
	if _, err := a.srv.KafkaConnect().UpdateConnector(r.ctx, &kc.UpdateConnectorRequest{
		ConnectorArn: proto.String(v.r.ARN), CurrentVersion: proto.String(v.r.CurrentVersion), ConnectorConfiguration: next,
	}); err != nil {
		e := fromAPI(err)
		if strings.Contains(e.Message, "currentVersion") {
			return 0, nil, conflict() // changed meanwhile
		}
		return 0, nil, e
	}
	v.d.ConnectorConfiguration = next
	return http.StatusOK, v.info(), nil
}

func (a *API) remove(r *request) (int, any, error) {
	res, err := a.lookup(r, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	if _, err := a.srv.KafkaConnect().DeleteConnector(r.ctx, &kc.DeleteConnectorRequest{ConnectorArn: proto.String(res.ARN)}); err != nil {
		return 0, nil, fromAPI(err)
	}
	return http.StatusNoContent, nil, nil
}

// ---- target states ----

// setTarget changes a connector's target state; the scheduler (shape) and the agents (task
// specifications) act on it.
func (a *API) setTarget(r *request, target string) error {
	res, err := a.lookup(r, r.PathValue("name"))
	if err != nil {
		return err
	}
	_, err = a.st.Connectors.Update(r.ctx, r.caller.AccountID, r.caller.Region, res.ARN, store.UpdateOptions{}, func(cur *store.Resource) error {
		switch cur.State {
		case "DELETING":
			return notFound(cur.Name)
		case "UPDATING":
			return conflict()
		}
		cur.TargetState = target
		return nil
	})
	var ce *Error
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, store.ErrNotFound):
		return notFound(res.Name)
	case err != nil:
		return storeError(err)
	}
	// Workers that stay (paused ↔ running) get their new specification; a change of shape
	// (stopped ↔ not) is the scheduler's.
	if err := a.st.RespecWorkload(r.ctx, res.ARN); err != nil {
		return storeError(err)
	}
	a.srv.Trigger()
	a.log.Info("connector target state", "connector_arn", res.ARN, "target_state", strings.ToLower(cmpOr(target, "started")))
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (a *API) pause(r *request) (int, any, error) {
	return http.StatusAccepted, nil, a.setTarget(r, store.TargetPaused)
}

func (a *API) resume(r *request) (int, any, error) {
	return http.StatusAccepted, nil, a.setTarget(r, "")
}

func (a *API) stop(r *request) (int, any, error) {
	return http.StatusNoContent, nil, a.setTarget(r, store.TargetStopped)
}

// ---- restarts ----

func boolParam(r *request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, connectError(http.StatusBadRequest, "Invalid value %q for query parameter %s: expected true or false", v, name)
	}
	return b, nil
}

func (a *API) restart(r *request) (int, any, error) {
	includeTasks, err := boolParam(r, "includeTasks")
	if err != nil {
		return 0, nil, err
	}
	onlyFailed, err := boolParam(r, "onlyFailed")
	if err != nil {
		return 0, nil, err
	}
	v, err := a.view(r, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	if v.r.State == "UPDATING" {
		return 0, nil, conflict()
	}
	st := v.status(a.srv.ID())
	connector := !onlyFailed || st.Connector.State == stateFailed
	if connector && v.r.State == "FAILED" {
		// The connector itself runs in the control plane: restarting a FAILED one places it
		// again (CREATING, then RUNNING once its workers run).
		_, err := a.st.Connectors.Update(r.ctx, r.caller.AccountID, r.caller.Region, v.r.ARN, store.UpdateOptions{}, func(cur *store.Resource) error {
			if cur.State == "FAILED" {
				cur.State, cur.StateCode, cur.StateMessage = "CREATING", "", ""
			}
			return nil
		})
		if err != nil {
			return 0, nil, storeError(err)
		}
		a.srv.Trigger()
	}
	var tasks []int
	if includeTasks {
		for _, t := range st.Tasks {
			if !onlyFailed || t.State == stateFailed {
				tasks = append(tasks, t.ID)
			}
		}
	}
	if len(tasks) > 0 {
		if err := a.st.RestartConnectorTasks(r.ctx, v.r.ARN, tasks); err != nil {
			return 0, nil, storeError(err)
		}
	}
	if !includeTasks && !onlyFailed {
		return http.StatusOK, nil, nil // Connect's answer to the legacy restart: 200, no body
	}
	if connector {
		st.Connector.State = stateRestarting
	}
	for i := range st.Tasks {
		if slices.Contains(tasks, st.Tasks[i].ID) {
			st.Tasks[i].State, st.Tasks[i].Trace = stateRestarting, ""
		}
	}
	return http.StatusAccepted, st, nil
}

func (a *API) restartTask(r *request) (int, any, error) {
	v, err := a.view(r, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	id, err := a.taskParam(r, v)
	if err != nil {
		return 0, nil, err
	}
	if v.r.State == "UPDATING" {
		return 0, nil, conflict()
	}
	if err := a.st.RestartConnectorTasks(r.ctx, v.r.ARN, []int{id}); err != nil {
		return 0, nil, storeError(err)
	}
	return http.StatusNoContent, nil, nil
}
