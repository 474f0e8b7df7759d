// Package badinput sweeps the create operations of a real Fjord server with malformed and
// invalid request bodies, sent raw over HTTP and signed with aws-sdk-go-v2's v4 signer: every
// one must be a 400 BadRequestException whose message names the member, never a 5xx, and none
// may create anything. Most cases are derived from the AWS model (every bound, pattern, enum,
// required member and member type of the input shapes); the rest are written by hand (rules
// beyond the model, and JSON that is not JSON).
package badinput

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// response is an answer of the server.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// send signs a request with the test credential as the Go SDK would and sends it.
func send(t *testing.T, env *servertest.Env, method, path, service string, body []byte) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, env.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: servertest.AccessKey, SecretAccessKey: servertest.SecretKey},
		req, hex.EncodeToString(sum[:]), service, servertest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: %d with a body that is not a JSON object: %q", method, path, resp.StatusCode, raw)
		}
	}
	return r
}

// operation is one of the swept operations.
type operation struct {
	name, method, path, service string
	// list is the path of the List operation that shows what op creates, and listKey the member
	// holding the items.
	list, listKey, arnKey string
}

var operations = map[string]operation{
	"CreateConnector": {name: "CreateConnector", method: http.MethodPost, path: "/v1/connectors", service: "kafkaconnect",
		list: "/v1/connectors", listKey: "connectors", arnKey: "connectorArn"},
	"CreateWorkerConfiguration": {name: "CreateWorkerConfiguration", method: http.MethodPost, path: "/v1/worker-configurations", service: "kafkaconnect",
		list: "/v1/worker-configurations", listKey: "workerConfigurations", arnKey: "workerConfigurationArn"},
	"CreateCustomPlugin": {name: "CreateCustomPlugin", method: http.MethodPost, path: "/v1/custom-plugins", service: "kafkaconnect",
		list: "/v1/custom-plugins", listKey: "customPlugins", arnKey: "customPluginArn"},
	"CreateReplicator": {name: "CreateReplicator", method: http.MethodPost, path: "/replication/v1/replicators", service: "kafka",
		list: "/replication/v1/replicators", listKey: "replicators", arnKey: "replicatorArn"},
}

// sortedOps is the operation names in a stable order.
func sortedOps() []string {
	var names []string
	for n := range operations {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// inventory returns the ARNs every List operation shows, by operation.
func inventory(t *testing.T, env *servertest.Env) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, name := range sortedOps() {
		op := operations[name]
		r := send(t, env, http.MethodGet, op.list+"?maxResults=100", op.service, nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", op.list, r.status, r.raw)
		}
		if _, more := r.body["nextToken"]; more {
			t.Fatalf("GET %s: more than 100 resources", op.list)
		}
		items, _ := r.body[op.listKey].([]any)
		arns := []string{}
		for _, it := range items {
			arns = append(arns, it.(map[string]any)[op.arnKey].(string))
		}
		sort.Strings(arns)
		out[name] = arns
	}
	return out
}

// badRequest requires the AWS form of a BadRequestException whose message contains one of
// want (when want is not empty).
func badRequest(t *testing.T, r response, want []string) {
	t.Helper()
	if r.status >= 500 {
		t.Fatalf("server error %d: %s", r.status, r.raw)
	}
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400; body %s", r.status, r.raw)
	}
	if got := r.header.Get("X-Amzn-ErrorType"); got != "BadRequestException" {
		t.Errorf("X-Amzn-ErrorType = %q, want BadRequestException", got)
	}
	msg, _ := r.body["message"].(string)
	if msg == "" {
		t.Fatalf("no message in %s", r.raw)
	}
	if len(want) == 0 {
		return
	}
	for _, w := range want {
		if strings.Contains(msg, w) {
			return
		}
	}
	t.Errorf("message %q names none of %q", msg, want)
}
