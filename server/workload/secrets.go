package workload

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	kv "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"
)

// A replicator's cluster may authenticate with SASL/SCRAM: clientAuthentication.saslScram names
// a secret (secretArn) whose SecretString is MSK's JSON {"username": "…", "password": "…"}.
// Fjord reads it when it builds the replicator's task configurations (never storing the
// password in Postgres) from, in order:
//
//  1. Config.SecretsDir, when set (fjord dev sets <data-dir>/secrets): the file
//     <SecretsDir>/<secret name>.json, where the name is the ARN's resource name, tried as
//     written ("AmazonMSK_src-AbCdEf") and then without AWS's 6-character suffix
//     ("AmazonMSK_src"). A missing file falls through to Secrets Manager only when
//     Config.SecretsEndpoint is set too.
//  2. AWS Secrets Manager (aws-sdk-go-v2) in the ARN's region, at Config.SecretsEndpoint when
//     set, otherwise wherever the SDK's usual configuration points (AWS_ENDPOINT_URL_SECRETS_MANAGER,
//     AWS_ENDPOINT_URL, the shared config files, or AWS itself), with the credentials of the
//     workload's serviceExecutionRoleArn: Fjord assumes the role through STS (at
//     AWS_ENDPOINT_URL_STS, else at Config.SecretsEndpoint when set, else AWS) with the SDK's
//     default credential chain as the base, so the role's policy decides what it may read.
//
// A secret ARN of another account than the workload's is refused at creation (server/checks.go).
// What a tenant sees of a failure names the secret and the cause (an STS or Secrets Manager
// error code, a local file's name), never a server path or a backend's own message.
//
// A secret that does not exist, cannot be read or is malformed makes the replicator FAILED with
// state code SECRET_UNAVAILABLE and a message naming the secret; a Secrets Manager that cannot be
// reached is retried (the replicator is not failed for an outage).
//
// The Secrets Manager references of connector configurations (${secretsmanager:name:key},
// providers.go) are read the same way and through the same cache, by ARN or by name (then in
// the provider's region).

// secretTTL is how long a read secret (or a permanent failure to read it) is reused: a rotated
// secret reaches new task configurations within this time.
const secretTTL = time.Minute

// secretRetryTTL is how long a failure to reach the secret's source is reused before the next
// attempt: an outage costs one timeout per secret per secretRetryTTL, not one per reconcile.
const secretRetryTTL = 10 * time.Second

// secretTimeout bounds one read from Secrets Manager.
const secretTimeout = 5 * time.Second

// scramCredentials are the contents of an MSK SCRAM secret.
type scramCredentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// secretError is a failure to read a secret. Transient means the source could not be reached
// (retry); otherwise the secret is missing, forbidden or malformed. ARN is the secret's ARN or
// name, as the reader was given it.
type secretError struct {
	ARN       string
	Err       error
	Transient bool
}

func (e *secretError) Error() string { return fmt.Sprintf("secret %s: %v", e.ARN, e.Err) }
func (e *secretError) Unwrap() error { return e.Err }

