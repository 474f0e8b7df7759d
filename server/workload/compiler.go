// Package workload compiles stored connectors and replicators into what the scheduler and the
// workers need: their shape (worker count, size, task count, autoscaling policy, or the reason
// they cannot run), their task specifications (connector configuration merged with the worker
// configuration, config-provider declarations and Secrets Manager values, the Connect runtime's
// keys; a replicator's MirrorMaker 2 configuration with its clusters' security settings and
// SCRAM credentials), and the advancement of their operations (UpdateConnector,
// UpdateReplicationInfo).
//
// A Compiler depends on the store and its Config only: cmd wires its Shape and
// AdvanceOperation into the scheduler's leader and its TaskSpecs, through the server, into the
// agent gateway. server/ imports this package; this package never imports server/.
package workload

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fjord-io/fjord/store"
)

// Config is what a Compiler needs. Zero values take the defaults documented on each field.
type Config struct {
	// Store holds the workloads, worker configurations, clusters and tags. Required.
	Store *store.Store
	// SecretsEndpoint is the Secrets Manager endpoint from which SASL/SCRAM secrets and
	// connectors' Secrets Manager references are read (e.g. http://127.0.0.1:5000); "" = the
	// AWS SDK's own resolution (AWS_ENDPOINT_URL_SECRETS_MANAGER, shared config, AWS). The
	// region is the secret ARN's.
	SecretsEndpoint string
	// SecretsDir, when set, is a folder of local secrets read before Secrets Manager:
	// <SecretsDir>/<secret name>.json (see secrets.go).
	SecretsDir string
	// ReplicatorDelivery is the replicators' default delivery guarantee, DeliveryExactlyOnce
	// (the default, "") or DeliveryAtLeastOnce; a replicator's fjord:delivery tag overrides it.
	ReplicatorDelivery string
	// UpdateValidation is how long a connector's workers must run an update's target before
	// the operation completes; default 10s. UpdateTimeout bounds an update step and a
	// rollback, and how long a replicator stays UPDATING with workers that do not settle;
	// default 5m.
	UpdateValidation, UpdateTimeout time.Duration
	// Logger receives the compiler's warnings (secrets or worker configurations that cannot be
	// read yet); default slog.Default().
	Logger *slog.Logger
}

// Compiler turns stored workloads into shapes and task specifications and advances their
// operations. It is safe for concurrent use.
type Compiler struct {
	cfg     Config
	st      *store.Store
	log     *slog.Logger
	secrets *secrets

	// shapes caches BaseShape by ARN@version (CachedShape).
	shapes     sync.Map
	shapeCount atomic.Int64
	// providerPlans caches connectors' config-provider plans (providers.go) by ARN@version.
	providerPlans     sync.Map
	providerPlanCount atomic.Int64
}

// New returns a Compiler; it panics without cfg.Store.
func New(cfg Config) *Compiler {
	if cfg.Store == nil {
		panic("workload: Config.Store is required")
	}
	if cfg.UpdateValidation <= 0 {
		cfg.UpdateValidation = 10 * time.Second
	}
	if cfg.UpdateTimeout <= 0 {
		cfg.UpdateTimeout = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Compiler{cfg: cfg, st: cfg.Store, log: cfg.Logger.With("component", "workload"),
		secrets: newSecrets(cfg.SecretsDir, cfg.SecretsEndpoint)}
}
