package postgres

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// PostgreSQL type OIDs (pg_type.dat).
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidXML         = 142
	oidCIDR        = 650
	oidFloat4      = 700
	oidFloat8      = 701
	oidMoney       = 790
	oidMacaddr8    = 774
	oidMacaddr     = 829
	oidInet        = 869
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidInterval    = 1186
	oidTimetz      = 1266
	oidBit         = 1560
	oidVarbit      = 1562
	oidNumeric     = 1700
	oidUUID        = 2950
	oidTSVector    = 3614
	oidJSONB       = 3802
	oidInt4Range   = 3904
	oidNumRange    = 3906
	oidTSRange     = 3908
	oidTSTZRange   = 3910
	oidDateRange   = 3912
	oidInt8Range   = 3926
)

// pgType is what the catalog says of a column's type.
type pgType struct {
	OID     uint32
	Name    string
	Typmod  int32
	Enum    string  // comma-joined labels of an enum type
	Elem    *pgType // element type of an array
	Unknown bool
}

// converter turns a column's text form (pgoutput's and the snapshot's) into its Connect value.
type converter func(text []byte) (any, error)

// mapper maps PostgreSQL types to Debezium's schemas and values.
type mapper struct {
	cfg *debezium.PostgresConfig
}

func ver1() *int32 { v := int32(1); return &v }

func named(t data.Type, name string, params ...data.Param) *data.Schema {
	return &data.Schema{Type: t, Name: name, Version: ver1(), Params: params}
}

// precision of a time/timestamp typmod (PostgreSQL's default 6).
func timePrecision(typmod int32) int {
	if typmod < 0 {
		return 6
	}
	return int(typmod)
}

