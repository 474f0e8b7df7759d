// Package authtest checks Signature V4 and account isolation of a real Fjord server over real
// HTTP and gRPC: requests are crafted with aws-sdk-go-v2's v4 signer and net/http (so that each
// can be broken in exactly one way), and made with the SDK clients and a signed gRPC client.
package authtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/fjord-io/fjord/server/servertest"
	"github.com/fjord-io/fjord/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// escape percent-encodes s as one path segment or query value, strictly as RFC 3986 and the AWS
// clients do: everything but A-Za-z0-9-_.~ is encoded with uppercase hex.
func escape(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// call is one hand-made REST request, signed (or not) in one chosen way.
type call struct {
	method    string
	path      string // escaped, as on the wire
	query     string // raw query
	body      []byte // the body that is signed
	sendBody  []byte // when not nil, the body actually sent (a tampered request)
	sendQuery string // when not "", the query actually sent

	unsigned bool
	access   string // default servertest.AccessKey
	secret   string // default servertest.SecretKey
	service  string // default derived from path
	region   string // default servertest.Region
	at       time.Time
	header   http.Header // extra headers, added after signing (so unsigned)
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// do signs c with the v4 signer as the Go SDK would and sends it with net/http.
func do(t *testing.T, env *servertest.Env, c call) response {
	t.Helper()
	if c.access == "" {
		c.access = servertest.AccessKey
	}
	if c.secret == "" {
		c.secret = servertest.SecretKey
	}
	if c.service == "" {
		c.service = "kafkaconnect"
		if strings.HasPrefix(c.path, "/replication/") || strings.HasPrefix(c.path, "/api/v2/") {
			c.service = "kafka"
		}
	}
	if c.region == "" {
		c.region = servertest.Region
	}
	if c.at.IsZero() {
		c.at = time.Now()
	}
	u, err := url.Parse(env.URL + c.path)
	if err != nil {
		t.Fatal(err)
	}
	u.RawQuery = c.query
	sent := c.body
	if c.sendBody != nil {
		sent = c.sendBody
	}
	req, err := http.NewRequestWithContext(t.Context(), c.method, u.String(), bytes.NewReader(sent))
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.EscapedPath(); got != c.path {
		t.Fatalf("net/url would send path %q, want %q", got, c.path)
	}
	if len(c.body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if !c.unsigned {
		sum := sha256.Sum256(c.body)
		err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: c.access, SecretAccessKey: c.secret},
			req, hex.EncodeToString(sum[:]), c.service, c.region, c.at)
		if err != nil {
			t.Fatal(err)
		}
	}
	if c.sendQuery != "" {
		req.URL.RawQuery = c.sendQuery
	}
	for k, vs := range c.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: %d with a body that is not a JSON object: %q", c.method, c.path, resp.StatusCode, raw)
		}
	}
	return r
}

