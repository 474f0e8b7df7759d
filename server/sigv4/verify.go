package sigv4

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	algorithm       = "AWS4-HMAC-SHA256"
	scopeTerminator = "aws4_request"
	// amzDateFormat is the ISO 8601 basic format of X-Amz-Date.
	amzDateFormat   = "20060102T150405Z"
	scopeDateFormat = "20060102"
)

// DefaultMaxSkew is the default of Config.MaxSkew: the clock skew AWS allows.
const DefaultMaxSkew = 15 * time.Minute

// Config configures a Verifier.
type Config struct {
	// Store holds the secrets of the access keys; required.
	Store CredentialStore
	// Services lists the service names a credential scope may carry, e.g.
	// {"kafkaconnect", "kafka"}; required.
	Services []string
	// Regions lists the regions a credential scope may carry; empty accepts
	// any region (the caller sees it in Identity.Region).
	Regions []string
	// MaxSkew is how far X-Amz-Date may lie from the server's clock, in either
	// direction; default DefaultMaxSkew (15 minutes).
	MaxSkew time.Duration
	// NowFunc is the server's clock; default time.Now. Tests set it.
	NowFunc func() time.Time
}

// Identity is who signed a request, as read from a verified credential scope.
type Identity struct {
	AccessKeyID string
	// AccountID is the account of the access key, from the CredentialStore.
	AccountID string
	// Region and Service are the credential scope's.
	Region  string
	Service string
}

// Verifier checks AWS Signature V4 on incoming requests. It is safe for
// concurrent use.
type Verifier struct {
	store    CredentialStore
	services []string
	regions  []string
	maxSkew  time.Duration
	now      func() time.Time
	signer   *v4.Signer

	// disablePathEscaping signs the wire path as the canonical URI without
	// escaping it again. Real clients need it false; tests flip it to show so.
	disablePathEscaping bool
}