// column maps one column's type; ok false: a type without a mapping (left out unless
// include.unknown.datatypes).
func (m *mapper) column(t *pgType) (*data.Schema, converter, bool) {
	c := m.cfg
	str := func(name string) (*data.Schema, converter, bool) {
		s := &data.Schema{Type: data.String}
		if name != "" {
			s = named(data.String, name)
		}
		return s, func(b []byte) (any, error) { return string(b), nil }, true
	}
	if t.Enum != "" && t.Elem == nil {
		s := named(data.String, "io.debezium.data.Enum", data.Param{Key: "allowed", Value: t.Enum})
		return s, func(b []byte) (any, error) { return string(b), nil }, true
	}
	switch t.OID {
	case oidBool:
		return &data.Schema{Type: data.Boolean}, func(b []byte) (any, error) { return len(b) > 0 && b[0] == 't', nil }, true
	case oidInt2:
		return &data.Schema{Type: data.Int16}, func(b []byte) (any, error) {
			n, err := strconv.ParseInt(string(b), 10, 16)
			return int16(n), err
		}, true
	case oidInt4:
		return &data.Schema{Type: data.Int32}, func(b []byte) (any, error) {
			n, err := strconv.ParseInt(string(b), 10, 32)
			return int32(n), err
		}, true
	case oidInt8, oidOID:
		return &data.Schema{Type: data.Int64}, func(b []byte) (any, error) {
			return strconv.ParseInt(string(b), 10, 64)
		}, true
	case oidFloat4:
		return &data.Schema{Type: data.Float32}, func(b []byte) (any, error) {
			f, err := strconv.ParseFloat(string(b), 32)
			return float32(f), err
		}, true
	case oidFloat8:
		return &data.Schema{Type: data.Float64}, func(b []byte) (any, error) {
			return strconv.ParseFloat(string(b), 64)
		}, true
	case oidNumeric:
		return m.numeric(t.Typmod)
	case oidMoney:
		return m.money()
	case oidChar, oidName, oidText, oidBpchar, oidVarchar, oidInet, oidCIDR, oidMacaddr, oidMacaddr8,
		oidInt4Range, oidNumRange, oidTSRange, oidTSTZRange, oidDateRange, oidInt8Range:
		return str("")
	case oidUUID:
		return str("io.debezium.data.Uuid")
	case oidJSON, oidJSONB:
		return str("io.debezium.data.Json")
	case oidXML:
		return str("io.debezium.data.Xml")
	case oidTSVector:
		return str("io.debezium.data.TsVector")
	case oidBytea:
		return m.binary(func(b []byte) ([]byte, error) { return decodeBytea(b) })
	case oidBit, oidVarbit:
		length := int(t.Typmod)
		if length < 0 {
			length = math.MaxInt32
		}
		if length == 1 {
			return &data.Schema{Type: data.Boolean}, func(b []byte) (any, error) { return len(b) > 0 && b[0] == '1', nil }, true
		}
		return named(data.Bytes, "io.debezium.data.Bits", data.Param{Key: "length", Value: strconv.Itoa(length)}), convertBits, true
	case oidDate:
		return m.date()
	case oidTime:
		return m.time(timePrecision(t.Typmod))
	case oidTimestamp:
		return m.timestamp(timePrecision(t.Typmod))
	case oidTimetz:
		return named(data.String, "io.debezium.time.ZonedTime"), func(b []byte) (any, error) {
			tm, err := parseTimeTZ(string(b))
			if err != nil {
				return nil, err
			}
			return formatClock(tm, 0) + "Z", nil
		}, true
	case oidTimestamptz:
		width := timePrecision(t.Typmod)
		return named(data.String, "io.debezium.time.ZonedTimestamp"), func(b []byte) (any, error) {
			s := string(b)
			if s == "infinity" || s == "-infinity" {
				return s, nil
			}
			tm, err := parseTimestamp(s, true)
			if err != nil {
				return nil, err
			}
			return formatTimestamp(tm.UTC(), width) + "Z", nil
		}, true
	case oidInterval:
		if c.IntervalMode == debezium.IntervalString {
			return named(data.String, "io.debezium.time.Interval"), func(b []byte) (any, error) {
				iv, err := parseInterval(string(b))
				if err != nil {
					return nil, err
				}
				return iv.iso(), nil
			}, true
		}
		return named(data.Int64, "io.debezium.time.MicroDuration"), func(b []byte) (any, error) {
			iv, err := parseInterval(string(b))
			if err != nil {
				return nil, err
			}
			return iv.micros(), nil
		}, true
	}
	if t.Elem != nil {
		switch t.Elem.OID {
		case oidMoney, oidInterval, oidVarbit, oidBit, oidXML, oidName:
			return m.unknown()
		}
		es, ec, ok := m.column(t.Elem)
		if !ok {
			return m.unknown()
		}
		es = data.OptionalOf(es)
		return data.ArrayOf(es), func(b []byte) (any, error) {
			items, err := parseArray(string(b))
			if err != nil {
				return nil, err
			}
			out := make([]any, len(items))
			for i, it := range items {
				if it == nil {
					continue
				}
				if out[i], err = ec([]byte(*it)); err != nil {
					return nil, err
				}
			}
			return out, nil
		}, true
	}
	return m.unknown()
}

func (m *mapper) unknown() (*data.Schema, converter, bool) {
	if !m.cfg.IncludeUnknown {
		return nil, nil, false
	}
	return m.binary(func(b []byte) ([]byte, error) { return append([]byte(nil), b...), nil })
}

// binary is a bytes column under binary.handling.mode.
func (m *mapper) binary(raw func([]byte) ([]byte, error)) (*data.Schema, converter, bool) {
	enc := func(f func([]byte) string) converter {
		return func(b []byte) (any, error) {
			v, err := raw(b)
			if err != nil {
				return nil, err
			}
			return f(v), nil
		}
	}
	switch m.cfg.BinaryMode {
	case debezium.BinaryBase64:
		return &data.Schema{Type: data.String}, enc(base64.StdEncoding.EncodeToString), true
	case debezium.BinaryBase64URLSafe:
		return &data.Schema{Type: data.String}, enc(base64.URLEncoding.EncodeToString), true
	case debezium.BinaryHex:
		return &data.Schema{Type: data.String}, enc(hex.EncodeToString), true
	}
	return &data.Schema{Type: data.Bytes}, func(b []byte) (any, error) { return raw(b) }, true
}

