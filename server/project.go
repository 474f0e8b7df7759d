package server

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// project copies every member of src into the member of dst with the same wire (JSON) name and
// a compatible type, recursively. The AWS models repeat one structure under many names
// (Capacity → CapacityDescription, DescribeConnectorResponse → ConnectorSummary, …) with the
// same member names, so one generic copy replaces dozens of hand-written conversions; members
// that exist on one side only are left alone for the caller to fill.
func project(dst, src proto.Message) {
	projectMessage(dst.ProtoReflect(), src.ProtoReflect())
}

func projectMessage(dst, src protoreflect.Message) {
	dfields := dst.Descriptor().Fields()
	src.Range(func(sfd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dfd := dfields.ByJSONName(sfd.JSONName())
		if dfd == nil || dfd.Kind() != sfd.Kind() || dfd.IsList() != sfd.IsList() || dfd.IsMap() != sfd.IsMap() {
			return true
		}
		switch {
		case dfd.IsMap():
			dm := dst.Mutable(dfd).Map()
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				dm.Set(k, mv)
				return true
			})
		case dfd.IsList():
			dl := dst.Mutable(dfd).List()
			sl := v.List()
			for i := 0; i < sl.Len(); i++ {
				if dfd.Kind() == protoreflect.MessageKind {
					e := dl.NewElement()
					projectMessage(e.Message(), sl.Get(i).Message())
					dl.Append(e)
				} else {
					dl.Append(sl.Get(i))
				}
			}
		case dfd.Kind() == protoreflect.MessageKind:
			if dfd.Message().FullName() == sfd.Message().FullName() {
				dst.Set(dfd, protoreflect.ValueOfMessage(proto.Clone(v.Message().Interface()).ProtoReflect()))
			} else {
				projectMessage(dst.Mutable(dfd).Message(), v.Message())
			}
		default:
			dst.Set(dfd, v)
		}
		return true
	})
}
