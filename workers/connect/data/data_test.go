package data

import (
	"testing"
	"time"
)

func TestEqual(t *testing.T) {
	a := StructOf(Field{Name: "x", Schema: OptionalOf(Int32Schema)}, Field{Name: "d", Schema: DecimalSchema(2)})
	b := StructOf(Field{Name: "x", Schema: OptionalOf(Int32Schema)}, Field{Name: "d", Schema: DecimalSchema(2)})
	if !Equal(a, b) {
		t.Error("equal struct schemas differ")
	}
	b.Fields[1].Schema = DecimalSchema(3)
	if Equal(a, b) {
		t.Error("different decimal scales are equal")
	}
	if Equal(Int32Schema, OptionalInt32Schema) || !Equal(nil, nil) || Equal(nil, Int32Schema) {
		t.Error("optional or nil schemas compare wrong")
	}
}

func TestTemporal(t *testing.T) {
	if n, err := DateDays(time.Unix(0, 0).UTC().AddDate(0, 0, 10000)); err != nil || n != 10000 {
		t.Errorf("DateDays = %d, %v", n, err)
	}
	if _, err := DateDays(time.UnixMilli(1)); err == nil {
		t.Error("a date with a time of day was accepted")
	}
	if n, err := TimeMillis(time.UnixMilli(14400000)); err != nil || n != 14400000 {
		t.Errorf("TimeMillis = %d, %v", n, err)
	}
	if _, err := TimeMillis(time.UnixMilli(86400000)); err == nil {
		t.Error("a time on another day was accepted")
	}
	if TimestampMillis(time.UnixMilli(4000000000)) != 4000000000 {
		t.Error("TimestampMillis")
	}
}
