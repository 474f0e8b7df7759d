// Package awsjson encodes and decodes Fjord's API messages in the JSON that AWS's rest-json
// clients speak (api-docs/wire.md): member names are the AWS wire names (the proto json_name), integers
// and longs are JSON numbers (protojson would write int64 as a string, which the Go SDK
// rejects), timestamps are RFC 3339 strings with a zone, unset members are omitted. Decoding is
// strict about types and names the offending member by its full path, so that a client's
// mistake becomes a BadRequestException that says which member was wrong; unknown members are
// ignored, as newer SDKs may send members this server does not know yet.
package awsjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// MaxBodyBytes bounds a request body; larger bodies are refused before decoding.
const MaxBodyBytes = 8 << 20

// TypeError says that the member at Path had a value of the wrong JSON type or range.
type TypeError struct {
	Path string // e.g. "capacity.autoScaling.mcuCount"; "" for the whole body
	Msg  string
}

func (e *TypeError) Error() string {
	if e.Path == "" {
		return "invalid request body: " + e.Msg
	}
	return fmt.Sprintf("invalid value for member %s: %s", e.Path, e.Msg)
}

// Unmarshal decodes an AWS JSON body into m. An empty body leaves m unchanged.
func Unmarshal(data []byte, m proto.Message) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if len(data) > MaxBodyBytes {
		return &TypeError{Msg: fmt.Sprintf("body is larger than %d bytes", MaxBodyBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return &TypeError{Msg: "malformed JSON: " + err.Error()}
	}
	if dec.More() {
		return &TypeError{Msg: "malformed JSON: trailing data after the top-level object"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &TypeError{Msg: "malformed JSON: trailing data after the top-level object"}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return &TypeError{Msg: "expected a JSON object, got " + jsonKind(v)}
	}
	return decodeMessage(obj, m.ProtoReflect(), "")
}

func decodeMessage(obj map[string]any, msg protoreflect.Message, path string) error {
	fields := msg.Descriptor().Fields()
	// Decode in sorted key order so that the first error reported is deterministic.
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fd := fields.ByJSONName(k)
		if fd == nil {
			continue // unknown member: ignored
		}
		v := obj[k]
		if v == nil {
			continue // null is "not set"
		}
		p := join(path, k)
		switch {
		case fd.IsMap():
			o, ok := v.(map[string]any)
			if !ok {
				return &TypeError{Path: p, Msg: "expected a JSON object (a map), got " + jsonKind(v)}
			}
			mp := msg.Mutable(fd).Map()
			for mk, mv := range o {
				if mv == nil {
					continue
				}
				val, err := scalar(fd.MapValue(), mv, p+"."+mk)
				if err != nil {
					return err
				}
				mp.Set(protoreflect.ValueOfString(mk).MapKey(), val)
			}
		case fd.IsList():
			a, ok := v.([]any)
			if !ok {
				return &TypeError{Path: p, Msg: "expected a JSON array, got " + jsonKind(v)}
			}
			list := msg.Mutable(fd).List()
			for i, ev := range a {
				ep := fmt.Sprintf("%s[%d]", p, i)
				if fd.Kind() == protoreflect.MessageKind {
					o, ok := ev.(map[string]any)
					if !ok {
						return &TypeError{Path: ep, Msg: "expected a JSON object, got " + jsonKind(ev)}
					}
					elem := list.NewElement()
					if err := decodeMessage(o, elem.Message(), ep); err != nil {
						return err
					}
					list.Append(elem)
					continue
				}
				if ev == nil {
					return &TypeError{Path: ep, Msg: "null is not allowed in a list"}
				}
				val, err := scalar(fd, ev, ep)
				if err != nil {
					return err
				}
				list.Append(val)
			}
		case fd.Kind() == protoreflect.MessageKind:
			if fd.Message().FullName() == "google.protobuf.Timestamp" {
				ts, err := timestamp(v, p)
				if err != nil {
					return err
				}
				msg.Set(fd, protoreflect.ValueOfMessage(ts.ProtoReflect()))
				continue
			}
			o, ok := v.(map[string]any)
			if !ok {
				return &TypeError{Path: p, Msg: "expected a JSON object, got " + jsonKind(v)}
			}
			if err := decodeMessage(o, msg.Mutable(fd).Message(), p); err != nil {
				return err
			}
		default:
			val, err := scalar(fd, v, p)
			if err != nil {
				return err
			}
			msg.Set(fd, val)
		}
	}
	return nil
}

func scalar(fd protoreflect.FieldDescriptor, v any, path string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		s, ok := v.(string)
		if !ok {
			return protoreflect.Value{}, &TypeError{Path: path, Msg: "expected a string, got " + jsonKind(v)}
		}
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BoolKind:
		b, ok := v.(bool)
		if !ok {
			return protoreflect.Value{}, &TypeError{Path: path, Msg: "expected a boolean, got " + jsonKind(v)}
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		n, ok := v.(json.Number)
		if !ok {
			return protoreflect.Value{}, &TypeError{Path: path, Msg: "expected an integer, got " + jsonKind(v)}
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			// Accept 3.0 as 3, as AWS does; refuse 3.5 and out-of-range values.
			f, ferr := strconv.ParseFloat(string(n), 64)
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return protoreflect.Value{}, &TypeError{Path: path, Msg: "expected an integer, got " + string(n)}
			}
			i = int64(f)
		}
		if fd.Kind() == protoreflect.Int32Kind {
			if i < math.MinInt32 || i > math.MaxInt32 {
				return protoreflect.Value{}, &TypeError{Path: path, Msg: "integer " + string(n) + " is out of range"}
			}
			return protoreflect.ValueOfInt32(int32(i)), nil
		}
		return protoreflect.ValueOfInt64(i), nil
	case protoreflect.DoubleKind:
		n, ok := v.(json.Number)
		if !ok {
			return protoreflect.Value{}, &TypeError{Path: path, Msg: "expected a number, got " + jsonKind(v)}
		}
		f, err := n.Float64()
		if err != nil {
			return protoreflect.Value{}, &TypeError{Path: path, Msg: "expected a number, got " + string(n)}
		}
		return protoreflect.ValueOfFloat64(f), nil
	case protoreflect.BytesKind:
		s, ok := v.(string)
		if !ok {
			return protoreflect.Value{}, &TypeError{Path: path, Msg: "expected a base64 string, got " + jsonKind(v)}
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return protoreflect.Value{}, &TypeError{Path: path, Msg: "expected a base64 string"}
		}
		return protoreflect.ValueOfBytes(b), nil
	}
	return protoreflect.Value{}, &TypeError{Path: path, Msg: "unsupported member type " + fd.Kind().String()}
}

