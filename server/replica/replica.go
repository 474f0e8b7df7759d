// Package replica wires one control-plane replica out of its parts: the workload compiler
// (server/workload), the scheduler's leader, which takes its shapes and operation steps from the
// compiler, and the API server, which runs the leader and hands the compiler's task specs to
// agents. cmd/fjord builds its configurations from flags; tests and benchmarks use it too, so
// the wiring exists once.
package replica

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server"
	"github.com/fjord-io/fjord/server/workload"
)

// New wires one replica: the workload compiler (wl), the scheduler's leader (lc) and the API
// server (cfg). cfg's Store, Logger, ID, LeaseTTL and Registry are used by all three; the
// compiler's and leader's fields they fill need not be set.
func New(cfg server.Config, wl workload.Config, lc scheduler.LeaderConfig) (*server.Server, error) {
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