// refused requires an AWS-style 403: X-Amzn-ErrorType errType and a JSON body with a message.
func refused(t *testing.T, r response, errType, msgPart string) {
	t.Helper()
	if r.status != http.StatusForbidden {
		t.Fatalf("status %d, want 403; body %s", r.status, r.raw)
	}
	if got := r.header.Get("X-Amzn-ErrorType"); got != errType {
		t.Errorf("X-Amzn-ErrorType = %q, want %q; body %s", got, errType, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	msg, ok := r.body["message"].(string)
	if !ok || msg == "" {
		t.Fatalf("body %s has no message", r.raw)
	}
	if !strings.Contains(msg, msgPart) {
		t.Errorf("message %q does not contain %q", msg, msgPart)
	}
}

func workerConfigBody(name string) []byte {
	b, _ := json.Marshal(map[string]any{
		"name":                  name,
		"propertiesFileContent": base64.StdEncoding.EncodeToString([]byte("key.converter=org.apache.kafka.connect.storage.StringConverter\n")),
	})
	return b
}

// workerConfigNames lists the worker configurations of the test account through a correctly
// signed request.
func workerConfigNames(t *testing.T, env *servertest.Env, access, secret string) []string {
	t.Helper()
	r := do(t, env, call{method: http.MethodGet, path: "/v1/worker-configurations", access: access, secret: secret})
	if r.status != http.StatusOK {
		t.Fatalf("list worker configurations: %d %s", r.status, r.raw)
	}
	var names []string
	list, _ := r.body["workerConfigurations"].([]any)
	for _, w := range list {
		names = append(names, w.(map[string]any)["name"].(string))
	}
	return names
}

// TestSigV4Refusals sends requests broken in one way each, and a control that is not: every
// broken one is a 403 that says why, and none changes anything.
func TestSigV4Refusals(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)

	create := call{method: http.MethodPost, path: "/v1/worker-configurations", body: workerConfigBody("refused")}
	with := func(f func(*call)) call { c := create; f(&c); return c }
	list := call{method: http.MethodGet, path: "/v1/connectors", query: "maxResults=5"}
	withList := func(f func(*call)) call { c := list; f(&c); return c }
	replicators := call{method: http.MethodGet, path: "/replication/v1/replicators"}

	cases := []struct {
		name    string
		call    call
		errType string
		msg     string
	}{
		{"unsigned GET", withList(func(c *call) { c.unsigned = true }), "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"unsigned POST", with(func(c *call) { c.unsigned = true }), "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"wrong secret GET", withList(func(c *call) { c.secret = "not-the-secret" }), "InvalidSignatureException", "signature"},
		{"wrong secret POST", with(func(c *call) { c.secret = "not-the-secret" }), "InvalidSignatureException", "signature"},
		{"other account's secret", with(func(c *call) { c.secret = servertest.OtherSecret }), "InvalidSignatureException", "signature"},
		{"unknown access key", with(func(c *call) { c.access, c.secret = "AKIDUNKNOWN", "x" }), "UnrecognizedClientException", "security token"},
		{"tampered body", with(func(c *call) { c.sendBody = workerConfigBody("tampered") }), "InvalidSignatureException", "signature"},
		{"body appended", with(func(c *call) { c.sendBody = append(workerConfigBody("refused"), ' ') }), "InvalidSignatureException", "signature"},
		{"body dropped", with(func(c *call) { c.sendBody = []byte{} }), "InvalidSignatureException", "signature"},
		{"kafkaconnect path signed for kafka", withList(func(c *call) { c.service = "kafka" }), "InvalidSignatureException", "kafkaconnect"},
		{"kafkaconnect POST signed for kafka", with(func(c *call) { c.service = "kafka" }), "InvalidSignatureException", "kafkaconnect"},
		{"kafkaconnect path signed for s3", withList(func(c *call) { c.service = "s3" }), "InvalidSignatureException", "scoped to correct service"},
		{"kafka path signed for kafkaconnect", func() call { c := replicators; c.service = "kafkaconnect"; return c }(), "InvalidSignatureException", "kafka"},
		{"kafka path signed for s3", func() call { c := replicators; c.service = "s3"; return c }(), "InvalidSignatureException", "scoped to correct service"},
		{"X-Amz-Date 16 minutes ago", withList(func(c *call) { c.at = time.Now().Add(-16 * time.Minute) }), "InvalidSignatureException", "Signature expired"},
		{"X-Amz-Date 16 minutes ahead", withList(func(c *call) { c.at = time.Now().Add(16 * time.Minute) }), "InvalidSignatureException", "not yet current"},
		{"POST, X-Amz-Date 16 minutes ago", with(func(c *call) { c.at = time.Now().Add(-16 * time.Minute) }), "InvalidSignatureException", "Signature expired"},
		{"tampered query", withList(func(c *call) { c.sendQuery = "maxResults=50" }), "InvalidSignatureException", "signature"},
		{"unsigned header added", withList(func(c *call) {
			c.header = http.Header{"X-Amz-Date": {time.Now().UTC().Format("20060102T150405Z")}}
		}), "IncompleteSignatureException", "X-Amz-Date"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			refused(t, do(t, env, tc.call), tc.errType, tc.msg)
		})
	}

	// Controls: the same requests, signed correctly, with 14 minutes of skew either way.
	t.Run("controls", func(t *testing.T) {
		t.Parallel()
		for _, skew := range []time.Duration{0, -14 * time.Minute, 14 * time.Minute} {
			r := do(t, env, withList(func(c *call) { c.at = time.Now().Add(skew) }))
			if r.status != http.StatusOK {
				t.Errorf("list with %v skew: %d %s", skew, r.status, r.raw)
			}
		}
		r := do(t, env, replicators)
		if r.status != http.StatusOK {
			t.Errorf("list replicators: %d %s", r.status, r.raw)
		}
	})
}

