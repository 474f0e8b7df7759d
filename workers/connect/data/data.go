// Package data is Kafka Connect's data model (org.apache.kafka.connect.data): schemas of
// primitive, array, map and struct types, optional or required, with a name, version, doc,
// parameters and default, structs, and the logical types Decimal, Date, Time and Timestamp.
// Converters (workers/connect/convert) turn (schema, value) pairs into bytes.
//
// Values are Go values of these types, by schema type:
//
//	int8, int16, int32, int64, float32, float64, bool, string, []byte
//	array: []any
//	map:   Map (an ordered list of entries; Java's maps are unordered)
//	struct: *Struct
//
// and, for the logical types, Decimal (bytes), time.Time (Date, Time: int32; Timestamp: int64).
// nil is a null value.
package data

import (
	"fmt"
	"math/big"
	"reflect"
	"time"
)

// Type is a schema type, named as Kafka Connect's Schema.Type in lower case.
type Type int

// The schema types.
const (
	Int8 Type = iota + 1
	Int16
	Int32
	Int64
	Float32
	Float64
	Boolean
	String
	Bytes
	Array
	MapType
	StructType
)

var typeNames = [...]string{"", "int8", "int16", "int32", "int64", "float32", "float64", "boolean", "string", "bytes", "array", "map", "struct"}

