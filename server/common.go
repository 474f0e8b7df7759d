package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
)

// defaultPageSize is the page size of list operations called without maxResults.
const defaultPageSize = 100

// caller returns the authenticated caller; every handler starts with it.
func (s *Server) caller(ctx context.Context) (Caller, error) {
	c, ok := callerFrom(ctx)
	if !ok || c.AccountID == "" {
		return Caller{}, apierr.New("UnauthorizedException", "the request is not authenticated")
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	return c, nil
}

// resourceARN parses an ARN that must name a resource of the given service and type. An ARN of
// another account or region is NotFound, as AWS isolates accounts; a malformed one or one of the
// wrong type is a BadRequest naming member.
func resourceARN(c Caller, s, member, service, resourceType string) (workload.ARN, error) {
	a, ok := workload.ParseARN(s)
	if !ok {
		return workload.ARN{}, apierr.BadRequest(member, "%s is not a valid ARN: %q", member, s)
	}
	if a.Service != service || a.ResourceType != resourceType {
		return workload.ARN{}, apierr.BadRequest(member, "%s must be the ARN of a %s %s resource", member, service, resourceType)
	}
	if a.Account != c.AccountID || a.Region != c.Region {
		return workload.ARN{}, apierr.NotFound("%s %s not found", resourceType, s)
	}
	return a, nil
}

// storeErr maps a store error to an API error; what names the resource ("connector arn:…").
func (s *Server) storeErr(ctx context.Context, err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apierr.NotFound("%s not found", what)
	case errors.Is(err, store.ErrConflict):
		return apierr.Conflict("%s already exists", what)
	case errors.Is(err, store.ErrStale):
		return apierr.BadRequest("currentVersion", "the currentVersion of %s does not match its current version; describe it again and retry", what)
	case errors.Is(err, store.ErrTooManyTags):
		return apierr.BadRequest("tags", "a resource can have at most %d tags", store.MaxTags)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return apierr.New("ServiceUnavailableException", "request canceled")
	case store.IsUnavailable(err):
		s.log.WarnContext(ctx, "database unavailable", "resource", what, "error", err)
		return apierr.New("ServiceUnavailableException", "the service is unavailable for a moment; retry")
	}
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return ae
	}
	s.log.ErrorContext(ctx, "store error", "resource", what, "error", err)
	return apierr.Internal("internal error while handling %s", what)
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// pageSize returns maxResults or the default.
func pageSize(max *int32) int {
	if max == nil {
		return defaultPageSize
	}
	return int(*max)
}

// stateDescription returns code/message or nil when both are empty.
func stateCodeMessage(r *store.Resource) (code, message *string) {
	if r.StateCode == "" && r.StateMessage == "" {
		return nil, nil
	}
	return proto.String(r.StateCode), proto.String(r.StateMessage)
}
