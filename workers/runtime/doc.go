// Package runtime is what `fjord worker` runs: it starts the tasks of one WorkerSpec, keeps
// them running and tells its agent how they are doing.
//
// # The worker's contract with its agent
//
// The agent starts `fjord worker` with the WorkerSpec as one protojson line on stdin
// (ReadSpec) and GOMAXPROCS / GOMEMLIMIT sized to the worker's MCU. The worker writes JSON
// lines to stdout (Line), and nothing else:
//
//	{"status": <fjord.agent.v1.WorkerStatus as protojson>}   on every change of state
//	{"metrics": <fjord.agent.v1.WorkerMetrics as protojson>} every MetricsInterval (default 5s)
//
// Logs go to stderr. SIGTERM (a cancelled ctx) stops every task gracefully — each finishes its
// in-flight batch and records its progress — and the last line is a STOPPED status. The exit
// code says what the agent should do (ExitCode): 0 after a clean stop, ExitPermanent (3) when
// retrying cannot help (unknown connector class, invalid configuration), anything else is a
// crash that the agent retries with backoff.
//
// # Worker and task states
//
// Each task goes STARTING (its factory runs) → RUNNING (its Run was entered, as Kafka Connect
// calls a task RUNNING once it started) → FAILED (Run returned an error; the task is restarted
// in-process after a backoff of 1s doubling to 30s, reset after 60s of running) → STARTING … and
// STOPPED at the end. A task error is not fatal to the worker; an *Error with Permanent set is:
// the worker stops its other tasks, reports FAILED and Run returns that error.
//
// The worker's state is derived from its tasks: FAILED if any task is FAILED (error: the first
// failed task's), RUNNING when every task runs, STARTING otherwise, STOPPED at the end.
//
// # Concurrency
//
// Run's goroutine owns every TaskStatus, the status/metrics dedup state and the stdout writer;
// it is the only writer of stdout. Each task has one supervisor goroutine that builds, runs and
// restarts it and reports transitions to Run over an unbuffered channel; Run keeps receiving
// until every supervisor has returned (a WaitGroup closes allDone), so a supervisor never blocks
// forever and no transition is lost. Tasks report throughput, lag and latency through
// TaskMetrics, which is lock-free (atomics) and read by Run on every metrics tick. Stopping is
// context cancellation: supervisors return once their task's Run returned, and Run writes the
// final status after allDone.
package runtime
