package agent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fjord-io/fjord/workers/runtime"
)

// Config configures an Agent. New fills in the defaults documented on each field.
type Config struct {
	// ServerAddr is the gRPC address (host:port) of any Fjord server replica. Required.
	ServerAddr string
	// Token is the join token (the server's --agent-token), presented once to enroll (metadata
	// "authorization: Bearer <token>"). Required.
	Token string
	// StateDir keeps the agent's enrolled identity — its private key (agent.key, 0600), its
	// certificate (agent.crt) and the Fjord CA (ca.crt) — across restarts; "" keeps it in
	// memory only (a restarted agent cannot enroll the same id again until it is revoked).
	StateDir string
	// CAFingerprint ("sha256:<hex>") or ServerCA (PEM) pins the Fjord CA for the first
	// enrollment: the server's agent gateway must present a certificate of that CA. With
	// neither, the agent learns the CA with Discover, authenticated by the join token. Once
	// enrolled the CA kept in StateDir is used (and a stored identity of another CA than a
	// given pin names is replaced by a new enrollment).
	CAFingerprint string
	ServerCA      []byte
	// AgentID identifies the agent across restarts; default the hostname (fjord agent numbers it
	// per host: ClaimDefaultID).
	AgentID string
	// MCU is the capacity the agent offers (1 MCU = 1 vCPU + 4 GiB); at least 1.
	MCU int
	// Version is reported in Hello (the fjord build version).
	Version string
	// Labels are reported in Hello (placement hints such as zone).
	Labels map[string]string

	// WorkerCommand is the argv of a worker process, e.g. {"/usr/bin/fjord", "worker"}; the
	// agent writes the WorkerSpec to its stdin as one protojson line. Required.
	WorkerCommand []string
	// WorkerEnv is added to the agent's own environment for workers ("KEY=value"); GOMAXPROCS,
	// GOMEMLIMIT and runtime.EnvMetricsInterval are set by the agent and win.
	WorkerEnv []string
	// Stderr receives the workers' stderr (their logs); default os.Stderr.
	Stderr io.Writer

	// DrainTimeout is how long a stopped worker may take to finish its in-flight batches after
	// SIGTERM before it is killed; default 30s.
	DrainTimeout time.Duration
	// MetricsInterval is how often the agent measures each worker and sends WorkerMetrics (and
	// how often workers report their throughput); default 5s. A server whose autoscaler needs
	// samples more often says so in its Welcome (max_metrics_interval), and wins.
	MetricsInterval time.Duration
	// RestartBackoff is the delay before restarting a worker process that exited unexpectedly;
	// default runtime.DefaultBackoff (1s doubling to 30s, reset after 60s of running).
	RestartBackoff runtime.Backoff
	// ReconnectBackoff is the delay between attempts to open the stream; default 1s doubling
	// to 30s, back to 1s after a stream that the server welcomed (ResetAfter is unused).
	ReconnectBackoff runtime.Backoff

	// Logger receives the agent's logs; default slog.Default().
	Logger *slog.Logger
	// Registry receives the agent's metrics; default a new registry.
	Registry *prometheus.Registry
}

// Default values of Config fields.
const (
	DefaultDrainTimeout    = 30 * time.Second
	DefaultMetricsInterval = 5 * time.Second
	// defaultHeartbeat applies until a Welcome names the interval.
	defaultHeartbeat = 3 * time.Second
	// closeTimeout bounds the wait for the server to end the stream after the agent closed
	// its side at the end of a drain.
	closeTimeout = 5 * time.Second
	// outboxSize is how many messages may wait for a slow stream before the agent gives the
	// stream up and reconnects (Hello then carries the current state).
	outboxSize = 1024
	// bytesPerMCU is the memory of one MCU.
	bytesPerMCU = 4 << 30
	// memoryLimitShare is the share of the MCU's memory given to GOMEMLIMIT, leaving headroom
	// for what the Go runtime does not count (stacks, cgo, fragmentation).
	memoryLimitShare = 0.9
)

