package mysql

import (
	"encoding/binary"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"vitess.io/vitess/go/mysql/binlog"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// fastKind is how a column's binlog cells decode without vitess's text rendering, for the
// common types whose Debezium value is a plain number, a string or an epoch count.
type fastKind uint8

const (
	fastNone     fastKind = iota
	fastInt               // TINYINT … BIGINT to int16/int32/int64
	fastString            // VARCHAR to string
	fastDateTime          // DATETIME(n) to Timestamp (ms), MicroTimestamp (µs) or Connect Timestamp
	fastDecimal           // DECIMAL(p ≤ 18, s) to Connect Decimal
)

type fastCol struct {
	kind     fastKind
	unsigned bool
	out      data.Type
	unit     int64            // fastDateTime: µs per unit (1000: ms, 1: µs); 0: Connect Timestamp
	charset  *charmap.Charmap // fastString: a single-byte character set to decode from
	guess    bool             // fastString: character set unknown: not UTF-8 means latin1
}

// fastColumn chooses a column's fast path from its Debezium schema.
func fastColumn(c Column, s *data.Schema) fastCol {
	if s == nil {
		return fastCol{}
	}
	if s.Name == data.DecimalName && (c.TypeName == "DECIMAL" || c.TypeName == "NUMERIC" || c.TypeName == "DECIMAL UNSIGNED") {
		return fastCol{kind: fastDecimal}
	}
	if len(s.Params) > 0 {
		return fastCol{}
	}
	base := c.TypeName
	for i := 0; i < len(base); i++ {
		if base[i] == ' ' {
			base = base[:i]
			break
		}
	}
	unsigned := len(c.TypeName) > len(base)
	switch base {
	case "TINYINT", "SMALLINT", "MEDIUMINT", "INT", "INTEGER", "BIGINT":
		if s.Name == "" && (s.Type == data.Int16 || s.Type == data.Int32 || s.Type == data.Int64) {
			return fastCol{kind: fastInt, unsigned: unsigned, out: s.Type}
		}
	case "VARCHAR":
		cs := ""
		if c.CharsetName != nil {
			cs = strings.ToLower(*c.CharsetName)
		}
		if s.Name == "" && s.Type == data.String {
			switch {
			case c.CharsetName == nil:
				return fastCol{kind: fastString, guess: true}
			case strings.HasPrefix(cs, "utf8") || cs == "ascii":
				return fastCol{kind: fastString}
			case charsets[cs] != nil:
				return fastCol{kind: fastString, charset: charsets[cs]}
			}
		}
	case "DATETIME":
		switch s.Name {
		case dbzTimestamp:
			return fastCol{kind: fastDateTime, unit: 1000}
		case dbzMicroTimestamp:
			return fastCol{kind: fastDateTime, unit: 1}
		case data.TimestampName:
			return fastCol{kind: fastDateTime}
		}
	}
	return fastCol{}
}

// decode decodes one cell; ok is false when the slow path must (a zero date, a type the
// binlog stores otherwise than expected).
func (f fastCol) decode(b []byte, pos int, typ byte, meta uint16) (any, int, bool) {
	switch f.kind {
	case fastInt:
		var n int64
		var l int
		switch typ {
		case binlog.TypeTiny:
			l = 1
			if f.unsigned {
				n = int64(b[pos])
			} else {
				n = int64(int8(b[pos]))
			}
		case binlog.TypeShort:
			l = 2
			v := binary.LittleEndian.Uint16(b[pos:])
			if f.unsigned {
				n = int64(v)
			} else {
				n = int64(int16(v))
			}
		case binlog.TypeInt24:
			l = 3
			v := uint32(b[pos]) | uint32(b[pos+1])<<8 | uint32(b[pos+2])<<16
			if !f.unsigned && v&0x800000 != 0 {
				v |= 0xff000000
				n = int64(int32(v))
			} else {
				n = int64(v)
			}
		case binlog.TypeLong:
			l = 4
			v := binary.LittleEndian.Uint32(b[pos:])
			if f.unsigned {
				n = int64(v)
			} else {
				n = int64(int32(v))
			}
		case binlog.TypeLongLong:
			l = 8
			n = int64(binary.LittleEndian.Uint64(b[pos:]))
		default:
			return nil, 0, false
		}
		switch f.out {
		case data.Int16:
			return int16(n), l, true
		case data.Int32:
			return int32(n), l, true
		}
		return n, l, true
	case fastString:
		if typ != binlog.TypeVarchar && typ != binlog.TypeVarString {
			return nil, 0, false
		}
		start, l := pos+1, int(b[pos])
		if meta > 255 {
			start, l = pos+2, int(binary.LittleEndian.Uint16(b[pos:]))
		}
		raw := b[start : start+l]
		cm := f.charset
		if f.guess && !utf8.Valid(raw) {
			cm = charmap.Windows1252
		}
		if cm != nil && !isASCII(raw) {
			out, err := cm.NewDecoder().Bytes(raw)
			if err != nil {
				return nil, 0, false
			}
			return string(out), start - pos + l, true
		}
		return string(raw), start - pos + l, true
	case fastDecimal:
		if typ != binlog.TypeNewDecimal {
			return nil, 0, false
		}
		return decodeDecimal(b, pos, meta)
	case fastDateTime:
		if typ != binlog.TypeDateTime2 {
			return nil, 0, false
		}
		v := (uint64(b[pos])<<32 | uint64(b[pos+1])<<24 | uint64(b[pos+2])<<16 | uint64(b[pos+3])<<8 | uint64(b[pos+4])) - 0x8000000000
		ymd, hms := v>>17, v%(1<<17)
		day, ym := ymd%(1<<5), ymd>>5
		month, year := ym%13, ym/13
		if month == 0 || day == 0 {
			return nil, 0, false
		}
		var us int64
		l := 5 + (int(meta)+1)/2
		switch (meta + 1) / 2 {
		case 1:
			us = int64(b[pos+5]) * 10000
		case 2:
			us = int64(int(b[pos+5])<<8|int(b[pos+6])) * 100
		case 3:
			us = int64(int(b[pos+5])<<16 | int(b[pos+6])<<8 | int(b[pos+7]))
		}
		secs := time.Date(int(year), time.Month(month), int(day), int(hms>>12), int((hms>>6)%64), int(hms%64), 0, time.UTC).Unix()
		total := secs*1_000_000 + us
		if f.unit == 0 {
			return time.UnixMicro(total).UTC(), l, true
		}
		return floorDiv(total, f.unit), l, true
	}
	return nil, 0, false
}

var dig2bytes = [10]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}

