package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/jackc/pgx/v5"

	"github.com/fjord-io/fjord/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// ---- helpers shared by the tests of the fjord binary ----

// fjordBinary is the fjord binary the running tests share: tests that each linked their own
// copy in parallel spent seconds of CPU apiece on 2 cores. refs counts the tests using it; the
// last one to finish removes it (a test starting after that builds it again).
var fjordBinary struct {
	mu   sync.Mutex
	refs int
	dir  string
	path string
}

// buildFjord returns the fjord binary, built once for the tests running at the time, with the
// race detector when the test binary has it, so that a race in a child process fails the test
// too. The binary stays until t and every other test using it have finished.
func buildFjord(t *testing.T) string {
	t.Helper()
	fjordBinary.mu.Lock()
	defer fjordBinary.mu.Unlock()
	if fjordBinary.refs == 0 {
		dir, err := os.MkdirTemp("", "fjord-test-bin-")
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "fjord")
		args := []string{"build", "-o", bin}
		if raceEnabled() {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			_ = os.RemoveAll(dir)
			t.Fatalf("go build: %v\n%s", err, out)
		}
		t.Logf("built %s (race=%v) in %v", bin, raceEnabled(), time.Since(t0).Round(time.Millisecond))
		fjordBinary.dir, fjordBinary.path = dir, bin
	}
	fjordBinary.refs++
	t.Cleanup(func() {
		fjordBinary.mu.Lock()
		defer fjordBinary.mu.Unlock()
		if fjordBinary.refs--; fjordBinary.refs == 0 {
			_ = os.RemoveAll(fjordBinary.dir)
		}
	})
	return fjordBinary.path
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// freeAddr returns 127.0.0.1:PORT with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for a child's output copier and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// proc is a child process of the test.
type proc struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{} // closed when the process has exited and been reaped
	err            error         // Wait's result, set before done is closed
}

// childEnv is the test's environment without what would steer a child elsewhere: DATABASE_URL
// (fjord dev would use it instead of its own Postgres), FJORD_* flags and AWS_* settings.
func childEnv(extra ...string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "FJORD_") || strings.HasPrefix(kv, "AWS_")
	})
	return append(env, extra...)
}

// startProc starts bin with args. Its cleanup stops the process if it still runs (SIGTERM,
// then SIGKILL after 15 s), logs its output if the test failed, and fails the test if a
// race-enabled child reported a data race.
func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, name, bin, nil, args...)
}

// startProcEnv is startProc with env added to the child's environment.
func startProcEnv(t *testing.T, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = childEnv(env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	// Grandchildren (postgres) never get these pipes, but do not let one hang Wait if they did.
	p.cmd.WaitDelay = 10 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t, 15*time.Second)
		if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race", name)
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s", name, p.stdout)
			t.Logf("%s stderr:\n%s", name, p.stderr)
		}
	})
	return p
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace for the exit, then kills the process. It returns
// whether the process exited on its own within grace.
func (p *proc) stop(t *testing.T, grace time.Duration) bool {
	t.Helper()
	if p.exited() {
		return true
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
		t.Errorf("%s did not exit within %v of SIGTERM; killing it", p.name, grace)
		_ = p.cmd.Process.Kill()
		<-p.done
		return false
	}
}

// kill sends SIGKILL and waits until the process is reaped.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("kill %s: %v", p.name, err)
	}
	<-p.done
}

// exitCode is the process's exit code (-1 if a signal ended it); only after done.
func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// waitHealthy polls http://addr/healthz until it answers 200, failing the test if the process
// exits first or timeout passes.
func waitHealthy(t *testing.T, p *proc, addr string, timeout time.Duration) {
	t.Helper()
	waitOK(t, p, addr, "/healthz", timeout)
}

