package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
)

// Config providers (catalog/providers.go). A connector's worker configuration declares them
// (config.providers=…, config.providers.<name>.class, config.providers.<name>.param.*) and its
// connector configuration refers to them, ${provider:[path:]key}:
//
//   - CreateConnector and UpdateConnector (server/checks.go) refuse a reference to a provider the worker
//     configuration does not declare, or of a class Fjord does not implement, or of the wrong
//     shape, with a BadRequestException naming the key and the provider (Kafka would leave the
//     reference in the value as written).
//   - The scheduler's shape check (Shape) reads every Secrets Manager reference
//     through the secrets cache: a secret or JSON key that cannot be read fails the connector
//     with SECRET_UNAVAILABLE naming the key and the reference, before any worker is placed.
//   - When the task specifications are built (TaskSpecs), the server resolves the Secrets
//     Manager references and hands the values to the worker under catalog.ResolvedKey, with
//     the provider declarations; the worker process resolves the file, environment and
//     directory references on its host and puts everything in place in one pass
//     (workers/configprovider) before the tasks read their configuration.
//
// Resolved values are never stored, logged or returned: the API shows the references, errors
// name the key and the reference.

// WorkerConfigurationRef is a connector's worker configuration, as given to CreateConnector or
// described.
type WorkerConfigurationRef interface {
	GetWorkerConfigurationArn() string
	GetRevision() int64
}

// serverReference is a Secrets Manager reference of a connector configuration.
type serverReference struct {
	key    string // the configuration key holding it
	ref    catalog.Reference
	secret catalog.SecretRef
}

// providerPlan is what the server resolves for a connector version: the provider declarations
// of its worker configuration and its Secrets Manager references. It holds no secret value.
type providerPlan struct {
	declarations map[string]string // config.providers* keys of the worker configuration
	refs         []serverReference
	err          error  // the configuration cannot be resolved (INVALID_CONFIGURATION)
	role         string // the connector's service execution role, which reads the secrets
}

