// Package agent is `fjord agent`: it offers MCU capacity to a Fjord server over the agent
// protocol (fjord.agent.v1.AgentGateway, api-docs/architecture.md), runs every worker the server assigns as
// a child process (`fjord worker`, package workers/runtime), and reports their status and
// metrics. It knows the control plane only through that stream.
//
// # Identity
//
// Before its first stream the agent needs its own credential (identity.go, api-docs/agent-identity.md):
// the key, client certificate and Fjord CA kept in Config.StateDir, or else a new enrollment —
// the CA pinned by CAFingerprint/ServerCA or learnt with Discover (its MAC checked with the
// join token), then Enroll with the token and a certificate request. Every stream is mutual
// TLS with that certificate (ServerName GatewayServerName); the token is not sent again. A
// stream refused with PermissionDenied (the certificate revoked) stops the agent's workers.
//
// # Stream
//
// One Connect stream at a time: Hello{agent_id, mcu_capacity, version, labels, running, instance} first,
// then Heartbeat{applied_generation} every Welcome.heartbeat_interval, WorkerStatus on every
// change, WorkerMetrics every MetricsInterval (or the Welcome's shorter max_metrics_interval:
// the server's autoscaler needs samples in every third of its window). The server answers with Welcome and then the
// whole DesiredWorkers set whenever it changes. When the stream breaks the agent reconnects
// forever (ReconnectBackoff, 1s doubling to 30s, reset by a Welcome) and its workers KEEP
// RUNNING; the next Hello lists them in running. Messages produced while disconnected are
// dropped — the state is level-triggered, and Hello plus the next statuses carry it again.
//
//	disconnected ──open──▶ streaming (Hello sent) ──Welcome──▶ welcomed (heartbeats, /readyz 200)
//	     ▲                        │                                  │
//	     └──── backoff ◀── Recv/Send error, stuck outbox ◀───────────┘
//	ctx done: Goodbye → drain workers → STOPPED each → CloseSend → server ends the stream → Run returns
//
// # Workers
//
// Each desired worker has a supervisor that owns its process:
//
//	                 spec                 worker line            every task runs
//	(none) ──────▶ STARTING (process) ─────────────────▶ … ─────────────▶ RUNNING
//	                 ▲     │ exit ≠ 0, ≠ 3 (crash)
//	    backoff ends │     ▼
//	                 FAILED "WORKER_EXITED: …", restarts+1, wait 1s·2ⁿ ≤ 30s (reset after 60s up)
//	exit 3 (runtime.ExitPermanent): FAILED with the worker's error, no restart until a new spec
//	new spec (epoch, tasks or anything else changed): stop (below), STOPPED(old epoch), start
//	removed or draining: stop, STOPPED, supervisor ends
//
// Stopping is SIGTERM, then up to DrainTimeout for the worker to finish its in-flight batches
// and record progress, then SIGKILL. A worker gets GOMAXPROCS = its MCU and GOMEMLIMIT = 90% of
// MCU × 4 GiB (a soft limit the GC steers by; no RLIMIT_AS, since Go reserves much more address
// space than it uses — a hard ceiling belongs to the operator's cgroup). Workers run in their
// own process group and, on Linux, die with the agent (Pdeathsig): kill -9 of an agent leaves no
// orphan; its workers are re-placed after the lease TTL and exactly-once fencing stops zombies.
// CPU and memory are read from /proc/<pid>/stat and /proc/<pid>/status every MetricsInterval:
// cpu_utilization = CPU seconds ÷ (MCU × wall seconds), memory_utilization = RSS ÷ (MCU × 4
// GiB), merged with the throughput, lag and latency the worker reports on stdout.
//
// A worker's restarts count process restarts plus in-process task restarts, since the worker
// was assigned its current spec. applied_generation advances when every desired worker runs (or
// waits to be restarted under) its current spec and every other worker is gone; a heartbeat is
// sent at once when it does.
//
// # Concurrency
//
// Goroutines and what they own:
//
//   - the loop (Run's goroutine) owns all agent state: the desired set and generations, the
//     supervisors map and each supervisor's loop-side fields (spec, applied, status, stopping),
//     the current session pointer and its outbox, the heartbeat ticker, and every write to
//     Prometheus series that name a worker (so a series is never set after it was deleted);
//   - the dialer opens streams one at a time, receives on the current one, and reports
//     sessionUp / welcomed / desiredSet / sessionDown to the loop;
//   - one sender per stream is the only caller of Send and CloseSend; it drains the outbox,
//     which only the loop writes (non-blocking: a full outbox drops the stream) and closes;
//   - one supervisor per worker id owns that worker's process, restart timer and counters; it
//     reports supStatus / supMetrics / supApplied and, last, supDone. The loop talks to it only
//     through a one-slot mailbox (latest spec wins; nil = stop for good), so the loop never
//     blocks on a supervisor stuck in a drain;
//   - per process, a waiter (cmd.Wait) and a stdout reader; the supervisor always drains the
//     reader, and releases it (quit + closing the pipe) after the exit;
//   - the spawner, locked to one OS thread, forks every worker (Pdeathsig is tied to the forking
//     thread); supervisors call it synchronously, and Run closes it after the last supervisor.
//
// Everything reports to the loop over one unbuffered channel, and the loop never blocks on
// anything but its select, so no sender can be stuck. The loop returns only when draining is
// done (no supervisor left, each having sent supDone) and the dialer has returned (after its
// sessionDown), so no goroutine outlives Run; the gRPC connection is closed last. Streams use a
// context detached from Run's ctx, so that the drain can still report; it is cancelled once the
// server closed the stream, or after closeTimeout.
package agent
