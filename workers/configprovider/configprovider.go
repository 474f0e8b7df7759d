// Package configprovider resolves the config-provider references (${provider:[path:]key}) of a
// task configuration in the worker process, before the task's factory reads it, as Kafka
// Connect's worker does with its ConfigTransformer: Kafka's FileConfigProvider,
// EnvVarConfigProvider and DirectoryConfigProvider read the worker's host, and the values the
// server resolved (Secrets Manager, catalog.ResolvedKey) are put in place.
//
// Departures from Kafka, which leaves a reference it cannot resolve in the value as written:
// here every reference must resolve — an undeclared provider, a missing file, key or variable
// is an error naming the key and the reference (never a value) — because a task running with
// the reference text for a password helps nobody.
package configprovider

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/fjord-io/fjord/workers/catalog"
)

// Error is a reference that cannot be resolved.
type Error struct {
	// Key is the configuration key whose value holds the reference.
	Key string
	// Reference is the reference as written.
	Reference string
	// Unavailable means the value could not be read (a missing file, key or variable, a
	// secret the server did not resolve); otherwise the configuration is wrong (an undeclared
	// provider, a class Fjord does not implement).
	Unavailable bool
	// Message says what is wrong; it never holds a resolved value.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: config provider reference %s %s", e.Key, e.Reference, e.Message)
}

// Env reads an environment variable; os.LookupEnv in a worker.
type Env func(string) (string, bool)

// Result is a resolved configuration.
type Result struct {
	// Config is the configuration with every reference replaced, without the provider
	// declarations (catalog.ProvidersKey) and the server's values (catalog.ResolvedKey).
	Config map[string]string
	// secrets are the values put in place, longest first, with the references they replaced.
	secrets []substitution
}

type substitution struct{ value, reference string }

// Scrub replaces every resolved value (of 3 bytes or more) in s by the reference it came from,
// so that an error message quoting a configuration value never shows a resolved one.
func (r *Result) Scrub(s string) string {
	if r == nil {
		return s
	}
	for _, sub := range r.secrets {
		s = strings.ReplaceAll(s, sub.value, sub.reference)
	}
	return s
}

