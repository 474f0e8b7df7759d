package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
	"github.com/fjord-io/fjord/server/apierr"
)

// adminRESTPrefix is where the admin API answers over HTTP: POST /admin/v1/{Operation} with the
// request message as protojson (lowerCamelCase members) in the body, SigV4-signed for either
// service like every REST call, answered with the response message as protojson (every member,
// int64 as strings, timestamps as RFC 3339) or with an AWS-shaped error. The web console reads
// the fleet and workload events through it; it is the same API as gRPC's fjord.admin.v1.Admin,
// through the same interceptors (authentication, metrics, recovery).
const adminRESTPrefix = "/admin/v1/"

// adminREST serves one admin operation; restAuth has verified the caller.
func (s *Server) adminREST(w http.ResponseWriter, r *http.Request) {
	op := r.PathValue("operation")
	md := adminv1.File_fjord_admin_v1_admin_proto.Services().ByName("Admin").Methods().ByName(protoreflect.Name(op))
	if md == nil || md.IsStreamingClient() || md.IsStreamingServer() {
		writeError(w, apierr.New("UnknownOperationException", "no operation at %s %s", r.Method, r.URL.EscapedPath()))
		return
	}
	in, err1 := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	out, err2 := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err1 != nil || err2 != nil {
		writeError(w, apierr.Internal("internal error"))
		return
	}
	req, resp := in.New().Interface(), out.New().Interface()
	body, err := io.ReadAll(r.Body) // already read, bounded and verified by restAuth
	if err != nil {
		writeError(w, apierr.From(err))
		return
	}
	if len(body) > 0 {
		if err := (protojson.UnmarshalOptions{}).Unmarshal(body, req); err != nil {
			writeError(w, apierr.New("SerializationException", "invalid %s request body: %v", op, err))
			return
		}
	}
	ctx := metadata.NewOutgoingContext(r.Context(), s.gatewayMetadata(r.Context(), r))
	if err := s.local.Invoke(ctx, "/"+string(md.Parent().FullName())+"/"+op, req, resp); err != nil {
		writeError(w, apierr.From(err))
		return
	}
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(resp)
	var compact bytes.Buffer
	if err == nil {
		// protojson varies its whitespace on purpose; answer the same bytes every time.
		err = json.Compact(&compact, b)
	}
	if err != nil {
		writeError(w, apierr.Internal("internal error"))
		return
	}
	b = compact.Bytes()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}
