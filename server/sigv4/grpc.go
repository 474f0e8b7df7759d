package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// Metadata keys of a signed gRPC call.
const (
	mdAuthorization = "authorization"
	mdAmzDate       = "x-amz-date"
	mdAuthority     = ":authority"
)

// VerifyGRPC checks the signature of a gRPC call to fullMethod (as
// "/fjord.kafkaconnect.v1.KafkaConnect/DescribeConnector") whose incoming
// metadata is md and whose request message encodes deterministically to body.
// The signed host is md's ":authority". Results are as for VerifyHTTP.
func (v *Verifier) VerifyGRPC(ctx context.Context, fullMethod string, md metadata.MD, body []byte) (Identity, error) {
	auths := md.Get(mdAuthorization)
	if len(auths) == 0 {
		return Identity{}, refuse(CodeMissingAuthenticationToken, "Missing Authentication Token")
	}
	if len(auths) > 1 {
		return Identity{}, refuse(CodeIncompleteSignature, "Only one authorization value may be sent.")
	}
	authority := md.Get(mdAuthority)
	if len(authority) != 1 {
		return Identity{}, refuse(CodeIncompleteSignature, "The call must carry exactly one ':authority'.")
	}
	w := &wireRequest{
		method:        http.MethodPost,
		host:          authority[0],
		rawPath:       fullMethod,
		authorization: auths[0],
		header:        md.Get,
		contentLength: -1,
		body:          body,
	}
	if cl := md.Get("content-length"); len(cl) == 1 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil {
			w.contentLength = n
		}
	}
	return v.verify(ctx, w)
}

// UnaryServerInterceptor verifies every unary call with VerifyGRPC, encoding
// the request message deterministically, and passes the caller's Identity to
// the handler in its context (see IdentityFromContext). A refusal is returned
// as the *Error itself, which gRPC reports as codes.Unauthenticated.
func (v *Verifier) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		body, err := marshalRequest(req)
		if err != nil {
			return nil, fmt.Errorf("sigv4: verify %s: %w", info.FullMethod, err)
		}
		md, _ := metadata.FromIncomingContext(ctx)
		id, err := v.VerifyGRPC(ctx, info.FullMethod, md, body)
		if err != nil {
			return nil, err
		}
		return handler(ContextWithIdentity(ctx, id), req)
	}
}

type identityKey struct{}

// ContextWithIdentity returns a copy of ctx carrying id.
func ContextWithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFromContext returns the Identity stored by ContextWithIdentity, and
// whether there was one.
func IdentityFromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// ClientOption tunes UnaryClientInterceptor.
type ClientOption func(*clientOptions)

type clientOptions struct {
	authority string
	now       func() time.Time
}

// Authority sets the :authority the interceptor signs. It is needed only when
// the connection's authority is not derived from its target, i.e. with
// grpc.WithAuthority or TLS credentials that override the server name; a
// per-call grpc.CallAuthority is picked up by itself.
func Authority(authority string) ClientOption {
	return func(o *clientOptions) { o.authority = authority }
}

// Clock sets the clock used for X-Amz-Date; default time.Now.
func Clock(now func() time.Time) ClientOption {
	return func(o *clientOptions) { o.now = now }
}

// UnaryClientInterceptor signs every outgoing unary call with cred for region
// and service (the credential scope) as VerifyGRPC expects: it adds the
// authorization and x-amz-date metadata, replacing any already set.
func UnaryClientInterceptor(cred Credential, region, service string, opts ...ClientOption) grpc.UnaryClientInterceptor {
	o := clientOptions{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey}
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
		body, err := marshalRequest(req)
		if err != nil {
			return fmt.Errorf("sigv4: sign %s: %w", method, err)
		}
		authority := o.authority
		for _, co := range callOpts {
			if a, ok := co.(grpc.AuthorityOverrideCallOption); ok {
				authority = a.Authority
			}
		}
		if authority == "" {
			authority = targetAuthority(cc.CanonicalTarget())
		}
		sum := sha256.Sum256(body)
		r := &http.Request{
			Method: http.MethodPost,
			// No scheme: the signer then keeps a port it would call default.
			URL:    &url.URL{Opaque: "//" + authority + method},
			Host:   authority,
			Header: http.Header{},
		}
		if err := signer.SignHTTP(ctx, creds, r, hex.EncodeToString(sum[:]), service, region, o.now()); err != nil {
			return fmt.Errorf("sigv4: sign %s: %w", method, err)
		}
		md, _ := metadata.FromOutgoingContext(ctx)
		md = md.Copy()
		md.Set(mdAuthorization, r.Header.Get("Authorization"))
		md.Set(mdAmzDate, r.Header.Get("X-Amz-Date"))
		return invoker(metadata.NewOutgoingContext(ctx, md), method, req, reply, cc, callOpts...)
	}
}

func marshalRequest(req any) ([]byte, error) {
	m, ok := req.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("request %T is not a proto.Message", req)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

// targetAuthority is the :authority grpc-go sends for a canonical target
// ("dns:///host:port", "unix:///path") when no dial option overrides it
// (grpc-go's ClientConn.initAuthority).
func targetAuthority(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	if u.Scheme == "unix" || u.Scheme == "unix-abstract" {
		return "localhost"
	}
	endpoint := u.Path
	if endpoint == "" {
		endpoint = u.Opaque
	}
	endpoint = strings.TrimPrefix(endpoint, "/")
	if strings.HasPrefix(endpoint, ":") {
		return "localhost" + encodeAuthority(endpoint)
	}
	return encodeAuthority(endpoint)
}

// encodeAuthority percent-encodes what RFC 3986 does not allow in an
// authority, as grpc-go does.
func encodeAuthority(s string) string {
	const upperhex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-_.~!$&'()*+,;=:[]@", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(upperhex[c>>4])
			b.WriteByte(upperhex[c&15])
		}
	}
	return b.String()
}
