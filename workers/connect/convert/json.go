package convert

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// DecimalFormat is JsonConverter's decimal.format.
type DecimalFormat string

// The decimal formats.
const (
	DecimalBase64  DecimalFormat = "BASE64"
	DecimalNumeric DecimalFormat = "NUMERIC"
)

// JSON is org.apache.kafka.connect.json.JsonConverter. Its output is byte for byte what Kafka's
// JsonConverter (Jackson, compact) writes: object members in Kafka's order, bytes as base64,
// floating-point numbers as Java prints them, NaN and infinities as strings.
type JSON struct {
	// SchemasEnable writes the envelope {"schema":…,"payload":…} (schemas.enable, default true).
	SchemasEnable bool
	// DecimalFormat writes Decimal values as base64 of their unscaled bytes (BASE64, the
	// default) or as JSON numbers (NUMERIC).
	DecimalFormat DecimalFormat
	// ReplaceNullWithDefault writes a null that has a schema default as the default
	// (replace.null.with.default, default true).
	ReplaceNullWithDefault bool

	// sizeHint is about the length of the last value written: the next one's buffer starts
	// with that capacity rather than growing to it.
	sizeHint atomic.Int64

	// schemas caches the JSON of the schemas last written, by identity, as Kafka's
	// JsonConverter caches them (schemas.cache.size, default 1000; emptied when full): a
	// schema is not changed once records carry it.
	mu        sync.Mutex
	schemas   map[*data.Schema][]byte
	cacheSize int
}

// NewJSON is a JsonConverter of kind with its options: schemas.enable, decimal.format,
// replace.null.with.default (schemas.cache.size is accepted).
func NewJSON(kind Kind, opts map[string]string) (*JSON, error) {
	c := &JSON{DecimalFormat: DecimalBase64, cacheSize: 1000}
	var err error
	if c.SchemasEnable, err = boolOpt(kind, opts, "schemas.enable", true); err != nil {
		return nil, err
	}
	if c.ReplaceNullWithDefault, err = boolOpt(kind, opts, "replace.null.with.default", true); err != nil {
		return nil, err
	}
	if v, ok := opts["decimal.format"]; ok {
		switch f := DecimalFormat(strings.ToUpper(strings.TrimSpace(v))); f {
		case DecimalBase64, DecimalNumeric:
			c.DecimalFormat = f
		default:
			return nil, &Error{string(kind) + ".decimal.format", fmt.Sprintf("Invalid value %s for configuration decimal.format: String must be one of (case insensitive): BASE64, NUMERIC", v)}
		}
	}
	if v, ok := opts["schemas.cache.size"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, &Error{string(kind) + ".schemas.cache.size", fmt.Sprintf("Invalid value %s for configuration schemas.cache.size: Not a number of type INT", v)}
		}
		c.cacheSize = n
	}
	return c, nil
}

// FromConnect implements Converter: null when both schema and value are null (Kafka's rule:
// a null value with a schema is written as JSON, e.g. {"schema":…,"payload":null}).
func (c *JSON) FromConnect(_ string, schema *data.Schema, value any) ([]byte, error) {
	if schema == nil && value == nil {
		return nil, nil
	}
	b := make([]byte, 0, c.sizeHint.Load()+64)
	defer func() { c.sizeHint.Store(int64(len(b))) }()
	var err error
	if c.SchemasEnable {
		b = append(b, `{"schema":`...)
		if b, err = c.appendCachedSchema(b, schema); err != nil {
			return nil, err
		}
		b = append(b, `,"payload":`...)
		if b, err = c.appendValue(b, schema, value); err != nil {
			return nil, err
		}
		b = append(b, '}')
		return b, nil
	}
	b, err = c.appendValue(b, schema, value)
	return b, err
}

// FromConnectHeader implements HeaderConverter.
func (c *JSON) FromConnectHeader(topic, _ string, schema *data.Schema, value any) ([]byte, error) {
	return c.FromConnect(topic, schema, value)
}

