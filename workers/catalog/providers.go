package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Config providers, as Kafka Connect (KIP-297) and MSK Connect have them: a connector's worker
// configuration declares providers by name,
//
//	config.providers=secretsmanager,file,env
//	config.providers.secretsmanager.class=com.amazonaws.kafka.config.providers.SecretsManagerConfigProvider
//	config.providers.secretsmanager.param.region=eu-west-1
//
// and connector configuration values refer to them with ${provider:[path:]key}. Fjord resolves
// the references of a connector's tasks when it starts them: Secrets Manager references on the
// server, when it builds the task specifications; file, environment and directory references
// in the worker process, on its agent's host. The resolved values are never stored, and the
// API keeps showing the references.

// The provider classes Fjord implements.
const (
	// ProviderSecretsManager is MSK's Secrets Manager provider (aws-samples/msk-config-providers):
	// ${name:secretId:jsonKey}, or ${name:secretId} for the whole secret string.
	ProviderSecretsManager = "com.amazonaws.kafka.config.providers.SecretsManagerConfigProvider"
	// ProviderFile is Kafka's FileConfigProvider: ${name:/path/to/file.properties:key}.
	ProviderFile = "org.apache.kafka.common.config.provider.FileConfigProvider"
	// ProviderEnv is Kafka's EnvVarConfigProvider: ${name:VARIABLE}.
	ProviderEnv = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
	// ProviderDirectory is Kafka's DirectoryConfigProvider: ${name:/path/to/dir:file}.
	ProviderDirectory = "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
)

// SecretsManagerProviderClasses are the Secrets Manager provider classes Fjord accepts: MSK's,
// and the Confluent and Jeremy Custenborder providers MSK Connect users also run (same
// reference shape; region in param.aws.region, an optional param.secret.prefix).
var SecretsManagerProviderClasses = []string{
	ProviderSecretsManager,
	"com.github.jcustenborder.kafka.config.aws.SecretsManagerConfigProvider",
	"io.confluent.csid.config.provider.aws.SecretsManagerConfigProvider",
}

// WorkerProviderClasses are the provider classes a worker process resolves on its host.
var WorkerProviderClasses = []string{ProviderFile, ProviderEnv, ProviderDirectory}

// ProvidersKey is the worker-configuration key listing the config providers; provider name's
// class is ProvidersKey+"."+name+".class" and its parameters ProvidersKey+"."+name+".param.*".
const ProvidersKey = "config.providers"

// ResolvedKey is the task-configuration key through which the server hands a worker the values
// of the references it resolved (Secrets Manager): a JSON object from reference text to value.
// The worker removes it, with the ProvidersKey keys, before its tasks see the configuration.
const ResolvedKey = "fjord.config.providers.resolved"

// Reference is one config-provider reference in a configuration value.
type Reference struct {
	// Text is the reference as written, ${provider:path:key}.
	Text string
	// Provider is the provider's name in the worker configuration.
	Provider string
	// Path is "" when the reference has none (${provider:key}).
	Path string
	// Key is what the provider looks up at Path.
	Key string
}

func (r Reference) String() string { return r.Text }

// referenceRE is Kafka's ConfigTransformer pattern, ${provider:[path:]key}, except that no part
// spans a '}' or a line end: Kafka's `.*?` lets "${env:A} ${env:B}" read as one reference with
// the path "A} ${env" (refused by the provider); here it is two.
var referenceRE = regexp.MustCompile(`\$\{([^}\r\n]*?):(([^}\r\n]*?):)?([^}\r\n]*?)\}`)

// References returns the references in v, in order.
func References(v string) []Reference {
	var out []Reference
	for _, m := range referenceRE.FindAllStringSubmatchIndex(v, -1) {
		r := Reference{Text: v[m[0]:m[1]], Provider: v[m[2]:m[3]], Key: v[m[8]:m[9]]}
		if m[6] >= 0 {
			r.Path = v[m[6]:m[7]]
		}
		out = append(out, r)
	}
	return out
}