// secretARNRE is a Secrets Manager secret ARN: arn:<partition>:secretsmanager:<region>:<account>:secret:<name>.
// The name's bound, 512 characters, is checked by matchSecretARN: `{1,512}` would compile to
// 512 copies of the class, 66 KB in every fjord process.
var secretARNRE = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*):secretsmanager:([a-z0-9-]+):(\d{12}):secret:([A-Za-z0-9/_+=.@-]+)$`)

// matchSecretARN returns secretARNRE's submatches of arn, nil when it is not a secret ARN.
func matchSecretARN(arn string) []string {
	m := secretARNRE.FindStringSubmatch(arn)
	if m == nil || len(m[4]) > 512 {
		return nil
	}
	return m
}

// secretName returns the name part of a secret ARN ("" when s is not one).
func secretName(arn string) (name, region string) {
	m := matchSecretARN(arn)
	if m == nil {
		return "", ""
	}
	return m[4], m[2]
}

// awsSuffixRE is the random suffix Secrets Manager appends to a secret's name in its ARN.
var awsSuffixRE = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)

// secrets reads and caches secrets: replicators' SCRAM secrets and the Secrets Manager
// references of connector configurations (providers.go).
type secrets struct {
	dir, endpoint string

	mu      sync.Mutex
	cache   map[string]cachedSecret           // by region and secret id
	clients map[string]*secretsmanager.Client // by region
}

// secretValue is a secret's SecretString (or SecretBinary) and where it was read, for messages.
type secretValue struct {
	raw   []byte
	where string
}

type cachedSecret struct {
	val secretValue
	err error
	at  time.Time
}

func newSecrets(dir, endpoint string) *secrets {
	return &secrets{dir: dir, endpoint: endpoint, cache: map[string]cachedSecret{}, clients: map[string]*secretsmanager.Client{}}
}

// scram returns the credentials of the SCRAM secret arn.
func (s *secrets) scram(ctx context.Context, arn, role string) (scramCredentials, error) {
	if name, _ := secretName(arn); name == "" {
		return scramCredentials{}, &secretError{ARN: arn, Err: errors.New("is not a Secrets Manager secret ARN")}
	}
	v, err := s.value(ctx, arn, "", role)
	if err != nil {
		return scramCredentials{}, err
	}
	return parseScramSecret(arn, v.raw, v.where)
}

// value returns the secret id (an ARN, or a name in region), read with the credentials of role
// (the workload's service execution role; "" reads with Fjord's own), from the cache when fresh
// (secretTTL; secretRetryTTL for a source that could not be reached).
func (s *secrets) value(ctx context.Context, id, region, role string) (secretValue, error) {
	if _, r := secretName(id); r != "" {
		region = r
	}
	key := region + "\x00" + role + "\x00" + id
	s.mu.Lock()
	c, ok := s.cache[key]
	s.mu.Unlock()
	if ok {
		ttl := secretTTL
		var se *secretError
		if errors.As(c.err, &se) && se.Transient {
			ttl = secretRetryTTL
		}
		if time.Since(c.at) < ttl {
			return c.val, c.err
		}
	}
	val, err := s.read(ctx, id, region, role)
	if ctx.Err() == nil || err == nil {
		s.mu.Lock()
		if len(s.cache) > 10_000 {
			clear(s.cache)
		}
		s.cache[key] = cachedSecret{val: val, err: err, at: time.Now()}
		s.mu.Unlock()
	}
	return val, err
}

// read reads the secret id (an ARN, or a name in region).
func (s *secrets) read(ctx context.Context, id, region, role string) (secretValue, error) {
	arn := id
	name, r := secretName(id)
	if name == "" {
		name = id
	} else {
		region = r
	}
	if s.dir != "" {
		var tried []string
		for _, n := range []string{name, awsSuffixRE.ReplaceAllString(name, "")} {
			if strings.Contains(n, "..") {
				continue
			}
			path := filepath.Join(s.dir, filepath.FromSlash(n)+".json")
			if len(tried) > 0 && tried[0] == path {
				continue
			}
			tried = append(tried, path)
			raw, err := os.ReadFile(path)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				// No server path in what the tenant sees: the operator's log has it.
				slog.Warn("read a local secret", "path", path, "error", err)
				return secretValue{}, &secretError{ARN: arn, Err: errors.New("cannot be read from the local secrets folder")}
			}
			return secretValue{raw: raw, where: "local secret file " + filepath.Base(path)}, nil
		}
		if s.endpoint == "" {
			slog.Debug("local secret not found", "looked_for", strings.Join(tried, " and "))
			names := make([]string, len(tried))
			for i, p := range tried {
				names[i] = filepath.Base(p) // the secret's own name, never the server's folder
			}
			return secretValue{}, &secretError{ARN: arn, Err: fmt.Errorf("is not in the local secrets folder (looked for %s)", strings.Join(names, " and "))}
		}
	}
	cl, err := s.client(ctx, region, role)
	if err != nil {
		slog.Warn("Secrets Manager client", "error", err)
		return secretValue{}, &secretError{ARN: arn, Err: errors.New("Secrets Manager cannot be configured"), Transient: true}
	}
	rctx, cancel := context.WithTimeout(ctx, secretTimeout)
	defer cancel()
	out, err := cl.GetSecretValue(rctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return secretValue{}, &secretError{ARN: arn, Err: tenantAWSError(err, role), Transient: transientAWSError(err)}
	}
	raw := []byte(aws.ToString(out.SecretString))
	if out.SecretString == nil {
		raw = out.SecretBinary
	}
	return secretValue{raw: raw, where: "its SecretString"}, nil
}

// transientAWSError says whether a Secrets Manager call failed for a reason a retry may fix:
// the endpoint could not be reached, timed out or answered 5xx.
func transientAWSError(err error) bool {
	var nf *smtypes.ResourceNotFoundException
	var ae smithy.APIError
	var ne net.Error
	switch {
	case errors.As(err, &nf):
		return false
	case errors.As(err, &ae):
		return ae.ErrorFault() == smithy.FaultServer || ae.ErrorCode() == "ThrottlingException"
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return true
}

func parseScramSecret(arn string, raw []byte, where string) (scramCredentials, error) {
	var c scramCredentials
	if err := json.Unmarshal(raw, &c); err != nil {
		// The JSON error could quote part of the secret: do not include it.
		return c, &secretError{ARN: arn, Err: fmt.Errorf(`%s is not JSON {"username": "...", "password": "..."}`, where)}
	}
	if c.Username == "" || c.Password == "" {
		return scramCredentials{}, &secretError{ARN: arn, Err: fmt.Errorf(`%s lacks "username" or "password"`, where)}
	}
	return c, nil
}

// client is the Secrets Manager client of region that reads with role's credentials: the role
// assumed through STS (at AWS_ENDPOINT_URL_STS, or the secrets endpoint when one is set: the
// AWS stand-ins serve both) with Fjord's own as the base, cached and refreshed by the SDK.
// Without a role, Fjord's own credentials.
func (s *secrets) client(ctx context.Context, region, role string) (*secretsmanager.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cl, ok := s.clients[region+"\x00"+role]; ok {
		return cl, nil
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("load the AWS SDK configuration: %w", err)
	}
	if role != "" {
		stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
			if s.endpoint != "" && os.Getenv("AWS_ENDPOINT_URL_STS") == "" {
				o.BaseEndpoint = aws.String(s.endpoint)
			}
		})
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, role, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "fjord-secrets"
		}))
	}
	cl := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if s.endpoint != "" {
			o.BaseEndpoint = aws.String(s.endpoint)
		}
	})
	if len(s.clients) > 1000 {
		clear(s.clients)
	}
	s.clients[region+"\x00"+role] = cl
	return cl, nil
}

// tenantAWSError is what a tenant may see of a failed Secrets Manager read: the error code
// (never the backend's message, which can name Fjord's own identity or endpoints).
func tenantAWSError(err error, role string) error {
	var ae smithy.APIError
	var oe *smithy.OperationError
	switch {
	case errors.As(err, &oe) && oe.ServiceID == "STS", strings.Contains(err.Error(), "AssumeRole"):
		code := "refused"
		if errors.As(err, &ae) {
			code = ae.ErrorCode()
		}
		return fmt.Errorf("the service execution role %s cannot be assumed to read it (%s)", role, code)
	case errors.As(err, &ae):
		return fmt.Errorf("Secrets Manager refused it: %s", ae.ErrorCode())
	}
	return errors.New("Secrets Manager cannot be reached")
}

// clusterSecurityConfig maps one replicator cluster's clientAuthentication and
// encryptionInTransit to MirrorMaker 2 client keys under prefix ("source.cluster." or
// "target.cluster."): TLS → SSL with the root CA as a PEM truststore, SASL/SCRAM →
// SASL_PLAINTEXT (SASL_SSL with TLS) with a ScramLoginModule line holding the secret's
// credentials.
func (w *Compiler) clusterSecurityConfig(ctx context.Context, c *kv.KafkaClusterDescription, prefix, role string, conf map[string]string) error {
	tls := c.GetEncryptionInTransit().GetEncryptionType() == "TLS"
	scram := c.GetClientAuthentication().GetSaslScram()
	switch {
	case tls && scram != nil:
		conf[prefix+"security.protocol"] = "SASL_SSL"
	case scram != nil:
		conf[prefix+"security.protocol"] = "SASL_PLAINTEXT"
	case tls:
		conf[prefix+"security.protocol"] = "SSL"
	default:
		return nil
	}
	if tls {
		if ca := c.GetEncryptionInTransit().GetRootCaCertificate(); ca != "" {
			pemText, err := rootCAPEM(ca)
			if err != nil {
				return fmt.Errorf("cluster %s: rootCaCertificate: %w", c.GetKafkaClusterAlias(), err)
			}
			conf[prefix+"ssl.truststore.type"] = "PEM"
			conf[prefix+"ssl.truststore.certificates"] = pemText
		}
	}
	if scram != nil {
		conf[prefix+"sasl.mechanism"] = "SCRAM-SHA-512"
		if scram.GetMechanism() == "SHA256" {
			conf[prefix+"sasl.mechanism"] = "SCRAM-SHA-256"
		}
		creds, err := w.secrets.scram(ctx, scram.GetSecretArn(), role)
		if err != nil {
			return err
		}
		conf[prefix+"sasl.jaas.config"] = fmt.Sprintf(`org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="%s";`,
			jaasEscape(creds.Username), jaasEscape(creds.Password))
	}
	return nil
}

func jaasEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// rootCAPEM accepts a root CA certificate as PEM text, or base64 of PEM or of DER, and returns
// it as PEM text.
func rootCAPEM(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "-----BEGIN") {
		raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return "", errors.New("is neither PEM (-----BEGIN CERTIFICATE-----) nor base64")
		}
		if strings.HasPrefix(strings.TrimSpace(string(raw)), "-----BEGIN") {
			s = strings.TrimSpace(string(raw))
		} else {
			s = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: raw}))
		}
	}
	rest, n := []byte(s), 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return "", fmt.Errorf("certificate %d does not parse: %v", n+1, err)
		}
		n++
	}
	if n == 0 {
		return "", errors.New("holds no certificate")
	}
	return s, nil
}

// SecretAccount is the account of a Secrets Manager secret ARN ("" when arn is not one).
func SecretAccount(arn string) string {
	m := matchSecretARN(arn)
	if m == nil {
		return ""
	}
	return m[3]
}

// RootCAPEM checks a root CA certificate (PEM text, or base64 of PEM or of DER) and returns it
// as PEM text.
func RootCAPEM(s string) (string, error) { return rootCAPEM(s) }

// IsSecretARN says whether arn is a Secrets Manager secret ARN
// (arn:<partition>:secretsmanager:<region>:<account>:secret:<name>).
func IsSecretARN(arn string) bool {
	name, _ := secretName(arn)
	return name != ""
}