// connectorProviderPlan builds the plan of connector r (d is its description); nil when its
// configuration has no reference.
func (w *Compiler) connectorProviderPlan(ctx context.Context, r *store.Resource, conf map[string]string, d *kc.DescribeConnectorResponse) (*providerPlan, error) {
	keys := make([]string, 0, len(conf))
	for k, v := range conf {
		if catalog.HasReference(v) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	sort.Strings(keys)
	props, err := w.WorkerProperties(ctx, d.GetWorkerConfiguration())
	if errors.Is(err, store.ErrNotFound) {
		return &providerPlan{err: fmt.Errorf("the connector's configuration refers to config providers, and %v", err)}, nil
	}
	if err != nil {
		return nil, err
	}
	plan := &providerPlan{declarations: map[string]string{}}
	for k, v := range props {
		if catalog.IsProviderKey(k) {
			plan.declarations[k] = v
		}
	}
	if problems := catalog.CheckReferences(conf, props); len(problems) > 0 {
		plan.err = problems[0]
		return plan, nil
	}
	providers := catalog.ParseProviders(props)
	for _, k := range keys {
		for _, ref := range catalog.References(conf[k]) {
			p := providers[ref.Provider]
			if p.Resolver() != "server" {
				continue
			}
			sr, err := catalog.SecretsManagerRef(p, ref)
			if err != nil {
				return &providerPlan{err: fmt.Errorf("%s: %s %v", k, ref.Text, err)}, nil
			}
			if sr.Region == "" {
				sr.Region = r.Region
			}
			plan.refs = append(plan.refs, serverReference{key: k, ref: ref, secret: sr})
		}
	}
	return plan, nil
}

// resolveReference reads the value of a Secrets Manager reference. Its errors are
// *secretError (Transient when Secrets Manager could not be reached) and name the secret and
// the JSON key, never a value.
func (w *Compiler) resolveReference(ctx context.Context, sr catalog.SecretRef, role string) (string, error) {
	v, err := w.secrets.value(ctx, sr.SecretID, sr.Region, role)
	if err != nil {
		return "", err
	}
	if sr.JSONKey == "" {
		return string(v.raw), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(v.raw, &obj); err != nil {
		// The JSON error could quote part of the secret: leave it out.
		return "", &secretError{ARN: sr.SecretID, Err: fmt.Errorf("%s is not a JSON object, so it has no key %q", v.where, sr.JSONKey)}
	}
	raw, ok := obj[sr.JSONKey]
	if !ok {
		return "", &secretError{ARN: sr.SecretID, Err: fmt.Errorf("%s has no key %q", v.where, sr.JSONKey)}
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		return str, nil
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[' || string(raw) == "null") {
		return "", &secretError{ARN: sr.SecretID, Err: fmt.Errorf("key %q of %s is not a string, number or boolean", sr.JSONKey, v.where)}
	}
	return string(raw), nil // a number or a boolean, as written
}

// resolveConfigProviders prepares a connector's task configuration conf for its worker: the
// provider declarations of its worker configuration, and the values of its Secrets Manager
// references under catalog.ResolvedKey.
func (w *Compiler) resolveConfigProviders(ctx context.Context, r *store.Resource, d *kc.DescribeConnectorResponse, conf map[string]string) error {
	// Only the worker configuration declares providers (as in Kafka Connect), and only the
	// server hands out resolved values.
	for k := range conf {
		if catalog.IsProviderKey(k) || k == catalog.ResolvedKey {
			delete(conf, k)
		}
	}
	plan, err := w.connectorProviderPlan(ctx, r, conf, d)
	if err != nil || plan == nil {
		return err
	}
	if plan.err != nil {
		return plan.err
	}
	for k, v := range plan.declarations {
		conf[k] = v
	}
	if len(plan.refs) == 0 {
		return nil
	}
	values := make(map[string]string, len(plan.refs))
	for _, sr := range plan.refs {
		v, err := w.resolveReference(ctx, sr.secret, d.GetServiceExecutionRoleArn())
		if err != nil {
			return fmt.Errorf("%s: config provider reference %s: %w", sr.key, sr.ref.Text, err)
		}
		values[sr.ref.Text] = v
	}
	raw, err := json.Marshal(values)
	if err != nil {
		return errors.New("encode the resolved config provider values")
	}
	conf[catalog.ResolvedKey] = string(raw)
	return nil
}

// connectorProviderShape is Shape's check of a connector's config providers: a
// configuration that cannot be resolved fails it with INVALID_CONFIGURATION, a Secrets Manager
// reference whose secret or key cannot be read with SECRET_UNAVAILABLE (both naming the key
// and the reference). The plan is built once per connector version; the secrets are read
// through the secrets cache.
func (w *Compiler) connectorProviderShape(r *store.Resource, sh scheduler.Shape) (scheduler.Shape, error) {
	key := r.ARN + "@" + r.CurrentVersion
	var plan *providerPlan
	if v, ok := w.providerPlans.Load(key); ok {
		plan = v.(*providerPlan)
	} else {
		d, err := ConnectorDescription(r)
		if err != nil {
			return sh, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
		plan, err = w.connectorProviderPlan(ctx, r, d.ConnectorConfiguration, d)
		cancel()
		if err != nil {
			return sh, err
		}
		if plan == nil {
			plan = &providerPlan{}
		}
		plan.role = d.GetServiceExecutionRoleArn()
		if w.providerPlanCount.Add(1) > 10_000 {
			w.providerPlans.Clear() // bounded: stale versions are never asked for again
			w.providerPlanCount.Store(0)
		}
		w.providerPlans.Store(key, plan)
	}
	if plan.err != nil {
		return scheduler.Shape{FailCode: catalog.CodeInvalidConfiguration, FailMessage: plan.err.Error()}, nil
	}
	for _, ref := range plan.refs {
		ctx, cancel := context.WithTimeout(context.Background(), secretTimeout)
		_, err := w.resolveReference(ctx, ref.secret, plan.role)
		cancel()
		var se *secretError
		switch {
		case err == nil:
		case errors.As(err, &se) && !se.Transient:
			return scheduler.Shape{FailCode: catalog.CodeSecretUnavailable, FailMessage: fmt.Sprintf(
				"config provider reference %s of connector configuration key %s cannot be resolved: %v", ref.ref.Text, ref.key, err)}, nil
		default:
			w.log.Warn("read a connector's config provider secret; will retry", "workload_arn", r.ARN, "key", ref.key,
				"reference", ref.ref.Text, "error", err)
		}
	}
	return sh, nil
}
