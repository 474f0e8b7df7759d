package artifact

import "errors"

// Kinds of failure. An [*Error] matches exactly one of them with errors.Is.
var (
	// ErrInvalidLocation means the s3Location itself is unusable: a bucketArn
	// that is not an S3 bucket ARN, an empty or unsafe fileKey, or an
	// objectVersion the store cannot serve.
	ErrInvalidLocation = errors.New("invalid S3 location")
	// ErrContentType means contentType is neither ZIP nor JAR.
	ErrContentType = errors.New("unsupported content type")
	// ErrNotFound means the bucket, the object or the object version does not
	// exist.
	ErrNotFound = errors.New("not found")
	// ErrAccessDenied means the store refused Fjord access to the object.
	ErrAccessDenied = errors.New("access denied")
	// ErrTooLarge means the object, or the data its entries expand to, is
	// larger than Fjord accepts.
	ErrTooLarge = errors.New("object too large")
	// ErrInvalidArchive means the object is not a readable ZIP or JAR archive.
	ErrInvalidArchive = errors.New("invalid archive")
	// ErrUnavailable means the store could not be reached or failed
	// (network error, 5xx, throttling). Unlike the other kinds it may go away:
	// a caller may retry before it marks the plugin CREATE_FAILED.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrStorage is any other refusal by the store.
	ErrStorage = errors.New("storage error")
)

// Error is a failure to fetch or inspect a plugin object.
//
// Error() is only Message, which is safe to show to the API caller (it becomes
// the plugin's stateDescription). Cause may hold SDK or OS details with
// internal host names and request ids: log it, do not return it to callers.
type Error struct {
	// Kind is one of the Err* sentinels of this package.
	Kind error
	// Message is the human-readable reason, e.g.
	// "bucket arn:aws:s3:::b: object path/plugin.zip not found".
	Message string
	// Cause is the underlying error, or nil.
	Cause error
}

func (e *Error) Error() string { return e.Message }

// Unwrap lets errors.Is and errors.As see both the kind and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

func newError(kind error, cause error, message string) *Error {
	return &Error{Kind: kind, Message: message, Cause: cause}
}
