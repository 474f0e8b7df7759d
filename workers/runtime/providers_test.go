package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/catalog"
)

// TestConfigProvidersResolvedBeforeTheFactory: a task's factory sees its configuration with
// the references resolved and without the provider keys; an error quoting a resolved value is
// reported with the reference instead.
func TestConfigProvidersResolvedBeforeTheFactory(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-Value"
	resolved, _ := json.Marshal(map[string]string{"${sm:db:password}": secret})
	conf := map[string]string{
		"config.providers":          "sm",
		"config.providers.sm.class": catalog.ProviderSecretsManager,
		catalog.ResolvedKey:         string(resolved),
		"password":                  "${sm:db:password}",
	}
	var mu sync.Mutex
	var seen map[string]string
	reg := Registry{"test.Refusing": func(_ context.Context, spec *agentv1.TaskSpec, _ TaskEnv) (Task, error) {
		mu.Lock()
		seen = spec.Config
		mu.Unlock()
		return nil, errors.New("password " + spec.Config["password"] + " is too short")
	}}
	out := newSink()
	err := Run(context.Background(), spec(task(0, "test.Refusing", conf)), reg, out, testLogger(t))
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen["password"] != secret {
		t.Fatalf("the factory saw %v, want only the resolved password", seen)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalidConfiguration || ExitCode(err) != ExitPermanent {
		t.Fatalf("Run = %v, want a permanent INVALID_CONFIGURATION", err)
	}
	st := out.statuses()
	last := st[len(st)-1]
	if want := "INVALID_CONFIGURATION: password ${sm:db:password} is too short"; last.Error != want || err.Error() != want {
		t.Errorf("error %q, status %q; want %q", err, last.Error, want)
	}
	if strings.Contains(out.dump(), secret) {
		t.Error("a status line holds the resolved value")
	}
}

// TestUnresolvableReferenceFailsTheWorker: a reference that cannot be resolved fails the
// worker with SECRET_UNAVAILABLE naming the key and the reference; no task is built.
func TestUnresolvableReferenceFailsTheWorker(t *testing.T) {
	t.Parallel()
	f := newFakes()
	out := newSink()
	conf := map[string]string{
		"config.providers":                "env",
		"config.providers.env.class":      catalog.ProviderEnv,
		"source.cluster.sasl.jaas.config": "x password=${env:RUNTIME_TEST_UNSET_VARIABLE_0x5f};",
	}
	err := Run(context.Background(), spec(task(0, "test.Counting", conf), task(1, "test.Counting", nil)), f.registry(), out, testLogger(t))
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeSecretUnavailable || ExitCode(err) != ExitPermanent {
		t.Fatalf("Run = %v, want a permanent SECRET_UNAVAILABLE", err)
	}
	if !strings.Contains(err.Error(), "source.cluster.sasl.jaas.config") || !strings.Contains(err.Error(), "${env:RUNTIME_TEST_UNSET_VARIABLE_0x5f}") {
		t.Errorf("error does not name the key and the reference: %v", err)
	}
	if f.count(f.builds, 0)+f.count(f.builds, 1) != 0 {
		t.Error("a task was built")
	}
}
