package convert

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// SimpleHeader is SimpleHeaderConverter, Kafka Connect's default header converter: a header is
// written as Connect's Values.convertToString form in UTF-8 — strings as they are, numbers and
// booleans as Java prints them, bytes in base64, arrays, maps and structs in a JSON-like form,
// dates in ISO 8601 (UTC); a null stays null.
type SimpleHeader struct{}

// FromConnectHeader implements HeaderConverter.
func (SimpleHeader) FromConnectHeader(_, _ string, _ *data.Schema, value any) ([]byte, error) {
	if value == nil {
		return nil, nil
	}
	if s, ok := value.(string); ok {
		return []byte(s), nil
	}
	var b strings.Builder
	if err := appendValues(&b, value, false); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// appendValues is Connect's Values.append.
func appendValues(b *strings.Builder, v any, embedded bool) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		if embedded {
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(strings.ReplaceAll(x, `\`, `\\`), `"`, `\"`))
			b.WriteByte('"')
		} else {
			b.WriteString(x)
		}
	case []byte:
		enc := base64.StdEncoding.EncodeToString(x)
		if embedded {
			b.WriteString(`"` + enc + `"`)
		} else {
			b.WriteString(enc)
		}
	case bool, int8, int16, int32, int64, float32, float64, data.Decimal:
		b.WriteString(javaString(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendValues(b, e, true); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case data.Map, map[string]any:
		entries, _ := mapEntries(x)
		b.WriteByte('{')
		for i, e := range entries {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendValues(b, e.Key, true); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := appendValues(b, e.Value, true); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case *data.Struct:
		b.WriteByte('{')
		for i, f := range x.Schema.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			_ = appendValues(b, f.Name, true)
			b.WriteByte(':')
			var fv any
			if i < len(x.Values) {
				fv = x.Values[i]
			}
			if err := appendValues(b, fv, true); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case time.Time:
		ms := x.UnixMilli()
		t := x.UTC()
		switch {
		case ms < 24*60*60*1000:
			b.WriteString(t.Format("15:04:05.000Z"))
		case ms%(24*60*60*1000) == 0:
			b.WriteString(t.Format("2006-01-02"))
		default:
			b.WriteString(t.Format("2006-01-02T15:04:05.000Z"))
		}
	default:
		return fmt.Errorf("Failed to serialize unexpected value type %T: %v", v, v)
	}
	return nil
}
