// Package convert holds Kafka Connect's converters, which turn Connect data (workers/connect/data)
// into the bytes of a Kafka record's key, value or header, as a Connect worker does with its
// key.converter, value.converter and header.converter:
//
//   - org.apache.kafka.connect.json.JsonConverter: JSON, by default in the envelope
//     {"schema":…,"payload":…} exactly as Kafka's JsonConverter writes it (schemas.enable,
//     decimal.format BASE64|NUMERIC, replace.null.with.default);
//   - org.apache.kafka.connect.storage.StringConverter: the value's text in UTF-8;
//   - org.apache.kafka.connect.converters.ByteArrayConverter: bytes as they are;
//   - org.apache.kafka.connect.storage.SimpleHeaderConverter (headers only): Connect's Values
//     string form.
//
// Converter options come from the keys under the converter's key: value.converter.schemas.enable
// configures the value converter's schemas.enable ([Options]).
//
// Fjord writes with converters only (Connect's fromConnectData); reading (toConnectData) is for
// sink connectors, which Fjord does not run yet.
package convert

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// The converter classes.
const (
	ByteArrayClass    = "org.apache.kafka.connect.converters.ByteArrayConverter"
	StringClass       = "org.apache.kafka.connect.storage.StringConverter"
	JSONClass         = "org.apache.kafka.connect.json.JsonConverter"
	SimpleHeaderClass = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
)

// Kind says what a converter converts: Connect's ConverterType.
type Kind string

// The converter kinds, named after the worker keys that configure them.
const (
	Key    Kind = "key.converter"
	Value  Kind = "value.converter"
	Header Kind = "header.converter"
)

// Converter turns Connect data into record bytes (Connect's Converter.fromConnectData).
type Converter interface {
	FromConnect(topic string, schema *data.Schema, value any) ([]byte, error)
}

// HeaderConverter turns a Connect header into header bytes (Connect's
// HeaderConverter.fromConnectHeader).
type HeaderConverter interface {
	FromConnectHeader(topic, key string, schema *data.Schema, value any) ([]byte, error)
}

// BytesConverter is implemented by converters with a fast path for the commonest schema of
// copied records, optional bytes (MirrorMaker 2's key and value schema): FromBytes(topic, b)
// equals FromConnect(topic, data.OptionalBytesSchema, b) with b nil meaning null.
type BytesConverter interface {
	FromBytes(topic string, b []byte) ([]byte, error)
}

// FromBytes converts b under the optional bytes schema, through the fast path when c has one.
func FromBytes(c Converter, topic string, b []byte) ([]byte, error) {
	if f, ok := c.(BytesConverter); ok {
		return f.FromBytes(topic, b)
	}
	if b == nil {
		return c.FromConnect(topic, data.OptionalBytesSchema, nil)
	}
	return c.FromConnect(topic, data.OptionalBytesSchema, b)
}

// Options returns the options of the converter configured under kind in conf: the keys
// "<kind>.<option>" with the prefix removed.
func Options(conf map[string]string, kind Kind) map[string]string {
	prefix := string(kind) + "."
	out := map[string]string{}
	for k, v := range conf {
		if opt, ok := strings.CutPrefix(k, prefix); ok {
			out[opt] = v
		}
	}
	return out
}

// Error is a problem with a converter's configuration, naming the key.
type Error struct{ Key, Problem string }

func (e *Error) Error() string { return e.Key + ": " + e.Problem }

// New builds the key or value converter of class with its options. Class may be the full Java
// name or the simple one.
func New(kind Kind, class string, opts map[string]string) (Converter, error) {
	switch fullName(class) {
	case ByteArrayClass:
		return ByteArray{}, nil
	case StringClass:
		return newString(kind, opts)
	case JSONClass:
		return NewJSON(kind, opts)
	case SimpleHeaderClass:
		if kind == Header {
			return nil, &Error{string(kind), "use NewHeader for header converters"}
		}
	}
	return nil, &Error{string(kind), fmt.Sprintf("%q is not a converter Fjord applies: use %s, %s or %s", class, ByteArrayClass, StringClass, JSONClass)}
}

// NewHeader builds the header converter of class with its options.
func NewHeader(class string, opts map[string]string) (HeaderConverter, error) {
	switch fullName(class) {
	case ByteArrayClass:
		return ByteArray{}, nil
	case StringClass:
		return newString(Header, opts)
	case JSONClass:
		return NewJSON(Header, opts)
	case SimpleHeaderClass:
		return SimpleHeader{}, nil
	}
	return nil, &Error{string(Header), fmt.Sprintf("%q is not a header converter Fjord applies: use %s, %s, %s or %s",
		class, SimpleHeaderClass, ByteArrayClass, StringClass, JSONClass)}
}