var pow10 = [10]uint64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

// decodeDecimal reads MySQL's binary DECIMAL (groups of nine digits in four big-endian bytes,
// the leftover digits in fewer, the sign in the first bit and, when negative, every bit
// inverted) of a precision up to 18.
func decodeDecimal(b []byte, pos int, meta uint16) (any, int, bool) {
	prec, scale := int(meta>>8), int(meta&0xff)
	if prec > 18 || scale > prec {
		return nil, 0, false
	}
	intg := prec - scale
	intg0, intg0x, frac0, frac0x := intg/9, intg%9, scale/9, scale%9
	size := intg0*4 + dig2bytes[intg0x] + frac0*4 + dig2bytes[frac0x]
	if pos+size > len(b) {
		return nil, 0, false
	}
	var tmp [32]byte
	copy(tmp[:size], b[pos:pos+size])
	neg := tmp[0]&0x80 == 0
	tmp[0] ^= 0x80
	if neg {
		for i := 0; i < size; i++ {
			tmp[i] ^= 0xff
		}
	}
	p := 0
	read := func(n int) uint64 {
		var v uint64
		for i := 0; i < n; i++ {
			v = v<<8 | uint64(tmp[p])
			p++
		}
		return v
	}
	var v uint64
	if intg0x > 0 {
		v = read(dig2bytes[intg0x])
	}
	for i := 0; i < intg0; i++ {
		v = v*1_000_000_000 + read(4)
	}
	for i := 0; i < frac0; i++ {
		v = v*1_000_000_000 + read(4)
	}
	if frac0x > 0 {
		v = v*pow10[frac0x] + read(dig2bytes[frac0x])
	}
	n := new(big.Int).SetUint64(v)
	if neg {
		n.Neg(n)
	}
	return data.Decimal{Unscaled: n, Scale: int32(scale)}, size, true
}
