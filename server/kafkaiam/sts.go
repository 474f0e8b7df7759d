package kafkaiam

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fjord-io/fjord/server/sigv4"
)

// STS is the development stand-in for AWS STS's AssumeRole that `fjord dev` serves (at
// /sts/ of its HTTP address; point AWS_ENDPOINT_URL_STS there): callers sign with a key of
// Fjord's credentials, may assume any role of their own account (a role of another account is
// AccessDenied, as without a trust policy naming them), and get session credentials
// (ASIA…) that the development clusters' AWS_MSK_IAM gate accepts until they expire. Issued
// credentials live in memory.
type STS struct {
	Verifier *sigv4.Verifier
	// MinDuration lowers STS's 15-minute minimum of DurationSeconds (tests); 0 keeps it.
	MinDuration time.Duration
	Now         func() time.Time

	mu     sync.Mutex
	issued map[string]issued
	// Assumed counts successful AssumeRole calls.
	Assumed int
}

type issued struct {
	cred    Credential
	expires time.Time
}

// stsRoleRE is a role ARN: its account and its name, which may have 512 characters (checked
// apart: `{1,512}` would compile to 512 copies of the class, 66 KB in every fjord process).
var stsRoleRE = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:iam::(\d{12}):role/([\w+=,.@/-]+)$`)

func (s *STS) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Credential is the Lookup of session credentials this STS issued and that have not expired.
func (s *STS) Credential(ak string) (Credential, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.issued[ak]
	if !ok || s.now().After(i.expires) {
		return Credential{}, false
	}
	return i.cred, true
}

type stsError struct {
	status        int
	code, message string
}

// ServeHTTP answers AssumeRole and GetCallerIdentity (AWS query protocol).
func (s *STS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.fail(w, stsError{400, "InvalidRequest", "the request body could not be read"})
		return
	}
	id, err := s.Verifier.VerifyHTTP(r.Context(), r, body)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			s.fail(w, stsError{403, se.Code, se.Message})
		} else {
			s.fail(w, stsError{500, "InternalFailure", "the credentials could not be checked"})
		}
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.fail(w, stsError{400, "InvalidRequest", "the body is not a form"})
		return
	}
	switch form.Get("Action") {
	case "AssumeRole":
		s.assumeRole(w, id, form)
	case "GetCallerIdentity":
		type result struct {
			Account string `xml:"GetCallerIdentityResult>Account"`
			Arn     string `xml:"GetCallerIdentityResult>Arn"`
			UserID  string `xml:"GetCallerIdentityResult>UserId"`
		}
		s.write(w, "GetCallerIdentityResponse", result{Account: id.AccountID, Arn: "arn:aws:iam::" + id.AccountID + ":user/" + id.AccessKeyID, UserID: id.AccessKeyID})
	default:
		s.fail(w, stsError{400, "InvalidAction", fmt.Sprintf("action %q is not served by Fjord's development STS (AssumeRole, GetCallerIdentity)", form.Get("Action"))})
	}
}

func (s *STS) assumeRole(w http.ResponseWriter, id sigv4.Identity, form url.Values) {
	role, name := form.Get("RoleArn"), form.Get("RoleSessionName")
	m := stsRoleRE.FindStringSubmatch(role)
	if m == nil || len(m[2]) > 512 {
		s.fail(w, stsError{400, "ValidationError", "roleArn is not an IAM role ARN"})
		return
	}
	if len(name) < 2 || len(name) > 64 {
		s.fail(w, stsError{400, "ValidationError", "roleSessionName must be 2 to 64 characters"})
		return
	}
	if m[1] != id.AccountID {
		s.fail(w, stsError{403, "AccessDenied", fmt.Sprintf("User: arn:aws:iam::%s:user/%s is not authorized to perform: sts:AssumeRole on resource: %s", id.AccountID, id.AccessKeyID, role)})
		return
	}
	dur := time.Hour
	if v := form.Get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		min := 900 * time.Second
		if s.MinDuration > 0 {
			min = s.MinDuration
		}
		if err != nil || time.Duration(n)*time.Second < min || n > 43200 {
			s.fail(w, stsError{400, "ValidationError", "durationSeconds must be 900 to 43200"})
			return
		}
		dur = time.Duration(n) * time.Second
	}
	if s.MinDuration > 0 && s.MinDuration < dur {
		dur = s.MinDuration // tests: sessions shorter than STS allows
	}
	ak := "ASIA" + strings.ToUpper(randomToken(12))[:16]
	exp := s.now().Add(dur).UTC().Truncate(time.Second)
	cred := Credential{SecretAccessKey: randomToken(30), SessionToken: randomToken(96), Expires: exp,
		Principal: "arn:aws:sts::" + m[1] + ":assumed-role/" + m[2] + "/" + name}
	s.mu.Lock()
	if s.issued == nil {
		s.issued = map[string]issued{}
	}
	for k, i := range s.issued {
		if s.now().After(i.expires) {
			delete(s.issued, k)
		}
	}
	s.issued[ak] = issued{cred: cred, expires: exp}
	s.Assumed++
	s.mu.Unlock()
	type result struct {
		AccessKeyID     string `xml:"AssumeRoleResult>Credentials>AccessKeyId"`
		SecretAccessKey string `xml:"AssumeRoleResult>Credentials>SecretAccessKey"`
		SessionToken    string `xml:"AssumeRoleResult>Credentials>SessionToken"`
		Expiration      string `xml:"AssumeRoleResult>Credentials>Expiration"`
		RoleID          string `xml:"AssumeRoleResult>AssumedRoleUser>AssumedRoleId"`
		Arn             string `xml:"AssumeRoleResult>AssumedRoleUser>Arn"`
	}
	s.write(w, "AssumeRoleResponse", result{AccessKeyID: ak, SecretAccessKey: cred.SecretAccessKey, SessionToken: cred.SessionToken,
		Expiration: exp.Format(time.RFC3339), RoleID: "AROA" + strings.ToUpper(randomToken(12))[:16] + ":" + name, Arn: cred.Principal})
}

// AssumedCount is how many roles were assumed.
func (s *STS) AssumedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Assumed
}

func (s *STS) write(w http.ResponseWriter, name string, result any) {
	raw, err := xml.Marshal(result)
	if err != nil {
		s.fail(w, stsError{500, "InternalFailure", "the answer could not be encoded"})
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%s xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`, name)
	// Drop the wrapper element Go's encoder names after the type.
	inner := string(raw)
	inner = inner[strings.Index(inner, ">")+1 : strings.LastIndex(inner, "<")]
	fmt.Fprintf(w, "%s<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%s>", inner, randomID(), name)
}

