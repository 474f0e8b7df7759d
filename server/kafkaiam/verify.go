// Package kafkaiam is the broker side of MSK's IAM client authentication (SASL mechanism
// AWS_MSK_IAM) for Fjord's in-process Kafka clusters (kfake): it verifies the signed
// kafka-cluster:Connect payload the way MSK does, and gates kfake's connections so that only
// clients that passed it can do anything but ApiVersions and the SASL exchange.
//
// The payload (Amazon's aws-msk-iam-auth library and franz-go's sasl/aws write it) is a JSON
// object of lower-case keys: version 2020_10_22, host, user-agent, action
// kafka-cluster:Connect, and the SigV4 query-string signature x-amz-algorithm,
// x-amz-credential, x-amz-date, x-amz-expires, x-amz-signedheaders (host), x-amz-signature and,
// for temporary credentials, x-amz-security-token. The signature is SigV4 over
// "GET / <canonical query> host:<host>" with an empty body, for service kafka-cluster.
package kafkaiam

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Mechanism is the SASL mechanism name.
const Mechanism = "AWS_MSK_IAM"

// Skew is how far a signature's date may be from the broker's clock, either way (as SigV4).
const Skew = 15 * time.Minute

// Credential is an access key the broker accepts: its secret and, for temporary credentials,
// the session token it was issued with.
type Credential struct {
	SecretAccessKey string
	SessionToken    string
	// Principal names the identity in logs (an account, a role session).
	Principal string
	// Expires is when temporary credentials stop being valid (zero: never). The gate closes
	// a connection they authenticated then, as MSK does with a client that does not
	// re-authenticate: the client reconnects with fresh credentials.
	Expires time.Time
}

// Lookup returns the credential of an access key; ok false for a key the broker does not know.
type Lookup func(ctx context.Context, accessKeyID string) (c Credential, ok bool)

// Verifier checks AWS_MSK_IAM payloads.
type Verifier struct {
	Lookup Lookup
	// Hosts are the host names a payload may be signed for (what clients dial); empty accepts
	// any.
	Hosts []string
	// Region, when set, is the only signing region accepted.
	Region string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// payload is the client's JSON.
type payload struct {
	Version       string `json:"version"`
	Host          string `json:"host"`
	UserAgent     string `json:"user-agent"`
	Action        string `json:"action"`
	Algorithm     string `json:"x-amz-algorithm"`
	Credential    string `json:"x-amz-credential"`
	Date          string `json:"x-amz-date"`
	SignedHeaders string `json:"x-amz-signedheaders"`
	Expires       string `json:"x-amz-expires"`
	Signature     string `json:"x-amz-signature"`
	SecurityToken string `json:"x-amz-security-token"`
}

// Error is a refused payload; its message is safe to send to the client (it never holds a
// secret).
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func refuse(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Verify checks one payload and returns the credential it was signed with.
func (v *Verifier) Verify(ctx context.Context, raw []byte) (Credential, error) {
	c, err := v.verify(ctx, raw)
	if err != nil {
		return Credential{}, err
	}
	return c, nil
}

func (v *Verifier) verify(ctx context.Context, raw []byte) (Credential, error) {
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return Credential{}, refuse("the AWS_MSK_IAM payload is not a JSON object")
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	switch {
	case p.Version != "2020_10_22":
		return Credential{}, refuse("unsupported AWS_MSK_IAM payload version %q", p.Version)
	case p.Action != "kafka-cluster:Connect":
		return Credential{}, refuse("the action must be kafka-cluster:Connect")
	case p.Algorithm != "AWS4-HMAC-SHA256":
		return Credential{}, refuse("the signing algorithm must be AWS4-HMAC-SHA256")
	case !strings.EqualFold(p.SignedHeaders, "host"):
		return Credential{}, refuse("the signed headers must be host")
	case p.Host == "":
		return Credential{}, refuse("the payload has no host")
	case p.Signature == "":
		return Credential{}, refuse("the payload has no signature")
	}
	if len(v.Hosts) > 0 && !containsFold(v.Hosts, p.Host) {
		return Credential{}, refuse("the payload is signed for host %q, not this broker", p.Host)
	}
	parts := strings.Split(p.Credential, "/")
	if len(parts) != 5 || parts[3] != "kafka-cluster" || parts[4] != "aws4_request" || parts[0] == "" {
		return Credential{}, refuse("the credential scope must be <access key>/<date>/<region>/kafka-cluster/aws4_request")
	}
	ak, day, region := parts[0], parts[1], parts[2]
	if v.Region != "" && region != v.Region {
		return Credential{}, refuse("the payload is signed for region %q, not %q", region, v.Region)
	}
	signedAt, err := time.Parse("20060102T150405Z", p.Date)
	if err != nil || p.Date[:8] != day {
		return Credential{}, refuse("x-amz-date is not a SigV4 date matching the credential scope")
	}
	if d := now.Sub(signedAt); d > Skew || d < -Skew {
		return Credential{}, refuse("the signature date is more than 15 minutes from the broker's clock")
	}
	exp, err := strconv.Atoi(p.Expires)
	if err != nil || exp <= 0 || exp > 900 {
		return Credential{}, refuse("x-amz-expires must be 1 to 900 seconds")
	}
	if now.After(signedAt.Add(time.Duration(exp) * time.Second)) {
		return Credential{}, refuse("the signature has expired")
	}
	cred, ok := v.Lookup(ctx, ak)
	if !ok {
		return Credential{}, refuse("the access key is not known to this cluster")
	}
	if cred.SessionToken != p.SecurityToken {
		return Credential{}, refuse("the security token does not match the access key")
	}
	q := url.Values{}
	q.Set("Action", p.Action)
	q.Set("X-Amz-Algorithm", p.Algorithm)
	q.Set("X-Amz-Credential", p.Credential)
	q.Set("X-Amz-Date", p.Date)
	q.Set("X-Amz-Expires", p.Expires)
	q.Set("X-Amz-SignedHeaders", p.SignedHeaders)
	if p.SecurityToken != "" {
		q.Set("X-Amz-Security-Token", p.SecurityToken)
	}
	want := Sign(cred.SecretAccessKey, region, p.Date, p.Host, canonicalQuery(q))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(p.Signature))) {
		return Credential{}, refuse("the signature does not match (wrong secret key or altered payload)")
	}
	return cred, nil
}

// canonicalQuery is SigV4's canonical query string: names and values URI-encoded (%20 for
// spaces, unreserved characters kept), sorted by name.
func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(uriEncode(k))
		b.WriteByte('=')
		b.WriteString(uriEncode(q.Get(k)))
	}
	return b.String()
}

func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Sign is the SigV4 signature of a kafka-cluster:Connect presigned request.
func Sign(secret, region, amzDate, host, query string) string {
	canon := "GET\n/\n" + query + "\nhost:" + host + "\n\nhost\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	h := sha256.Sum256([]byte(canon))
	scope := amzDate[:8] + "/" + region + "/kafka-cluster/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	k := hmacSHA([]byte("AWS4"+secret), amzDate[:8])
	k = hmacSHA(k, region)
	k = hmacSHA(k, "kafka-cluster")
	k = hmacSHA(k, "aws4_request")
	return hex.EncodeToString(hmacSHA(k, sts))
}

func hmacSHA(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

var errClosed = errors.New("kafkaiam: connection closed after a refused authentication")
