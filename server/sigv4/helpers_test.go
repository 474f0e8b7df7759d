package sigv4

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

const (
	testKeyID   = "AKIAFJORDTEST0000001"
	testSecret  = "fjord/Test+Secret/0123456789abcdefghijklmnop"
	testAccount = "123456789012"

	connectorARN  = "arn:aws:kafkaconnect:us-east-1:123456789012:connector/my-conn/0b1f6a2e-1234-5678-9abc-def012345678-3"
	replicatorARN = "arn:aws:kafka:us-east-1:123456789012:replicator/my-repl/0b1f6a2e-1234-5678-9abc-def012345678-4"
	clusterARN    = "arn:aws:kafka:us-east-1:123456789012:cluster/src/0b1f6a2e-1234-5678-9abc-def012345678-5"
)

var testCredential = Credential{AccessKeyID: testKeyID, SecretAccessKey: testSecret, AccountID: testAccount}

// newTestVerifier returns a Verifier that knows testCredential, with cfg's
// other fields as given.
func newTestVerifier(cfg Config) *Verifier {
	if cfg.Store == nil {
		cfg.Store = NewStaticStore(testCredential)
	}
	if cfg.Services == nil {
		cfg.Services = []string{"kafkaconnect", "kafka"}
	}
	return NewVerifier(cfg)
}

// seen is one request as the test server saw it.
type seen struct {
	method, path, rawQuery string
	id                     Identity
	err                    error
}

// testServer answers as Fjord's REST face would: 200 {} for a verified
// request, the refusal in api-docs/wire.md's error form otherwise. It records what it
// saw.
type testServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newTestServer(t *testing.T, v *Verifier) *testServer {
	t.Helper()
	ts := &testServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, err := v.VerifyHTTP(r.Context(), r, body)
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, seen{method: r.Method, path: wirePath(r), rawQuery: r.URL.RawQuery, id: id, err: err})
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			code, status, msg := "InternalFailure", http.StatusInternalServerError, err.Error()
			var e *Error
			if errors.As(err, &e) {
				code, status, msg = e.Code, e.Status, e.Message
			}
			w.Header().Set("X-Amzn-ErrorType", code)
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
			return
		}
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(ts.Close)
	return ts
}

// requests returns what the server has seen so far.
func (ts *testServer) requests() []seen {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]seen(nil), ts.reqs...)
}

// only returns the single request the server saw, failing otherwise.
func (ts *testServer) only(t *testing.T) seen {
	t.Helper()
	reqs := ts.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1: %+v", len(reqs), reqs)
	}
	return reqs[0]
}

// wantRefusal checks that err is a refusal with the given code.
func wantRefusal(t *testing.T, err error, code string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want a *sigv4.Error %s", err, code)
	}
	if e.Code != code || e.Status != http.StatusForbidden {
		t.Fatalf("refusal = %s (status %d), want %s (403)", e, e.Status, code)
	}
	return e
}

// labelEscape percent-encodes s as the SDKs encode a path label: everything
// but RFC 3986 unreserved characters, with uppercase hex (api-docs/wire.md).
func labelEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
