package mysql

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	querypb "vitess.io/vitess/go/vt/proto/query"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// converter turns one non-NULL column value into its Debezium value. raw is the value's
// text as the text protocol (snapshot) or vitess's binlog decoder (binlog) gives it: the two
// differ for ENUM (binlog: the 1-based index) and SET (binlog: the bit mask).
type converter func(raw []byte, binlog bool) (any, error)

// Debezium's logical type names.
const (
	dbzDate           = "io.debezium.time.Date"
	dbzMicroTime      = "io.debezium.time.MicroTime"
	dbzTimestamp      = "io.debezium.time.Timestamp"
	dbzMicroTimestamp = "io.debezium.time.MicroTimestamp"
	dbzZonedTimestamp = "io.debezium.time.ZonedTimestamp"
	dbzYear           = "io.debezium.time.Year"
	dbzJSON           = "io.debezium.data.Json"
	dbzEnum           = "io.debezium.data.Enum"
	dbzEnumSet        = "io.debezium.data.EnumSet"
	dbzBits           = "io.debezium.data.Bits"
	dbzGeometry       = "io.debezium.data.geometry.Geometry"
)

func named(t data.Type, name string, params ...data.Param) *data.Schema {
	return &data.Schema{Type: t, Name: name, Version: ver(1), Params: params}
}

var geometrySchema = &data.Schema{Type: data.StructType, Name: dbzGeometry, Version: ver(1), Doc: "Geometry", Fields: []data.Field{
	{Name: "wkb", Schema: data.BytesSchema},
	{Name: "srid", Schema: data.OptionalInt32Schema},
}}

// columnSchema is a column's Connect schema (optional when nullable, with its default) and its
// converter, as Debezium's MySQL value converters map it.
func (e *engine) columnSchema(c Column) (*data.Schema, converter, error) {
	s, conv := e.baseSchema(c)
	out := *s
	out.Optional = c.Optional
	if c.DefaultValueExpression != nil {
		if v, err := conv([]byte(*c.DefaultValueExpression), false); err == nil && v != nil {
			out.Default = v
		} else if !c.Optional && strings.HasPrefix(strings.ToLower(*c.DefaultValueExpression), "current_timestamp") {
			if v, err := conv([]byte("1970-01-01 00:00:00"), false); err == nil {
				out.Default = v
			}
		}
	}
	if !c.Optional {
		// A zero date in a NOT NULL column has no null to become: Debezium writes the epoch.
		inner := conv
		zero, _ := inner([]byte("1970-01-01 00:00:00"), false)
		switch c.JdbcType {
		case jdbcDate, jdbcTimestamp, jdbcTimestampTZ:
			conv = func(raw []byte, binlog bool) (any, error) {
				v, err := inner(raw, binlog)
				if v == nil && err == nil {
					return zero, nil
				}
				return v, err
			}
		}
	}
	return &out, conv, nil
}