func fullName(class string) string {
	class = strings.TrimSpace(class)
	for _, c := range []string{ByteArrayClass, StringClass, JSONClass, SimpleHeaderClass} {
		if class == c || class == c[strings.LastIndexByte(c, '.')+1:] {
			return c
		}
	}
	return class
}

// boolOpt reads a boolean option as Kafka's ConfigDef does (true or false, any case).
func boolOpt(kind Kind, opts map[string]string, name string, def bool) (bool, error) {
	v, ok := opts[name]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return def, &Error{string(kind) + "." + name, fmt.Sprintf("Invalid value %s for configuration %s: Expected value to be either true or false", v, name)}
}

// ByteArray is ByteArrayConverter: bytes pass as they are; the schema must be bytes.
type ByteArray struct{}

// FromConnect implements Converter.
func (ByteArray) FromConnect(_ string, schema *data.Schema, value any) ([]byte, error) {
	if schema != nil && schema.Type != data.Bytes {
		return nil, fmt.Errorf("Invalid schema type for ByteArrayConverter: %s", strings.ToUpper(schema.Type.String()))
	}
	switch v := value.(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	}
	return nil, fmt.Errorf("ByteArrayConverter is not compatible with objects of type %T", value)
}

// FromBytes implements BytesConverter.
func (ByteArray) FromBytes(_ string, b []byte) ([]byte, error) { return b, nil }

// FromConnectHeader implements HeaderConverter.
func (c ByteArray) FromConnectHeader(topic, _ string, schema *data.Schema, value any) ([]byte, error) {
	return c.FromConnect(topic, schema, value)
}

// String is StringConverter: the value's text in UTF-8 (converter.encoding must be UTF-8).
// Bytes are written as they are, which departs from Kafka: Java's toString of a byte[] is its
// type and identity hash ("[B@1b6d3586"), never what anyone wants.
type String struct{}

func newString(kind Kind, opts map[string]string) (String, error) {
	for _, k := range []string{"converter.encoding", "serializer.encoding"} {
		if v, ok := opts[k]; ok {
			switch strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(v), "-", "")) {
			case "UTF8":
			default:
				return String{}, &Error{string(kind) + "." + k, fmt.Sprintf("%q is not supported: Fjord writes UTF-8", v)}
			}
		}
	}
	return String{}, nil
}

// FromConnect implements Converter.
func (String) FromConnect(_ string, _ *data.Schema, value any) ([]byte, error) {
	switch v := value.(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	return []byte(javaString(value)), nil
}

// FromBytes implements BytesConverter.
func (String) FromBytes(_ string, b []byte) ([]byte, error) { return b, nil }

// FromConnectHeader implements HeaderConverter.
func (c String) FromConnectHeader(topic, _ string, schema *data.Schema, value any) ([]byte, error) {
	return c.FromConnect(topic, schema, value)
}

// javaString is Java's toString of a Connect value.
func javaString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float32:
		return javaFloat(float64(x), 32)
	case float64:
		return javaFloat(x, 64)
	case data.Decimal:
		return x.String()
	case []byte:
		return string(x)
	case *data.Struct:
		var b strings.Builder
		b.WriteString("Struct{")
		first := true
		for i, f := range x.Schema.Fields {
			if x.Values[i] == nil {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(f.Name + "=" + javaString(x.Values[i]))
		}
		b.WriteByte('}')
		return b.String()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = javaString(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case data.Map:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = javaString(e.Key) + "=" + javaString(e.Value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// javaFloat is Java's Double.toString (bits 64) or Float.toString (bits 32) of f: the
// shortest digits that round-trip, in plain notation for 1e-3 ≤ |f| < 1e7 and computerized
// scientific notation ("1.0E10", "1.5E-4") otherwise, always with a fractional digit.
func javaFloat(f float64, bits int) string {
	switch {
	case f != f:
		return "NaN"
	case f > 1.7976931348623157e308 || (bits == 32 && f > 3.4028234663852886e38):
		return "Infinity"
	case f < -1.7976931348623157e308 || (bits == 32 && f < -3.4028234663852886e38):
		return "-Infinity"
	case f == 0:
		if 1/f < 0 {
			return "-0.0"
		}
		return "0.0"
	}
	s := strconv.FormatFloat(f, 'e', -1, bits) // d.ddde±XX
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	var out string
	abs := f
	if abs < 0 {
		abs = -abs
	}
	if abs >= 1e-3 && abs < 1e7 {
		if exp >= 0 {
			for len(digits) <= exp {
				digits += "0"
			}
			frac := digits[exp+1:]
			if frac == "" {
				frac = "0"
			}
			out = digits[:exp+1] + "." + frac
		} else {
			out = "0." + strings.Repeat("0", -exp-1) + digits
		}
	} else {
		frac := digits[1:]
		if frac == "" {
			frac = "0"
		}
		out = digits[:1] + "." + frac + "E" + strconv.Itoa(exp)
	}
	if neg {
		return "-" + out
	}
	return out
}