// Timestamps are limited to years 0001 to 9999, as google.protobuf.Timestamp and RFC 3339 are.
const (
	minTimestamp = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestamp = 253402300799 // 9999-12-31T23:59:59Z
)

func timestamp(v any, path string) (*timestamppb.Timestamp, error) {
	var ts *timestamppb.Timestamp
	switch t := v.(type) {
	case string:
		tm, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return nil, &TypeError{Path: path, Msg: "expected an RFC 3339 timestamp, got " + strconv.Quote(t)}
		}
		ts = timestamppb.New(tm)
	case json.Number:
		f, err := t.Float64()
		if err != nil || f < minTimestamp || f >= maxTimestamp+1 {
			return nil, &TypeError{Path: path, Msg: "expected a timestamp between years 0001 and 9999, got " + string(t)}
		}
		sec, frac := math.Modf(f)
		ts = timestamppb.New(time.Unix(int64(sec), int64(frac*1e9)).UTC())
	default:
		return nil, &TypeError{Path: path, Msg: "expected a timestamp, got " + jsonKind(v)}
	}
	if ts.CheckValid() != nil {
		return nil, &TypeError{Path: path, Msg: "timestamp is outside years 0001 to 9999"}
	}
	return ts, nil
}

func jsonKind(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + string(t)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// Marshal encodes m, an operation's output, in AWS JSON. The output's own list members are
// written even when empty ("connectors": []), as AWS writes them: clients index them without a
// check (boto3's resp["connectors"]). Maps and nested members are written when set (a
// capacity update's operation has no connector configurations at all).
func Marshal(m proto.Message) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(512)
	if err := encodeMessage(&b, m.ProtoReflect(), true); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encodeMessage(b *bytes.Buffer, msg protoreflect.Message, top bool) error {
	if !msg.IsValid() {
		b.WriteString("{}")
		return nil
	}
	b.WriteByte('{')
	fields := msg.Descriptor().Fields()
	first := true
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !msg.Has(fd) && !(top && fd.IsList()) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeString(b, fd.JSONName())
		b.WriteByte(':')
		v := msg.Get(fd)
		switch {
		case fd.IsMap():
			mp := v.Map()
			keys := make([]string, 0, mp.Len())
			mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k.String())
				return true
			})
			sort.Strings(keys)
			b.WriteByte('{')
			for j, k := range keys {
				if j > 0 {
					b.WriteByte(',')
				}
				writeString(b, k)
				b.WriteByte(':')
				if err := encodeScalar(b, fd.MapValue(), mp.Get(protoreflect.ValueOfString(k).MapKey())); err != nil {
					return err
				}
			}
			b.WriteByte('}')
		case fd.IsList():
			list := v.List()
			b.WriteByte('[')
			for j := 0; j < list.Len(); j++ {
				if j > 0 {
					b.WriteByte(',')
				}
				if err := encodeValue(b, fd, list.Get(j)); err != nil {
					return err
				}
			}
			b.WriteByte(']')
		default:
			if err := encodeValue(b, fd, v); err != nil {
				return err
			}
		}
	}
	b.WriteByte('}')
	return nil
}