func decodeBytea(b []byte) ([]byte, error) {
	if len(b) >= 2 && b[0] == '\\' && b[1] == 'x' {
		out := make([]byte, hex.DecodedLen(len(b)-2))
		_, err := hex.Decode(out, b[2:])
		return out, err
	}
	return nil, fmt.Errorf("bytea %q is not in hex format", b)
}

// convertBits is Debezium's BIT(n>1)/VARBIT: the bits as a little-endian bit set, in the
// fewest bytes of the set bits.
func convertBits(b []byte) (any, error) {
	n := len(b)
	var bits big.Int
	for i := n - 1; i >= 0; i-- {
		if b[i] == '1' {
			bits.SetBit(&bits, n-i-1, 1)
		}
	}
	be := bits.Bytes() // big-endian, no leading zeros
	out := make([]byte, len(be))
	for i := range be {
		out[i] = be[len(be)-1-i]
	}
	return out, nil
}

func (m *mapper) numeric(typmod int32) (*data.Schema, converter, bool) {
	switch m.cfg.DecimalMode {
	case debezium.DecimalDouble:
		return &data.Schema{Type: data.Float64}, func(b []byte) (any, error) { return strconv.ParseFloat(string(b), 64) }, true
	case debezium.DecimalString:
		return &data.Schema{Type: data.String}, func(b []byte) (any, error) { return string(b), nil }, true
	}
	if typmod < 0 {
		s := &data.Schema{Type: data.StructType, Name: "io.debezium.data.VariableScaleDecimal", Version: ver1(), Doc: "Variable scaled decimal",
			Fields: []data.Field{{Name: "scale", Schema: data.Int32Schema}, {Name: "value", Schema: data.BytesSchema}}}
		return s, func(b []byte) (any, error) {
			d, ok := parseDecimal(string(b))
			if !ok {
				return nil, nil // NaN, ±Infinity: no value in precise mode
			}
			raw, err := data.DecimalBytes(&data.Schema{}, d)
			if err != nil {
				return nil, err
			}
			return &data.Struct{Schema: s, Values: []any{d.Scale, raw}}, nil
		}, true
	}
	precision, scale := int((typmod-4)>>16)&0xffff, int32((typmod-4)&0xffff)
	s := data.DecimalSchema(scale)
	s.Params = append(s.Params, data.Param{Key: "connect.decimal.precision", Value: strconv.Itoa(precision)})
	return s, func(b []byte) (any, error) {
		d, ok := parseDecimal(string(b))
		if !ok {
			return nil, nil
		}
		return rescale(d, scale), nil
	}, true
}

func (m *mapper) money() (*data.Schema, converter, bool) {
	scale := int32(m.cfg.MoneyFractionDigits)
	clean := func(b []byte) string {
		var sb strings.Builder
		neg := false
		for _, c := range b {
			switch {
			case c >= '0' && c <= '9', c == '.':
				sb.WriteByte(c)
			case c == '-', c == '(':
				neg = true
			}
		}
		if neg {
			return "-" + sb.String()
		}
		return sb.String()
	}
	switch m.cfg.DecimalMode {
	case debezium.DecimalDouble:
		return &data.Schema{Type: data.Float64}, func(b []byte) (any, error) { return strconv.ParseFloat(clean(b), 64) }, true
	case debezium.DecimalString:
		return &data.Schema{Type: data.String}, func(b []byte) (any, error) { return clean(b), nil }, true
	}
	return data.DecimalSchema(scale), func(b []byte) (any, error) {
		d, ok := parseDecimal(clean(b))
		if !ok {
			return nil, fmt.Errorf("money %q", b)
		}
		return rescale(d, scale), nil
	}, true
}