func (e *engine) baseSchema(c Column) (*data.Schema, converter) {
	tn := strings.ToUpper(c.TypeName)
	base := tn
	if i := strings.IndexByte(base, ' '); i > 0 {
		base = base[:i]
	}
	unsigned := strings.Contains(tn, "UNSIGNED")
	length := deref(c.Length, -1)
	connect := e.cfg.TimePrecisionMode == debezium.TimeConnect
	switch base {
	case "TINYINT":
		return &data.Schema{Type: data.Int16}, intConv(func(n int64) any { return int16(n) })
	case "SMALLINT":
		if unsigned {
			return &data.Schema{Type: data.Int32}, intConv(func(n int64) any { return int32(n) })
		}
		return &data.Schema{Type: data.Int16}, intConv(func(n int64) any { return int16(n) })
	case "MEDIUMINT":
		return &data.Schema{Type: data.Int32}, intConv(func(n int64) any { return int32(n) })
	case "INT", "INTEGER":
		if unsigned {
			return &data.Schema{Type: data.Int64}, intConv(func(n int64) any { return n })
		}
		return &data.Schema{Type: data.Int32}, intConv(func(n int64) any { return int32(n) })
	case "BIGINT":
		if unsigned && e.cfg.BigintUnsignedMode == debezium.BigintPrecise {
			s := data.DecimalSchema(0)
			s.Params = append(s.Params, data.Param{Key: "connect.decimal.precision", Value: "20"})
			return s, func(raw []byte, _ bool) (any, error) {
				n, ok := new(big.Int).SetString(string(raw), 10)
				if !ok {
					return nil, fmt.Errorf("%q is not an integer", raw)
				}
				return data.Decimal{Unscaled: n, Scale: 0}, nil
			}
		}
		if unsigned {
			return &data.Schema{Type: data.Int64}, func(raw []byte, _ bool) (any, error) {
				n, err := strconv.ParseUint(string(raw), 10, 64)
				return int64(n), err
			}
		}
		return &data.Schema{Type: data.Int64}, intConv(func(n int64) any { return n })
	case "YEAR":
		return named(data.Int32, dbzYear), intConv(func(n int64) any { return int32(n) })
	case "FLOAT":
		if c.Scale == nil && length <= 24 {
			return &data.Schema{Type: data.Float32}, func(raw []byte, _ bool) (any, error) {
				f, err := strconv.ParseFloat(string(raw), 32)
				return float32(f), err
			}
		}
		return &data.Schema{Type: data.Float64}, floatConv
	case "DOUBLE", "REAL":
		return &data.Schema{Type: data.Float64}, floatConv
	case "DECIMAL", "NUMERIC":
		scale := deref(c.Scale, 0)
		switch e.cfg.DecimalMode {
		case debezium.DecimalDouble:
			return &data.Schema{Type: data.Float64}, floatConv
		case debezium.DecimalString:
			return &data.Schema{Type: data.String}, func(raw []byte, _ bool) (any, error) { return string(raw), nil }
		}
		s := data.DecimalSchema(int32(scale))
		s.Params = append(s.Params, data.Param{Key: "connect.decimal.precision", Value: strconv.Itoa(length)})
		return s, func(raw []byte, _ bool) (any, error) { return parseDecimal(string(raw), int32(scale)) }
	case "BIT":
		if length <= 1 {
			return &data.Schema{Type: data.Boolean}, func(raw []byte, _ bool) (any, error) {
				for _, b := range raw {
					if b != 0 {
						return true, nil
					}
				}
				return false, nil
			}
		}
		n := (length + 7) / 8
		return named(data.Bytes, dbzBits, data.Param{Key: "length", Value: strconv.Itoa(length)}), func(raw []byte, _ bool) (any, error) {
			out := make([]byte, n)
			for i := 0; i < len(raw) && i < n; i++ { // big-endian in, little-endian out
				out[i] = raw[len(raw)-1-i]
			}
			return out, nil
		}
	case "BOOLEAN", "BOOL":
		return &data.Schema{Type: data.Boolean}, func(raw []byte, _ bool) (any, error) {
			return string(raw) != "0" && strings.ToLower(string(raw)) != "false", nil
		}
	case "ENUM":
		opts := c.EnumValues
		return named(data.String, dbzEnum, data.Param{Key: "allowed", Value: strings.Join(opts, ",")}), func(raw []byte, binlog bool) (any, error) {
			if !binlog {
				return string(raw), nil
			}
			i, err := strconv.Atoi(string(raw))
			if err != nil {
				return nil, err
			}
			if i <= 0 || i > len(opts) {
				return "", nil
			}
			return opts[i-1], nil
		}
	case "SET":
		opts := c.EnumValues
		return named(data.String, dbzEnumSet, data.Param{Key: "allowed", Value: strings.Join(opts, ",")}), func(raw []byte, binlog bool) (any, error) {
			if !binlog {
				return string(raw), nil
			}
			m, err := strconv.ParseUint(string(raw), 10, 64)
			if err != nil {
				return nil, err
			}
			var out []string
			for i, o := range opts {
				if m&(1<<uint(i)) != 0 {
					out = append(out, o)
				}
			}
			return strings.Join(out, ","), nil
		}
	case "CHAR", "VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT":
		return &data.Schema{Type: data.String}, textConv(c.CharsetName)
	case "INET4", "INET6", "UUID":
		return &data.Schema{Type: data.String}, stringConv
	case "JSON":
		return named(data.String, dbzJSON), stringConv
	case "BINARY", "VARBINARY", "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB":
		pad := 0
		if base == "BINARY" {
			pad = length
		}
		return e.binarySchema(pad)
	case "DATE":
		if connect {
			return data.DateSchema(), func(raw []byte, _ bool) (any, error) {
				d, ok, err := parseDate(string(raw))
				if !ok || err != nil {
					return nil, err
				}
				return time.Unix(int64(d)*86400, 0).UTC(), nil
			}
		}
		return named(data.Int32, dbzDate), func(raw []byte, _ bool) (any, error) {
			d, ok, err := parseDate(string(raw))
			if !ok || err != nil {
				return nil, err
			}
			return d, nil
		}
	case "TIME":
		if connect {
			return data.TimeSchema(), func(raw []byte, _ bool) (any, error) {
				us, err := parseTime(string(raw))
				if err != nil {
					return nil, err
				}
				return time.UnixMicro(us).UTC(), nil
			}
		}
		return named(data.Int64, dbzMicroTime), func(raw []byte, _ bool) (any, error) { return parseTime(string(raw)) }
	case "DATETIME":
		p := length
		switch {
		case connect:
			return data.TimestampSchema(), func(raw []byte, _ bool) (any, error) {
				us, ok, err := parseDateTime(string(raw))
				if !ok || err != nil {
					return nil, err
				}
				return time.UnixMicro(us).UTC(), nil
			}
		case p <= 3:
			return named(data.Int64, dbzTimestamp), func(raw []byte, _ bool) (any, error) {
				us, ok, err := parseDateTime(string(raw))
				if !ok || err != nil {
					return nil, err
				}
				return floorDiv(us, 1000), nil
			}
		default:
			return named(data.Int64, dbzMicroTimestamp), func(raw []byte, _ bool) (any, error) {
				us, ok, err := parseDateTime(string(raw))
				if !ok || err != nil {
					return nil, err
				}
				return us, nil
			}
		}
	case "TIMESTAMP":
		width := length
		return named(data.String, dbzZonedTimestamp), func(raw []byte, _ bool) (any, error) {
			us, ok, err := parseDateTime(string(raw))
			if !ok || err != nil {
				return nil, err
			}
			return zonedTimestamp(us, width), nil
		}
	case "GEOMETRY", "POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON", "GEOMETRYCOLLECTION", "GEOMCOLLECTION":
		return geometrySchema, func(raw []byte, _ bool) (any, error) {
			if len(raw) < 4 {
				return nil, fmt.Errorf("geometry value too short")
			}
			return &data.Struct{Schema: geometrySchema, Values: []any{append([]byte(nil), raw[4:]...), int32(binary.LittleEndian.Uint32(raw))}}, nil
		}
	}
	return &data.Schema{Type: data.String}, stringConv
}

