package authtest

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fjord-io/fjord/server/servertest"
)

// TestConsoleFiles: the web console's files answer without a signature at /console/, before the
// AWS routes, with a Content-Security-Policy that keeps the page on this server; /console
// redirects there; a write to them is refused.
func TestConsoleFiles(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, env.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for path, want := range map[string]string{
		"/console/":           "text/html",
		"/console/app.js":     "text/javascript",
		"/console/sigv4.js":   "text/javascript",
		"/console/app.css":    "text/css",
		"/console/index.html": "", // FileServer redirects index.html to ./
	} {
		resp, body := get(http.MethodGet, path)
		if want == "" {
			if resp.StatusCode != http.StatusMovedPermanently {
				t.Errorf("GET %s: %d, want 301", path, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), want) || body == "" {
			t.Errorf("GET %s: %d %q (%d bytes), want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
	}
	if resp, _ := get(http.MethodGet, "/console"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/console/" {
		t.Errorf("GET /console: %d to %q, want 301 to /console/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(http.MethodGet, "/console/nope.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /console/nope.js: %d, want 404", resp.StatusCode)
	}
	if resp, _ := get(http.MethodPost, "/console/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /console/: %d, want 405", resp.StatusCode)
	}
	// Outside /console/ the AWS routes still want a signature.
	if resp, _ := get(http.MethodGet, "/v1/connectors"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned GET /v1/connectors: %d, want 403", resp.StatusCode)
	}
}

// TestAdminREST: the admin API answers over HTTP at POST /admin/v1/{Operation}, signed like the
// AWS APIs (either service's scope), with protojson bodies and AWS-shaped errors.
func TestAdminREST(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)

	refused(t, do(t, env, call{method: "POST", path: "/admin/v1/ListAgents", body: []byte(`{}`), unsigned: true}),
		"MissingAuthenticationTokenException", "Missing Authentication Token")
	refused(t, do(t, env, call{method: "POST", path: "/admin/v1/ListAgents", body: []byte(`{}`), secret: "wrong"}),
		"InvalidSignatureException", "signature")

	for _, svc := range []string{"kafkaconnect", "kafka"} {
		r := do(t, env, call{method: "POST", path: "/admin/v1/RegisterCluster", service: svc,
			body: []byte(`{"clusterName": "admin-rest-` + svc + `", "bootstrapServers": "127.0.0.1:9092"}`)})
		if r.status != http.StatusOK {
			t.Fatalf("RegisterCluster signed for %s: %d %s", svc, r.status, r.raw)
		}
	}
	r := do(t, env, call{method: "POST", path: "/admin/v1/ListClusters", body: []byte(`{}`)})
	if r.status != http.StatusOK || !strings.Contains(string(r.raw), `"clusterName":"admin-rest-kafka"`) ||
		!strings.Contains(string(r.raw), `"bootstrapServers":"127.0.0.1:9092"`) {
		t.Fatalf("ListClusters: %d %s", r.status, r.raw)
	}
	// Every member is present, empty or not: the console reads them without guards.
	r = do(t, env, call{method: "POST", path: "/admin/v1/ListAgents"})
	if r.status != http.StatusOK || string(r.raw) != `{"agents":[]}` {
		t.Errorf("ListAgents without agents: %d %s", r.status, r.raw)
	}

	r = do(t, env, call{method: "POST", path: "/admin/v1/RegisterCluster", body: []byte(`{"clusterName": "bad name", "bootstrapServers": "x:1"}`)})
	if r.status != http.StatusBadRequest || r.header.Get("X-Amzn-ErrorType") != "BadRequestException" || r.body["invalidParameter"] != "clusterName" {
		t.Errorf("RegisterCluster with a bad name: %d %v %s", r.status, r.header.Get("X-Amzn-ErrorType"), r.raw)
	}
	r = do(t, env, call{method: "POST", path: "/admin/v1/DescribeWorkload",
		body: []byte(`{"workloadArn": "arn:aws:kafka:us-east-1:` + servertest.Account + `:replicator/none/0b1f6a2e-0000-0000-0000-000000000000-3"}`)})
	if r.status != http.StatusNotFound || r.header.Get("X-Amzn-ErrorType") != "NotFoundException" {
		t.Errorf("DescribeWorkload of no workload: %d %v %s", r.status, r.header.Get("X-Amzn-ErrorType"), r.raw)
	}
	r = do(t, env, call{method: "POST", path: "/admin/v1/ListClusters", body: []byte(`{"nope": 1}`)})
	if r.status != http.StatusBadRequest || r.header.Get("X-Amzn-ErrorType") != "SerializationException" {
		t.Errorf("ListClusters with an unknown member: %d %v %s", r.status, r.header.Get("X-Amzn-ErrorType"), r.raw)
	}
	r = do(t, env, call{method: "POST", path: "/admin/v1/Nope", body: []byte(`{}`)})
	if r.status != http.StatusNotFound || r.header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
		t.Errorf("an unknown operation: %d %v %s", r.status, r.header.Get("X-Amzn-ErrorType"), r.raw)
	}
	r = do(t, env, call{method: "GET", path: "/admin/v1/ListClusters"})
	if r.status < 400 || r.status >= 500 {
		t.Errorf("GET of an admin operation: %d %s, want a 4xx", r.status, r.raw)
	}
}