// parseDecimal reads PostgreSQL's numeric text; ok is false for NaN and infinities.
func parseDecimal(s string) (data.Decimal, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return data.Decimal{}, false
		}
		exp, s = e, s[:i]
	}
	scale := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		scale = len(s) - i - 1
		s = s[:i] + s[i+1:]
	}
	u, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return data.Decimal{}, false
	}
	if neg {
		u.Neg(u)
	}
	scale -= exp
	if scale < 0 {
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil))
		scale = 0
	}
	return data.Decimal{Unscaled: u, Scale: int32(scale)}, true
}

// rescale sets d's scale (PostgreSQL already rounded to the column's scale).
func rescale(d data.Decimal, scale int32) data.Decimal {
	u := new(big.Int).Set(d.Unscaled)
	switch {
	case d.Scale < scale:
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale-d.Scale)), nil))
	case d.Scale > scale:
		u.Quo(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale-scale)), nil))
	}
	return data.Decimal{Unscaled: u, Scale: scale}
}

func (m *mapper) date() (*data.Schema, converter, bool) {
	parse := func(b []byte) (time.Time, bool, error) {
		s := string(b)
		if s == "infinity" || s == "-infinity" {
			return time.Time{}, false, nil
		}
		t, err := parseDate(s)
		return t, err == nil, err
	}
	switch m.cfg.TimePrecisionMode {
	case debezium.TimeConnect:
		return data.DateSchema(), func(b []byte) (any, error) {
			t, ok, err := parse(b)
			if !ok {
				return nil, err
			}
			return t, nil
		}, true
	case debezium.TimeIsoString:
		return named(data.String, "io.debezium.time.IsoDate"), func(b []byte) (any, error) {
			t, ok, err := parse(b)
			if !ok {
				return nil, err
			}
			return t.Format("2006-01-02") + "Z", nil
		}, true
	}
	return named(data.Int32, "io.debezium.time.Date"), func(b []byte) (any, error) {
		t, ok, err := parse(b)
		if !ok {
			return nil, err
		}
		return int32(t.Unix() / 86400), nil
	}, true
}

func (m *mapper) time(precision int) (*data.Schema, converter, bool) {
	micros := func(b []byte) (int64, error) { return parseClock(string(b)) }
	switch m.cfg.TimePrecisionMode {
	case debezium.TimeConnect:
		return data.TimeSchema(), func(b []byte) (any, error) {
			us, err := micros(b)
			if err != nil {
				return nil, err
			}
			return time.UnixMicro(us).UTC(), nil
		}, true
	case debezium.TimeIsoString:
		return named(data.String, "io.debezium.time.IsoTime"), func(b []byte) (any, error) {
			us, err := micros(b)
			if err != nil {
				return nil, err
			}
			return formatClock(time.UnixMicro(us).UTC(), 0) + "Z", nil
		}, true
	case debezium.TimeNanoseconds:
		return named(data.Int64, "io.debezium.time.NanoTime"), func(b []byte) (any, error) {
			us, err := micros(b)
			return us * 1000, err
		}, true
	case debezium.TimeAdaptive:
		if precision <= 3 {
			return named(data.Int32, "io.debezium.time.Time"), func(b []byte) (any, error) {
				us, err := micros(b)
				return int32(us / 1000), err
			}, true
		}
	}
	return named(data.Int64, "io.debezium.time.MicroTime"), func(b []byte) (any, error) { return micros(b) }, true
}

// pgjdbc's PGStatement.DATE_POSITIVE_INFINITY and DATE_NEGATIVE_INFINITY, which Debezium
// reads as microseconds for timestamp 'infinity' and '-infinity'.
const (
	positiveInfinityMicros = 9223372036825200000
	negativeInfinityMicros = -9223372036832400000
)