func encodeValue(b *bytes.Buffer, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	if fd.Kind() == protoreflect.MessageKind {
		if fd.Message().FullName() == "google.protobuf.Timestamp" {
			ts := v.Message().Interface().(*timestamppb.Timestamp)
			if err := ts.CheckValid(); err != nil {
				// Formatted, it would not be RFC 3339, and no client could read it.
				return fmt.Errorf("awsjson: %s: %w", fd.FullName(), err)
			}
			writeString(b, ts.AsTime().UTC().Format("2006-01-02T15:04:05.000Z"))
			return nil
		}
		return encodeMessage(b, v.Message(), false)
	}
	return encodeScalar(b, fd, v)
}

func encodeScalar(b *bytes.Buffer, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	switch fd.Kind() {
	case protoreflect.StringKind:
		writeString(b, v.String())
	case protoreflect.BoolKind:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case protoreflect.DoubleKind:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("awsjson: %s is not finite", fd.FullName())
		}
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	case protoreflect.BytesKind:
		writeString(b, base64.StdEncoding.EncodeToString(v.Bytes()))
	default:
		return fmt.Errorf("awsjson: unsupported kind %s of %s", fd.Kind(), fd.FullName())
	}
	return nil
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string (RFC 8259 escaping, no HTML escaping; invalid UTF-8
// becomes U+FFFD). Runs of plain ASCII are copied at once: this is the encoder's hot loop.
func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		b.WriteString(s[start:i])
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				writeEscape(b, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r == 0x2028 || r == 0x2029:
			writeEscape(b, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
		start = i
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
}

func writeEscape(b *bytes.Buffer, r rune) {
	b.WriteString(`\u`)
	b.WriteByte(hexDigits[r>>12&0xf])
	b.WriteByte(hexDigits[r>>8&0xf])
	b.WriteByte(hexDigits[r>>4&0xf])
	b.WriteByte(hexDigits[r&0xf])
}