// HasReference reports whether a value holds a config-provider reference.
func HasReference(v string) bool { return referenceRE.MatchString(v) }

// Transform replaces, in one pass as Kafka's ConfigTransformer does, every reference of v for
// which lookup returns a value; the others stay as written. Replacement values are not scanned
// again.
func Transform(v string, lookup func(Reference) (string, bool)) string {
	ms := referenceRE.FindAllStringSubmatchIndex(v, -1)
	if len(ms) == 0 {
		return v
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		r := Reference{Text: v[m[0]:m[1]], Provider: v[m[2]:m[3]], Key: v[m[8]:m[9]]}
		if m[6] >= 0 {
			r.Path = v[m[6]:m[7]]
		}
		val, ok := lookup(r)
		if !ok {
			continue
		}
		b.WriteString(v[last:m[0]])
		b.WriteString(val)
		last = m[1]
	}
	b.WriteString(v[last:])
	return b.String()
}

// Provider is one declared config provider.
type Provider struct {
	Name   string
	Class  string
	Params map[string]string
}

// Resolver says where a provider's references are resolved: "server" (Secrets Manager),
// "worker" (file, environment, directory) or "" (a class Fjord does not implement).
func (p Provider) Resolver() string {
	switch {
	case slices.Contains(SecretsManagerProviderClasses, p.Class):
		return "server"
	case slices.Contains(WorkerProviderClasses, p.Class):
		return "worker"
	}
	return ""
}

// ParseProviders reads the config providers a configuration declares (config.providers and
// config.providers.<name>.class / .param.<param>), by name. A listed name without a class is
// returned with Class "".
func ParseProviders(conf map[string]string) map[string]Provider {
	out := map[string]Provider{}
	for _, name := range splitList(conf[ProvidersKey]) {
		p := Provider{Name: name, Class: strings.TrimSpace(conf[ProvidersKey+"."+name+".class"]), Params: map[string]string{}}
		prefix := ProvidersKey + "." + name + ".param."
		for k, v := range conf {
			if rest, ok := strings.CutPrefix(k, prefix); ok {
				p.Params[rest] = v
			}
		}
		out[name] = p
	}
	return out
}

// IsProviderKey reports whether a configuration key declares config providers.
func IsProviderKey(k string) bool { return k == ProvidersKey || strings.HasPrefix(k, ProvidersKey+".") }

// SecretRef is a Secrets Manager reference made plain: the secret to read and the JSON key in
// it ("" for the whole secret string).
type SecretRef struct {
	// SecretID is a secret name or ARN (URL-decoded, with the provider's secret.prefix).
	SecretID string
	// Region is the ARN's region, else the provider's region or aws.region parameter ("" when
	// none: the caller's default).
	Region string
	// JSONKey is the key in the secret's JSON object; "" means the whole SecretString.
	JSONKey string
}

// arnParts is the number of ':'-separated parts of a Secrets Manager secret ARN
// (arn:partition:secretsmanager:region:account:secret:name).
const arnParts = 7