func (m *mapper) timestamp(precision int) (*data.Schema, converter, bool) {
	parse := func(b []byte) (time.Time, bool, error) {
		s := string(b)
		if s == "infinity" {
			return time.UnixMicro(positiveInfinityMicros).UTC(), true, nil
		}
		if s == "-infinity" {
			return time.UnixMicro(negativeInfinityMicros).UTC(), true, nil
		}
		t, err := parseTimestamp(s, false)
		return t, err == nil, err
	}
	switch m.cfg.TimePrecisionMode {
	case debezium.TimeConnect:
		return data.TimestampSchema(), func(b []byte) (any, error) {
			t, ok, err := parse(b)
			if !ok {
				return nil, err
			}
			return t, nil
		}, true
	case debezium.TimeIsoString:
		return named(data.String, "io.debezium.time.IsoTimestamp"), func(b []byte) (any, error) {
			t, ok, err := parse(b)
			if !ok {
				return nil, err
			}
			return formatTimestamp(t, 0) + "Z", nil
		}, true
	}
	if m.cfg.TimePrecisionMode == debezium.TimeNanoseconds {
		return named(data.Int64, "io.debezium.time.NanoTimestamp"), func(b []byte) (any, error) {
			t, ok, err := parse(b)
			if !ok {
				return nil, err
			}
			return t.UnixMicro() * 1000, nil
		}, true
	}
	if precision <= 3 && m.cfg.TimePrecisionMode != debezium.TimeMicroseconds {
		return named(data.Int64, "io.debezium.time.Timestamp"), func(b []byte) (any, error) {
			t, ok, err := parse(b)
			if !ok {
				return nil, err
			}
			return t.UnixMilli(), nil
		}, true
	}
	return named(data.Int64, "io.debezium.time.MicroTimestamp"), func(b []byte) (any, error) {
		t, ok, err := parse(b)
		if !ok {
			return nil, err
		}
		return t.UnixMicro(), nil
	}, true
}

// parseDate reads DateStyle ISO dates, with a trailing " BC".
func parseDate(s string) (time.Time, error) {
	bc := strings.HasSuffix(s, " BC")
	s = strings.TrimSuffix(s, " BC")
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return t, err
	}
	if bc {
		t = t.AddDate(1-2*t.Year(), 0, 0)
	}
	return t, nil
}

// parseClock reads hh:mm:ss[.ffffff] as microseconds since midnight (24:00:00 included).
func parseClock(s string) (int64, error) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, fmt.Errorf("time %q", s)
	}
	h, e1 := strconv.Atoi(s[0:2])
	mi, e2 := strconv.Atoi(s[3:5])
	sec, e3 := strconv.Atoi(s[6:8])
	if e1 != nil || e2 != nil || e3 != nil {
		return 0, fmt.Errorf("time %q", s)
	}
	us := int64(0)
	if len(s) > 9 && s[8] == '.' {
		frac := s[9:]
		if len(frac) > 6 {
			frac = frac[:6]
		}
		f, err := strconv.Atoi(frac)
		if err != nil {
			return 0, fmt.Errorf("time %q", s)
		}
		for i := len(frac); i < 6; i++ {
			f *= 10
		}
		us = int64(f)
	}
	return ((int64(h)*60+int64(mi))*60+int64(sec))*1e6 + us, nil
}

// parseTimeTZ reads hh:mm:ss[.ffffff]+hh[:mm] as a time on 1970-01-01 in UTC.
func parseTimeTZ(s string) (time.Time, error) {
	i := strings.LastIndexAny(s, "+-")
	if i < 8 {
		return time.Time{}, fmt.Errorf("timetz %q", s)
	}
	us, err := parseClock(s[:i])
	if err != nil {
		return time.Time{}, err
	}
	off, err := parseOffset(s[i:])
	if err != nil {
		return time.Time{}, err
	}
	us -= int64(off) * 1e6
	day := int64(86400e6)
	us = ((us % day) + day) % day
	return time.UnixMicro(us).UTC(), nil
}

// parseOffset reads +hh[:mm[:ss]] as seconds east of UTC.
func parseOffset(s string) (int, error) {
	sign := 1
	if s[0] == '-' {
		sign = -1
	}
	parts := strings.Split(s[1:], ":")
	secs := 0
	mult := 3600
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("offset %q", s)
		}
		secs += n * mult
		mult /= 60
	}
	return sign * secs, nil
}