const optionalBytesEnvelope = `{"schema":{"type":"bytes","optional":true},"payload":`

// FromBytes implements BytesConverter: the envelope of an optional bytes schema is constant.
func (c *JSON) FromBytes(_ string, b []byte) ([]byte, error) {
	n := 4
	if b != nil {
		n = base64.StdEncoding.EncodedLen(len(b)) + 2
	}
	if c.SchemasEnable {
		n += len(optionalBytesEnvelope) + 1
	}
	out := make([]byte, 0, n)
	if c.SchemasEnable {
		out = append(out, optionalBytesEnvelope...)
	}
	if b == nil {
		out = append(out, "null"...)
	} else {
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, b)
		out = append(out, '"')
	}
	if c.SchemasEnable {
		out = append(out, '}')
	}
	return out, nil
}

// appendSchema writes JsonConverter.asJsonSchema(schema): "type" (and items / keys, values /
// fields), "optional", then "name", "version", "doc", "parameters", "default" when set; a
// struct field's schema ends with "field". A null schema is null.
// appendCachedSchema is appendSchema through the cache of written schemas.
func (c *JSON) appendCachedSchema(b []byte, s *data.Schema) ([]byte, error) {
	if s == nil || c.cacheSize <= 0 {
		return c.appendSchema(b, s)
	}
	c.mu.Lock()
	js, ok := c.schemas[s]
	c.mu.Unlock()
	if ok {
		return append(b, js...), nil
	}
	start := len(b)
	b, err := c.appendSchema(b, s)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.schemas == nil || len(c.schemas) >= c.cacheSize {
		c.schemas = map[*data.Schema][]byte{}
	}
	c.schemas[s] = slices.Clone(b[start:])
	c.mu.Unlock()
	return b, nil
}