// waitOK polls http://addr+path until it answers 200, failing the test if the process exits
// first or timeout passes.
func waitOK(t *testing.T, p *proc, addr, path string, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	t0 := time.Now()
	for {
		resp, err := client.Get("http://" + addr + path)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("%s: %s answered 200 after %v", p.name, path, time.Since(t0).Round(time.Millisecond))
				return
			}
		}
		if p.exited() {
			t.Fatalf("%s exited (%v) before %s answered 200", p.name, p.err, path)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s did not answer 200 within %v (last error %v)", p.name, path, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runFjord runs a short fjord command to completion and returns its stdout.
func runFjord(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("fjord %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, &stdout, &stderr)
	}
	if strings.Contains(stderr.String(), "WARNING: DATA RACE") {
		t.Errorf("fjord %s reported a data race:\n%s", strings.Join(args, " "), &stderr)
	}
	return stdout.String()
}

// pluginZip is a small valid custom plugin archive.
func pluginZip(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.Create("META-INF/MANIFEST.MF")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("Manifest-Version: 1.0\n")); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// waitOpEnded polls a connector operation until it has ended (UPDATE_COMPLETE, UPDATE_FAILED,
// ROLLBACK_COMPLETE or ROLLBACK_FAILED) and returns it: UpdateConnector only records the
// operation, the server's scheduler carries it out.
func waitOpEnded(ctx context.Context, t *testing.T, c *apiClients, opARN string) *kafkaconnect.DescribeConnectorOperationOutput {
	t.Helper()
	var op *kafkaconnect.DescribeConnectorOperationOutput
	poll(t, 30*time.Second, "connector operation "+opARN+" to end", func() bool {
		var err error
		op, err = c.kc.DescribeConnectorOperation(ctx, &kafkaconnect.DescribeConnectorOperationInput{ConnectorOperationArn: aws.String(opARN)})
		if err != nil {
			t.Fatalf("DescribeConnectorOperation: %v", err)
		}
		switch op.ConnectorOperationState {
		case kctypes.ConnectorOperationStateUpdateComplete, kctypes.ConnectorOperationStateUpdateFailed,
			kctypes.ConnectorOperationStateRollbackComplete, kctypes.ConnectorOperationStateRollbackFailed:
			return true
		}
		return false
	})
	return op
}

// poll calls cond every 20 ms until it returns true, failing the test after timeout.
func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- fjord server ----

// recorder is the SDK clients' HTTP client: it keeps the raw body and status of the last
// response, so that a test sees exactly the bytes the server sent.
type recorder struct {
	client *http.Client
	mu     sync.Mutex
	body   []byte
	status int
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	r.mu.Lock()
	r.body, r.status = b, resp.StatusCode
	r.mu.Unlock()
	return resp, nil
}

// take returns and forgets the last response.
func (r *recorder) take() ([]byte, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, s := r.body, r.status
	r.body, r.status = nil, 0
	return b, s
}

// apiClients are SDK clients of account 000000000000 pointed at one server.
type apiClients struct {
	kc  *kafkaconnect.Client
	k   *kafka.Client
	rec *recorder
}

func newAPIClients(t *testing.T, httpAddr string) *apiClients {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	rec := &recorder{client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	cfg := aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:     aws.String("http://" + httpAddr),
		HTTPClient:       rec,
		RetryMaxAttempts: 1, // a 500 must show as a 500, not as three
	}
	return &apiClients{kc: kafkaconnect.NewFromConfig(cfg), k: kafka.NewFromConfig(cfg), rec: rec}
}

// fjordServer is a `fjord server` child process.
type fjordServer struct {
	*proc
	httpAddr, grpcAddr string
}

// startServer starts `fjord server` on free ports and waits for /healthz; extra flags are
// appended (a flag given twice takes the last value).
func startServer(t *testing.T, bin, databaseURL, keyHex, credsFile, pluginDir string, extra ...string) *fjordServer {
	t.Helper()
	return startServerAt(t, freeAddr(t), freeAddr(t), bin, databaseURL, keyHex, credsFile, pluginDir, extra...)
}

// startServerAt is startServer on the given REST and gRPC addresses (a restart on the same
// ports).
func startServerAt(t *testing.T, httpAddr, grpcAddr, bin, databaseURL, keyHex, credsFile, pluginDir string, extra ...string) *fjordServer {
	t.Helper()
	s := &fjordServer{httpAddr: httpAddr, grpcAddr: grpcAddr}
	args := []string{"server",
		"--database-url", databaseURL,
		"--encryption-key", keyHex,
		"--http-addr", s.httpAddr,
		"--grpc-addr", s.grpcAddr,
		"--plugin-dir", pluginDir,
		"--log-level", "info",
	}
	if credsFile != "" {
		args = append(args, "--credentials-file", credsFile)
	}
	s.proc = startProc(t, "fjord server", bin, append(args, extra...)...)
	waitHealthy(t, s.proc, s.httpAddr, 2*time.Minute)
	return s
}

// readCall is a Describe or List call whose raw response body must survive a restart.
type readCall struct {
	name string
	do   func(ctx context.Context, c *apiClients) error
}

// TestDurability creates one of everything through the AWS SDKs against a `fjord server`
// process, records the raw bodies of every Describe and List call, kills the server with
// SIGKILL, starts a new one on the same database and key, and checks that every body is
// byte-for-byte the same. It ends with a server started with a wrong key.
func TestDurability(t *testing.T) {
	t.Parallel()
	bin := buildFjord(t)
	databaseURL := pgtest.URL(t)
	dir := t.TempDir()
	keyHex := randomKeyHex(t)
	credsFile := filepath.Join(dir, "credentials.json")
	if err := os.WriteFile(credsFile, []byte(`[{"accessKeyId":"test","secretAccessKey":"test","accountId":"000000000000"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	pluginDir := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(filepath.Join(pluginDir, "plugin-bucket", "mm2"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pluginDir, "plugin-bucket", "mm2", "plugin.zip"), pluginZip(t), 0o644); err != nil {
		t.Fatal(err)
	}

	srv := startServer(t, bin, databaseURL, keyHex, credsFile, pluginDir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := newAPIClients(t, srv.httpAddr)

	// The cluster registry, through the CLI's admin gRPC calls.
	clusterARN := map[string]string{}
	for name, bootstrap := range map[string]string{"source": "127.0.0.1:19092", "target": "127.0.0.1:29092"} {
		out := runFjord(t, bin, "clusters", "register", "--server", srv.grpcAddr, "--name", name, "--bootstrap-servers", bootstrap)
		var reg map[string]string
		if err := json.Unmarshal([]byte(out), &reg); err != nil {
			t.Fatalf("clusters register output %q: %v", out, err)
		}
		if reg["clusterName"] != name || reg["bootstrapServers"] != bootstrap || !strings.HasPrefix(reg["clusterArn"], "arn:aws:kafka:us-east-1:000000000000:cluster/"+name+"/") {
			t.Fatalf("clusters register printed %v", reg)
		}
		clusterARN[name] = reg["clusterArn"]
	}
	var listed []map[string]string
	if out := runFjord(t, bin, "clusters", "list", "--server", srv.grpcAddr); json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 2 {
		t.Fatalf("clusters list printed %q, want the 2 registered clusters", out)
	}

	// A worker configuration.
	props := base64.StdEncoding.EncodeToString([]byte("key.converter=org.apache.kafka.connect.storage.StringConverter\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n"))
	wc, err := c.kc.CreateWorkerConfiguration(ctx, &kafkaconnect.CreateWorkerConfigurationInput{
		Name: aws.String("durable-wc"), Description: aws.String("worker settings"), PropertiesFileContent: aws.String(props),
		Tags: map[string]string{"team": "data"},
	})
	if err != nil {
		t.Fatalf("CreateWorkerConfiguration: %v", err)
	}
	wcARN := aws.ToString(wc.WorkerConfigurationArn)

	// A custom plugin, ACTIVE once the server has fetched and inspected the ZIP.
	cp, err := c.kc.CreateCustomPlugin(ctx, &kafkaconnect.CreateCustomPluginInput{
		Name: aws.String("durable-mm2"), ContentType: kctypes.CustomPluginContentTypeZip, Description: aws.String("MirrorMaker 2"),
		Location: &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{
			BucketArn: aws.String("arn:aws:s3:::plugin-bucket"), FileKey: aws.String("mm2/plugin.zip"),
		}},
		Tags: map[string]string{"team": "data"},
	})
	if err != nil {
		t.Fatalf("CreateCustomPlugin: %v", err)
	}
	cpARN := aws.ToString(cp.CustomPluginArn)
	poll(t, time.Minute, "the custom plugin to become ACTIVE", func() bool {
		d, err := c.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(cpARN)})
		if err != nil {
			t.Fatalf("DescribeCustomPlugin: %v", err)
		}
		if d.CustomPluginState == kctypes.CustomPluginStateCreateFailed {
			t.Fatalf("custom plugin failed: %s", aws.ToString(d.StateDescription.Message))
		}
		return d.CustomPluginState == kctypes.CustomPluginStateActive
	})

	// A connector using both.
	conn, err := c.kc.CreateConnector(ctx, &kafkaconnect.CreateConnectorInput{
		ConnectorName:        aws.String("durable-connector"),
		ConnectorDescription: aws.String("mirrors source to target"),
		Capacity:             &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}},
		ConnectorConfiguration: map[string]string{
			"connector.class":                  "org.apache.kafka.connect.mirror.MirrorSourceConnector",
			"tasks.max":                        "1",
			"topics":                           ".*",
			"source.cluster.alias":             "source",
			"source.cluster.bootstrap.servers": "127.0.0.1:19092",
			"source.cluster.sasl.jaas.config":  "org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=hunter2;",
		},
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
			BootstrapServers: aws.String("127.0.0.1:29092"),
			Vpc:              &kctypes.Vpc{Subnets: []string{"subnet-1"}, SecurityGroups: []string{"sg-1"}},
		}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
		KafkaConnectVersion:              aws.String("3.7.x"),
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: aws.String(cpARN), Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/fjord-connect"),
		WorkerConfiguration:              &kctypes.WorkerConfiguration{WorkerConfigurationArn: aws.String(wcARN), Revision: 1},
		Tags:                             map[string]string{"team": "data"},
	})
	if err != nil {
		t.Fatalf("CreateConnector: %v", err)
	}
	connARN := aws.ToString(conn.ConnectorArn)

	// A connector operation.
	desc, err := c.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(connARN)})
	if err != nil {
		t.Fatalf("DescribeConnector: %v", err)
	}
	upd, err := c.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{
		ConnectorArn: aws.String(connARN), CurrentVersion: desc.CurrentVersion,
		ConnectorConfiguration: map[string]string{
			"connector.class":                  "org.apache.kafka.connect.mirror.MirrorSourceConnector",
			"tasks.max":                        "2",
			"topics":                           ".*",
			"source.cluster.alias":             "source",
			"source.cluster.bootstrap.servers": "127.0.0.1:19092",
			"source.cluster.sasl.jaas.config":  "org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=hunter2;",
		},
	})
	if err != nil {
		t.Fatalf("UpdateConnector: %v", err)
	}
	if upd.ConnectorState != kctypes.ConnectorStateUpdating {
		t.Errorf("UpdateConnector returned state %s, want UPDATING", upd.ConnectorState)
	}
	opARN := aws.ToString(upd.ConnectorOperationArn)
	// The scheduler carries the update out (at once: the connector has not started); what is
	// recorded below is its final state.
	if op := waitOpEnded(ctx, t, c, opARN); op.ConnectorOperationState != kctypes.ConnectorOperationStateUpdateComplete {
		t.Fatalf("connector update ended %s: %+v", op.ConnectorOperationState, op.ErrorInfo)
	}

	// A replicator between the clusters the CLI registered.
	rep, err := c.k.CreateReplicator(ctx, &kafka.CreateReplicatorInput{
		ReplicatorName: aws.String("durable-replicator"),
		Description:    aws.String("source to target"),
		KafkaClusters: []ktypes.KafkaCluster{
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(clusterARN["source"])},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}}},
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(clusterARN["target"])},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-2"}}},
		},
		ReplicationInfoList: []ktypes.ReplicationInfo{{
			SourceKafkaClusterArn: aws.String(clusterARN["source"]),
			TargetKafkaClusterArn: aws.String(clusterARN["target"]),
			TargetCompressionType: ktypes.TargetCompressionTypeNone,
			TopicReplication:      &ktypes.TopicReplication{TopicsToReplicate: []string{"orders.*"}},
			ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{
				ConsumerGroupsToReplicate: []string{".*"},
			},
		}},
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/fjord-replicator"),
		Tags:                    map[string]string{"team": "data"},
	})
	if err != nil {
		t.Fatalf("CreateReplicator: %v", err)
	}
	repARN := aws.ToString(rep.ReplicatorArn)

	// More tags on each, through both services' TagResource.
	for _, arn := range []string{wcARN, cpARN, connARN} {
		if _, err := c.kc.TagResource(ctx, &kafkaconnect.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"env": "test", "owner": "durability"}}); err != nil {
			t.Fatalf("TagResource %s: %v", arn, err)
		}
	}
	if _, err := c.k.TagResource(ctx, &kafka.TagResourceInput{ResourceArn: aws.String(repARN), Tags: map[string]string{"env": "test", "owner": "durability"}}); err != nil {
		t.Fatalf("TagResource %s: %v", repARN, err)
	}

	calls := []readCall{
		{"DescribeWorkerConfiguration", func(ctx context.Context, c *apiClients) error {
			_, err := c.kc.DescribeWorkerConfiguration(ctx, &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: aws.String(wcARN)})
			return err
		}},
		{"ListWorkerConfigurations", func(ctx context.Context, c *apiClients) error {
			_, err := c.kc.ListWorkerConfigurations(ctx, &kafkaconnect.ListWorkerConfigurationsInput{})
			return err
		}},
		{"DescribeCustomPlugin", func(ctx context.Context, c *apiClients) error {
			_, err := c.kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: aws.String(cpARN)})
			return err
		}},
		{"ListCustomPlugins", func(ctx context.Context, c *apiClients) error {
			_, err := c.kc.ListCustomPlugins(ctx, &kafkaconnect.ListCustomPluginsInput{})
			return err
		}},
		{"DescribeConnector", func(ctx context.Context, c *apiClients) error {
			_, err := c.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(connARN)})
			return err
		}},
		{"ListConnectors", func(ctx context.Context, c *apiClients) error {
			_, err := c.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{MaxResults: aws.Int32(100)})
			return err
		}},
		{"DescribeConnectorOperation", func(ctx context.Context, c *apiClients) error {
			_, err := c.kc.DescribeConnectorOperation(ctx, &kafkaconnect.DescribeConnectorOperationInput{ConnectorOperationArn: aws.String(opARN)})
			return err
		}},
		{"ListConnectorOperations", func(ctx context.Context, c *apiClients) error {
			_, err := c.kc.ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{ConnectorArn: aws.String(connARN)})
			return err
		}},
		{"DescribeReplicator", func(ctx context.Context, c *apiClients) error {
			_, err := c.k.DescribeReplicator(ctx, &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(repARN)})
			return err
		}},
		{"ListReplicators", func(ctx context.Context, c *apiClients) error {
			_, err := c.k.ListReplicators(ctx, &kafka.ListReplicatorsInput{})
			return err
		}},
		{"ListClustersV2", func(ctx context.Context, c *apiClients) error {
			_, err := c.k.ListClustersV2(ctx, &kafka.ListClustersV2Input{})
			return err
		}},
		{"ListClustersV2/page1", func(ctx context.Context, c *apiClients) error { // carries a nextToken
			_, err := c.k.ListClustersV2(ctx, &kafka.ListClustersV2Input{MaxResults: aws.Int32(1)})
			return err
		}},
		{"DescribeClusterV2", func(ctx context.Context, c *apiClients) error {
			_, err := c.k.DescribeClusterV2(ctx, &kafka.DescribeClusterV2Input{ClusterArn: aws.String(clusterARN["source"])})
			return err
		}},
		{"GetBootstrapBrokers", func(ctx context.Context, c *apiClients) error {
			_, err := c.k.GetBootstrapBrokers(ctx, &kafka.GetBootstrapBrokersInput{ClusterArn: aws.String(clusterARN["target"])})
			return err
		}},
	}
	for _, arn := range []string{wcARN, cpARN, connARN} {
		calls = append(calls, readCall{"ListTagsForResource " + arn, func(ctx context.Context, c *apiClients) error {
			_, err := c.kc.ListTagsForResource(ctx, &kafkaconnect.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
			return err
		}})
	}
	calls = append(calls, readCall{"ListTagsForResource " + repARN, func(ctx context.Context, c *apiClients) error {
		_, err := c.k.ListTagsForResource(ctx, &kafka.ListTagsForResourceInput{ResourceArn: aws.String(repARN)})
		return err
	}})

	record := func(c *apiClients) map[string][]byte {
		t.Helper()
		bodies := map[string][]byte{}
		for _, call := range calls {
			c.rec.take()
			if err := call.do(ctx, c); err != nil {
				t.Fatalf("%s: %v", call.name, err)
			}
			body, status := c.rec.take()
			if status != http.StatusOK || len(body) == 0 {
				t.Fatalf("%s: status %d, body %q", call.name, status, body)
			}
			bodies[call.name] = body
		}
		return bodies
	}
	before := record(c)
	// What the bodies must hold, so that "identical" means identical and complete.
	for name, want := range map[string][]string{
		"DescribeConnector":              {`"connectorState":"CREATING"`, `"tasks.max":"2"`, "password=hunter2", cpARN, wcARN, `"currentVersion":`},
		"DescribeConnectorOperation":     {`"connectorOperationState":"UPDATE_COMPLETE"`, `"tasks.max":"2"`, `"<redacted>"`},
		"DescribeCustomPlugin":           {`"customPluginState":"ACTIVE"`, `"fileMd5":`},
		"DescribeWorkerConfiguration":    {props},
		"DescribeReplicator":             {`"replicatorState":"CREATING"`, clusterARN["source"], `"owner":"durability"`},
		"ListClustersV2/page1":           {`"nextToken":`},
		"ListTagsForResource " + connARN: {`"env":"test"`, `"team":"data"`},
	} {
		for _, w := range want {
			if !bytes.Contains(before[name], []byte(w)) {
				t.Errorf("%s body lacks %s:\n%s", name, w, before[name])
			}
		}
	}
	if again := record(c); !equalBodies(t, "the same server, asked twice", before, again) {
		t.FailNow()
	}

	// kill -9, and a new server on the same database and key.
	srv.kill(t)
	if code := srv.exitCode(); code != -1 {
		t.Errorf("killed server exit code %d, want -1 (signal)", code)
	}
	srv2 := startServer(t, bin, databaseURL, keyHex, credsFile, pluginDir)
	c2 := newAPIClients(t, srv2.httpAddr)
	after := record(c2)
	equalBodies(t, "after kill -9 and restart", before, after)

	// The restarted server can still change what it kept: the version it reports is current.
	d2, err := c2.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(connARN)})
	if err != nil {
		t.Fatalf("DescribeConnector after restart: %v", err)
	}
	upd2, err := c2.kc.UpdateConnector(ctx, &kafkaconnect.UpdateConnectorInput{
		ConnectorArn: aws.String(connARN), CurrentVersion: d2.CurrentVersion,
		Capacity: &kctypes.CapacityUpdate{ProvisionedCapacity: &kctypes.ProvisionedCapacityUpdate{McuCount: 2, WorkerCount: 2}},
	})
	if err != nil {
		t.Fatalf("UpdateConnector after restart: %v", err)
	}
	// … and the restarted server's scheduler carries the operation out.
	if op := waitOpEnded(ctx, t, c2, aws.ToString(upd2.ConnectorOperationArn)); op.ConnectorOperationState != kctypes.ConnectorOperationStateUpdateComplete {
		t.Fatalf("connector update after restart ended %s: %+v", op.ConnectorOperationState, op.ErrorInfo)
	}
	d3, err := c2.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(connARN)})
	if err != nil {
		t.Fatalf("DescribeConnector after the update: %v", err)
	}
	if p := d3.Capacity.ProvisionedCapacity; d3.ConnectorState != kctypes.ConnectorStateCreating || p == nil || p.McuCount != 2 || p.WorkerCount != 2 {
		t.Errorf("connector after an update on the restarted server: %s, capacity %+v; want CREATING with 2×2", d3.ConnectorState, d3.Capacity)
	}

	// SIGTERM stops a server cleanly.
	if !srv2.stop(t, 15*time.Second) || srv2.exitCode() != 0 {
		t.Fatalf("server after SIGTERM: %v, want exit 0", srv2.err)
	}

	// A wrong key: the server refuses to start (exit 1, saying why) and writes nothing — in
	// particular it does not re-seal the credential of --credentials-file with its key.
	wrongKey := randomKeyHex(t)
	srv3 := startProc(t, "fjord server (wrong key)", bin, "server", "--database-url", databaseURL, "--encryption-key", wrongKey,
		"--http-addr", freeAddr(t), "--grpc-addr", freeAddr(t), "--credentials-file", credsFile, "--plugin-dir", pluginDir)
	poll(t, time.Minute, "the wrong-key server to exit", srv3.exited)
	if srv3.exitCode() == 0 || !strings.Contains(srv3.stderr.String(), "encryption key does not match") {
		t.Fatalf("wrong-key server: exit %d, stderr %s", srv3.exitCode(), srv3.stderr.String())
	}
	srv4 := startServer(t, bin, databaseURL, keyHex, credsFile, pluginDir)
	c4 := newAPIClients(t, srv4.httpAddr)
	if _, err := c4.kc.DescribeConnector(ctx, &kafkaconnect.DescribeConnectorInput{ConnectorArn: aws.String(connARN)}); err != nil {
		t.Fatalf("the right key after a wrong-key start: %v", err)
	}
	if !srv4.stop(t, 15*time.Second) || srv4.exitCode() != 0 {
		t.Fatalf("server after SIGTERM: %v, want exit 0", srv4.err)
	}
}

// equalBodies reports whether every recorded body is byte-for-byte the same, failing the test
// for each that is not.
func equalBodies(t *testing.T, when string, want, got map[string][]byte) bool {
	t.Helper()
	ok := true
	for name, w := range want {
		if g := got[name]; !bytes.Equal(w, g) {
			t.Errorf("%s: %s body differs\nbefore: %s\nafter:  %s", when, name, w, g)
			ok = false
		}
	}
	return ok
}

// ---- fjord migrate ----

// TestMigrate applies the migrations to a fresh database with `fjord migrate up` (action
// before and after the flags) and reads the version back with `fjord migrate version`.
func TestMigrate(t *testing.T) {
	t.Parallel()
	bin := buildFjord(t)
	databaseURL := pgtest.URL(t)

	latest := 0
	ups, err := filepath.Glob(filepath.Join("..", "..", "migrations", "*.up.sql"))
	if err != nil || len(ups) == 0 {
		t.Fatalf("find migrations: %v (%d files)", err, len(ups))
	}
	for _, f := range ups {
		n, err := strconv.Atoi(strings.SplitN(filepath.Base(f), "_", 2)[0])
		if err != nil {
			t.Fatalf("migration %s has no number: %v", f, err)
		}
		latest = max(latest, n)
	}

	if got := runFjord(t, bin, "migrate", "version", "--database-url", databaseURL); got != "0 dirty=false\n" {
		t.Errorf("version of a fresh database = %q, want \"0 dirty=false\\n\"", got)
	}
	runFjord(t, bin, "migrate", "up", "--database-url", databaseURL)
	want := fmt.Sprintf("%d dirty=false\n", latest)
	if got := runFjord(t, bin, "migrate", "version", "--database-url", databaseURL); got != want {
		t.Errorf("version after up = %q, want %q", got, want)
	}
	runFjord(t, bin, "migrate", "--database-url", databaseURL, "up") // again, flags first: a no-op
	if got := runFjord(t, bin, "migrate", "--database-url", databaseURL, "version"); got != want {
		t.Errorf("version after a second up = %q, want %q", got, want)
	}

	// The schema is really there.
	conn, err := pgx.Connect(t.Context(), databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, table := range []string{"connectors", "custom_plugins", "worker_configurations", "replicators", "credentials"} {
		var n int
		if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			t.Errorf("table %s after migrate up: %v", table, err)
		}
	}

	// An unknown action fails, naming it.
	cmd := exec.Command(bin, "migrate", "sideways", "--database-url", databaseURL)
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "sideways") {
		t.Errorf("fjord migrate sideways: %v, %s; want a failure naming the action", err, out)
	}
}

// randomKeyHex is a fresh at-rest key as 64 hex digits.
func randomKeyHex(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(key)
}