func (c *Config) validate() error {
	var errs []error
	if c.ServerAddr == "" {
		errs = append(errs, errors.New("ServerAddr is required"))
	}
	if c.Token == "" {
		errs = append(errs, errors.New("Token is required (the server's join token)"))
	}
	if c.MCU < 1 {
		errs = append(errs, fmt.Errorf("MCU must be at least 1, got %d", c.MCU))
	}
	if len(c.WorkerCommand) == 0 || c.WorkerCommand[0] == "" {
		errs = append(errs, errors.New("WorkerCommand is required"))
	}
	if c.DrainTimeout < 0 || c.MetricsInterval < 0 {
		errs = append(errs, errors.New("DrainTimeout and MetricsInterval cannot be negative"))
	}
	return errors.Join(errs...)
}

func (c *Config) setDefaults() error {
	if c.AgentID == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("default AgentID: %w", err)
		}
		c.AgentID = h
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.MetricsInterval == 0 {
		c.MetricsInterval = DefaultMetricsInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	return nil
}

// Agent runs the workers a Fjord server assigns to it. Create it with New, run it with Run.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	started atomic.Bool
	// ready is true while a stream is open and welcomed (for /readyz).
	ready atomic.Bool
	// sampleEvery is the interval at which workers are measured now: MetricsInterval, or
	// the server's shorter Welcome.max_metrics_interval (nanoseconds).
	sampleEvery atomic.Int64
	// instance is random per Agent (Hello.instance): the server tells a reconnect of this
	// agent from another process using the same id.
	instance string
}

// MinMetricsInterval bounds how often a worker is measured, whatever the server asks.
const MinMetricsInterval = 100 * time.Millisecond

// metricsInterval is the interval at which workers are measured now.
func (a *Agent) metricsInterval() time.Duration { return time.Duration(a.sampleEvery.Load()) }

// New validates cfg, fills in its defaults and registers the agent's metrics.
func New(cfg Config) (*Agent, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("agent config: %w", err)
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("agent config: %w", err)
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("register agent metrics: %w", err)
	}
	m.mcuCapacity.Set(float64(cfg.MCU))
	inst := make([]byte, 8)
	if _, err := rand.Read(inst); err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, m: m, log: cfg.Logger.With("component", "agent", "agent_id", cfg.AgentID), instance: hex.EncodeToString(inst)}
	a.sampleEvery.Store(int64(cfg.MetricsInterval))
	return a, nil
}

// Handler serves the agent's HTTP endpoints: /metrics (the Config.Registry), /healthz (200
// while the process lives) and /readyz (200 while a stream to a server is open, else 503).
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.cfg.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not connected to a Fjord server", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}

// metrics are the agent's own Prometheus metrics; the per-worker gauges under MSK's names come
// from runtime.WorkloadGauges. The loop goroutine is their only writer.
type metrics struct {
	workers      *prometheus.GaugeVec
	restarts     *prometheus.CounterVec
	connected    prometheus.Gauge
	mcuCapacity  prometheus.Gauge
	mcuAssigned  prometheus.Gauge
	appliedGen   prometheus.Gauge
	workerGauges *runtime.WorkloadGauges
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		workers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fjord_agent_workers", Help: "Workers on this agent by state (starting, running, failed, stopped).",
		}, []string{"state"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fjord_agent_worker_restarts_total", Help: "Restarts of a worker after a crash of its process or of one of its tasks.",
		}, runtime.WorkloadLabels),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fjord_agent_connected", Help: "1 while the agent's stream to a Fjord server is open and welcomed.",
		}),
		mcuCapacity: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fjord_agent_mcu_capacity", Help: "MCU the agent offers (1 MCU = 1 vCPU + 4 GiB).",
		}),
		mcuAssigned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fjord_agent_mcu_assigned", Help: "MCU of the workers the server assigned to the agent.",
		}),
		appliedGen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fjord_agent_applied_generation", Help: "The last DesiredWorkers generation the agent converged to.",
		}),
	}
	for _, c := range []prometheus.Collector{m.workers, m.restarts, m.connected, m.mcuCapacity, m.mcuAssigned, m.appliedGen} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	g, err := runtime.NewWorkloadGauges(reg, true)
	if err != nil {
		return nil, err
	}
	m.workerGauges = g
	return m, nil
}
