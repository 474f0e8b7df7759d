package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"

	"github.com/google/uuid"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/fjord-io/fjord/proto/awsmodel"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/server/awsjson"
)

// awsMarshaler is the gateway's codec: AWS JSON in both directions (see awsjson).
type awsMarshaler struct{}

func (awsMarshaler) Marshal(v any) ([]byte, error) {
	if m, ok := v.(proto.Message); ok {
		return awsjson.Marshal(m)
	}
	return json.Marshal(v)
}

func (awsMarshaler) Unmarshal(data []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return json.Unmarshal(data, v)
	}
	return awsjson.Unmarshal(data, m)
}

func (a awsMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		data, err := io.ReadAll(io.LimitReader(r, awsjson.MaxBodyBytes+1))
		if err != nil {
			return err
		}
		return a.Unmarshal(data, v)
	})
}

func (a awsMarshaler) NewEncoder(w io.Writer) runtime.Encoder {
	return runtime.EncoderFunc(func(v any) error {
		b, err := a.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
}

func (awsMarshaler) ContentType(any) string { return "application/json" }

// queryParser fills request members from the query string by their AWS wire names, with
// errors that name the parameter. Unknown parameters are ignored.
type queryParser struct{}

// setQueryParser installs queryParser in grpc-gateway (a process-wide setting) once.
var setQueryParser sync.Once

func (queryParser) Parse(msg proto.Message, values url.Values, _ *utilities.DoubleArray) error {
	m := msg.ProtoReflect()
	fields := m.Descriptor().Fields()
	for key, vals := range values {
		fd := fields.ByJSONName(key)
		if fd == nil || len(vals) == 0 || fd.Kind() == protoreflect.MessageKind || fd.IsMap() {
			continue
		}
		if fd.IsList() {
			list := m.Mutable(fd).List()
			for _, v := range vals {
				val, err := parseQueryValue(fd, key, v)
				if err != nil {
					return err
				}
				list.Append(val)
			}
			continue
		}
		val, err := parseQueryValue(fd, key, vals[len(vals)-1])
		if err != nil {
			return err
		}
		m.Set(fd, val)
	}
	return nil
}

func parseQueryValue(fd protoreflect.FieldDescriptor, key, v string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(v), nil
	case protoreflect.Int32Kind:
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return protoreflect.Value{}, apierr.BadRequest(key, "invalid value for query parameter %s: expected an integer", key)
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return protoreflect.Value{}, apierr.BadRequest(key, "invalid value for query parameter %s: expected an integer", key)
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return protoreflect.Value{}, apierr.BadRequest(key, "invalid value for query parameter %s: expected true or false", key)
		}
		return protoreflect.ValueOfBool(b), nil
	}
	return protoreflect.Value{}, apierr.BadRequest(key, "query parameter %s is not supported", key)
}

// writeError writes e in the form every AWS client reads (api-docs/wire.md).
func writeError(w http.ResponseWriter, e *apierr.Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Type)
	h.Del("Grpc-Metadata-Content-Type")
	w.WriteHeader(e.Status)
	body := map[string]string{"message": e.Message}
	if e.InvalidParameter != "" {
		body["invalidParameter"] = e.InvalidParameter
	}
	b, _ := json.Marshal(body)
	_, _ = w.Write(b)
}

// gatewayError is the gateway's error handler: gRPC status → AWS error.
func (s *Server) gatewayError(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, apierr.From(err))
}

// routingError answers requests that match no operation.
func (s *Server) routingError(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, status int) {
	if status == http.StatusMethodNotAllowed {
		writeError(w, apierr.New("MethodNotAllowedException", "method %s is not allowed on %s", r.Method, r.URL.EscapedPath()))
		return
	}
	writeError(w, apierr.New("UnknownOperationException", "no operation at %s %s", r.Method, r.URL.EscapedPath()))
}

