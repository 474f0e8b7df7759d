package mm2

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	saws "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Security protocols of security.protocol, as in Kafka.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// SASL mechanisms of sasl.mechanism that Fjord speaks.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
	// MechanismIAM is MSK's IAM authentication (iam.go).
	MechanismIAM = IAMMechanism
)

// The JAAS login modules of sasl.jaas.config that Fjord reads.
const (
	ScramLoginModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
	PlainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"
)

// Cluster key prefixes: a security key under one of them applies to that cluster's clients and
// wins over the unprefixed key, which applies to both clusters (as Kafka Connect passes the
// connector's own client settings to every client it builds).
const (
	SourceClusterPrefix = "source.cluster."
	TargetClusterPrefix = "target.cluster."
)

// Secret is a sensitive configuration value (a SASL password). It prints as "[redacted]" with
// fmt, slog and %#v, so a Config or ClientSecurity can be logged whole; Reveal returns it.
type Secret string

const redacted = "[redacted]"

// String hides the value.
func (Secret) String() string { return redacted }

// GoString hides the value from %#v.
func (Secret) GoString() string { return redacted }

// LogValue hides the value from slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText hides the value from encoders (encoding/json, slog's handlers).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Reveal returns the secret itself, for the one place that needs it (the SASL exchange).
func (s Secret) Reveal() string { return string(s) }

// ClientSecurity is how the clients of one cluster connect: its security.protocol, sasl.* and
// ssl.* keys, validated. The zero value is PLAINTEXT.
type ClientSecurity struct {
	// Protocol is security.protocol: PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL.
	Protocol string
	// Mechanism is sasl.mechanism (SASL protocols only): SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN.
	Mechanism string
	// Username and Password come from sasl.jaas.config (SASL protocols only).
	Username string
	Password Secret
	// IAM is the identity of AWS_MSK_IAM clients (iam.go).
	IAM IAMAuth
	// RootCAs verifies the brokers' certificates (ssl.truststore.certificates or the PEM file
	// ssl.truststore.location); nil means the system's roots.
	RootCAs *x509.CertPool
	// NoHostnameVerification is ssl.endpoint.identification.algorithm set empty: the
	// certificate chain is still verified, the broker's host name is not.
	NoHostnameVerification bool
}

// TLS says whether the connections are encrypted (SSL, SASL_SSL).
func (s ClientSecurity) TLS() bool {
	return s.Protocol == ProtocolSSL || s.Protocol == ProtocolSASLSSL
}

// SASL says whether the clients authenticate with SASL (SASL_PLAINTEXT, SASL_SSL).
func (s ClientSecurity) SASL() bool {
	return s.Protocol == ProtocolSASLPlaintext || s.Protocol == ProtocolSASLSSL
}

// Opts are the franz-go options of the clients: kgo.DialTLSConfig for SSL and SASL_SSL, and
// kgo.SASL for SASL_PLAINTEXT and SASL_SSL (AWS_MSK_IAM signs with IAM's credentials, fetched
// for each new connection from the process-wide cache). Empty for PLAINTEXT.
func (s ClientSecurity) Opts() []kgo.Opt {
	var opts []kgo.Opt
	if s.TLS() {
		opts = append(opts, kgo.DialTLSConfig(s.tlsConfig()))
	}
	if s.SASL() {
		user, pass := s.Username, s.Password.Reveal()
		switch s.Mechanism {
		case MechanismPlain:
			opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
		case MechanismScramSHA256:
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
		case MechanismScramSHA512:
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
		case MechanismIAM:
			opts = append(opts, kgo.SASL(saws.ManagedStreamingIAM(s.IAM.authFn)))
		}
	}
	return opts
}

// tlsConfig builds the client TLS configuration. franz-go sets ServerName to each broker's
// host when it is empty, so host name verification works per broker.
func (s ClientSecurity) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.RootCAs}
	if s.NoHostnameVerification {
		// Go verifies the chain and the name together; verify the chain alone ourselves.
		roots := s.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			if err != nil {
				return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
			}
			return nil
		}
	}
	return cfg
}