// NewVerifier returns a Verifier for cfg, with defaults filled in. A nil Store
// or empty Services is a programming error and panics.
func NewVerifier(cfg Config) *Verifier {
	if cfg.Store == nil {
		panic("sigv4: Config.Store is required")
	}
	if len(cfg.Services) == 0 {
		panic("sigv4: Config.Services is required")
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	return &Verifier{
		store:    cfg.Store,
		services: slices.Clone(cfg.Services),
		regions:  slices.Clone(cfg.Regions),
		maxSkew:  cfg.MaxSkew,
		now:      cfg.NowFunc,
		signer:   v4.NewSigner(),
	}
}

// VerifyHTTP checks the signature of r, whose full body the caller has already
// read into body; r.Body is not touched. It returns who signed, a *Error for a
// refused request, or another error when the CredentialStore failed.
func (v *Verifier) VerifyHTTP(ctx context.Context, r *http.Request, body []byte) (Identity, error) {
	p, err := v.CheckHeaders(ctx, r)
	if err != nil {
		return Identity{}, err
	}
	return p.Verify(ctx, body)
}

// Pending is a request whose headers passed CheckHeaders; Verify checks its signature once
// the body is read.
type Pending struct {
	v *Verifier
	w *wireRequest
	c checked
}

// CheckHeaders checks what VerifyHTTP checks of r's headers, without its body: the
// Authorization header's form, the signed headers, X-Amz-Date and its skew, the scope's
// service and region, and that the access key exists. A server calls it before reading the
// body, so that an unsigned, stale or unknown-key request costs no body read, then
// Pending.Verify with the body.
func (v *Verifier) CheckHeaders(ctx context.Context, r *http.Request) (*Pending, error) {
	auths := r.Header.Values("Authorization")
	if len(auths) == 0 {
		return nil, refuse(CodeMissingAuthenticationToken, "Missing Authentication Token")
	}
	if len(auths) > 1 {
		return nil, refuse(CodeIncompleteSignature, "Only one Authorization header may be sent.")
	}
	w := &wireRequest{method: r.Method, host: r.Host, rawPath: wirePath(r), rawQuery: r.URL.RawQuery,
		authorization: auths[0], header: r.Header.Values, contentLength: r.ContentLength}
	c, err := v.precheck(ctx, w)
	if err != nil {
		return nil, err
	}
	return &Pending{v: v, w: w, c: c}, nil
}

// Verify checks the request's signature over its full body, which the caller has read.
func (p *Pending) Verify(ctx context.Context, body []byte) (Identity, error) {
	p.w.body = body
	return p.v.signature(ctx, p.w, p.c)
}

// wirePath returns the path exactly as the client sent it, still escaped.
func wirePath(r *http.Request) string {
	uri := r.RequestURI
	if strings.HasPrefix(uri, "/") {
		if i := strings.IndexByte(uri, '?'); i >= 0 {
			uri = uri[:i]
		}
		return uri
	}
	// Absolute-form request target, or a request built in-process.
	return r.URL.EscapedPath()
}

// wireRequest is what a signature covers, taken from the wire.
type wireRequest struct {
	method, host, rawPath, rawQuery string
	authorization                   string
	// header returns the values of a header by name, any case.
	header func(name string) []string
	// contentLength is used only when content-length is a signed header.
	contentLength int64
	body          []byte
}

// authorization is a parsed Authorization header.
type authorization struct {
	accessKeyID, date, region, service string
	signedHeaders                      string
	signature                          string
}

// checked is what the header checks established, before the signature itself is checked.
type checked struct {
	auth     authorization
	names    []string
	cred     Credential
	signedAt time.Time
}

// precheck checks everything a request's headers say — the Authorization header's form, the
// signed headers, X-Amz-Date and its skew, the scope's service and region, and that the access
// key exists — without its body.
func (v *Verifier) precheck(ctx context.Context, w *wireRequest) (checked, error) {
	auth, rerr := parseAuthorization(w.authorization)
	if rerr != nil {
		return checked{}, rerr
	}
	names := strings.Split(auth.signedHeaders, ";")
	if !slices.Contains(names, "host") {
		return checked{}, refuse(CodeIncompleteSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if !slices.Contains(names, "x-amz-date") {
		return checked{}, refuse(CodeIncompleteSignature, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
	}
	dates := w.header("X-Amz-Date")
	if len(dates) != 1 {
		return checked{}, refuse(CodeIncompleteSignature, "Authorization header requires existence of exactly one 'X-Amz-Date' header.")
	}
	signedAt, err := time.Parse(amzDateFormat, dates[0])
	if err != nil {
		return checked{}, refuse(CodeIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '%s'.", dates[0])
	}
	if auth.date != signedAt.Format(scopeDateFormat) {
		return checked{}, refuse(CodeInvalidSignature,
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			auth.date, signedAt.Format(scopeDateFormat), dates[0])
	}
	if !slices.Contains(v.services, auth.service) {
		return checked{}, refuse(CodeInvalidSignature, "Credential should be scoped to correct service: '%s'.", strings.Join(v.services, "' or '"))
	}
	if len(v.regions) > 0 && !slices.Contains(v.regions, auth.region) {
		return checked{}, refuse(CodeInvalidSignature, "Credential should be scoped to a valid region.")
	}
	now := v.now().UTC()
	if signedAt.Before(now.Add(-v.maxSkew)) {
		return checked{}, refuse(CodeInvalidSignature, "Signature expired: %s is now earlier than %s (%s - %s.)",
			dates[0], now.Add(-v.maxSkew).Format(amzDateFormat), now.Format(amzDateFormat), v.maxSkew)
	}
	if signedAt.After(now.Add(v.maxSkew)) {
		return checked{}, refuse(CodeInvalidSignature, "Signature not yet current: %s is still later than %s (%s + %s.)",
			dates[0], now.Add(v.maxSkew).Format(amzDateFormat), now.Format(amzDateFormat), v.maxSkew)
	}

	cred, err := v.store.Credential(ctx, auth.accessKeyID)
	if errors.Is(err, ErrUnknownKey) {
		return checked{}, refuse(CodeUnrecognizedClient, "The security token included in the request is invalid.")
	}
	if err != nil {
		return checked{}, fmt.Errorf("sigv4: look up access key %s: %w", auth.accessKeyID, err)
	}

	return checked{auth: auth, names: names, cred: cred, signedAt: signedAt}, nil
}

func (v *Verifier) verify(ctx context.Context, w *wireRequest) (Identity, error) {
	c, err := v.precheck(ctx, w)
	if err != nil {
		return Identity{}, err
	}
	return v.signature(ctx, w, c)
}

// signature re-signs w as its client should have and compares, after precheck passed.
func (v *Verifier) signature(ctx context.Context, w *wireRequest, c checked) (Identity, error) {
	auth, names, cred, signedAt := c.auth, c.names, c.cred, c.signedAt
	want, rerr := v.resign(ctx, w, auth, names, cred, signedAt)
	if rerr != nil {
		return Identity{}, rerr
	}
	if want.signedHeaders != auth.signedHeaders {
		// The signer refused to sign some header the client signed (it never
		// signs user-agent or expect, for one), or one is missing.
		return Identity{}, refuse(CodeInvalidSignature, "%s (signed headers %q cannot be verified)", mismatchMessage, auth.signedHeaders)
	}
	if subtle.ConstantTimeCompare([]byte(want.signature), []byte(auth.signature)) != 1 {
		return Identity{}, refuse(CodeInvalidSignature, mismatchMessage)
	}
	return Identity{
		AccessKeyID: auth.accessKeyID,
		AccountID:   cred.AccountID,
		Region:      auth.region,
		Service:     auth.service,
	}, nil
}

// resign rebuilds the request from the wire and signs it as the client should
// have, returning the Authorization header the signer produced, parsed.
func (v *Verifier) resign(ctx context.Context, w *wireRequest, auth authorization, names []string, cred Credential, signedAt time.Time) (authorization, *Error) {
	req := &http.Request{
		Method: w.method,
		// Opaque carries the escaped path verbatim: the signer takes the
		// canonical URI from it instead of re-deriving it from a decoded path.
		URL:    &url.URL{Opaque: "//" + w.host + w.rawPath, RawQuery: w.rawQuery},
		Host:   w.host,
		Header: make(http.Header, len(names)),
	}
	for _, name := range names {
		switch name {
		case "host":
			// Taken from req.Host by the signer.
		case "content-length":
			req.ContentLength = w.contentLength
		default:
			if values := w.header(name); len(values) > 0 {
				// Canonical keys, so that the signer's own X-Amz-Date replaces
				// the copy rather than joining it.
				req.Header[textproto.CanonicalMIMEHeaderKey(name)] = values
			}
		}
	}
	sum := sha256.Sum256(w.body)
	creds := aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey}
	err := v.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), auth.service, auth.region, signedAt,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = v.disablePathEscaping })
	if err != nil {
		return authorization{}, refuse(CodeInvalidSignature, "%s (%v)", mismatchMessage, err)
	}
	got, rerr := parseAuthorization(req.Header.Get("Authorization"))
	if rerr != nil {
		return authorization{}, refuse(CodeInvalidSignature, "%s (%s)", mismatchMessage, rerr.Message)
	}
	return got, nil
}

// parseAuthorization reads
//
//	AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/kafka/aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>
func parseAuthorization(h string) (authorization, *Error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != algorithm {
		return authorization{}, refuse(CodeIncompleteSignature, "Unsupported AWS 'algorithm': '%s'. Only '%s' is supported.", alg, algorithm)
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if _, dup := params[k]; !ok || dup {
			return authorization{}, refuse(CodeIncompleteSignature, "Authorization header requires each component to be of the form key=value, once. Authorization=%s", h)
		}
		params[k] = val
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[k] == "" {
			missing = append(missing, "Authorization header requires '"+k+"' parameter.")
		}
	}
	if len(missing) > 0 {
		return authorization{}, refuse(CodeIncompleteSignature, "%s Authorization=%s", strings.Join(missing, " "), h)
	}
	scope := strings.Split(params["Credential"], "/")
	if len(scope) != 5 || scope[0] == "" || scope[2] == "" || scope[3] == "" || scope[4] != scopeTerminator || !isScopeDate(scope[1]) {
		return authorization{}, refuse(CodeIncompleteSignature,
			"Credential should be of the form <access key>/<YYYYMMDD>/<region>/<service>/aws4_request. Credential=%s", params["Credential"])
	}
	return authorization{
		accessKeyID:   scope[0],
		date:          scope[1],
		region:        scope[2],
		service:       scope[3],
		signedHeaders: params["SignedHeaders"],
		signature:     params["Signature"],
	}, nil
}

func isScopeDate(s string) bool {
	if len(s) != len(scopeDateFormat) {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}
