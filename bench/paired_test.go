package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// The rounds of the issue: the medians of the two lists said 0.66, the rounds 1.30, 0.66 and
// 0.95.
func TestPairedMedianOfSameRoundRatios(t *testing.T) {
	p := newPaired("replication_throughput", "MB/s")
	for i, raw := range []float64{148, 603, 614} {
		p.add([]float64{192, 395, 582}[i], raw)
	}
	var b bytes.Buffer
	if err := emit(&b, p.result()); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"bench": "replication_throughput", "unit": "MB/s", "value": 395.0, "baseline": 603.0,
		"ratio": 0.948, "min": 0.655, "max": 1.297, "rounds": 3.0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (line %s)", k, got[k], v, b.String())
		}
	}
	if len(got) != len(want) {
		t.Errorf("line has %d fields, want %d: %s", len(got), len(want), b.String())
	}
}

func TestSingleAndNoBaseline(t *testing.T) {
	r := single("failover_s", "s", 6, 15)
	if r.Ratio != 0.4 || r.Min != 0.4 || r.Max != 0.4 || r.Rounds != 1 {
		t.Errorf("single = %+v", r)
	}
	r = single("offset_translation_error_records", "records", 3, 0)
	if r.Ratio != 0 || r.Min != 0 || r.Max != 0 || r.Rounds != 1 || r.Value != 3 {
		t.Errorf("single without baseline = %+v", r)
	}
}

// interleave runs a warm-up round 0 and then alternates the order of the steps.
func TestInterleaveAlternatesOrder(t *testing.T) {
	var got []string
	step := func(name string) func(int) error {
		return func(round int) error { got = append(got, string(rune('0'+round))+name); return nil }
	}
	err := interleave(3, func(round int) error { got = append(got, string(rune('0'+round))+"<"); return nil },
		[]func(int) error{step("a"), step("b"), step("c")},
		func(round int) error { got = append(got, string(rune('0'+round))+">"); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"0<", "0a", "0b", "0c", "0>", "1<", "1a", "1b", "1c", "1>", "2<", "2c", "2b", "2a", "2>", "3<", "3a", "3b", "3c", "3>"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}