// gatewayMetadata forwards the caller verified by restAuth to the in-process gRPC call.
func (s *Server) gatewayMetadata(ctx context.Context, r *http.Request) metadata.MD {
	c, ok := callerFrom(r.Context())
	if !ok {
		return nil
	}
	return metadata.Pairs(mdGatewayKey, s.gatewayKey, mdAccessKey, c.AccessKeyID, mdAccount, c.AccountID,
		mdRegion, c.Region, mdService, c.Service)
}

// bodyQuery is an operation whose query-string members must travel in the body: grpc-gateway
// ignores the query string of requests whose body is bound to the whole message.
type bodyQuery struct {
	method  string
	path    *regexp.Regexp
	members []string
}

func bodyQueries() []bodyQuery {
	var out []bodyQuery
	for _, svc := range []string{awsmodel.KafkaConnect, awsmodel.Kafka} {
		m := awsmodel.MustLoad(svc)
		for _, op := range m.Operations {
			if op.Input == nil || (op.HTTP.Method != http.MethodPost && op.HTTP.Method != http.MethodPut) {
				continue
			}
			var members []string
			in := m.Shapes[op.Input.Shape]
			for name, mem := range in.Members {
				if mem.Location == "querystring" {
					members = append(members, mem.WireName(name))
				}
			}
			if len(members) == 0 {
				continue
			}
			pat := regexp.QuoteMeta(op.HTTP.RequestURI)
			pat = regexp.MustCompile(`\\\{\w+\\\}`).ReplaceAllString(pat, `[^/]+`)
			out = append(out, bodyQuery{method: op.HTTP.Method, path: regexp.MustCompile("^" + pat + "$"), members: members})
		}
	}
	return out
}

// moveQueryToBody rewrites body so that the query-string members of operations in
// s.bodyQueries appear in it.
func (s *Server) moveQueryToBody(r *http.Request, body []byte) ([]byte, error) {
	for _, bq := range s.bodyQueries {
		if r.Method != bq.method || !bq.path.MatchString(r.URL.EscapedPath()) {
			continue
		}
		q := r.URL.Query()
		obj := map[string]any{}
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &obj); err != nil {
				return nil, apierr.BadRequest("", "invalid request body: malformed JSON: %v", err)
			}
		}
		for _, name := range bq.members {
			if v := q.Get(name); v != "" {
				obj[name] = v
			}
		}
		return json.Marshal(obj)
	}
	return body, nil
}

// restAuth reads and verifies each REST request before the gateway sees it.
func (s *Server) restAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-amzn-RequestId", uuid.NewString())
		// The headers first: an unsigned, stale or unknown-key request is refused before its body
		// is read.
		pending, err := s.verifier.CheckHeaders(r.Context(), r)
		if err != nil {
			writeError(w, sigvError(err))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, awsjson.MaxBodyBytes+1))
		if err != nil {
			writeError(w, apierr.BadRequest("", "could not read the request body: %v", err))
			return
		}
		if len(body) > awsjson.MaxBodyBytes {
			writeError(w, apierr.New("RequestEntityTooLargeException", "request body is larger than %d bytes", awsjson.MaxBodyBytes))
			return
		}
		id, err := pending.Verify(r.Context(), body)
		if err != nil {
			writeError(w, sigvError(err))
			return
		}
		route, ambiguous, ok := routeOf(s.routes, r.Method, r.URL.EscapedPath())
		if want := serviceOf(route, ambiguous, ok); want != "" && id.Service != want {
			writeError(w, apierr.New("InvalidSignatureException",
				"Credential should be scoped to correct service: '%s'.", want))
			return
		}
		if ok && !route.served {
			writeError(w, apierr.BadRequest("", "%s is an operation of the %s API that Fjord does not serve; see api-docs/operations.md for the operations it serves",
				route.op, route.service))
			return
		}
		body, err = s.moveQueryToBody(r, body)
		if err != nil {
			writeError(w, apierr.From(err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		ctx := withCaller(r.Context(), Caller{AccessKeyID: id.AccessKeyID, AccountID: id.AccountID, Region: id.Region, Service: id.Service})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
