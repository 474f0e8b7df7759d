package main

// Paired figures: a subject and its baseline measured in the same rounds, reported as the median
// of the same-round ratios.
//
// On a machine that other processes share, a whole round moves together: both sides of a
// round see the same load, and the ratio of one round is steadier than either rate across
// rounds. Taking the medians of the two rate lists and dividing them pairs a subject from one
// round with a baseline from another (148 → 603 → 614 MB/s for the raw loop against 192 → 395
// → 582 for the replicator reported 0.66 while the rounds said 1.30, 0.66 and 0.95). So every
// paired figure runs a discarded warm-up round and then -rounds rounds in which the sides
// alternate (interleave), and its line reports the median same-round ratio with its min and
// max (paired.result).

import (
	"encoding/json"
	"io"
	"math"
	"slices"
)

// result is one line of output. Value and Baseline are the medians of the subject's and the
// baseline's values over the rounds; Ratio is the median of the same-round ratios
// value/baseline, Min and Max their extremes, Rounds how many there were (warm-up excluded). A
// figure measured once has Rounds 1 and Min = Max = Ratio.
type result struct {
	Bench    string  `json:"bench"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	Baseline float64 `json:"baseline"`
	Ratio    float64 `json:"ratio"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	Rounds   int     `json:"rounds"`
}

// paired collects a figure's subject and baseline values, one pair per round.
type paired struct {
	bench, unit     string
	value, baseline []float64
}

func newPaired(bench, unit string) *paired { return &paired{bench: bench, unit: unit} }

// add records one round's pair.
func (p *paired) add(value, baseline float64) {
	p.value = append(p.value, value)
	p.baseline = append(p.baseline, baseline)
}

// ratios are the same-round ratios value/baseline (rounds whose baseline is 0 left out).
func (p *paired) ratios() []float64 {
	var out []float64
	for i, v := range p.value {
		if p.baseline[i] != 0 {
			out = append(out, v/p.baseline[i])
		}
	}
	return out
}

// result is the figure's output line.
func (p *paired) result() result {
	r := result{Bench: p.bench, Unit: p.unit, Rounds: len(p.value)}
	if len(p.value) == 0 {
		return r
	}
	r.Value, r.Baseline = median(p.value), median(p.baseline)
	if q := p.ratios(); len(q) > 0 {
		r.Ratio, r.Min, r.Max = median(q), slices.Min(q), slices.Max(q)
	}
	return r
}

// single is a figure measured once against a fixed baseline.
func single(bench, unit string, value, baseline float64) result {
	p := newPaired(bench, unit)
	p.add(value, baseline)
	return p.result()
}

// interleave runs round 0, a warm-up whose values the steps must discard, and then rounds 1 to
// n. Each round runs every step once: in the given order in odd rounds (and the warm-up), in
// reverse in even ones, so that of any two steps each runs first in half of the rounds. before
// and after, if set, run at the start and the end of every round.
func interleave(n int, before func(round int) error, steps []func(round int) error, after func(round int) error) error {
	for round := 0; round <= n; round++ {
		if before != nil {
			if err := before(round); err != nil {
				return err
			}
		}
		for i := range steps {
			j := i
			if round > 0 && round%2 == 0 {
				j = len(steps) - 1 - i
			}
			if err := steps[j](round); err != nil {
				return err
			}
		}
		if after != nil {
			if err := after(round); err != nil {
				return err
			}
		}
	}
	return nil
}

// emit writes results as JSON lines, values rounded to three decimals.
func emit(w io.Writer, results ...result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		for _, f := range []*float64{&r.Value, &r.Baseline, &r.Ratio, &r.Min, &r.Max} {
			*f = round(*f)
		}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// median of a non-empty list.
func median(v []float64) float64 {
	v = slices.Sorted(slices.Values(v))
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }
