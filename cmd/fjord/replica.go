package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server"
	"github.com/fjord-io/fjord/server/workload"
)

// newReplica wires one control-plane replica: the workload compiler (wl), the scheduler's
// leader (lc), which takes its shapes and operation steps from the compiler, and the API server
// (cfg), which runs the leader and hands the compiler's task specs to agents. cfg's Store,
// Logger, ID, LeaseTTL and Registry are used by all three. (servertest.NewServer is the
// tests' copy.)
func newReplica(cfg server.Config, wl workload.Config, lc scheduler.LeaderConfig) (*server.Server, error) {
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