// parseTimestamp reads DateStyle ISO timestamps ("2016-11-04 13:51:30.123456", with an offset
// when tz, and " BC").
func parseTimestamp(s string, tz bool) (time.Time, error) {
	bc := strings.HasSuffix(s, " BC")
	s = strings.TrimSuffix(s, " BC")
	sp := strings.IndexByte(s, ' ')
	if sp < 0 {
		return time.Time{}, fmt.Errorf("timestamp %q", s)
	}
	d, err := parseDate(s[:sp])
	if err != nil {
		return time.Time{}, err
	}
	rest := s[sp+1:]
	off := 0
	if tz {
		i := strings.LastIndexAny(rest, "+-")
		if i < 8 {
			return time.Time{}, fmt.Errorf("timestamptz %q", s)
		}
		if off, err = parseOffset(rest[i:]); err != nil {
			return time.Time{}, err
		}
		rest = rest[:i]
	}
	us, err := parseClock(rest)
	if err != nil {
		return time.Time{}, err
	}
	t := d.Add(time.Duration(us) * time.Microsecond).Add(-time.Duration(off) * time.Second)
	if bc {
		t = t.AddDate(1-2*d.Year(), 0, 0)
	}
	return t.UTC(), nil
}

// formatClock is Java's ISO_LOCAL_TIME: hh:mm:ss and the fraction without trailing zeros
// (width 0), or exactly width digits.
func formatClock(t time.Time, width int) string {
	s := fmt.Sprintf("%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second())
	ns := t.Nanosecond()
	if width > 0 && width <= 9 {
		f := fmt.Sprintf("%09d", ns)
		return s + "." + f[:width]
	}
	if ns == 0 {
		return s
	}
	return s + "." + strings.TrimRight(fmt.Sprintf("%09d", ns), "0")
}

// formatTimestamp is Java's ISO_LOCAL_DATE_TIME (see formatClock for width).
func formatTimestamp(t time.Time, width int) string {
	y := t.Year()
	var ds string
	switch {
	case y > 9999:
		ds = fmt.Sprintf("+%d-%02d-%02d", y, t.Month(), t.Day())
	case y < 0:
		ds = fmt.Sprintf("-%04d-%02d-%02d", -y, t.Month(), t.Day())
	default:
		ds = fmt.Sprintf("%04d-%02d-%02d", y, t.Month(), t.Day())
	}
	return ds + "T" + formatClock(t, width)
}

// interval is a PostgreSQL interval as pgjdbc's PGInterval splits it.
type interval struct {
	years, months, days, hours, minutes int
	seconds                             float64
}

// parseInterval reads IntervalStyle postgres output: "1 year 2 mons 3 days 04:05:06.789",
// "-1 days +02:03:00", "00:00:01".
func parseInterval(s string) (interval, error) {
	var iv interval
	f := strings.Fields(s)
	for i := 0; i < len(f); i++ {
		tok := f[i]
		if strings.Contains(tok, ":") {
			neg := strings.HasPrefix(tok, "-")
			tok = strings.TrimLeft(tok, "+-")
			p := strings.Split(tok, ":")
			if len(p) != 3 {
				return iv, fmt.Errorf("interval %q", s)
			}
			h, e1 := strconv.Atoi(p[0])
			mi, e2 := strconv.Atoi(p[1])
			sec, e3 := strconv.ParseFloat(p[2], 64)
			if e1 != nil || e2 != nil || e3 != nil {
				return iv, fmt.Errorf("interval %q", s)
			}
			if neg {
				h, mi, sec = -h, -mi, -sec
			}
			iv.hours, iv.minutes, iv.seconds = h, mi, sec
			continue
		}
		if i+1 >= len(f) {
			return iv, fmt.Errorf("interval %q", s)
		}
		n, err := strconv.Atoi(tok)
		if err != nil {
			return iv, fmt.Errorf("interval %q", s)
		}
		i++
		switch u := f[i]; {
		case strings.HasPrefix(u, "year"):
			iv.years += n
		case strings.HasPrefix(u, "mon"):
			iv.months += n
		case strings.HasPrefix(u, "day"):
			iv.days += n
		default:
			return iv, fmt.Errorf("interval %q", s)
		}
	}
	iv.years += iv.months / 12
	iv.months %= 12
	return iv, nil
}

// micros is MicroDuration.durationMicros with Debezium's 365.25/12 days a month.
func (iv interval) micros() int64 {
	days := float64(iv.years*12+iv.months)*(365.25/12.0) + float64(iv.days)
	secs := ((days*24+float64(iv.hours))*60+float64(iv.minutes))*60 + iv.seconds
	return int64(secs * 1e6)
}

// iso is Interval.toIsoString: PnYnMnDTnHnMnS, the seconds without trailing zeros.
func (iv interval) iso() string {
	d, ok := parseDecimal(strconv.FormatFloat(iv.seconds, 'f', 6, 64))
	sec := "0"
	if ok {
		for d.Scale > 0 && new(big.Int).Rem(d.Unscaled, big.NewInt(10)).Sign() == 0 {
			d.Unscaled.Quo(d.Unscaled, big.NewInt(10))
			d.Scale--
		}
		sec = d.String()
	}
	return fmt.Sprintf("P%dY%dM%dDT%dH%dM%sS", iv.years, iv.months, iv.days, iv.hours, iv.minutes, sec)
}

// parseArray reads a one-dimensional array literal ({a,"b c",NULL}); nil items are NULLs.
func parseArray(s string) ([]*string, error) {
	if i := strings.Index(s, "={"); i >= 0 && strings.HasPrefix(s, "[") {
		s = s[i+1:] // explicit bounds: [0:1]={…}
	}
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("array %q", s)
	}
	body := s[1 : len(s)-1]
	var out []*string
	if body == "" {
		return []*string{}, nil
	}
	for i := 0; i <= len(body); {
		if i < len(body) && body[i] == '{' {
			return nil, fmt.Errorf("multi-dimensional array %q is not supported", s)
		}
		var sb strings.Builder
		quoted := false
		if i < len(body) && body[i] == '"' {
			quoted = true
			i++
			for i < len(body) && body[i] != '"' {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				sb.WriteByte(body[i])
				i++
			}
			i++ // closing quote
		} else {
			for i < len(body) && body[i] != ',' {
				sb.WriteByte(body[i])
				i++
			}
		}
		v := sb.String()
		if !quoted && strings.EqualFold(v, "NULL") {
			out = append(out, nil)
		} else {
			out = append(out, &v)
		}
		i++ // the comma
	}
	return out, nil
}

