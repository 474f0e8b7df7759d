package runtime

import (
	"errors"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/configprovider"
)

// CodeSecretUnavailable: a config-provider reference of a task's configuration cannot be
// resolved (a missing file, key or environment variable).
const CodeSecretUnavailable = catalog.CodeSecretUnavailable

// resolveProviders resolves the config-provider references of t's configuration
// (configprovider) before its factory first sees it: t.spec becomes a copy holding the
// resolved values, and t.resolved scrubs them from the task's errors. A reference that cannot
// be resolved fails the worker permanently: SECRET_UNAVAILABLE when its value cannot be read,
// INVALID_CONFIGURATION when the configuration is wrong.
func resolveProviders(t *taskRun) *Error {
	res, err := configprovider.Resolve(t.spec.Config, os.LookupEnv)
	if err != nil {
		code := CodeInvalidConfiguration
		var pe *configprovider.Error
		if errors.As(err, &pe) && pe.Unavailable {
			code = CodeSecretUnavailable
		}
		return &Error{Code: code, Err: err, Permanent: true}
	}
	spec := proto.CloneOf(t.spec)
	spec.Config = res.Config
	t.spec, t.resolved = spec, res
	return nil
}

// scrubbed returns err with every resolved value of t's configuration in its message replaced
// by its reference; the code and permanence of an *Error are kept, and errors.Is and As still
// see the original.
func (t *taskRun) scrubbed(err error) error {
	if err == nil || t.resolved == nil {
		return err
	}
	msg := t.resolved.Scrub(err.Error())
	if msg == err.Error() {
		return err
	}
	var coded *Error
	if errors.As(err, &coded) {
		return &Error{Code: coded.Code, Permanent: coded.Permanent,
			Err: &scrubbedError{msg: t.resolved.Scrub(coded.Err.Error()), err: err}}
	}
	return &scrubbedError{msg: msg, err: err}
}

// scrubbedError is an error whose message hides resolved values.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