func (c *JSON) appendSchema(b []byte, s *data.Schema) ([]byte, error) {
	if s == nil {
		return append(b, "null"...), nil
	}
	var err error
	b = append(b, `{"type":"`...)
	b = append(b, jsonTypeName(s.Type)...)
	b = append(b, '"')
	switch s.Type {
	case data.Array:
		b = append(b, `,"items":`...)
		if b, err = c.appendSchema(b, s.Value); err != nil {
			return nil, err
		}
	case data.MapType:
		b = append(b, `,"keys":`...)
		if b, err = c.appendSchema(b, s.Key); err != nil {
			return nil, err
		}
		b = append(b, `,"values":`...)
		if b, err = c.appendSchema(b, s.Value); err != nil {
			return nil, err
		}
	case data.StructType:
		b = append(b, `,"fields":[`...)
		for i, f := range s.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			if f.Schema == nil {
				return nil, fmt.Errorf("field %s of the struct schema has no schema", f.Name)
			}
			if b, err = c.appendSchema(b, f.Schema); err != nil {
				return nil, err
			}
			b = b[:len(b)-1] // reopen the field's object
			b = append(b, `,"field":`...)
			b = appendString(b, f.Name)
			b = append(b, '}')
		}
		b = append(b, ']')
	default:
		if !s.Type.Primitive() {
			return nil, fmt.Errorf("Couldn't translate unsupported schema type %v.", s.Type)
		}
	}
	b = append(b, `,"optional":`...)
	b = strconv.AppendBool(b, s.Optional)
	if s.Name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, s.Name)
	}
	if s.Version != nil {
		b = append(b, `,"version":`...)
		b = strconv.AppendInt(b, int64(*s.Version), 10)
	}
	if s.Doc != "" {
		b = append(b, `,"doc":`...)
		b = appendString(b, s.Doc)
	}
	if s.Params != nil {
		b = append(b, `,"parameters":{`...)
		for i, p := range s.Params {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, p.Key)
			b = append(b, ':')
			b = appendString(b, p.Value)
		}
		b = append(b, '}')
	}
	if s.Default != nil {
		b = append(b, `,"default":`...)
		if b, err = c.appendValue(b, s, s.Default); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// jsonTypeName is the type's name in JsonConverter's schemas: Connect's, except float and
// double for float32 and float64.
func jsonTypeName(t data.Type) string {
	switch t {
	case data.Float32:
		return "float"
	case data.Float64:
		return "double"
	}
	return t.String()
}

// appendValue writes JsonConverter.convertToJson(schema, value).
func (c *JSON) appendValue(b []byte, s *data.Schema, v any) ([]byte, error) {
	if v == nil {
		switch {
		case s == nil:
			return append(b, "null"...), nil
		case s.Default != nil && c.ReplaceNullWithDefault:
			return c.appendValue(b, s, s.Default)
		case s.Optional:
			return append(b, "null"...), nil
		}
		return nil, fmt.Errorf("Conversion error: null value for field that is required and has no default value")
	}
	if s != nil && s.Name != "" {
		switch s.Name {
		case data.DecimalName:
			d, ok := v.(data.Decimal)
			if !ok {
				return nil, fmt.Errorf("Invalid type for Decimal, expected BigDecimal but was %T", v)
			}
			if c.DecimalFormat == DecimalNumeric {
				return append(b, d.String()...), nil
			}
			raw, err := data.DecimalBytes(s, d)
			if err != nil {
				return nil, err
			}
			return appendBase64(b, raw), nil
		case data.DateName, data.TimeName, data.TimestampName:
			t, ok := v.(time.Time)
			if !ok {
				return nil, fmt.Errorf("Invalid type for %s, expected Date but was %T", s.Name[strings.LastIndexByte(s.Name, '.')+1:], v)
			}
			switch s.Name {
			case data.DateName:
				n, err := data.DateDays(t)
				if err != nil {
					return nil, err
				}
				return strconv.AppendInt(b, int64(n), 10), nil
			case data.TimeName:
				n, err := data.TimeMillis(t)
				if err != nil {
					return nil, err
				}
				return strconv.AppendInt(b, int64(n), 10), nil
			}
			return strconv.AppendInt(b, data.TimestampMillis(t), 10), nil
		}
	}
	typ, err := valueType(s, v)
	if err != nil {
		return nil, err
	}
	bad := func() ([]byte, error) {
		name := "unknown schema"
		if s != nil {
			name = strings.ToUpper(s.Type.String())
		}
		return nil, fmt.Errorf("Invalid type for %s: %T", name, v)
	}
	switch typ {
	case data.Int8:
		x, ok := v.(int8)
		if !ok {
			return bad()
		}
		return strconv.AppendInt(b, int64(x), 10), nil
	case data.Int16:
		x, ok := v.(int16)
		if !ok {
			return bad()
		}
		return strconv.AppendInt(b, int64(x), 10), nil
	case data.Int32:
		x, ok := v.(int32)
		if !ok {
			return bad()
		}
		return strconv.AppendInt(b, int64(x), 10), nil
	case data.Int64:
		x, ok := v.(int64)
		if !ok {
			return bad()
		}
		return strconv.AppendInt(b, x, 10), nil
	case data.Float32:
		x, ok := v.(float32)
		if !ok {
			return bad()
		}
		return appendFloat(b, float64(x), 32), nil
	case data.Float64:
		x, ok := v.(float64)
		if !ok {
			return bad()
		}
		return appendFloat(b, x, 64), nil
	case data.Boolean:
		x, ok := v.(bool)
		if !ok {
			return bad()
		}
		return strconv.AppendBool(b, x), nil
	case data.String:
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		return appendString(b, x), nil
	case data.Bytes:
		x, ok := v.([]byte)
		if !ok {
			return bad()
		}
		return appendBase64(b, x), nil
	case data.Array:
		x, ok := v.([]any)
		if !ok {
			return bad()
		}
		var elem *data.Schema
		if s != nil {
			elem = s.Value
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = c.appendValue(b, elem, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case data.MapType:
		entries, ok := mapEntries(v)
		if !ok {
			return bad()
		}
		var ks, vs *data.Schema
		objectMode := true
		if s != nil {
			ks, vs = s.Key, s.Value
			objectMode = ks != nil && ks.Type == data.String
		} else {
			for _, e := range entries {
				if _, ok := e.Key.(string); !ok {
					objectMode = false
					break
				}
			}
		}
		if objectMode {
			b = append(b, '{')
		} else {
			b = append(b, '[')
		}
		for i, e := range entries {
			if i > 0 {
				b = append(b, ',')
			}
			if objectMode {
				// Jackson's asText of the key node: a string key as is, a null key "null".
				k, _ := e.Key.(string)
				if e.Key == nil {
					k = "null"
				}
				b = appendString(b, k)
				b = append(b, ':')
				if b, err = c.appendValue(b, vs, e.Value); err != nil {
					return nil, err
				}
				continue
			}
			b = append(b, '[')
			if b, err = c.appendValue(b, ks, e.Key); err != nil {
				return nil, err
			}
			b = append(b, ',')
			if b, err = c.appendValue(b, vs, e.Value); err != nil {
				return nil, err
			}
			b = append(b, ']')
		}
		if objectMode {
			return append(b, '}'), nil
		}
		return append(b, ']'), nil
	case data.StructType:
		x, ok := v.(*data.Struct)
		if !ok {
			return bad()
		}
		if s == nil || !data.Equal(x.Schema, s) {
			return nil, fmt.Errorf("Mismatching schema.")
		}
		b = append(b, '{')
		for i, f := range s.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.Name)
			b = append(b, ':')
			var fv any
			if i < len(x.Values) {
				fv = x.Values[i]
			}
			if b, err = c.appendValue(b, f.Schema, fv); err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
		return append(b, '}'), nil
	}
	return nil, fmt.Errorf("Couldn't convert %v to JSON.", v)
}

// valueType is the schema's type, or with no schema the type of the Go value (Connect's
// ConnectSchema.schemaType).
func valueType(s *data.Schema, v any) (data.Type, error) {
	if s != nil {
		return s.Type, nil
	}
	switch v.(type) {
	case int8:
		return data.Int8, nil
	case int16:
		return data.Int16, nil
	case int32:
		return data.Int32, nil
	case int64:
		return data.Int64, nil
	case float32:
		return data.Float32, nil
	case float64:
		return data.Float64, nil
	case bool:
		return data.Boolean, nil
	case string:
		return data.String, nil
	case []byte:
		return data.Bytes, nil
	case []any:
		return data.Array, nil
	case data.Map, map[string]any:
		return data.MapType, nil
	case *data.Struct:
		return data.StructType, nil
	}
	return 0, fmt.Errorf("Java class %T does not have corresponding schema type.", v)
}

// mapEntries returns a map value's entries; a Go map's in key order.
func mapEntries(v any) (data.Map, bool) {
	switch x := v.(type) {
	case data.Map:
		return x, true
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make(data.Map, len(keys))
		for i, k := range keys {
			out[i] = data.Entry{Key: k, Value: x[k]}
		}
		return out, true
	}
	return nil, false
}

func appendBase64(b, raw []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, raw)
	return append(b, '"')
}

// appendFloat writes a number as Jackson does: Java's toString, NaN and infinities quoted.
func appendFloat(b []byte, f float64, bits int) []byte {
	s := javaFloat(f, bits)
	if s == "NaN" || s == "Infinity" || s == "-Infinity" {
		return append(append(append(b, '"'), s...), '"')
	}
	return append(b, s...)
}

const hexDigits = "0123456789ABCDEF"

// appendString writes a JSON string as Jackson does: ", \ and control characters escaped (\n,
// \t, \r, \b, \f, else \u00XX), everything else as UTF-8 (invalid bytes as U+FFFD, as Java
// decodes them).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		// The run of bytes that need no escaping is copied at once.
		j := i
		for j < len(s) && s[j] >= 0x20 && s[j] < utf8.RuneSelf && s[j] != '"' && s[j] != '\\' {
			j++
		}
		b = append(b, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case c == '"':
			b = append(b, '\\', '"')
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
		i++
	}
	return append(b, '"')
}