// SourceSecurityOpts are the franz-go security options of every source-cluster client.
func (c Config) SourceSecurityOpts() []kgo.Opt { return c.SourceSecurity.Opts() }

// TargetSecurityOpts are the franz-go security options of every target-cluster client.
func (c Config) TargetSecurityOpts() []kgo.Opt { return c.TargetSecurity.Opts() }

// securityNames are the keys read per cluster (under its prefix, then unprefixed).
var securityNames = []string{
	"security.protocol", "sasl.mechanism", "sasl.jaas.config", "sasl.client.callback.handler.class",
	"ssl.truststore.type", "ssl.truststore.certificates", "ssl.truststore.location",
	"ssl.endpoint.identification.algorithm",
	"ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.certificate.chain", "ssl.keystore.key",
	"ssl.keystore.password", "ssl.key.password", "ssl.truststore.password",
}

// security reads the security keys of the cluster whose keys start with prefix. Problems never
// quote sasl.jaas.config or other secret values.
func (p *parser) security(prefix string) ClientSecurity {
	vals := map[string]string{}
	keys := map[string]string{}
	for _, name := range securityNames {
		if key, v, ok := p.override([]string{prefix, ""}, name); ok {
			vals[name], keys[name] = v, key
		}
	}
	key := func(name string) string {
		if k, ok := keys[name]; ok {
			return k
		}
		return prefix + name
	}
	var s ClientSecurity
	s.Protocol = ProtocolPlaintext
	if v, ok := vals["security.protocol"]; ok {
		switch u := strings.ToUpper(v); u {
		case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
			s.Protocol = u
		default:
			p.fail(key("security.protocol"), fmt.Sprintf("%q is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", v))
		}
	}

	if s.SASL() {
		mech, ok := vals["sasl.mechanism"]
		switch u := strings.ToUpper(mech); {
		case !ok || u == "":
			p.fail(key("sasl.mechanism"), fmt.Sprintf("is required with security.protocol=%s: SCRAM-SHA-256, SCRAM-SHA-512, PLAIN or AWS_MSK_IAM (Kafka's default GSSAPI is not supported)", s.Protocol))
		case u == MechanismPlain || u == MechanismScramSHA256 || u == MechanismScramSHA512 || u == MechanismIAM:
			s.Mechanism = u
		default:
			p.fail(key("sasl.mechanism"), fmt.Sprintf("%q is not supported; use SCRAM-SHA-256, SCRAM-SHA-512, PLAIN or AWS_MSK_IAM", mech))
		}
		if h, ok := vals["sasl.client.callback.handler.class"]; ok && h != "" && (s.Mechanism != MechanismIAM || h != IAMCallbackHandler) {
			if s.Mechanism == MechanismIAM {
				p.fail(key("sasl.client.callback.handler.class"), fmt.Sprintf("%q is not supported with AWS_MSK_IAM; use %s", h, IAMCallbackHandler))
			} else {
				p.fail(key("sasl.client.callback.handler.class"), fmt.Sprintf("is only supported with sasl.mechanism=AWS_MSK_IAM (%s)", IAMCallbackHandler))
			}
		}
		jaas, ok := vals["sasl.jaas.config"]
		if !ok || jaas == "" {
			if s.Mechanism == MechanismIAM {
				p.fail(key("sasl.jaas.config"), fmt.Sprintf("is required with sasl.mechanism=AWS_MSK_IAM (%s required;)", IAMLoginModule))
			} else {
				p.fail(key("sasl.jaas.config"), fmt.Sprintf("is required with security.protocol=%s (a %s or %s line with username and password)", s.Protocol, ScramLoginModule, PlainLoginModule))
			}
		} else if module, opts, err := ParseJAAS(jaas); err != nil {
			msg := err.Error()
			if strings.Contains(jaas, "${") {
				// The worker resolves config-provider references before the parser sees the
				// value; one still here was never resolved.
				msg += " (it holds an unresolved config provider reference ${provider:[path:]key}: the connector's worker configuration must declare the provider in config.providers)"
			}
			p.fail(key("sasl.jaas.config"), msg)
		} else if s.Mechanism == MechanismIAM || module == IAMLoginModule {
			switch {
			case module != IAMLoginModule:
				p.fail(key("sasl.jaas.config"), fmt.Sprintf("login module %s does not match sasl.mechanism AWS_MSK_IAM (use %s)", module, IAMLoginModule))
			case s.Mechanism != MechanismIAM && s.Mechanism != "":
				p.fail(key("sasl.jaas.config"), fmt.Sprintf("login module %s does not match sasl.mechanism %s (use sasl.mechanism=AWS_MSK_IAM)", module, s.Mechanism))
			case opts["awsRoleArn"] != "" && !IsRoleARN(opts["awsRoleArn"]):
				p.fail(key("sasl.jaas.config"), "option awsRoleArn is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
			default:
				s.IAM = IAMAuth{RoleARN: opts["awsRoleArn"], STSRegion: opts["awsStsRegion"], Profile: opts["awsProfileName"]}
				if s.IAM.RoleARN == "" {
					// As MSK Connect runs Amazon's library: the workload's own role.
					s.IAM.RoleARN = p.serviceRole()
				}
			}
		} else {
			want := ScramLoginModule
			if s.Mechanism == MechanismPlain {
				want = PlainLoginModule
			}
			switch {
			case module != ScramLoginModule && module != PlainLoginModule:
				p.fail(key("sasl.jaas.config"), fmt.Sprintf("login module %s is not supported; use %s, %s or %s", module, ScramLoginModule, PlainLoginModule, IAMLoginModule))
			case s.Mechanism != "" && module != want:
				p.fail(key("sasl.jaas.config"), fmt.Sprintf("login module %s does not match sasl.mechanism %s (use %s)", module, s.Mechanism, want))
			case opts["username"] == "":
				p.fail(key("sasl.jaas.config"), "has no username option")
			case opts["password"] == "":
				p.fail(key("sasl.jaas.config"), "has no password option")
			default:
				s.Username, s.Password = opts["username"], Secret(opts["password"])
			}
		}
	}

	for _, name := range []string{"ssl.keystore.location", "ssl.keystore.certificate.chain", "ssl.keystore.key"} {
		if v := vals[name]; v != "" && s.TLS() {
			p.fail(key(name), "client certificates (mutual TLS) are not supported; authenticate with SASL (SCRAM or PLAIN) over SSL")
		}
	}
	if s.TLS() {
		certs, hasCerts := vals["ssl.truststore.certificates"]
		loc, hasLoc := vals["ssl.truststore.location"]
		typ, hasType := vals["ssl.truststore.type"]
		if (hasCerts || hasLoc) && hasType && !strings.EqualFold(typ, "PEM") {
			p.fail(key("ssl.truststore.type"), fmt.Sprintf("%q is not supported; use PEM (ssl.truststore.certificates holds the certificates, or ssl.truststore.location a PEM file)", typ))
		} else {
			switch {
			case hasCerts && certs != "":
				if pool, err := certPool([]byte(certs)); err != nil {
					p.fail(key("ssl.truststore.certificates"), err.Error())
				} else {
					s.RootCAs = pool
				}
			case hasLoc && loc != "" && p.noFiles:
			case hasLoc && loc != "":
				raw, err := os.ReadFile(loc)
				if err != nil {
					p.fail(key("ssl.truststore.location"), fmt.Sprintf("cannot read %s: %v", loc, errors.Unwrap(err)))
				} else if pool, err := certPool(raw); err != nil {
					p.fail(key("ssl.truststore.location"), fmt.Sprintf("%s: %v", loc, err))
				} else {
					s.RootCAs = pool
				}
			}
		}
		if v, ok := vals["ssl.endpoint.identification.algorithm"]; ok {
			switch strings.ToLower(v) {
			case "https":
			case "":
				s.NoHostnameVerification = true
			default:
				p.fail(key("ssl.endpoint.identification.algorithm"), fmt.Sprintf("%q is not https or empty", v))
			}
		}
	}
	return s
}

// certPool reads every CERTIFICATE block of PEM text.
func certPool(raw []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d is not valid: %v", n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	return pool, nil
}

// ParseJAAS reads a one-module JAAS configuration as Kafka's sasl.jaas.config takes it:
//
//	<login module class> <required|requisite|sufficient|optional> [name=value ...];
//
// Values are bare words or double-quoted strings (with \" and \\ escapes). It returns the
// module class and its options. Errors never quote option values (they hold passwords).
func ParseJAAS(s string) (module string, options map[string]string, err error) {
	l := &jaasLexer{s: s}
	module = l.word()
	if module == "" {
		return "", nil, errors.New("is not a valid JAAS configuration: the login module class is missing")
	}
	switch flag := l.word(); flag {
	case "required", "requisite", "sufficient", "optional":
	case "":
		return "", nil, fmt.Errorf("is not a valid JAAS configuration: the control flag after %s is missing", module)
	default:
		return "", nil, fmt.Errorf("is not a valid JAAS configuration: the control flag after %s must be required, requisite, sufficient or optional", module)
	}
	options = map[string]string{}
	for {
		l.space()
		if l.eof() {
			return "", nil, errors.New("is not a valid JAAS configuration: it must end with ';'")
		}
		if l.peek() == ';' {
			l.i++
			l.space()
			if !l.eof() {
				return "", nil, errors.New("is not a valid JAAS configuration: only one login module is allowed")
			}
			return module, options, nil
		}
		name := l.name()
		if name == "" || l.eof() || l.peek() != '=' {
			return "", nil, fmt.Errorf("is not a valid JAAS configuration: expected name=value after %s", module)
		}
		l.i++
		v, err := l.value()
		if err != nil {
			return "", nil, fmt.Errorf("is not a valid JAAS configuration: option %s: %v", name, err)
		}
		options[name] = v
	}
}

type jaasLexer struct {
	s string
	i int
}

func (l *jaasLexer) eof() bool  { return l.i >= len(l.s) }
func (l *jaasLexer) peek() byte { return l.s[l.i] }

func (l *jaasLexer) space() {
	for !l.eof() && strings.IndexByte(" \t\r\n", l.peek()) >= 0 {
		l.i++
	}
}

// word reads up to white space or ';'.
func (l *jaasLexer) word() string {
	l.space()
	start := l.i
	for !l.eof() && strings.IndexByte(" \t\r\n;", l.peek()) < 0 {
		l.i++
	}
	return l.s[start:l.i]
}

// name reads an option name, up to '=', white space or ';'.
func (l *jaasLexer) name() string {
	start := l.i
	for !l.eof() && strings.IndexByte(" \t\r\n;=", l.peek()) < 0 {
		l.i++
	}
	return l.s[start:l.i]
}

func (l *jaasLexer) value() (string, error) {
	if l.eof() {
		return "", errors.New("the value is missing")
	}
	if l.peek() != '"' {
		v := l.word()
		if v == "" {
			return "", errors.New("the value is missing")
		}
		return v, nil
	}
	l.i++
	var b strings.Builder
	for !l.eof() {
		c := l.peek()
		l.i++
		switch c {
		case '\\':
			if l.eof() {
				return "", errors.New("unterminated quoted value")
			}
			b.WriteByte(l.peek())
			l.i++
		case '"':
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("unterminated quoted value")
}
