package sdktest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/fjord-io/fjord/server/servertest"
)

// rawResponse is an HTTP response read in full.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// rawCall sends one request signed with Signature V4 for service by a plain net/http client
// (no SDK serialization or error handling) and returns the raw response. path must already be
// percent-encoded; query is the raw query string.
func (f *fixture) rawCall(t *testing.T, service, method, path, query string, body []byte, sign bool) rawResponse {
	t.Helper()
	u := f.env.URL + path
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, bytes.NewReader(body))
	check(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if sign {
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: servertest.AccessKey, SecretAccessKey: servertest.SecretKey}
		check(t, v4.NewSigner().SignHTTP(t.Context(), creds, req, hex.EncodeToString(sum[:]), service, servertest.Region, time.Now()))
	}
	resp, err := http.DefaultClient.Do(req)
	check(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	check(t, err)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// pathEscape percent-encodes everything but RFC 3986's unreserved characters, as the SDKs do
// for path labels.
func pathEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// wantWireError checks the error form every AWS client reads: the status, X-Amzn-ErrorType,
// a JSON content type and a JSON body whose "message" contains each of want.
func wantWireError(t *testing.T, r rawResponse, status int, typ string, want ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d; want %d (body %s)", r.status, status, r.body)
	}
	if got := r.header.Get("X-Amzn-ErrorType"); got != typ {
		t.Errorf("X-Amzn-ErrorType %q; want %q", got, typ)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q; want application/json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	msg, ok := body["message"].(string)
	if !ok || msg == "" {
		t.Fatalf("body %s has no \"message\" string", r.body)
	}
	// Go prefers "Message" over "message": a second, different spelling would win there.
	if _, dup := body["Message"]; dup {
		t.Errorf("body %s has both message and Message", r.body)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q does not contain %q", msg, w)
		}
	}
}

// TestWireErrors: the raw HTTP form of errors of both services, read without the SDK.
func TestWireErrors(t *testing.T) {
	t.Parallel()
	f := start(t)
	replicator := createReplicator(t, f.k, f.replicatorInput("r"))

	t.Run("kafkaconnect NotFound", func(t *testing.T) {
		t.Parallel()
		arn := unknownARN("kafkaconnect", "connector", "nope")
		r := f.rawCall(t, "kafkaconnect", http.MethodGet, "/v1/connectors/"+pathEscape(arn), "", nil, true)
		wantWireError(t, r, 404, "NotFoundException", arn)
	})
	t.Run("kafkaconnect BadRequest", func(t *testing.T) {
		t.Parallel()
		body := fmt.Sprintf(`{"name":"wc","propertiesFileContent":%q}`, b64("group.id=mine\n"))
		r := f.rawCall(t, "kafkaconnect", http.MethodPost, "/v1/worker-configurations", "", []byte(body), true)
		wantWireError(t, r, 400, "BadRequestException", "group.id")
	})
	t.Run("kafkaconnect malformed JSON", func(t *testing.T) {
		t.Parallel()
		r := f.rawCall(t, "kafkaconnect", http.MethodPost, "/v1/worker-configurations", "", []byte(`{"name":`), true)
		if r.status != 400 || r.header.Get("X-Amzn-ErrorType") == "" {
			t.Errorf("malformed JSON: status %d, type %q, body %s; want a typed 400", r.status, r.header.Get("X-Amzn-ErrorType"), r.body)
		}
	})
	t.Run("kafka NotFound", func(t *testing.T) {
		t.Parallel()
		arn := unknownARN("kafka", "replicator", "nope")
		r := f.rawCall(t, "kafka", http.MethodGet, "/replication/v1/replicators/"+pathEscape(arn), "", nil, true)
		wantWireError(t, r, 404, "NotFoundException", arn)
	})
	t.Run("kafka BadRequest", func(t *testing.T) {
		t.Parallel()
		r := f.rawCall(t, "kafka", http.MethodDelete, "/replication/v1/replicators/"+pathEscape(replicator), "currentVersion=stale", nil, true)
		wantWireError(t, r, 400, "BadRequestException", "currentVersion")
	})
	t.Run("kafka tags NotFound", func(t *testing.T) {
		t.Parallel()
		arn := unknownARN("kafka", "replicator", "nope")
		r := f.rawCall(t, "kafka", http.MethodGet, "/v1/tags/"+pathEscape(arn), "", nil, true)
		wantWireError(t, r, 404, "NotFoundException")
	})
	t.Run("unsigned", func(t *testing.T) {
		t.Parallel()
		r := f.rawCall(t, "kafkaconnect", http.MethodGet, "/v1/connectors", "", nil, false)
		if r.status != 403 {
			t.Errorf("unsigned request: status %d; want 403", r.status)
		}
		wantWireError(t, r, 403, r.header.Get("X-Amzn-ErrorType"))
		if r.header.Get("X-Amzn-ErrorType") == "" {
			t.Error("unsigned request: no X-Amzn-ErrorType")
		}
	})
	t.Run("success", func(t *testing.T) {
		t.Parallel()
		// The raw client is right: the same kind of call succeeds on an existing resource.
		r := f.rawCall(t, "kafka", http.MethodGet, "/replication/v1/replicators/"+pathEscape(replicator), "", nil, true)
		if r.status != 200 || r.header.Get("X-Amzn-ErrorType") != "" {
			t.Fatalf("describe: status %d, body %s", r.status, r.body)
		}
		var d struct {
			ReplicatorArn  string `json:"replicatorArn"`
			CurrentVersion string `json:"currentVersion"`
		}
		check(t, json.Unmarshal(r.body, &d))
		eq(t, "replicatorArn", d.ReplicatorArn, replicator)
	})
}
