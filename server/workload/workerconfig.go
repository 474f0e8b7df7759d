package workload

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
)

// A connector's worker configuration (CreateConnector's workerConfiguration: an ARN and a
// revision of Java properties) is merged into its tasks' configuration when their specs are
// built, as a Kafka Connect worker applies its own configuration to the connectors it runs.
// The keys a worker configuration may hold are MSK Connect's (forbiddenWorkerKeys refuses the
// others at CreateWorkerConfiguration); of those, these reach the tasks:
//
//   - key.converter, value.converter, header.converter with their options (<key>.<option>):
//     the connector's converter wins, and is configured with the connector's options only;
//     a converter taken from the worker is configured with the worker's options only (Connect's
//     Worker.startTask / Plugins.newConverter);
//   - producer.* and consumer.*: the connector's clients' settings, unless the connector sets
//     the same key; the connector's producer.override.* and consumer.override.* win over them
//     in any case (workers/mm2 reads the override prefixes first);
//   - offset.flush.interval.ms and offset.flush.timeout.ms: worker keys, so the worker's value
//     wins over one the connector sets;
//   - config.providers and config.providers.*: worker keys, the worker's value wins.
//
// Values are copied verbatim (${…} references included). Every other worker key is a setting
// of the Connect worker itself that Fjord's runtime owns, and stays out of the tasks.

// workerConverterKeys are the converter keys a worker configuration supplies by default.
var workerConverterKeys = []string{"key.converter", "value.converter", "header.converter"}

// workerOnlyKeys are worker keys whose worker value wins over a connector's.
var workerOnlyKeys = []string{"offset.flush.interval.ms", "offset.flush.timeout.ms", "config.providers"}

// mergeWorkerConfig returns the connector's configuration with its worker configuration's
// properties applied; neither map is modified.
func mergeWorkerConfig(worker, connector map[string]string) map[string]string {
	out := make(map[string]string, len(connector)+len(worker))
	for k, v := range connector {
		out[k] = v
	}
	if len(worker) == 0 {
		return out
	}
	for _, conv := range workerConverterKeys {
		class, ok := worker[conv]
		if _, own := connector[conv]; own || !ok {
			continue
		}
		prefix := conv + "."
		for k := range out {
			if strings.HasPrefix(k, prefix) {
				delete(out, k)
			}
		}
		out[conv] = class
		for k, v := range worker {
			if strings.HasPrefix(k, prefix) {
				out[k] = v
			}
		}
	}
	for k, v := range worker {
		switch {
		case strings.HasPrefix(k, "producer.") || strings.HasPrefix(k, "consumer."):
			if _, set := out[k]; !set {
				out[k] = v
			}
		case isWorkerOnlyKey(k):
			out[k] = v
		}
	}
	return out
}

func isWorkerOnlyKey(k string) bool {
	for _, w := range workerOnlyKeys {
		if k == w || strings.HasPrefix(k, "config.providers.") {
			return true
		}
	}
	return false
}

// connectorTaskConfig is the configuration a connector's tasks run with: its connector
// configuration merged with its worker configuration's revision, if it has one. A revision
// that cannot be read is an error, never a silent fallback to the connector's keys alone.
func (w *Compiler) connectorTaskConfig(ctx context.Context, d *kc.DescribeConnectorResponse) (map[string]string, error) {
	worker, err := w.WorkerProperties(ctx, d.GetWorkerConfiguration())
	if err != nil {
		return nil, fmt.Errorf("connector %s: %w", d.GetConnectorArn(), err)
	}
	return mergeWorkerConfig(worker, d.ConnectorConfiguration), nil
}

// WorkerProperties reads and parses a connector's worker configuration revision (as given to
// CreateConnector or described); nil when the connector has none.
func (w *Compiler) WorkerProperties(ctx context.Context, wc WorkerConfigurationRef) (map[string]string, error) {
	if wc == nil || wc.GetWorkerConfigurationArn() == "" {
		return nil, nil
	}
	arn, revision := wc.GetWorkerConfigurationArn(), wc.GetRevision()
	rev, err := w.st.WorkerConfigurations.Revision(ctx, arn, revision)
	if err != nil {
		return nil, &workerConfigError{arn: arn, revision: revision, err: err, permanent: errors.Is(err, store.ErrNotFound)}
	}
	raw, err := base64.StdEncoding.DecodeString(string(rev.Secret))
	if err != nil {
		return nil, &workerConfigError{arn: arn, revision: revision, err: errors.New("its properties are not base64"), permanent: true}
	}
	props, err := catalog.ParseProperties(string(raw))
	if err != nil {
		return nil, &workerConfigError{arn: arn, revision: revision, err: err, permanent: true}
	}
	return props, nil
}

// workerConfigError is a worker configuration revision that cannot be read.
type workerConfigError struct {
	arn      string
	revision int64
	err      error
	// permanent: the revision is gone or its content unusable; otherwise the store failed
	// and a retry may succeed.
	permanent bool
}

func (e *workerConfigError) Error() string {
	if errors.Is(e.err, store.ErrNotFound) {
		return fmt.Sprintf("revision %d of worker configuration %s no longer exists", e.revision, e.arn)
	}
	return fmt.Sprintf("revision %d of worker configuration %s cannot be read: %v", e.revision, e.arn, e.err)
}

func (e *workerConfigError) Unwrap() error { return e.err }

// workerConfigShape fails a connector (INVALID_CONFIGURATION) whose worker configuration
// revision is gone or unusable, so that it turns FAILED with the reason instead of waiting for
// tasks that can never be built. A transient store error leaves sh as is: the task specs
// report it (and are retried) until the revision can be read.
func (w *Compiler) workerConfigShape(kind string, r *store.Resource, sh scheduler.Shape) scheduler.Shape {
	if kind != KindConnector || sh.FailCode != "" {
		return sh
	}
	d, err := DescribeConnector(r, false)
	if err != nil || d.GetWorkerConfiguration() == nil {
		return sh
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = w.WorkerProperties(ctx, d.GetWorkerConfiguration())
	var we *workerConfigError
	switch {
	case err == nil:
	case errors.As(err, &we) && we.permanent:
		return scheduler.Shape{FailCode: catalog.CodeInvalidConfiguration, FailMessage: "workerConfiguration: " + err.Error()}
	default:
		w.log.Warn("read worker configuration; will retry", "workload_arn", r.ARN, "error", err)
	}
	return sh
}
