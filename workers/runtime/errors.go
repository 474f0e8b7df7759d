package runtime

import (
	"errors"
	"time"

	"github.com/fjord-io/fjord/workers/catalog"
)

// Stable error codes that start WorkerStatus.error and TaskStatus.error ("CODE: message"); the
// one list of codes is workers/catalog.
const (
	// CodeUnknownConnectorClass: a task's connector_class is not in the Registry.
	CodeUnknownConnectorClass = catalog.CodeUnknownConnectorClass
	// CodeInvalidConfiguration: a TaskFactory refused the task's configuration.
	CodeInvalidConfiguration = catalog.CodeInvalidConfiguration
	// CodeTaskFailed: a task's Run returned an error that carries no code of its own.
	CodeTaskFailed = catalog.CodeTaskFailed
	// CodeTaskPanicked: a task panicked; the panic was recovered and the task restarted.
	CodeTaskPanicked = catalog.CodeTaskPanicked
)

// ExitPermanent is the exit code of a worker that failed in a way a restart cannot fix (an
// unknown connector class, an invalid configuration): its agent reports it FAILED and does not
// restart it until its WorkerSpec changes.
const ExitPermanent = 3

// Error is a worker or task error with a stable code. Tasks may return one from Run to choose
// the code shown to users; Permanent makes the whole worker fail (ExitPermanent) instead of
// restarting the task.
type Error struct {
	// Code is a stable upper-case identifier, e.g. CodeInvalidConfiguration.
	Code string
	// Err says what went wrong, for humans.
	Err error
	// Permanent means retrying cannot help.
	Permanent bool
}

// Error returns "CODE: message", the format of WorkerStatus.error.
func (e *Error) Error() string { return e.Code + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ExitCode maps Run's result to the worker process's exit code: 0 for nil, ExitPermanent for
// a permanent *Error, 1 otherwise.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) && e.Permanent {
		return ExitPermanent
	}
	return 1
}

// Backoff is an exponential restart delay: Initial, doubling up to Max; a run that lasted at
// least ResetAfter starts the sequence again. Zero fields take DefaultBackoff's values.
type Backoff struct {
	// Initial is the first delay; default 1s.
	Initial time.Duration
	// Max caps the delay; default 30s.
	Max time.Duration
	// ResetAfter is how long a run must last for the next delay to be Initial again; default 60s.
	ResetAfter time.Duration
}

// DefaultBackoff is 1s doubling to 30s, reset after 60s of running (the restart policy of
// workers and tasks).
var DefaultBackoff = Backoff{Initial: time.Second, Max: 30 * time.Second, ResetAfter: time.Minute}

// Next returns the delay before the next attempt, given the previous delay (0 if there was
// none) and how long the failed attempt ran.
func (b Backoff) Next(prev, ranFor time.Duration) time.Duration {
	b = b.withDefaults()
	if prev <= 0 || ranFor >= b.ResetAfter {
		return min(b.Initial, b.Max)
	}
	return min(2*prev, b.Max)
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.ResetAfter <= 0 {
		b.ResetAfter = DefaultBackoff.ResetAfter
	}
	return b
}
