// Package apierr defines the errors of Fjord's public API in AWS's terms: an error type name
// (sent as X-Amzn-ErrorType), an HTTP status from the AWS model, and a message that names the
// member and what was wrong. Handlers return *Error; on gRPC it travels as a status whose code
// fits the type and whose ErrorInfo detail carries the AWS name, so that the REST gateway maps
// it back exactly.
package apierr

import (
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Domain marks Fjord's ErrorInfo details.
const Domain = "fjord.aws"

// Error is an API error as AWS clients see it.
type Error struct {
	// Type is the AWS error name, e.g. "NotFoundException".
	Type string
	// Status is the HTTP status code.
	Status int
	// Message is the human-readable message; it never contains secrets.
	Message string
	// InvalidParameter names the offending member of a BadRequestException, when known.
	InvalidParameter string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// kinds maps AWS error names to their HTTP status and gRPC code.
var kinds = map[string]struct {
	status int
	code   codes.Code
}{
	"BadRequestException":                 {http.StatusBadRequest, codes.InvalidArgument},
	"NotFoundException":                   {http.StatusNotFound, codes.NotFound},
	"ConflictException":                   {http.StatusConflict, codes.AlreadyExists},
	"ForbiddenException":                  {http.StatusForbidden, codes.PermissionDenied},
	"UnauthorizedException":               {http.StatusUnauthorized, codes.Unauthenticated},
	"TooManyRequestsException":            {http.StatusTooManyRequests, codes.ResourceExhausted},
	"ServiceUnavailableException":         {http.StatusServiceUnavailable, codes.Unavailable},
	"InternalServerErrorException":        {http.StatusInternalServerError, codes.Internal},
	"MissingAuthenticationTokenException": {http.StatusForbidden, codes.Unauthenticated},
	"InvalidSignatureException":           {http.StatusForbidden, codes.Unauthenticated},
	"IncompleteSignatureException":        {http.StatusForbidden, codes.Unauthenticated},
	"UnrecognizedClientException":         {http.StatusForbidden, codes.Unauthenticated},
	"UnknownOperationException":           {http.StatusNotFound, codes.Unimplemented},
	"SerializationException":              {http.StatusBadRequest, codes.InvalidArgument},
	"RequestEntityTooLargeException":      {http.StatusRequestEntityTooLarge, codes.InvalidArgument},
	"MethodNotAllowedException":           {http.StatusMethodNotAllowed, codes.Unimplemented},
}

// New returns an error of the AWS type typ (one of the names above).
func New(typ, format string, args ...any) *Error {
	k, ok := kinds[typ]
	if !ok {
		k = kinds["InternalServerErrorException"]
	}
	return &Error{Type: typ, Status: k.status, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a client mistake; it names the member when member is not empty.
func BadRequest(member, format string, args ...any) *Error {
	e := New("BadRequestException", format, args...)
	e.InvalidParameter = member
	return e
}

// NotFound is an unknown resource, or one of another account.
func NotFound(format string, args ...any) *Error { return New("NotFoundException", format, args...) }

// Conflict is a name already taken.
func Conflict(format string, args ...any) *Error { return New("ConflictException", format, args...) }

// Internal is a server fault; its message must not leak internals.
func Internal(format string, args ...any) *Error {
	return New("InternalServerErrorException", format, args...)
}

// GRPCStatus makes *Error a gRPC status error.
func (e *Error) GRPCStatus() *status.Status {
	k, ok := kinds[e.Type]
	code := codes.Internal
	if ok {
		code = k.code
	}
	st := status.New(code, e.Message)
	md := map[string]string{}
	if e.InvalidParameter != "" {
		md["invalidParameter"] = e.InvalidParameter
	}
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: e.Type, Domain: Domain, Metadata: md}); err == nil {
		return d
	}
	return st
}

// codeTypes maps gRPC codes without a Fjord detail (raised by gRPC or the gateway themselves)
// to AWS error names.
var codeTypes = map[codes.Code]string{
	codes.InvalidArgument:    "BadRequestException",
	codes.OutOfRange:         "BadRequestException",
	codes.FailedPrecondition: "BadRequestException",
	codes.NotFound:           "NotFoundException",
	codes.AlreadyExists:      "ConflictException",
	codes.Aborted:            "ConflictException",
	codes.PermissionDenied:   "ForbiddenException",
	codes.Unauthenticated:    "UnauthorizedException",
	codes.ResourceExhausted:  "TooManyRequestsException",
	codes.Unavailable:        "ServiceUnavailableException",
	codes.DeadlineExceeded:   "ServiceUnavailableException",
	codes.Canceled:           "BadRequestException",
	codes.Unimplemented:      "UnknownOperationException",
}

// From converts any error (an *Error, a gRPC status error, or anything else) to an *Error.
// Unknown errors become InternalServerErrorException with a generic message.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	st, ok := status.FromError(err)
	if !ok {
		return Internal("internal error")
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == Domain {
			out := New(info.Reason, "%s", st.Message())
			out.InvalidParameter = info.Metadata["invalidParameter"]
			return out
		}
	}
	typ, ok := codeTypes[st.Code()]
	if !ok {
		return Internal("internal error")
	}
	return New(typ, "%s", st.Message())
}