// Resolve resolves the references of a task configuration. A configuration that declares no
// provider (config.providers) and carries no server values is returned as is, whatever its
// values hold: a replicator's, whose SCRAM password may contain "${a:b}", or a connector's
// without references (the server refuses a connector whose references its worker
// configuration does not declare, and sends the declarations with every one that has some).
func Resolve(conf map[string]string, env Env) (*Result, error) {
	_, declared := conf[catalog.ProvidersKey]
	_, served := conf[catalog.ResolvedKey]
	if !declared && !served {
		return &Result{Config: conf}, nil
	}
	providers := catalog.ParseProviders(conf)
	var server map[string]string
	if raw, ok := conf[catalog.ResolvedKey]; ok {
		if err := json.Unmarshal([]byte(raw), &server); err != nil {
			// The JSON error could quote a value: leave it out.
			return nil, &Error{Key: catalog.ResolvedKey, Reference: "(all)", Message: "holds no JSON object of resolved values"}
		}
	}
	keys := make([]string, 0, len(conf))
	for k := range conf {
		if !catalog.IsProviderKey(k) && k != catalog.ResolvedKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := &Result{Config: make(map[string]string, len(keys))}
	cache := map[string]*readResult{}
	seen := map[string]bool{}
	for _, k := range keys {
		var first *Error
		v := catalog.Transform(conf[k], func(r catalog.Reference) (string, bool) {
			if first != nil {
				return "", false
			}
			val, err := lookup(providers, server, cache, env, r)
			if err != nil {
				err.Key = k
				first = err
				return "", false
			}
			if len(val) >= 3 && !seen[val] {
				seen[val] = true
				res.secrets = append(res.secrets, substitution{value: val, reference: r.Text})
			}
			return val, true
		})
		if first != nil {
			return nil, first
		}
		res.Config[k] = v
	}
	sort.Slice(res.secrets, func(i, j int) bool { return len(res.secrets[i].value) > len(res.secrets[j].value) })
	return res, nil
}

// readResult is one read of a provider path (a properties file or a directory), shared by the
// references to it.
type readResult struct {
	data map[string]string
	err  *Error
}

func lookup(providers map[string]catalog.Provider, server map[string]string, cache map[string]*readResult, env Env, r catalog.Reference) (string, *Error) {
	fail := func(unavailable bool, format string, args ...any) *Error {
		return &Error{Reference: r.Text, Unavailable: unavailable, Message: fmt.Sprintf(format, args...)}
	}
	p, ok := providers[r.Provider]
	if !ok {
		return "", fail(false, "refers to config provider %q, which the worker configuration does not declare in %s", r.Provider, catalog.ProvidersKey)
	}
	switch p.Resolver() {
	case "server":
		v, ok := server[r.Text]
		if !ok {
			return "", fail(true, "was not resolved by the server (provider %q reads AWS Secrets Manager on the server)", r.Provider)
		}
		return v, nil
	case "worker":
	default:
		return "", fail(false, "refers to config provider %q of class %q, which Fjord does not implement", r.Provider, p.Class)
	}
	switch p.Class {
	case catalog.ProviderEnv:
		if r.Path != "" {
			return "", fail(false, "has a path, which EnvVarConfigProvider does not support")
		}
		if strings.HasPrefix(r.Key, "FJORD_") {
			// The agent's own settings (its join token among them) are not the connectors'.
			return "", fail(false, "names a FJORD_ variable; those are the agent's own settings and are not provided")
		}
		if pat, ok := p.Params["allowlist.pattern"]; ok {
			re, err := regexp.Compile(pat)
			if err != nil {
				return "", fail(false, "cannot be checked: %s.%s.param.allowlist.pattern does not compile: %v", catalog.ProvidersKey, r.Provider, err)
			}
			if !re.MatchString(r.Key) {
				return "", fail(true, "names a variable that %s.%s.param.allowlist.pattern does not allow", catalog.ProvidersKey, r.Provider)
			}
		}
		v, ok := env(r.Key)
		if !ok {
			return "", fail(true, "names environment variable %s, which the worker's environment does not set", r.Key)
		}
		return v, nil
	case catalog.ProviderFile, catalog.ProviderDirectory:
		if r.Path == "" {
			return "", fail(false, "has no path")
		}
		if err := allowed(p, r.Path); err != "" {
			return "", fail(true, "%s", err)
		}
		ck := p.Class + "\x00" + r.Path
		rr, ok := cache[ck]
		if !ok {
			if p.Class == catalog.ProviderFile {
				rr = readProperties(r.Path)
			} else {
				rr = &readResult{data: map[string]string{}}
			}
			cache[ck] = rr
		}
		if rr.err != nil {
			e := *rr.err
			e.Reference = r.Text
			return "", &e
		}
		if p.Class == catalog.ProviderDirectory {
			if _, ok := rr.data[r.Key]; !ok {
				v, err := readDirFile(r.Path, r.Key)
				if err != nil {
					return "", &Error{Reference: r.Text, Unavailable: true, Message: err.Error()}
				}
				rr.data[r.Key] = v
			}
		}
		v, ok := rr.data[r.Key]
		if !ok {
			return "", fail(true, "names key %q, which %s does not hold", r.Key, r.Path)
		}
		return v, nil
	}
	return "", fail(false, "refers to config provider %q of class %q, which Fjord does not implement", r.Provider, p.Class)
}

// allowed checks path against the provider's allowed.paths parameter (Kafka's KIP-993): when
// set, only files under the listed paths may be read.
func allowed(p catalog.Provider, path string) string {
	list, ok := p.Params["allowed.paths"]
	if !ok || strings.TrimSpace(list) == "" {
		return ""
	}
	clean := filepath.Clean(path)
	for _, a := range strings.Split(list, ",") {
		a = filepath.Clean(strings.TrimSpace(a))
		if rel, err := filepath.Rel(a, clean); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return ""
		}
	}
	return fmt.Sprintf("names %s, which is outside %s.%s.param.allowed.paths", path, catalog.ProvidersKey, p.Name)
}

// readProperties reads a Java properties file, as FileConfigProvider does.
func readProperties(path string) *readResult {
	raw, err := os.ReadFile(path)
	if err != nil {
		return &readResult{err: &Error{Unavailable: true, Message: fmt.Sprintf("cannot be read: %s: %v", path, pathError(err))}}
	}
	data, err := catalog.ParseProperties(string(raw))
	if err != nil {
		// The parser's errors name a line, not its text.
		return &readResult{err: &Error{Unavailable: true, Message: fmt.Sprintf("cannot be read: %s is not a properties file: %v", path, err)}}
	}
	return &readResult{data: data}
}

// readDirFile reads file name of directory dir, as DirectoryConfigProvider does: only regular
// files directly in dir.
func readDirFile(dir, name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("names %q, which is not a file name", name)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("cannot be read: %s: %v", dir, pathError(err))
	}
	if !st.IsDir() {
		return "", fmt.Errorf("cannot be read: %s is not a directory", dir)
	}
	p := filepath.Join(dir, name)
	st, err = os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("names file %q, which %s does not hold", name, dir)
	case err != nil:
		return "", fmt.Errorf("cannot be read: %s: %v", p, pathError(err))
	case !st.Mode().IsRegular():
		return "", fmt.Errorf("names %s, which is not a regular file", p)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("cannot be read: %s: %v", p, pathError(err))
	}
	return string(raw), nil
}

// pathError is the reason of a file error without the path it repeats.
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
