package records

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxStringLen is the longest string, in bytes, that Kafka's STRING type can carry: its length
// prefix is a signed int16.
const MaxStringLen = 1<<15 - 1

// ErrMalformed is wrapped by every decoding error caused by the bytes themselves (too short,
// negative string length, unknown version), as opposed to a record that is simply absent.
var ErrMalformed = errors.New("malformed MM2 record")

// writer appends Kafka Struct fields to a byte slice.
type writer struct{ b []byte }

func (w *writer) int16(v int16) { w.b = binary.BigEndian.AppendUint16(w.b, uint16(v)) }
func (w *writer) int32(v int32) { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *writer) int64(v int64) { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)) }

// string writes s as a Kafka STRING. A string too long for the int16 prefix is written as a
// null (-1) length, which every decoder, MM2's included, rejects: such a record must be caught
// by Validate before it is produced, and if it slips through it fails loudly instead of being
// read back silently truncated.
func (w *writer) string(s string) {
	if len(s) > MaxStringLen {
		w.int16(-1)
		return
	}
	w.int16(int16(len(s)))
	w.b = append(w.b, s...)
}

// reader consumes Kafka Struct fields; the first failure sticks and later reads return zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) need(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = fmt.Errorf("%w: field %s needs %d bytes, %d left", ErrMalformed, field, n, len(r.b))
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) int16(field string) int16 {
	p := r.need(2, field)
	if p == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(p))
}

func (r *reader) int32(field string) int32 {
	p := r.need(4, field)
	if p == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(p))
}

func (r *reader) int64(field string) int64 {
	p := r.need(8, field)
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

func (r *reader) string(field string) string {
	n := r.int16(field)
	if r.err != nil {
		return ""
	}
	if n < 0 {
		r.err = fmt.Errorf("%w: field %s has string length %d", ErrMalformed, field, n)
		return ""
	}
	p := r.need(int(n), field)
	if p == nil {
		return ""
	}
	return string(p)
}

// version reads the INT16 value header and accepts only version 0, the only one MM2 defines.
// (MM2 itself asserts version 0 and, with assertions off, would read any version as 0; a later
// version is more likely to have changed the layout than to share it, so Fjord refuses it.)
func (r *reader) version() {
	v := r.int16("version")
	if r.err == nil && v != 0 {
		r.err = fmt.Errorf("%w: unsupported value version %d", ErrMalformed, v)
	}
}

func validString(field, s string) error {
	if len(s) > MaxStringLen {
		return fmt.Errorf("%s is %d bytes, longer than Kafka's STRING limit of %d", field, len(s), MaxStringLen)
	}
	return nil
}