// TestSigV4RefusalsChangeNothing checks after the refusals above (run against a fresh server
// here) that no refused POST created anything, while the correctly signed one does.
func TestSigV4RefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	create := call{method: http.MethodPost, path: "/v1/worker-configurations", body: workerConfigBody("signed-a")}
	for _, c := range []call{
		{method: create.method, path: create.path, body: create.body, unsigned: true},
		{method: create.method, path: create.path, body: create.body, secret: "wrong"},
		{method: create.method, path: create.path, body: create.body, sendBody: workerConfigBody("signed-b")},
		{method: create.method, path: create.path, body: create.body, service: "kafka"},
		{method: create.method, path: create.path, body: create.body, service: "s3"},
		{method: create.method, path: create.path, body: create.body, at: time.Now().Add(-16 * time.Minute)},
		{method: create.method, path: create.path, body: create.body, at: time.Now().Add(16 * time.Minute)},
	} {
		if r := do(t, env, c); r.status != http.StatusForbidden {
			t.Fatalf("want 403, got %d %s", r.status, r.raw)
		}
	}
	if names := workerConfigNames(t, env, servertest.AccessKey, servertest.SecretKey); len(names) != 0 {
		t.Fatalf("refused requests created %v", names)
	}
	if r := do(t, env, create); r.status != http.StatusOK {
		t.Fatalf("signed create: %d %s", r.status, r.raw)
	}
	if names := workerConfigNames(t, env, servertest.AccessKey, servertest.SecretKey); len(names) != 1 || names[0] != "signed-a" {
		t.Fatalf("after the signed create: %v, want [signed-a]", names)
	}
	if names := workerConfigNames(t, env, servertest.OtherAccess, servertest.OtherSecret); len(names) != 0 {
		t.Fatalf("the other account sees %v", names)
	}
}

// TestIdentityHeadersIgnored sends the gateway's internal metadata as HTTP headers (plain and
// as grpc-gateway's Grpc-Metadata- form) on a request signed by the other account: the
// caller stays the signer.
func TestIdentityHeadersIgnored(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	if r := do(t, env, call{method: http.MethodPost, path: "/v1/worker-configurations", body: workerConfigBody("mine")}); r.status != http.StatusOK {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	h := http.Header{}
	for _, prefix := range []string{"", "Grpc-Metadata-"} {
		h.Set(prefix+"X-Fjord-Gateway-Key", "0123456789abcdef")
		h.Set(prefix+"X-Fjord-Account", servertest.Account)
		h.Set(prefix+"X-Fjord-Access-Key", servertest.AccessKey)
		h.Set(prefix+"X-Fjord-Region", servertest.Region)
		h.Set(prefix+"X-Fjord-Service", "kafkaconnect")
	}
	r := do(t, env, call{method: http.MethodGet, path: "/v1/worker-configurations",
		access: servertest.OtherAccess, secret: servertest.OtherSecret, header: h})
	if r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	if l, _ := r.body["workerConfigurations"].([]any); len(l) != 0 {
		t.Fatalf("the other account, claiming account %s by headers, listed %s", servertest.Account, r.raw)
	}
	// The same headers without a signature do not authenticate.
	r = do(t, env, call{method: http.MethodGet, path: "/v1/worker-configurations", unsigned: true, header: h})
	refused(t, r, "MissingAuthenticationTokenException", "Missing Authentication Token")
}