// fallback is what Debezium puts in a required column that has no value (a REPLICA IDENTITY
// DEFAULT old tuple carries only the key): the type's zero.
func fallback(s *data.Schema) any {
	if s.Optional {
		return nil
	}
	switch s.Name {
	case data.DecimalName:
		sc, _ := s.Param(data.ScaleParam)
		n, _ := strconv.Atoi(sc)
		return data.Decimal{Unscaled: new(big.Int), Scale: int32(n)}
	case data.DateName, data.TimeName, data.TimestampName:
		return time.Unix(0, 0).UTC()
	}
	switch s.Type {
	case data.Int8:
		return int8(0)
	case data.Int16:
		return int16(0)
	case data.Int32:
		return int32(0)
	case data.Int64:
		return int64(0)
	case data.Float32:
		return float32(0)
	case data.Float64:
		return float64(0)
	case data.Boolean:
		return false
	case data.String:
		return ""
	case data.Bytes:
		return []byte{}
	case data.Array:
		return []any{}
	case data.StructType:
		st := data.NewStruct(s)
		for i, f := range s.Fields {
			st.Values[i] = fallback(f.Schema)
		}
		return st
	}
	return nil
}

// unavailable is the value of an unchanged TOASTed column (unavailable.value.placeholder).
func unavailable(s *data.Schema, placeholder string) any {
	switch s.Type {
	case data.String:
		return placeholder
	case data.Bytes:
		if s.Name == "" {
			return []byte(placeholder)
		}
	case data.Array:
		if s.Value.Type == data.String {
			return []any{placeholder}
		}
	}
	return fallback(s)
}
