package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/server/sigv4"
	"github.com/fjord-io/fjord/store"
)

// Caller is the verified identity of a request: the signing credential's account, and the
// region of its SigV4 scope.
type Caller struct {
	AccessKeyID string
	AccountID   string
	Region      string
	Service     string
}

type callerKey struct{}

func withCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// callerFrom returns the caller put in ctx by the authentication interceptor.
func callerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Metadata keys by which the REST gateway hands a caller verified over HTTP to the gRPC
// handlers. They are honored only on the in-process connection and only with the per-process
// gateway key, so a remote gRPC client cannot claim an identity by sending them.
const (
	mdGatewayKey = "x-fjord-gateway-key"
	mdAccessKey  = "x-fjord-access-key"
	mdAccount    = "x-fjord-account"
	mdRegion     = "x-fjord-region"
	mdService    = "x-fjord-service"
)

// credentialCache fronts the store's credentials for the SigV4 verifier: credentials change
// rarely, and a database round trip per request would halve throughput.
type credentialCache struct {
	st  *store.Store
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedCredential
}

type cachedCredential struct {
	cred    sigv4.Credential
	expires time.Time
}

func (c *credentialCache) Credential(ctx context.Context, accessKeyID string) (sigv4.Credential, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[accessKeyID]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.cred, nil
	}
	sc, err := c.st.Credential(ctx, accessKeyID)
	if errors.Is(err, store.ErrNotFound) {
		return sigv4.Credential{}, sigv4.ErrUnknownKey
	}
	if err != nil {
		return sigv4.Credential{}, err
	}
	cred := sigv4.Credential{AccessKeyID: sc.AccessKeyID, SecretAccessKey: sc.SecretAccessKey, AccountID: sc.AccountID}
	c.mu.Lock()
	c.m[accessKeyID] = cachedCredential{cred: cred, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return cred, nil
}

// inProcess reports whether the call came through the gateway's in-process connection
// (localConn); a remote gRPC call cannot carry the context value.
func inProcess(ctx context.Context) bool {
	v, _ := ctx.Value(localCallKey{}).(bool)
	return v
}

// authenticate establishes the caller of a gRPC call: from the gateway's metadata on the
// in-process connection, otherwise from the call's own SigV4 signature (sigv4.VerifyGRPC).
func (s *Server) authenticate(ctx context.Context, fullMethod string, req any) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if keys := md.Get(mdGatewayKey); len(keys) == 1 && inProcess(ctx) {
		if subtle.ConstantTimeCompare([]byte(keys[0]), []byte(s.gatewayKey)) != 1 {
			return ctx, apierr.New("UnrecognizedClientException", "The security token included in the request is invalid.")
		}
		return withCaller(ctx, Caller{
			AccessKeyID: first(md.Get(mdAccessKey)),
			AccountID:   first(md.Get(mdAccount)),
			Region:      first(md.Get(mdRegion)),
			Service:     first(md.Get(mdService)),
		}), nil
	}
	msg, ok := req.(proto.Message)
	if !ok {
		return ctx, apierr.New("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return ctx, apierr.BadRequest("", "request does not encode: %v", err)
	}
	id, err := s.verifier.VerifyGRPC(ctx, fullMethod, md, body)
	if err != nil {
		return ctx, sigvError(err)
	}
	// As over REST (restAuth), a call to one service must not be signed for the other.
	if want := serviceOfMethod(fullMethod); want != "admin" && id.Service != want {
		return ctx, apierr.New("InvalidSignatureException", "Credential should be scoped to correct service: '%s'.", want)
	}
	return withCaller(ctx, Caller{AccessKeyID: id.AccessKeyID, AccountID: id.AccountID, Region: id.Region, Service: id.Service}), nil
}

// sigvError converts a verifier refusal to an API error (403 with the AWS error name).
func sigvError(err error) *apierr.Error {
	var se *sigv4.Error
	if errors.As(err, &se) {
		e := apierr.New(se.Code, "%s", se.Message)
		e.Status = se.Status
		return e
	}
	return apierr.New("ServiceUnavailableException", "credentials could not be checked; try again")
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if s.noAuth[info.FullMethod] {
		return handler(ctx, req)
	}
	ctx, err := s.authenticate(ctx, info.FullMethod, req)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