// SecretsManagerRef reads a reference to a Secrets Manager provider as MSK's provider does:
// ${p:secretId:jsonKey}, or ${p:secretId} for the whole secret string; a secret ARN is given
// URL-encoded (arn%3Aaws%3A…) or — Fjord reads this too — as written, and a key's "?ttl=…"
// suffix is accepted and ignored. Its errors do not repeat the reference.
func SecretsManagerRef(p Provider, r Reference) (SecretRef, error) {
	path, key := r.Path, r.Key
	if i := strings.Index(key, "?"); i >= 0 {
		key = key[:i]
	}
	if path == "arn" {
		// Kafka's pattern cut an ARN written as is at its first ':'.
		parts := strings.Split("arn:"+key, ":")
		switch len(parts) {
		case arnParts:
			path, key = "arn:"+key, ""
		case arnParts + 1:
			path, key = strings.Join(parts[:arnParts], ":"), parts[arnParts]
		default:
			return SecretRef{}, fmt.Errorf("%q is not a Secrets Manager secret ARN", "arn:"+key)
		}
	}
	id, jsonKey := path, key
	if path == "" {
		id, jsonKey = key, ""
	}
	if dec, err := url.PathUnescape(id); err == nil {
		id = dec
	}
	if strings.TrimSpace(id) == "" {
		return SecretRef{}, errors.New("names no secret")
	}
	out := SecretRef{SecretID: id, JSONKey: jsonKey}
	if strings.HasPrefix(id, "arn:") {
		parts := strings.Split(id, ":")
		if len(parts) != arnParts || parts[2] != "secretsmanager" || parts[5] != "secret" {
			return SecretRef{}, fmt.Errorf("%q is not a Secrets Manager secret ARN", id)
		}
		out.Region = parts[3]
	} else {
		out.SecretID = p.Params["secret.prefix"] + id
		out.Region = p.Params["region"]
		if out.Region == "" {
			out.Region = p.Params["aws.region"]
		}
	}
	return out, nil
}

// ReferenceProblem is a reference a configuration cannot use, with the key holding it.
type ReferenceProblem struct {
	Key       string
	Reference Reference
	Message   string
}

func (p ReferenceProblem) Error() string {
	return fmt.Sprintf("%s: %s %s", p.Key, p.Reference.Text, p.Message)
}

// CheckReferences checks every reference of conf against the providers declared in the
// worker configuration workerConf (nil: the connector has none), sorted by key. Kafka leaves a
// reference to an undeclared provider in the value as written; Fjord refuses it, as the
// connector would run with the reference text for a password. References are also checked
// for the shape their provider needs (a file reference needs a path, an environment reference
// none, …).
func CheckReferences(conf, workerConf map[string]string) []ReferenceProblem {
	providers := ParseProviders(workerConf)
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []ReferenceProblem
	for _, k := range keys {
		for _, r := range References(conf[k]) {
			if msg := checkReference(providers, r); msg != "" {
				out = append(out, ReferenceProblem{Key: k, Reference: r, Message: msg})
			}
		}
	}
	return out
}

func checkReference(providers map[string]Provider, r Reference) string {
	p, ok := providers[r.Provider]
	switch {
	case !ok:
		declared := make([]string, 0, len(providers))
		for n := range providers {
			declared = append(declared, n)
		}
		sort.Strings(declared)
		if len(declared) == 0 {
			return fmt.Sprintf("refers to config provider %q, but the connector's worker configuration declares no config providers (%s)", r.Provider, ProvidersKey)
		}
		return fmt.Sprintf("refers to config provider %q, which the connector's worker configuration does not declare in %s (it declares %s)",
			r.Provider, ProvidersKey, strings.Join(declared, ", "))
	case p.Class == "":
		return fmt.Sprintf("refers to config provider %q, whose class (%s.%s.class) the worker configuration does not set", r.Provider, ProvidersKey, r.Provider)
	case p.Resolver() == "":
		return fmt.Sprintf("refers to config provider %q of class %s, which Fjord does not implement; it implements %s",
			r.Provider, p.Class, strings.Join(append(slices.Clone(SecretsManagerProviderClasses), WorkerProviderClasses...), ", "))
	}
	switch p.Class {
	case ProviderFile:
		if r.Path == "" {
			return "needs a properties file and a key (${" + r.Provider + ":/path/to/file.properties:key})"
		}
	case ProviderDirectory:
		if r.Path == "" {
			return "needs a directory and a file name (${" + r.Provider + ":/path/to/dir:file})"
		}
	case ProviderEnv:
		if r.Path != "" {
			return "has a path, which EnvVarConfigProvider does not support (${" + r.Provider + ":VARIABLE})"
		}
	default:
		if _, err := SecretsManagerRef(p, r); err != nil {
			return err.Error()
		}
	}
	if r.Key == "" {
		return "has an empty key"
	}
	return ""
}