func (e *engine) binarySchema(pad int) (*data.Schema, converter) {
	padded := func(raw []byte) []byte {
		b := append([]byte(nil), raw...)
		for len(b) < pad {
			b = append(b, 0)
		}
		return b
	}
	switch e.cfg.BinaryMode {
	case debezium.BinaryBase64:
		return &data.Schema{Type: data.String}, func(raw []byte, _ bool) (any, error) { return base64.StdEncoding.EncodeToString(padded(raw)), nil }
	case debezium.BinaryBase64URLSafe:
		return &data.Schema{Type: data.String}, func(raw []byte, _ bool) (any, error) { return base64.URLEncoding.EncodeToString(padded(raw)), nil }
	case debezium.BinaryHex:
		return &data.Schema{Type: data.String}, func(raw []byte, _ bool) (any, error) { return hex.EncodeToString(padded(raw)), nil }
	}
	return &data.Schema{Type: data.Bytes}, func(raw []byte, _ bool) (any, error) { return padded(raw), nil }
}

func intConv(f func(int64) any) converter {
	return func(raw []byte, _ bool) (any, error) {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			u, uerr := strconv.ParseUint(string(raw), 10, 64)
			if uerr != nil {
				return nil, err
			}
			n = int64(u)
		}
		return f(n), nil
	}
}

func floatConv(raw []byte, _ bool) (any, error) { return strconv.ParseFloat(string(raw), 64) }

func stringConv(raw []byte, _ bool) (any, error) { return string(raw), nil }

// charsets are the single-byte character sets whose binlog bytes need decoding to UTF-8
// (the snapshot's text protocol already converts: its session uses utf8mb4). MySQL's latin1
// is Windows-1252.
var charsets = map[string]*charmap.Charmap{
	"latin1": charmap.Windows1252, "latin2": charmap.ISO8859_2, "latin5": charmap.ISO8859_9, "latin7": charmap.ISO8859_13,
	"cp1250": charmap.Windows1250, "cp1251": charmap.Windows1251, "cp1256": charmap.Windows1256, "cp1257": charmap.Windows1257,
	"greek": charmap.ISO8859_7, "hebrew": charmap.ISO8859_8, "koi8r": charmap.KOI8R, "koi8u": charmap.KOI8U,
	"cp850": charmap.CodePage850, "cp852": charmap.CodePage852, "cp866": charmap.CodePage866, "macroman": charmap.Macintosh,
}

