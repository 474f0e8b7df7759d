package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// signedAt is the signing time of the hand-signed requests; their verifiers'
// clocks are set near it.
var signedAt = time.Date(2026, 11, 21, 23, 59, 30, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func payloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// signedRequest builds a request to target signed by aws-sdk-go-v2's signer,
// as an SDK client would send it, with body.
func signedRequest(t *testing.T, method, target string, body []byte, secret, service string, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, payloadHash(body), service, "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return req
}

// send sends req and returns the refusal as the client saw it.
func send(t *testing.T, req *http.Request) (status int, errorType, message string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Message string `json:"message"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("response body %q: %v", raw, err)
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body.Message
}

func TestHandSignedRequests(t *testing.T) {
	t.Parallel()
	createBody := []byte(`{"connectorName":"my-conn","capacity":{"provisionedCapacity":{"mcuCount":1,"workerCount":1}}}`)
	describe := "/v1/connectors/" + labelEscape(connectorARN)
	cases := []struct {
		name     string
		now      time.Time
		build    func(t *testing.T, base string) *http.Request
		code     string // "" for success
		contains string
	}{
		{
			name: "valid write",
			now:  signedAt,
			build: func(t *testing.T, base string) *http.Request {
				return signedRequest(t, http.MethodPost, base+"/v1/connectors", createBody, testSecret, "kafkaconnect", signedAt)
			},
		},
		{
			name: "valid read of an ARN path",
			now:  signedAt.Add(-10 * time.Minute),
			build: func(t *testing.T, base string) *http.Request {
				return signedRequest(t, http.MethodGet, base+describe, nil, testSecret, "kafkaconnect", signedAt)
			},
		},
		{
			name: "unsigned",
			now:  signedAt,
			build: func(t *testing.T, base string) *http.Request {
				req, _ := http.NewRequest(http.MethodGet, base+describe, nil)
				return req
			},
			code:     CodeMissingAuthenticationToken,
			contains: "Missing Authentication Token",
		},
		{
			name: "tampered body",
			now:  signedAt,
			build: func(t *testing.T, base string) *http.Request {
				req := signedRequest(t, http.MethodPost, base+"/v1/connectors", createBody, testSecret, "kafkaconnect", signedAt)
				// Same length, so that only the payload hash differs.
				tampered := bytes.Replace(createBody, []byte(`"mcuCount":1`), []byte(`"mcuCount":8`), 1)
				req.Body = io.NopCloser(bytes.NewReader(tampered))
				return req
			},
			code:     CodeInvalidSignature,
			contains: mismatchMessage,
		},
		{
			name: "tampered query",
			now:  signedAt,
			build: func(t *testing.T, base string) *http.Request {
				req := signedRequest(t, http.MethodGet, base+"/v1/connectors?maxResults=5", nil, testSecret, "kafkaconnect", signedAt)
				req.URL.RawQuery = "maxResults=6"
				return req
			},
			code:     CodeInvalidSignature,
			contains: mismatchMessage,
		},
		{
			name: "tampered signed header",
			now:  signedAt,
			build: func(t *testing.T, base string) *http.Request {
				req := signedRequest(t, http.MethodPost, base+"/v1/connectors", createBody, testSecret, "kafkaconnect", signedAt)
				req.Header.Set("Content-Type", "text/plain")
				return req
			},
			code:     CodeInvalidSignature,
			contains: mismatchMessage,
		},
		{
			name: "unsigned header added",
			now:  signedAt,
			build: func(t *testing.T, base string) *http.Request {
				req := signedRequest(t, http.MethodGet, base+describe, nil, testSecret, "kafkaconnect", signedAt)
				req.Header.Set("X-Fjord-Extra", "not signed, not checked")
				return req
			},
		},
		{
			name: "wrong service in scope",
			now:  signedAt,
			build: func(t *testing.T, base string) *http.Request {
				return signedRequest(t, http.MethodGet, base+describe, nil, testSecret, "s3", signedAt)
			},
			code:     CodeInvalidSignature,
			contains: "Credential should be scoped to correct service: 'kafkaconnect' or 'kafka'.",
		},
		{
			name: "skewed 16 minutes",
			now:  signedAt.Add(16 * time.Minute),
			build: func(t *testing.T, base string) *http.Request {
				return signedRequest(t, http.MethodGet, base+describe, nil, testSecret, "kafkaconnect", signedAt)
			},
			code:     CodeInvalidSignature,
			contains: "Signature expired: 20261121T235930Z is now earlier than 20261122T000030Z (20261122T001530Z - 15m0s.)",
		},
		{
			name: "scope date is not the X-Amz-Date date",
			now:  signedAt.Add(time.Minute),
			build: func(t *testing.T, base string) *http.Request {
				// Signed on the 21st; X-Amz-Date moved past midnight.
				req := signedRequest(t, http.MethodGet, base+describe, nil, testSecret, "kafkaconnect", signedAt)
				req.Header.Set("X-Amz-Date", signedAt.Add(time.Minute).Format(amzDateFormat))
				return req
			},
			code:     CodeInvalidSignature,
			contains: "'20261121' != '20261122', from '20261122T000030Z'",
		},
		{
			name: "unknown access key",
			now:  signedAt,
			build: func(t *testing.T, base string) *http.Request {
				req := signedRequest(t, http.MethodGet, base+describe, nil, testSecret, "kafkaconnect", signedAt)
				req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), testKeyID, "AKIANOBODY0000000000", 1))
				return req
			},
			code:     CodeUnrecognizedClient,
			contains: "The security token included in the request is invalid.",
		},
		{
			name: "missing X-Amz-Date",
			now:  signedAt,
			build: func(t *testing.T, base string) *http.Request {
				req := signedRequest(t, http.MethodGet, base+describe, nil, testSecret, "kafkaconnect", signedAt)
				req.Header.Del("X-Amz-Date")
				return req
			},
			code:     CodeIncompleteSignature,
			contains: "'X-Amz-Date'",
		},
		{
			name: "X-Amz-Date not ISO 8601 basic",
			now:  signedAt,
			build: func(t *testing.T, base string) *http.Request {
				req := signedRequest(t, http.MethodGet, base+describe, nil, testSecret, "kafkaconnect", signedAt)
				req.Header.Set("X-Amz-Date", signedAt.Format(time.RFC3339))
				return req
			},
			code:     CodeIncompleteSignature,
			contains: "Date must be in ISO-8601 'basic format'",
		},
		{
			name: "header the signer never signs",
			now:  signedAt,
			build: func(t *testing.T, base string) *http.Request {
				// A valid signature over user-agent cannot be reproduced: refuse
				// it as a mismatch, not as a crash or a pass.
				req := signedRequest(t, http.MethodGet, base+describe, nil, testSecret, "kafkaconnect", signedAt)
				req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "SignedHeaders=host;x-amz-date", "SignedHeaders=host;user-agent;x-amz-date", 1))
				return req
			},
			code:     CodeInvalidSignature,
			contains: `signed headers "host;user-agent;x-amz-date" cannot be verified`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := newTestServer(t, newTestVerifier(Config{NowFunc: fixedClock(tc.now)}))
			status, errorType, message := send(t, tc.build(t, ts.URL))
			got := ts.only(t)
			if tc.code == "" {
				if status != http.StatusOK || got.err != nil {
					t.Fatalf("status %d (%s: %s), want 200", status, errorType, message)
				}
				want := Identity{AccessKeyID: testKeyID, AccountID: testAccount, Region: "us-east-1", Service: "kafkaconnect"}
				if got.id != want {
					t.Errorf("identity = %+v, want %+v", got.id, want)
				}
				return
			}
			wantRefusal(t, got.err, tc.code)
			if status != http.StatusForbidden || errorType != tc.code || !strings.Contains(message, tc.contains) {
				t.Errorf("answer = %d %s %q, want 403 %s containing %q", status, errorType, message, tc.code, tc.contains)
			}
		})
	}
}

func TestMalformedAuthorization(t *testing.T) {
	t.Parallel()
	const (
		cred = "Credential=" + testKeyID + "/20261121/us-east-1/kafkaconnect/aws4_request"
		sh   = "SignedHeaders=host;x-amz-date"
		sig  = "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	)
	cases := map[string]string{
		"other algorithm":          "AWS4-HMAC-SHA512 " + cred + ", " + sh + ", " + sig,
		"signature version 2":      "AWS " + testKeyID + ":c2lnbmF0dXJl",
		"bearer token":             "Bearer abc",
		"algorithm only":           "AWS4-HMAC-SHA256",
		"no Credential":            "AWS4-HMAC-SHA256 " + sh + ", " + sig,
		"no SignedHeaders":         "AWS4-HMAC-SHA256 " + cred + ", " + sig,
		"no Signature":             "AWS4-HMAC-SHA256 " + cred + ", " + sh,
		"empty Signature":          "AWS4-HMAC-SHA256 " + cred + ", " + sh + ", Signature=",
		"component without =":      "AWS4-HMAC-SHA256 " + cred + ", " + sh + ", " + sig + ", junk",
		"duplicate Credential":     "AWS4-HMAC-SHA256 " + cred + ", " + cred + ", " + sh + ", " + sig,
		"short scope":              "AWS4-HMAC-SHA256 Credential=" + testKeyID + "/20261121/us-east-1/aws4_request, " + sh + ", " + sig,
		"scope without terminator": "AWS4-HMAC-SHA256 Credential=" + testKeyID + "/20261121/us-east-1/kafkaconnect/aws5_request, " + sh + ", " + sig,
		"scope date not a date":    "AWS4-HMAC-SHA256 Credential=" + testKeyID + "/2026-11-21/us-east-1/kafkaconnect/aws4_request, " + sh + ", " + sig,
		"empty access key":         "AWS4-HMAC-SHA256 Credential=/20261121/us-east-1/kafkaconnect/aws4_request, " + sh + ", " + sig,
		"host not signed":          "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=x-amz-date, " + sig,
		"x-amz-date not signed":    "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, " + sig,
	}
	ts := newTestServer(t, newTestVerifier(Config{NowFunc: fixedClock(signedAt)}))
	for name, auth := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/connectors", nil)
			req.Header.Set("X-Amz-Date", signedAt.Format(amzDateFormat))
			req.Header.Set("Authorization", auth)
			status, errorType, message := send(t, req)
			if status != http.StatusForbidden || errorType != CodeIncompleteSignature || message == "" {
				t.Errorf("answer = %d %s %q, want 403 %s", status, errorType, message, CodeIncompleteSignature)
			}
		})
	}
}

// TestWellFormedVariants checks that spacing variants of a correct header,
// which other signers emit, are accepted.
func TestWellFormedVariants(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, newTestVerifier(Config{NowFunc: fixedClock(signedAt)}))
	req := signedRequest(t, http.MethodGet, ts.URL+"/v1/connectors", nil, testSecret, "kafkaconnect", signedAt)
	req.Header.Set("Authorization", strings.ReplaceAll(req.Header.Get("Authorization"), ", ", ","))
	if status, errorType, message := send(t, req); status != http.StatusOK {
		t.Fatalf("answer = %d %s %q, want 200", status, errorType, message)
	}
}

func TestVerifyHTTPDirect(t *testing.T) {
	t.Parallel()
	body := []byte(`{"tags":{"team":"data"}}`)
	newReq := func(t *testing.T) *http.Request {
		// Signed as a client would, then handed to the verifier as a server
		// request: RequestURI set, URL parsed from it.
		out := signedRequest(t, http.MethodPost, "http://fjord.example:8443/v1/tags/"+labelEscape(connectorARN), body, testSecret, "kafka", signedAt)
		in := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/tags/"+labelEscape(connectorARN), bytes.NewReader(body))
		in.Host = "fjord.example:8443"
		in.Header = out.Header.Clone()
		in.ContentLength = int64(len(body))
		return in
	}

	t.Run("body is left unread", func(t *testing.T) {
		t.Parallel()
		r := newReq(t)
		if _, err := newTestVerifier(Config{NowFunc: fixedClock(signedAt)}).VerifyHTTP(t.Context(), r, body); err != nil {
			t.Fatalf("VerifyHTTP: %v", err)
		}
		rest, err := io.ReadAll(r.Body)
		if err != nil || !bytes.Equal(rest, body) {
			t.Errorf("body after verification = %q, %v; want %q", rest, err, body)
		}
	})

	t.Run("host is signed", func(t *testing.T) {
		t.Parallel()
		r := newReq(t)
		r.Host = "evil.example:8443"
		_, err := newTestVerifier(Config{NowFunc: fixedClock(signedAt)}).VerifyHTTP(t.Context(), r, body)
		wantRefusal(t, err, CodeInvalidSignature)
	})

	t.Run("two Authorization headers", func(t *testing.T) {
		t.Parallel()
		r := newReq(t)
		r.Header.Add("Authorization", r.Header.Get("Authorization"))
		_, err := newTestVerifier(Config{NowFunc: fixedClock(signedAt)}).VerifyHTTP(t.Context(), r, body)
		wantRefusal(t, err, CodeIncompleteSignature)
	})

	t.Run("store failure is not a refusal", func(t *testing.T) {
		t.Parallel()
		broken := errors.New("credential table unavailable")
		v := newTestVerifier(Config{
			NowFunc: fixedClock(signedAt),
			Store: storeFunc(func(context.Context, string) (Credential, error) {
				return Credential{}, broken
			}),
		})
		_, err := v.VerifyHTTP(t.Context(), newReq(t), body)
		var e *Error
		if !errors.Is(err, broken) || errors.As(err, &e) {
			t.Fatalf("error = %v, want the store's error, not a refusal", err)
		}
	})

	t.Run("store reports unknown key wrapped", func(t *testing.T) {
		t.Parallel()
		v := newTestVerifier(Config{
			NowFunc: fixedClock(signedAt),
			Store: storeFunc(func(_ context.Context, id string) (Credential, error) {
				return Credential{}, errors.Join(errors.New("lookup "+id), ErrUnknownKey)
			}),
		})
		_, err := v.VerifyHTTP(t.Context(), newReq(t), body)
		wantRefusal(t, err, CodeUnrecognizedClient)
	})
}

type storeFunc func(ctx context.Context, accessKeyID string) (Credential, error)

func (f storeFunc) Credential(ctx context.Context, accessKeyID string) (Credential, error) {
	return f(ctx, accessKeyID)
}

func TestNewVerifierPanicsOnMissingConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no store":    {Services: []string{"kafka"}},
		"no services": {Store: NewStaticStore()},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Error("NewVerifier did not panic")
				}
			}()
			NewVerifier(cfg)
		})
	}
}
