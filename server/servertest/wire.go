package servertest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server"
	"github.com/fjord-io/fjord/server/workload"
)

// NewServer builds a replica the way `fjord server` does (cmd/fjord's newReplica): a workload
// compiler from wl, a scheduler leader from lc that takes its shapes and operations from the
// compiler, and a server from cfg that runs the leader and serves the compiler's task specs.
// cfg's Store, Logger, ID, LeaseTTL and Registry are used by all three. Start uses it; so does
// bench/.
func NewServer(cfg server.Config, wl workload.Config, lc scheduler.LeaderConfig) (*server.Server, error) {
	if cfg.ID == "" {
		cfg.ID = server.NewReplicaID()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	wl.Store, wl.Logger = cfg.Store, cfg.Logger
	compiler := workload.New(wl)
	lc.Store, lc.ID, lc.LeaseTTL, lc.Logger = cfg.Store, cfg.ID, cfg.LeaseTTL, cfg.Logger
	lc.Shape, lc.Operation = compiler.Shape, compiler.AdvanceOperation
	lc.OnReconcile = server.ReconcileMetric(cfg.Registry)
	leader, err := scheduler.NewLeader(lc)
	if err != nil {
		return nil, err
	}
	cfg.Workload, cfg.Leader = compiler, leader
	return server.New(cfg)
}
