package configprovider

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fjord-io/fjord/workers/catalog"
)

func env(vars map[string]string) Env {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// providers declares file, env and dir providers and a Secrets Manager one.
func providers(extra map[string]string) confMap {
	m := map[string]string{
		"config.providers":                      "file,env,dir,secretsmanager",
		"config.providers.file.class":           catalog.ProviderFile,
		"config.providers.env.class":            catalog.ProviderEnv,
		"config.providers.dir.class":            catalog.ProviderDirectory,
		"config.providers.secretsmanager.class": catalog.ProviderSecretsManager,
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestResolve(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	props := filepath.Join(dir, "db.properties")
	if err := os.WriteFile(props, []byte("# credentials\nuser = app\npassword=p\\=ss w0rd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secrets, "token"), []byte("t0ken-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	server, _ := json.Marshal(map[string]string{"${secretsmanager:s:password}": "from-${env:HOME}-server"})
	conf := providers(map[string]string{
		catalog.ResolvedKey: string(server),
		"jaas":              `ScramLoginModule required username="${file:` + props + `:user}" password="${file:` + props + `:password}";`,
		"home":              "${env:HOME}/x",
		"token":             "${dir:" + secrets + ":token}",
		"server":            "${secretsmanager:s:password}",
		"plain":             "no reference",
	})
	res, err := Resolve(conf, env(map[string]string{"HOME": "/home/fjord"}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"jaas":   `ScramLoginModule required username="app" password="p=ss w0rd";`,
		"home":   "/home/fjord/x",
		"token":  "t0ken-value\n",
		"server": "from-${env:HOME}-server", // resolved values are not resolved again
		"plain":  "no reference",
	}
	if len(res.Config) != len(want) {
		t.Errorf("resolved configuration keeps provider keys: %v", keysOf(res.Config))
	}
	for k, v := range want {
		if res.Config[k] != v {
			t.Errorf("%s = %q, want %q", k, res.Config[k], v)
		}
	}
	// Scrub hides every resolved value (3 bytes or more) behind its reference.
	msg := res.Scrub(`bad password "p=ss w0rd" for app, token t0ken-value` + "\n")
	if strings.Contains(msg, "w0rd") || strings.Contains(msg, "t0ken") || !strings.Contains(msg, "${file:"+props+":password}") {
		t.Errorf("Scrub: %q", msg)
	}

	// A configuration that declares no provider comes back as is, even with "${" in a value
	// (a replicator's SCRAM password, say).
	plainConf := map[string]string{"a": "b", "jaas": `password="x${y:z}";`}
	if r, err := Resolve(plainConf, env(nil)); err != nil || len(r.Config) != 2 || r.Config["jaas"] != plainConf["jaas"] || r.Scrub("b") != "b" {
		t.Errorf("plain: %v, %v", r, err)
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	props := filepath.Join(dir, "db.properties")
	if err := os.WriteFile(props, []byte("user=app\npassword=hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		value       string
		extra       map[string]string
		unavailable bool
		says        string
	}{
		{"${vault:x:y}", nil, false, `"vault"`},
		{"${file:" + props + ":missing}", nil, true, `key "missing"`},
		{"${file:" + filepath.Join(dir, "none.properties") + ":k}", nil, true, "cannot be read"},
		{"${file:" + props + ":password}", map[string]string{"config.providers.file.param.allowed.paths": "/etc/fjord"}, true, "allowed.paths"},
		{"${env:UNSET}", nil, true, "UNSET"},
		{"${env:FJORD_AGENT_TOKEN}", nil, false, "agent"},
		{"${env:HOME}", map[string]string{"config.providers.env.param.allowlist.pattern": "^KAFKA_"}, true, "allowlist"},
		{"${dir:" + dir + ":nofile}", nil, true, "nofile"},
		{"${dir:" + dir + ":../db.properties}", nil, true, "not a file name"},
		{"${secretsmanager:s:password}", nil, true, "not resolved by the server"},
	}
	for _, c := range cases {
		_, err := Resolve(providers(map[string]string{"the.key": "x" + c.value + "y"}).with(c.extra), env(map[string]string{"HOME": "/h", "FJORD_AGENT_TOKEN": "tok"}))
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: want an *Error, got %v", c.value, err)
			continue
		}
		if pe.Key != "the.key" || pe.Reference != c.value || pe.Unavailable != c.unavailable || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %+v (%v); want unavailable=%v saying %q", c.value, pe, err, c.unavailable, c.says)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "tok\"") {
			t.Errorf("%s: the error holds a value: %v", c.value, err)
		}
	}
	// The file allowed by allowed.paths is read.
	res, err := Resolve(providers(map[string]string{"k": "${file:" + props + ":user}", "config.providers.file.param.allowed.paths": "/etc, " + dir}), env(nil))
	if err != nil || res.Config["k"] != "app" {
		t.Errorf("allowed path: %v, %v", res, err)
	}
}

type confMap map[string]string

func (m confMap) with(extra map[string]string) map[string]string {
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