// textConv converts a text column's value: binlog bytes are in the column's character set.
// Without a known character set, bytes that are not UTF-8 are read as latin1.
func textConv(charset *string) converter {
	var cm *charmap.Charmap
	known := false
	if charset != nil {
		cs := strings.ToLower(*charset)
		cm, known = charsets[cs], true
	}
	return func(raw []byte, binlog bool) (any, error) {
		if !binlog {
			return string(raw), nil
		}
		m := cm
		if !known && !utf8.Valid(raw) {
			m = charmap.Windows1252
		}
		if m == nil || isASCII(raw) {
			return string(raw), nil
		}
		out, err := m.NewDecoder().Bytes(raw)
		if err != nil {
			return nil, err
		}
		return string(out), nil
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// parseDecimal reads a decimal's text at the column's scale.
func parseDecimal(s string, scale int32) (data.Decimal, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	intPart, frac, _ := strings.Cut(s, ".")
	for int32(len(frac)) < scale {
		frac += "0"
	}
	frac = frac[:scale]
	n, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return data.Decimal{}, fmt.Errorf("%q is not a decimal", s)
	}
	if neg {
		n.Neg(n)
	}
	return data.Decimal{Unscaled: n, Scale: scale}, nil
}

// parseDate is days since the epoch of YYYY-MM-DD; ok is false for a zero date.
func parseDate(s string) (int32, bool, error) {
	if len(s) < 10 {
		return 0, false, fmt.Errorf("%q is not a date", s)
	}
	y, err1 := strconv.Atoi(s[0:4])
	m, err2 := strconv.Atoi(s[5:7])
	d, err3 := strconv.Atoi(s[8:10])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, false, fmt.Errorf("%q is not a date", s)
	}
	if m == 0 || d == 0 {
		return 0, false, nil
	}
	return int32(time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400), true, nil
}

// parseDateTime is microseconds since the epoch of YYYY-MM-DD HH:MM:SS[.ffffff] (UTC); ok is
// false for a zero date.
func parseDateTime(s string) (int64, bool, error) {
	days, ok, err := parseDate(s)
	if !ok || err != nil {
		return 0, ok, err
	}
	var us int64
	if len(s) > 11 {
		t, err := parseTime(s[11:])
		if err != nil {
			return 0, false, err
		}
		us = t
	}
	return int64(days)*86400_000_000 + us, true, nil
}

// parseTime is the microseconds of [-]HHH:MM:SS[.ffffff].
func parseTime(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("%q is not a time", s)
	}
	h, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.ParseInt(parts[1], 10, 64)
	secs, frac, _ := strings.Cut(parts[2], ".")
	sec, err3 := strconv.ParseInt(secs, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, fmt.Errorf("%q is not a time", s)
	}
	var us int64
	if frac != "" {
		for len(frac) < 6 {
			frac += "0"
		}
		us, _ = strconv.ParseInt(frac[:6], 10, 64)
	}
	v := ((h*60+m)*60+sec)*1_000_000 + us
	if neg {
		v = -v
	}
	return v, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// zonedTimestamp is Debezium's ZonedTimestamp of a UTC instant: ISO-8601 with "Z", the
// fraction at the column's width (none when the column has no fractional seconds).
func zonedTimestamp(us int64, width int) string {
	t := time.UnixMicro(us).UTC()
	s := t.Format("2006-01-02T15:04:05")
	if width > 0 && width <= 9 {
		f := fmt.Sprintf("%09d", t.Nanosecond())
		s += "." + f[:width]
	} else if t.Nanosecond() != 0 {
		s += strings.TrimRight("."+fmt.Sprintf("%09d", t.Nanosecond()), "0")
	}
	return s + "Z"
}

// binlogField is what vitess's binlog decoder needs of a column: its signedness and whether
// it is binary.
func binlogField(c Column) *querypb.Field {
	tn := strings.ToUpper(c.TypeName)
	f := &querypb.Field{Type: querypb.Type_INT64}
	switch {
	case strings.Contains(tn, "UNSIGNED"):
		f.Type = querypb.Type_UINT64
	case strings.HasPrefix(tn, "BINARY"):
		f.Type, f.ColumnType = querypb.Type_BINARY, "binary"
	case strings.HasPrefix(tn, "VARBINARY"):
		f.Type = querypb.Type_VARBINARY
	case strings.HasSuffix(tn, "BLOB"):
		f.Type = querypb.Type_BLOB
	case c.JdbcType == jdbcChar || c.JdbcType == jdbcVarchar:
		f.Type = querypb.Type_VARCHAR
	}
	return f
}

var _ = math.MaxInt64