func (s *STS) fail(w http.ResponseWriter, e stsError) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status)
	typ := "Sender"
	if e.status >= 500 {
		typ = "Receiver"
	}
	var msg strings.Builder
	_ = xml.EscapeText(&msg, []byte(e.message))
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
		typ, e.code, msg.String(), randomID())
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.NewReplacer("+", "", "/", "", "=", "").Replace(base64.StdEncoding.EncodeToString(b)) + "AAAAAAAAAAAAAAAA"
}

// NewDev is the AWS_MSK_IAM authentication of Fjord's development clusters: the access keys
// of store (Fjord's credentials) and the session credentials sts issues. The verifier accepts
// payloads signed for 127.0.0.1 or localhost in any region.
func NewDev(store sigv4.StaticStore) (*Verifier, *STS) {
	s := &STS{Verifier: sigv4.NewVerifier(sigv4.Config{Store: store, Services: []string{"sts"}})}
	v := &Verifier{Hosts: []string{"127.0.0.1", "localhost", "::1"}, Lookup: func(_ context.Context, ak string) (Credential, bool) {
		if c, ok := store[ak]; ok {
			return Credential{SecretAccessKey: c.SecretAccessKey, Principal: "arn:aws:iam::" + c.AccountID + ":root"}, true
		}
		return s.Credential(ak)
	}}
	return v, s
}
