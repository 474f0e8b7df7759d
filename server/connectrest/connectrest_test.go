package connectrest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/server/connectrest"
	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const mirrorSource = "org.apache.kafka.connect.mirror.MirrorSourceConnector"

// client calls the API over HTTP.
type client struct {
	t          *testing.T
	base       string
	user, pass string
}

// do sends a request and decodes the JSON answer into out (when not nil); it returns the
// status code and the raw body.
func (c *client) do(method, path string, body any, out any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s → %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, raw
}

// want checks the status code, and for an error Connect's shape and a message containing msg.
func (c *client) want(method, path string, body any, code int, msg string) {
	c.t.Helper()
	var e struct {
		Code    int    `json:"error_code"`
		Message string `json:"message"`
	}
	got, raw := c.do(method, path, body, nil)
	if got != code {
		c.t.Fatalf("%s %s → %d %s, want %d", method, path, got, raw, code)
	}
	if code >= 400 {
		if err := json.Unmarshal(raw, &e); err != nil || e.Code != code || !strings.Contains(e.Message, msg) {
			c.t.Fatalf("%s %s → %s, want {error_code: %d, message containing %q}", method, path, raw, code, msg)
		}
	}
}

// start starts a server, the Connect REST API on a free port (unauthenticated requests refused)
// and a kfake cluster for connectors' kafkaCluster.
func start(t *testing.T) (*servertest.Env, *client, string) {
	t.Helper()
	env := servertest.Start(t)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	api, err := connectrest.New(connectrest.Config{Addr: "127.0.0.1:0", Server: env.Server, Region: servertest.Region,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(api.Stop)
	return env, &client{t: t, base: "http://" + api.Addr(), user: servertest.AccessKey, pass: servertest.SecretKey}, kc.ListenAddrs()[0]
}

// activePlugin creates a custom plugin (a placeholder ZIP) and waits until it is ACTIVE.
func activePlugin(t *testing.T, env *servertest.Env) string {
	t.Helper()
	env.PutPluginZip(t, "plugins", "mm2.zip")
	kc := env.KafkaConnect()
	out, err := kc.CreateCustomPlugin(t.Context(), &kafkaconnect.CreateCustomPluginInput{
		Name: aws.String("mm2"), ContentType: kctypes.CustomPluginContentTypeZip,
		Location: &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{BucketArn: aws.String("arn:aws:s3:::plugins"), FileKey: aws.String("mm2.zip")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 30*time.Second, "plugin ACTIVE", func() bool {
		d, err := kc.DescribeCustomPlugin(t.Context(), &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: out.CustomPluginArn})
		return err == nil && d.CustomPluginState == kctypes.CustomPluginStateActive
	})
	return aws.ToString(out.CustomPluginArn)
}

func mirrorConfig(target string) map[string]string {
	return map[string]string{
		"connector.class": mirrorSource, "tasks.max": "2",
		"source.cluster.alias": "east", "target.cluster.alias": "west",
		"source.cluster.bootstrap.servers": target, "target.cluster.bootstrap.servers": target,
		"topics": "orders", "sasl.jaas.config": "secret-value",
	}
}

type connectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []struct {
		Connector string `json:"connector"`
		Task      int    `json:"task"`
	} `json:"tasks"`
	Type string `json:"type"`
}

type status struct {
	Name      string `json:"name"`
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace"`
	} `json:"connector"`
	Tasks []struct {
		ID    int    `json:"id"`
		State string `json:"state"`
	} `json:"tasks"`
	Type string `json:"type"`
}

// TestRoutes drives every route over HTTP against a real server and Postgres: authentication,
// errors in Connect's shape, plugins and validation, connectors created here and with the AWS
// API, configuration updates, target states persisted and shown to the AWS API, restarts, and
// KIP-875 offsets in a kfake cluster.
func TestRoutes(t *testing.T) {
	env, c, kafka := start(t)
	plugin := activePlugin(t, env)

	// GET / and authentication.
	var root map[string]string
	if code, raw := c.do("GET", "/", nil, &root); code != 200 || root["version"] != "3.7.1" || root["kafka_cluster_id"] != "fjord" || root["commit"] == "" {
		t.Fatalf("GET / → %d %s", code, raw)
	}
	anon := &client{t: t, base: c.base}
	anon.want("GET", "/connectors", nil, 401, "Authentication required")
	bad := &client{t: t, base: c.base, user: servertest.AccessKey, pass: "wrong"}
	bad.want("GET", "/connectors", nil, 401, "Invalid credentials")
	c.want("GET", "/no/such/route", nil, 404, "HTTP 404 Not Found")
	c.want("GET", "/connectors/nope", nil, 404, "Connector nope not found")
	c.want("PUT", "/connectors/nope/pause", nil, 404, "Connector nope not found")

	// Plugins: the registry's classes; with connectorsOnly=false the converters too.
	var plugins []struct{ Class, Type, Version string }
	c.do("GET", "/connector-plugins", nil, &plugins)
	if len(plugins) != 3 || plugins[2].Class != mirrorSource || plugins[2].Type != "source" || plugins[2].Version != "3.7.1" {
		t.Errorf("GET /connector-plugins → %+v", plugins)
	}
	c.do("GET", "/connector-plugins?connectorsOnly=false", nil, &plugins)
	if !strings.Contains(jsonOf(t, plugins), `"Type":"converter"`) || !strings.Contains(jsonOf(t, plugins), `"Type":"header_converter"`) {
		t.Errorf("GET /connector-plugins?connectorsOnly=false → %s", jsonOf(t, plugins))
	}
	var defs []struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		Required bool   `json:"required"`
	}
	c.do("GET", "/connector-plugins/MirrorSourceConnector/config", nil, &defs)
	if len(defs) < 10 || defs[0].Name != "name" || !strings.Contains(jsonOf(t, defs), `{"name":"tasks.max","type":"INT","required":false}`) ||
		strings.Contains(jsonOf(t, defs), ", ") {
		t.Errorf("GET /connector-plugins/MirrorSourceConnector/config → %s", jsonOf(t, defs))
	}
	c.want("GET", "/connector-plugins/com.acme.Nope/config", nil, 404, "Unknown plugin com.acme.Nope")

	// Validation: Connect's ConfigInfos with the registry's per-key errors.
	var infos struct {
		Name       string   `json:"name"`
		ErrorCount int      `json:"error_count"`
		Groups     []string `json:"groups"`
		Configs    []struct {
			Definition struct {
				Name string `json:"name"`
			} `json:"definition"`
			Value struct {
				Name   string   `json:"name"`
				Value  *string  `json:"value"`
				Errors []string `json:"errors"`
			} `json:"value"`
		} `json:"configs"`
	}
	badConf := map[string]string{"connector.class": "MirrorSourceConnector", "tasks.max": "zero", "source.cluster.alias": "east",
		"target.cluster.alias": "west", "source.cluster.bootstrap.servers": kafka, "target.cluster.bootstrap.servers": kafka,
		"key.converter": "com.acme.Converter", "sasl.jaas.config": "secret-value"}
	if code, raw := c.do("PUT", "/connector-plugins/MirrorSourceConnector/config/validate", badConf, &infos); code != 200 {
		t.Fatalf("validate → %d %s", code, raw)
	}
	errsOf := map[string][]string{}
	for _, ci := range infos.Configs {
		if ci.Definition.Name != ci.Value.Name {
			t.Errorf("config %q has value of %q", ci.Definition.Name, ci.Value.Name)
		}
		if len(ci.Value.Errors) > 0 {
			errsOf[ci.Value.Name] = ci.Value.Errors
		}
		if ci.Value.Name == "sasl.jaas.config" && ci.Value.Value != nil && *ci.Value.Value == "secret-value" {
			t.Error("validate echoes a secret value")
		}
	}
	if infos.Name != mirrorSource || infos.ErrorCount != 2 || len(errsOf["tasks.max"]) != 1 || len(errsOf["key.converter"]) != 1 ||
		!strings.Contains(errsOf["tasks.max"][0], "Invalid value zero for configuration tasks.max") || len(infos.Groups) == 0 {
		t.Errorf("validate of a bad configuration: name %s, %d errors %v, groups %v", infos.Name, infos.ErrorCount, errsOf, infos.Groups)
	}
	good := mirrorConfig(kafka)
	c.do("PUT", "/connector-plugins/MirrorSourceConnector/config/validate", good, &infos)
	if infos.ErrorCount != 0 {
		t.Errorf("validate of a good configuration: %d errors", infos.ErrorCount)
	}
	c.want("PUT", "/connector-plugins/MirrorHeartbeatConnector/config/validate", good, 400, "does not match request type")
	c.want("PUT", "/connector-plugins/MirrorSourceConnector/config/validate", "not an object", 400, "Cannot deserialize")

	// POST /connectors: a bad configuration is Connect's 400; a good one is created with the
	// defaults and the plugin; a second time is 409.
	c.want("POST", "/connectors", map[string]any{"name": "bad", "config": badConf}, 400,
		"Connector configuration is invalid and contains the following 2 error(s)")
	c.want("POST", "/connectors", map[string]any{"name": "x", "config": map[string]string{"name": "y", "connector.class": mirrorSource}}, 400,
		"doesn't match connector name")
	var info connectorInfo
	if code, raw := c.do("POST", "/connectors", map[string]any{"name": "mirror", "config": good}, &info); code != 201 {
		t.Fatalf("POST /connectors → %d %s", code, raw)
	}
	if info.Name != "mirror" || info.Type != "source" || info.Config["name"] != "mirror" || info.Config["sasl.jaas.config"] != "[hidden]" {
		t.Errorf("POST /connectors → %+v", info)
	}
	c.want("POST", "/connectors", map[string]any{"name": "mirror", "config": good}, 409, "Connector mirror already exists")
	kcAPI := env.KafkaConnect()
	list, err := kcAPI.ListConnectors(t.Context(), &kafkaconnect.ListConnectorsInput{})
	if err != nil || len(list.Connectors) != 1 {
		t.Fatalf("ListConnectors: %v %+v", err, list)
	}
	arn := aws.ToString(list.Connectors[0].ConnectorArn)
	d := describe(t, kcAPI, arn)
	if aws.ToString(d.KafkaCluster.ApacheKafkaCluster.BootstrapServers) != kafka || aws.ToString(d.KafkaConnectVersion) != "3.7.x" ||
		aws.ToString(d.Plugins[0].CustomPlugin.CustomPluginArn) != plugin ||
		d.Capacity.ProvisionedCapacity.WorkerCount != 1 || d.Capacity.ProvisionedCapacity.McuCount != 1 ||
		aws.ToString(d.ServiceExecutionRoleArn) != "arn:aws:iam::000000000000:role/fjord-connect-rest" {
		t.Errorf("the connector created over REST: %+v", d)
	}
	// The other account does not see it.
	other := &client{t: t, base: c.base, user: servertest.OtherAccess, pass: servertest.OtherSecret}
	other.want("GET", "/connectors/mirror", nil, 404, "Connector mirror not found")

	// GET routes.
	var names []string
	c.do("GET", "/connectors", nil, &names)
	if len(names) != 1 || names[0] != "mirror" {
		t.Errorf("GET /connectors → %v", names)
	}
	var ignored map[string]map[string]any
	if code, raw := c.do("GET", "/connectors?expand=nothing", nil, &ignored); code != 200 || len(ignored["mirror"]) != 0 || ignored["mirror"] == nil {
		t.Errorf("GET /connectors?expand=nothing → %d %s", code, raw)
	}
	var expanded map[string]struct {
		Status *status        `json:"status"`
		Info   *connectorInfo `json:"info"`
	}
	c.do("GET", "/connectors?expand=status&expand=info", nil, &expanded)
	if e := expanded["mirror"]; e.Status == nil || e.Info == nil || e.Status.Connector.State != "UNASSIGNED" || e.Info.Config["topics"] != "orders" {
		t.Errorf("GET /connectors?expand=status&expand=info → %s", jsonOf(t, expanded))
	}
	var conf map[string]string
	c.do("GET", "/connectors/mirror/config", nil, &conf)
	if conf["topics"] != "orders" || conf["sasl.jaas.config"] != "[hidden]" || conf["name"] != "mirror" {
		t.Errorf("GET config → %v", conf)
	}
	var tasks []any
	if code, _ := c.do("GET", "/connectors/mirror/tasks", nil, &tasks); code != 200 {
		t.Errorf("GET tasks → %d", code)
	}
	var tasksConfig map[string]map[string]string
	if code, raw := c.do("GET", "/connectors/mirror/tasks-config", nil, &tasksConfig); code != 200 || tasksConfig == nil {
		t.Errorf("GET tasks-config → %d %s", code, raw)
	}
	var topics map[string]map[string][]string
	if code, raw := c.do("GET", "/connectors/mirror/topics", nil, &topics); code != 200 || topics["mirror"]["topics"] == nil {
		t.Errorf("GET topics → %d %s", code, raw)
	}
	c.want("PUT", "/connectors/mirror/topics/reset", nil, 202, "")
	c.want("GET", "/connectors/mirror/tasks/7/status", nil, 404, "Task not found: mirror-7")
	c.want("POST", "/connectors/mirror/tasks/7/restart", nil, 404, "Task not found: mirror-7")
	c.want("POST", "/connectors/mirror/restart?includeTasks=maybe", nil, 400, "includeTasks")
	c.want("POST", "/connectors/mirror/restart", nil, 200, "")

	// PUT config: the hidden secret sent back keeps the stored value; the change is an
	// UpdateConnector operation.
	conf["topics"] = "orders|payments"
	if code, raw := c.do("PUT", "/connectors/mirror/config", conf, &info); code != 200 || info.Config["topics"] != "orders|payments" {
		t.Fatalf("PUT config → %d %s", code, raw)
	}
	ops, err := kcAPI.ListConnectorOperations(t.Context(), &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(arn)})
	if err != nil || len(ops.ConnectorOperations) != 1 || ops.ConnectorOperations[0].ConnectorOperationType != kctypes.ConnectorOperationTypeUpdateConnectorConfiguration {
		t.Fatalf("operations after PUT config: %v %+v", err, ops)
	}
	servertest.Eventually(t, 30*time.Second, "the update to complete", func() bool {
		d := describe(t, kcAPI, arn)
		return d.ConnectorState != kctypes.ConnectorStateUpdating
	})
	var stored struct{ conf map[string]string }
	if err := json.Unmarshal(mustResource(t, env, arn), &stored.conf); err != nil {
		t.Fatal(err)
	}
	if stored.conf["sasl.jaas.config"] != "secret-value" || stored.conf["topics"] != "orders|payments" {
		t.Errorf("stored configuration after PUT: topics %q, secret kept %v", stored.conf["topics"], stored.conf["sasl.jaas.config"] == "secret-value")
	}
	var st status
	// PUT config of a new name creates it.
	hb := map[string]string{"connector.class": "MirrorHeartbeatConnector", "source.cluster.alias": "east", "target.cluster.alias": "west",
		"source.cluster.bootstrap.servers": kafka, "target.cluster.bootstrap.servers": kafka}
	c.want("PUT", "/connectors/beat/config", hb, 201, "")
	// A FAILED connector shows its trace; a restart places it again.
	beat, err := env.Store.Connectors.List(t.Context(), store.ListParams{AccountID: servertest.Account, Region: servertest.Region, NamePrefix: "beat", Limit: 1})
	if err != nil || len(beat) != 1 {
		t.Fatalf("list beat: %v", err)
	}
	if _, err := env.Store.Connectors.Update(t.Context(), servertest.Account, servertest.Region, beat[0].ARN, store.UpdateOptions{}, func(r *store.Resource) error {
		r.State, r.StateCode, r.StateMessage = "FAILED", "WORKER_FAILED", "boom"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.do("GET", "/connectors/beat/status", nil, &st)
	if st.Connector.State != "FAILED" || st.Connector.Trace != "WORKER_FAILED: boom" {
		t.Errorf("status of a FAILED connector: %+v", st)
	}
	c.want("POST", "/connectors/beat/restart", nil, 200, "")
	if d := describe(t, kcAPI, beat[0].ARN); d.ConnectorState != kctypes.ConnectorStateCreating {
		t.Errorf("a restarted FAILED connector is %s, want CREATING", d.ConnectorState)
	}
	c.want("DELETE", "/connectors/beat", nil, 204, "")
	c.want("GET", "/connectors/beat", nil, 404, "Connector beat not found")

	// Offsets may change only while STOPPED.
	c.want("DELETE", "/connectors/mirror/offsets", nil, 400, "must be in the STOPPED state")
	c.want("PATCH", "/connectors/mirror/offsets", map[string]any{"offsets": []any{}}, 400, "must be in the STOPPED state")

	// Pause: a persisted target state; the AWS API keeps RUNNING/CREATING and says PAUSED.
	c.want("PUT", "/connectors/mirror/pause", nil, 202, "")
	c.do("GET", "/connectors/mirror/status", nil, &st)
	if st.Connector.State != "PAUSED" || st.Type != "source" {
		t.Errorf("status after pause: %+v", st)
	}
	// No agent: CREATING, and the scheduler's WAITING_FOR_WORKERS explains it (the e2e test
	// sees PAUSED in a RUNNING connector's stateDescription).
	r, err := env.Store.Connectors.ByARN(t.Context(), arn)
	if err != nil || r.TargetState != "PAUSED" {
		t.Errorf("stored target state after pause: %v %q", err, r.TargetState)
	}
	c.want("PUT", "/connectors/mirror/resume", nil, 202, "")
	c.do("GET", "/connectors/mirror/status", nil, &st)
	if st.Connector.State == "PAUSED" {
		t.Errorf("status after resume: %+v", st)
	}

	// Stop, then KIP-875 offsets in the connector's offsets topic.
	c.want("PUT", "/connectors/mirror/stop", nil, 204, "")
	c.do("GET", "/connectors/mirror/status", nil, &st)
	if st.Connector.State != "STOPPED" || len(st.Tasks) != 0 {
		t.Errorf("status after stop: %+v", st)
	}
	// Stopped: no worker is desired, so the scheduler has nothing to wait for; the AWS API
	// shows RUNNING with STOPPED in stateDescription.
	servertest.Eventually(t, 30*time.Second, "the stopped connector RUNNING with STOPPED in its stateDescription", func() bool {
		d = describe(t, kcAPI, arn)
		return d.ConnectorState == kctypes.ConnectorStateRunning && d.StateDescription != nil && aws.ToString(d.StateDescription.Code) == "STOPPED"
	})
	if d.StateDescription != nil {
		t.Logf("stopped: %s %s: %s", d.ConnectorState, aws.ToString(d.StateDescription.Code), aws.ToString(d.StateDescription.Message))
	}
	c.want("PATCH", "/connectors/mirror/offsets", map[string]any{"offsets": []any{}}, 400, "must not be null or empty")
	offsetsTopic := "__amazon_msk_connect_offsets_mirror_" + arn[strings.LastIndexByte(arn, '/')+1:]
	c.want("PATCH", "/connectors/mirror/offsets", map[string]any{"offsets": []any{map[string]any{
		"partition": map[string]any{"cluster": "east", "topic": "orders", "partition": 0}, "offset": map[string]any{"offset": 5}}}},
		400, "has no offsets topic")
	// What a worker wrote: two partitions' offsets, another connector's, and a tombstone.
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka), kgo.DefaultProduceTopic(offsetsTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(t.Context(), 25, 1, nil, offsetsTopic); err != nil {
		t.Fatal(err)
	}
	rec := func(key, value string) *kgo.Record {
		r := &kgo.Record{Key: []byte(key)}
		if value != "" {
			r.Value = []byte(value)
		}
		return r
	}
	if err := cl.ProduceSync(t.Context(),
		rec(`["mirror",{"cluster":"east","partition":0,"topic":"orders"}]`, `{"offset":41}`),
		rec(`["mirror",{"cluster":"east","partition":1,"topic":"orders"}]`, `{"offset":7}`),
		rec(`["mirror",{"cluster":"east","partition":2,"topic":"orders"}]`, `{"offset":3}`),
		rec(`["mirror",{"cluster":"east","partition":2,"topic":"orders"}]`, ``),
		rec(`["other",{"cluster":"east","partition":0,"topic":"orders"}]`, `{"offset":99}`),
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	type offsets struct {
		Offsets []struct {
			Partition map[string]any `json:"partition"`
			Offset    map[string]any `json:"offset"`
		} `json:"offsets"`
	}
	var got offsets
	c.do("GET", "/connectors/mirror/offsets", nil, &got)
	if len(got.Offsets) != 2 || got.Offsets[0].Offset["offset"] != 41.0 || got.Offsets[1].Partition["partition"] != 1.0 {
		t.Fatalf("GET offsets → %s", jsonOf(t, got))
	}
	c.do("GET", "/connectors/mirror/topics", nil, &topics)
	if tp := topics["mirror"]["topics"]; len(tp) != 1 || tp[0] != "east.orders" {
		t.Errorf("GET topics → %v", topics)
	}
	c.want("PATCH", "/connectors/mirror/offsets", map[string]any{"offsets": []any{map[string]any{"partition": map[string]any{"topic": "orders"}, "offset": nil}}},
		400, "offsets[0]: the partition must be")
	var msg map[string]string
	if code, raw := c.do("PATCH", "/connectors/mirror/offsets", map[string]any{"offsets": []any{
		map[string]any{"partition": map[string]any{"cluster": "east", "topic": "orders", "partition": 0}, "offset": map[string]any{"offset": 10}},
		map[string]any{"partition": map[string]any{"cluster": "east", "topic": "orders", "partition": 1}, "offset": nil},
		map[string]any{"partition": map[string]any{"cluster": "east", "topic": "orders", "partition": 5}, "offset": map[string]any{"offset": 2}},
	}}, &msg); code != 200 || !strings.Contains(msg["message"], "altered successfully") {
		t.Fatalf("PATCH offsets → %d %s", code, raw)
	}
	c.do("GET", "/connectors/mirror/offsets", nil, &got)
	if g := jsonOf(t, got); len(got.Offsets) != 2 || !strings.Contains(g, `"offset":10`) || !strings.Contains(g, `"partition":5`) {
		t.Fatalf("GET offsets after PATCH → %s", g)
	}
	if code, raw := c.do("DELETE", "/connectors/mirror/offsets", nil, &msg); code != 200 || !strings.Contains(msg["message"], "reset successfully") {
		t.Fatalf("DELETE offsets → %d %s", code, raw)
	}
	c.do("GET", "/connectors/mirror/offsets", nil, &got)
	if len(got.Offsets) != 0 {
		t.Fatalf("GET offsets after DELETE → %s", jsonOf(t, got))
	}
	// The other connector's offset is untouched.
	other2, _ := kgo.NewClient(kgo.SeedBrokers(kafka), kgo.ConsumeTopics(offsetsTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer other2.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	live := map[string]string{}
	for n := 0; n < 5+2+1+1; {
		fs := other2.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read the offsets topic: %d records", n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if r.Value == nil {
				delete(live, string(r.Key))
			} else {
				live[string(r.Key)] = string(r.Value)
			}
		})
	}
	if len(live) != 1 || live[`["other",{"cluster":"east","partition":0,"topic":"orders"}]`] != `{"offset":99}` {
		t.Errorf("offsets topic after the reset: %v", live)
	}

	// Delete over REST: DeleteConnector.
	c.want("DELETE", "/connectors/mirror", nil, 204, "")
	c.want("GET", "/connectors/mirror/status", nil, 404, "Connector mirror not found")
}

func describe(t *testing.T, kc *kafkaconnect.Client, arn string) *kafkaconnect.DescribeConnectorOutput {
	t.Helper()
	d, err := kc.DescribeConnector(t.Context(), &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// mustResource is the connector's stored (decrypted) configuration.
func mustResource(t *testing.T, env *servertest.Env, arn string) []byte {
	t.Helper()
	r, err := env.Store.Connectors.ByARN(t.Context(), arn)
	if err != nil {
		t.Fatal(err)
	}
	return r.Secret
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestAnonymous: with AnonymousAccount (fjord dev) a request without credentials acts as that
// account; wrong credentials are still refused.
func TestAnonymous(t *testing.T) {
	env := servertest.Start(t)
	api, err := connectrest.New(connectrest.Config{Addr: "127.0.0.1:0", Server: env.Server, AnonymousAccount: servertest.Account,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Start(); err != nil {
		t.Fatal(err)
	}
	defer api.Stop()
	anon := &client{t: t, base: "http://" + api.Addr()}
	var names []string
	if code, raw := anon.do("GET", "/connectors", nil, &names); code != 200 || names == nil {
		t.Fatalf("anonymous GET /connectors → %d %s", code, raw)
	}
	anon.want("POST", "/connectors", map[string]any{"name": "x", "config": map[string]string{"connector.class": mirrorSource,
		"source.cluster.alias": "a", "target.cluster.alias": "b", "source.cluster.bootstrap.servers": "127.0.0.1:1",
		"target.cluster.bootstrap.servers": "127.0.0.1:2"}}, 400, "No ACTIVE custom plugin")
	bad := &client{t: t, base: anon.base, user: "nobody", pass: "x"}
	bad.want("GET", "/connectors", nil, 401, "Invalid credentials")
}

// TestTaskSpecsHonorTargetStateAndRestarts: what the agents are sent for a connector follows
// the Connect REST API's changes — a restart count in the restarted task's specification only,
// no task while paused, no worker (shape) while stopped, everything again on resume.
func TestTaskSpecsHonorTargetStateAndRestarts(t *testing.T) {
	env, c, kafka := start(t)
	activePlugin(t, env)
	c.want("POST", "/connectors", map[string]any{"name": "m", "config": mirrorConfig(kafka)}, 201, "")
	list, err := env.Store.Connectors.List(t.Context(), store.ListParams{AccountID: servertest.Account, Region: servertest.Region, Limit: 10})
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v", err)
	}
	arn := list[0].ARN
	wl := env.Server.Workload()
	specs := func() (restarts []string, n int) {
		r, err := env.Store.Connectors.ByARN(t.Context(), arn)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := wl.TaskSpecs(t.Context(), "connector", r, []int{0, 1}, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ts {
			restarts = append(restarts, s.Config["fjord.connect.restart"])
		}
		return restarts, len(ts)
	}
	shape := func() (int, int) {
		r, err := env.Store.Connectors.ByARN(t.Context(), arn)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := wl.Shape("connector", r)
		if err != nil {
			t.Fatal(err)
		}
		return sh.Workers, sh.Tasks
	}
	if r, n := specs(); n != 2 || r[0] != "" || r[1] != "" {
		t.Fatalf("task specs at first: %d, restarts %q", n, r)
	}
	if err := env.Store.RestartConnectorTasks(t.Context(), arn, []int{1}); err != nil {
		t.Fatal(err)
	}
	if err := env.Store.RestartConnectorTasks(t.Context(), arn, []int{1}); err != nil {
		t.Fatal(err)
	}
	if r, _ := specs(); r[0] != "" || r[1] != "2" {
		t.Errorf("task specs after two restarts of task 1: restarts %q, want [\"\" \"2\"]", r)
	}
	c.want("PUT", "/connectors/m/pause", nil, 202, "")
	if _, n := specs(); n != 0 {
		t.Errorf("a paused connector's workers get %d tasks, want none", n)
	}
	if w, tasks := shape(); w != 1 || tasks != 2 {
		t.Errorf("a paused connector's shape: %d workers, %d tasks; want its placement kept (1, 2)", w, tasks)
	}
	c.want("PUT", "/connectors/m/stop", nil, 204, "")
	if w, tasks := shape(); w != 0 || tasks != 0 {
		t.Errorf("a stopped connector's shape: %d workers, %d tasks; want none", w, tasks)
	}
	c.want("PUT", "/connectors/m/resume", nil, 202, "")
	if w, tasks := shape(); w != 1 || tasks != 2 {
		t.Errorf("a resumed connector's shape: %d workers, %d tasks", w, tasks)
	}
	if r, n := specs(); n != 2 || r[1] != "2" {
		t.Errorf("a resumed connector's task specs: %d, restarts %q", n, r)
	}
}
