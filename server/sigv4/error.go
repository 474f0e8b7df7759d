package sigv4

import (
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// AWS error names used in refusals, as sent in X-Amzn-ErrorType.
const (
	// CodeMissingAuthenticationToken: the request carries no signature.
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	// CodeIncompleteSignature: the Authorization header or X-Amz-Date is
	// malformed.
	CodeIncompleteSignature = "IncompleteSignatureException"
	// CodeInvalidSignature: the signature does not match, is expired or not
	// yet valid, or its scope is wrong.
	CodeInvalidSignature = "InvalidSignatureException"
	// CodeUnrecognizedClient: the access key is unknown.
	CodeUnrecognizedClient = "UnrecognizedClientException"
)

// Error is a refusal of a request's signature.
type Error struct {
	// Code is the AWS error name for the X-Amzn-ErrorType header, one of the
	// Code* constants.
	Code string
	// Message is a human-readable explanation worded as AWS words it.
	Message string
	// Status is the HTTP status to answer with; always 403 today.
	Status int
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// GRPCStatus lets gRPC report a refusal as codes.Unauthenticated when an
// interceptor returns it unchanged.
func (e *Error) GRPCStatus() *status.Status {
	return status.New(codes.Unauthenticated, e.Error())
}

func refuse(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusForbidden}
}

const mismatchMessage = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
