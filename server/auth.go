package server

import (
	"container/list"
	"context"
	"crypto/subtle"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
// rarely, and a database round trip per request would halve throughput. It remembers known keys
// for ttl and unknown keys for negTTL (at most negMax of them, least recently used evicted), so a
// flood of random access keys reaches Postgres at most once per distinct key per negTTL. Every
// replica forgets everything it cached when the credentials table changes (invalidate, called on
// store.NotifyCredentials and after the listening connection reconnects); ttl and negTTL bound
// how long a change could go unseen if that notification were lost.
type credentialCache struct {
	st      *store.Store
	ttl     time.Duration
	negTTL  time.Duration
	negMax  int
	lookups *prometheus.CounterVec

	mu       sync.Mutex
	gen      uint64 // bumped by invalidate: a lookup that began before does not cache its answer
	m        map[string]cachedCredential
	neg      map[string]*list.Element // of negEntry, in lru
	lru      *list.List               // front: most recently used
	inflight map[string]*credentialCall
}

type cachedCredential struct {
	cred    sigv4.Credential
	expires time.Time
}

type negEntry struct {
	key     string
	expires time.Time
}

// credentialCall is one store lookup that concurrent requests for the same key wait on.
type credentialCall struct {
	done chan struct{}
	cred sigv4.Credential
	err  error
}

func newCredentialCache(st *store.Store, ttl, negTTL time.Duration, negMax int, reg prometheus.Registerer) *credentialCache {
	c := &credentialCache{
		st: st, ttl: ttl, negTTL: negTTL, negMax: negMax,
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fjord_credential_lookups_total",
			Help: "Credential lookups that reached the database (cache misses), by result: found, unknown or error.",
		}, []string{"result"}),
	}
	for _, r := range []string{"found", "unknown", "error"} {
		c.lookups.WithLabelValues(r)
	}
	reg.MustRegister(c.lookups)
	c.invalidate()
	return c
}

// invalidate forgets every cached credential, known and unknown.
func (c *credentialCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = map[string]cachedCredential{}
	c.neg = map[string]*list.Element{}
	c.lru = list.New()
	c.inflight = map[string]*credentialCall{}
}

func (c *credentialCache) Credential(ctx context.Context, accessKeyID string) (sigv4.Credential, error) {
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.m[accessKeyID]; ok {
		if now.Before(e.expires) {
			c.mu.Unlock()
			return e.cred, nil
		}
		delete(c.m, accessKeyID)
	}
	if el, ok := c.neg[accessKeyID]; ok {
		if now.Before(el.Value.(*negEntry).expires) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			return sigv4.Credential{}, sigv4.ErrUnknownKey
		}
		c.lru.Remove(el)
		delete(c.neg, accessKeyID)
	}
	call, waiting := c.inflight[accessKeyID]
	if !waiting {
		call = &credentialCall{done: make(chan struct{})}
		c.inflight[accessKeyID] = call
	}
	gen := c.gen
	c.mu.Unlock()
	if waiting {
		select {
		case <-call.done:
			return call.cred, call.err
		case <-ctx.Done():
			return sigv4.Credential{}, ctx.Err()
		}
	}

	// The lookup is not tied to the first caller's context: others may be waiting on it.
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	sc, err := c.st.Credential(lctx, accessKeyID)
	cancel()
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.lookups.WithLabelValues("unknown").Inc()
		call.err = sigv4.ErrUnknownKey
	case err != nil:
		c.lookups.WithLabelValues("error").Inc()
		call.err = err
	default:
		c.lookups.WithLabelValues("found").Inc()
		call.cred = sigv4.Credential{AccessKeyID: sc.AccessKeyID, SecretAccessKey: sc.SecretAccessKey, AccountID: sc.AccountID}
	}
	c.mu.Lock()
	if c.gen == gen {
		delete(c.inflight, accessKeyID)
		switch {
		case call.err == nil:
			c.m[accessKeyID] = cachedCredential{cred: call.cred, expires: now.Add(c.ttl)}
		case errors.Is(call.err, sigv4.ErrUnknownKey):
			c.neg[accessKeyID] = c.lru.PushFront(&negEntry{key: accessKeyID, expires: now.Add(c.negTTL)})
			for c.lru.Len() > c.negMax {
				old := c.lru.Back()
				c.lru.Remove(old)
				delete(c.neg, old.Value.(*negEntry).key)
			}
		}
	}
	c.mu.Unlock()
	close(call.done)
	return call.cred, call.err
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