// String is the type's name as Kafka Connect's JSON schemas write it ("int32", "struct", …).
func (t Type) String() string {
	if t > 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Primitive reports whether t is neither array, map nor struct.
func (t Type) Primitive() bool { return t >= Int8 && t <= Bytes }

// Param is one schema parameter; parameters keep their order, as Connect's SchemaBuilder does.
type Param struct{ Key, Value string }

// Schema is a Connect schema. Build it with the constructors below or as a literal; treat it as
// immutable once used.
type Schema struct {
	Type     Type
	Optional bool
	// Name, Version and Doc are optional ("" and nil: absent).
	Name    string
	Version *int32
	Doc     string
	Params  []Param
	// Default is the value used for a null; nil: none.
	Default any
	// Fields are a struct's fields, in order.
	Fields []Field
	// Key is a map's key schema; Value a map's value schema or an array's element schema.
	Key, Value *Schema
}

// Field is one field of a struct schema.
type Field struct {
	Name   string
	Schema *Schema
}

// Param returns the value of parameter key.
func (s *Schema) Param(key string) (string, bool) {
	for _, p := range s.Params {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Field returns the index of the field called name, or -1.
func (s *Schema) Field(name string) int {
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Equal reports whether two schemas are the same (Connect's ConnectSchema.equals).
func Equal(a, b *Schema) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if a.Type != b.Type || a.Optional != b.Optional || a.Name != b.Name || a.Doc != b.Doc ||
		(a.Version == nil) != (b.Version == nil) || (a.Version != nil && *a.Version != *b.Version) ||
		len(a.Params) != len(b.Params) || len(a.Fields) != len(b.Fields) ||
		!Equal(a.Key, b.Key) || !Equal(a.Value, b.Value) || !equalValues(a.Default, b.Default) {
		return false
	}
	for i := range a.Params {
		if v, ok := b.Param(a.Params[i].Key); !ok || v != a.Params[i].Value {
			return false
		}
	}
	for i := range a.Fields {
		if a.Fields[i].Name != b.Fields[i].Name || !Equal(a.Fields[i].Schema, b.Fields[i].Schema) {
			return false
		}
	}
	return true
}

func equalValues(a, b any) bool { return reflect.DeepEqual(a, b) }

// The primitive schemas, required and optional (Connect's Schema.INT8_SCHEMA …).
var (
	Int8Schema    = &Schema{Type: Int8}
	Int16Schema   = &Schema{Type: Int16}
	Int32Schema   = &Schema{Type: Int32}
	Int64Schema   = &Schema{Type: Int64}
	Float32Schema = &Schema{Type: Float32}
	Float64Schema = &Schema{Type: Float64}
	BooleanSchema = &Schema{Type: Boolean}
	StringSchema  = &Schema{Type: String}
	BytesSchema   = &Schema{Type: Bytes}

	OptionalInt8Schema    = &Schema{Type: Int8, Optional: true}
	OptionalInt16Schema   = &Schema{Type: Int16, Optional: true}
	OptionalInt32Schema   = &Schema{Type: Int32, Optional: true}
	OptionalInt64Schema   = &Schema{Type: Int64, Optional: true}
	OptionalFloat32Schema = &Schema{Type: Float32, Optional: true}
	OptionalFloat64Schema = &Schema{Type: Float64, Optional: true}
	OptionalBooleanSchema = &Schema{Type: Boolean, Optional: true}
	OptionalStringSchema  = &Schema{Type: String, Optional: true}
	OptionalBytesSchema   = &Schema{Type: Bytes, Optional: true}
)

// ArrayOf is a required array schema of elem.
func ArrayOf(elem *Schema) *Schema { return &Schema{Type: Array, Value: elem} }

// MapOf is a required map schema.
func MapOf(key, value *Schema) *Schema { return &Schema{Type: MapType, Key: key, Value: value} }

// StructOf is a required struct schema with these fields.
func StructOf(fields ...Field) *Schema { return &Schema{Type: StructType, Fields: fields} }

// OptionalOf returns a copy of s that is optional.
func OptionalOf(s *Schema) *Schema {
	c := *s
	c.Optional = true
	return &c
}

// Entry is one map entry.
type Entry struct{ Key, Value any }

// Map is a map value: its entries in order.
type Map []Entry

// Struct is a struct value: one value per field of its schema.
type Struct struct {
	Schema *Schema
	Values []any
}

// NewStruct is an empty struct of schema s.
func NewStruct(s *Schema) *Struct { return &Struct{Schema: s, Values: make([]any, len(s.Fields))} }

// Put sets field name; it panics on an unknown field (a programming error, as in Connect).
func (s *Struct) Put(name string, v any) *Struct {
	i := s.Schema.Field(name)
	if i < 0 {
		panic(fmt.Sprintf("data: %s is not a valid field name", name))
	}
	s.Values[i] = v
	return s
}

// Get returns field name's value (nil when unset or unknown).
func (s *Struct) Get(name string) any {
	if i := s.Schema.Field(name); i >= 0 {
		return s.Values[i]
	}
	return nil
}

// Logical type names.
const (
	DecimalName   = "org.apache.kafka.connect.data.Decimal"
	DateName      = "org.apache.kafka.connect.data.Date"
	TimeName      = "org.apache.kafka.connect.data.Time"
	TimestampName = "org.apache.kafka.connect.data.Timestamp"
	// ScaleParam is the Decimal parameter holding the scale.
	ScaleParam = "scale"
)

func one() *int32 { v := int32(1); return &v }

// DecimalSchema is Connect's Decimal.schema(scale): bytes named
// org.apache.kafka.connect.data.Decimal, version 1, parameter scale.
func DecimalSchema(scale int32) *Schema {
	return &Schema{Type: Bytes, Name: DecimalName, Version: one(), Params: []Param{{ScaleParam, fmt.Sprint(scale)}}}
}

// DateSchema is Connect's Date.SCHEMA: int32 days since the epoch.
func DateSchema() *Schema { return &Schema{Type: Int32, Name: DateName, Version: one()} }

// TimeSchema is Connect's Time.SCHEMA: int32 milliseconds since midnight.
func TimeSchema() *Schema { return &Schema{Type: Int32, Name: TimeName, Version: one()} }

// TimestampSchema is Connect's Timestamp.SCHEMA: int64 milliseconds since the epoch.
func TimestampSchema() *Schema { return &Schema{Type: Int64, Name: TimestampName, Version: one()} }

// Decimal is a Decimal value: Unscaled × 10^-Scale (Java's BigDecimal).
type Decimal struct {
	Unscaled *big.Int
	Scale    int32
}

// String is Java's BigDecimal.toString: plain notation, or scientific when the scale is
// negative or the adjusted exponent is below -6.
func (d Decimal) String() string {
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	digits := new(big.Int).Abs(u).String()
	sign := ""
	if u.Sign() < 0 {
		sign = "-"
	}
	adjusted := -int64(d.Scale) + int64(len(digits)-1)
	if d.Scale >= 0 && adjusted >= -6 {
		if d.Scale == 0 {
			return sign + digits
		}
		s := int(d.Scale)
		if len(digits) > s {
			return sign + digits[:len(digits)-s] + "." + digits[len(digits)-s:]
		}
		return sign + "0." + zeros(s-len(digits)) + digits
	}
	out := sign + digits[:1]
	if len(digits) > 1 {
		out += "." + digits[1:]
	}
	if adjusted >= 0 {
		return out + "E+" + fmt.Sprint(adjusted)
	}
	return out + "E" + fmt.Sprint(adjusted)
}

func zeros(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return string(b)
}

// DecimalBytes is Connect's Decimal.fromLogical: the unscaled value as big-endian two's
// complement in the fewest bytes (Java's BigInteger.toByteArray). The value's scale must be the
// schema's.
func DecimalBytes(s *Schema, d Decimal) ([]byte, error) {
	if want, ok := s.Param(ScaleParam); ok && want != fmt.Sprint(d.Scale) {
		return nil, fmt.Errorf("BigDecimal has mismatching scale value for given Decimal schema")
	}
	return twosComplement(d.Unscaled), nil
}

func twosComplement(v *big.Int) []byte {
	if v == nil || v.Sign() == 0 {
		return []byte{0}
	}
	if v.Sign() > 0 {
		b := v.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// Negative: 2^(8n) + v in the fewest n bytes with the sign bit set.
	n := (new(big.Int).Not(v).BitLen())/8 + 1 // bits of |v|-1, plus a sign bit
	m := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	m.Add(m, v)
	b := m.Bytes()
	for len(b) < n {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// DecimalFromBytes is Connect's Decimal.toLogical.
func DecimalFromBytes(s *Schema, b []byte) (Decimal, error) {
	scale, _ := s.Param(ScaleParam)
	var sc int32
	if _, err := fmt.Sscan(scale, &sc); err != nil {
		return Decimal{}, fmt.Errorf("invalid Decimal scale %q", scale)
	}
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return Decimal{Unscaled: v, Scale: sc}, nil
}

const msPerDay = 24 * 60 * 60 * 1000

// DateDays is Connect's Date.fromLogical: days since the epoch of a UTC midnight.
func DateDays(t time.Time) (int32, error) {
	ms := t.UnixMilli()
	if ms%msPerDay != 0 || t.Nanosecond()%int(time.Millisecond) != 0 {
		return 0, fmt.Errorf("Kafka Connect Date type should not have any time fields set to non-zero values.")
	}
	return int32(ms / msPerDay), nil
}

// TimeMillis is Connect's Time.fromLogical: milliseconds since midnight of a time on
// 1970-01-01 UTC.
func TimeMillis(t time.Time) (int32, error) {
	ms := t.UnixMilli()
	if ms < 0 || ms >= msPerDay {
		return 0, fmt.Errorf("Kafka Connect Time type should not have any date fields set to non-zero values.")
	}
	return int32(ms), nil
}

// TimestampMillis is Connect's Timestamp.fromLogical: milliseconds since the epoch.
func TimestampMillis(t time.Time) int64 { return t.UnixMilli() }
