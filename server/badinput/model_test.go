package badinput

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/fjord-io/fjord/proto/awsmodel"
)

// A body is a request body as decoded JSON; paths into it are keys and list indices.
type body = map[string]any

type path []any // string keys and int indices

// validatorForm is a path as the model validator names it: dotted, lists numbered from 1
// ("plugins.1.customPlugin.revision").
func (p path) validatorForm() string {
	var parts []string
	for _, s := range p {
		switch s := s.(type) {
		case string:
			parts = append(parts, s)
		case int:
			parts = append(parts, strconv.Itoa(s+1))
		}
	}
	return strings.Join(parts, ".")
}

// decoderForm is a path as the JSON decoder names it: dotted, lists indexed from 0 in brackets
// ("plugins[0].customPlugin.revision").
func (p path) decoderForm() string {
	var b strings.Builder
	for i, s := range p {
		switch s := s.(type) {
		case string:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	return b.String()
}

func (p path) with(s any) path { return append(append(path{}, p...), s) }

// clone deep-copies a body through JSON.
func clone(b body) body {
	raw, err := json.Marshal(b)
	if err != nil {
		panic(err)
	}
	var out body
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}

// lookup returns the value at p in b.
func lookup(b body, p path) (any, bool) {
	var cur any = b
	for _, s := range p {
		switch s := s.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[s]; !ok {
				return nil, false
			}
		case int:
			l, ok := cur.([]any)
			if !ok || s >= len(l) {
				return nil, false
			}
			cur = l[s]
		}
	}
	return cur, true
}

// set returns a copy of b with the value at p replaced by v (or deleted when del).
func set(b body, p path, v any, del bool) body {
	out := clone(b)
	parent, ok := lookup(out, p[:len(p)-1])
	if !ok {
		panic(fmt.Sprintf("no parent for %v", p))
	}
	switch last := p[len(p)-1].(type) {
	case string:
		m := parent.(map[string]any)
		if del {
			delete(m, last)
		} else {
			m[last] = v
		}
	case int:
		parent.([]any)[last] = v
	}
	return out
}

// tcase is one bad request.
type tcase struct {
	op   string
	name string
	raw  []byte // the body as sent
	want []string
}

func marshal(b body) []byte {
	raw, err := json.Marshal(b)
	if err != nil {
		panic(err)
	}
	return raw
}

// acceptedWhenAbsent are required list members the server accepts when absent: proto3 cannot
// tell an absent list from an empty one, and the validator accepts an empty required list (AWS
// accepts [] too) unless the handler needs elements. Fjord does not use these lists yet.
var acceptedWhenAbsent = map[string]bool{
	"CreateConnector kafkaCluster.apacheKafkaCluster.vpc.subnets":                               true,
	"CreateReplicator kafkaClusters.1.vpcConfig.subnetIds":                                      true,
	"CreateReplicator kafkaClusters.2.vpcConfig.subnetIds":                                      true,
	"CreateReplicator replicationInfoList.1.consumerGroupReplication.consumerGroupsToReplicate": true,
}

// generator derives bad requests from an operation's input shape and a valid base body.
type generator struct {
	model *awsmodel.Model
	op    string
	base  body
	cases []tcase
	seen  map[string]bool // case names, to drop duplicates across base variants
	// visited records every member path (validator form, indices as 1) reached in a base.
	visited map[string]bool
}

func (g *generator) add(name string, p path, b body, want ...string) {
	name = p.decoderForm() + ": " + name
	if g.seen[g.op+" "+name] {
		return
	}
	g.seen[g.op+" "+name] = true
	if len(want) == 0 {
		want = []string{p.validatorForm(), p.decoderForm()}
	}
	g.cases = append(g.cases, tcase{op: g.op, name: name, raw: marshal(b), want: want})
}

// structure walks the members of a structure value at p.
func (g *generator) structure(shapeName string, p path) {
	s := g.model.Shapes[shapeName]
	for _, name := range s.SortedMembers() {
		mem := s.Members[name]
		if mem.Location != "" {
			continue // path, query or header member: not in the body
		}
		mp := p.with(mem.WireName(name))
		ms := g.model.Shapes[mem.Shape]
		if s.IsRequired(name) && !acceptedWhenAbsent[g.op+" "+mp.validatorForm()] {
			g.add("required member missing", mp, set(g.base, mp, nil, true))
			g.add("required member null", mp, set(g.base, mp, nil, false))
		}
		if _, ok := lookup(g.base, mp); !ok {
			continue // not in this base: another base variant covers it
		}
		g.visited[mp.validatorForm()] = true
		g.member(mem.Shape, ms, mp)
	}
}

// member generates the cases of one member present in the base, then descends into it.
func (g *generator) member(shapeName string, s *awsmodel.Shape, p path) {
	for _, w := range wrongTypes(g.model, s) {
		g.add("wrong type "+w.what, p, set(g.base, p, w.v, false))
	}
	switch s.Type {
	case "string":
		for _, v := range g.badStrings(s) {
			g.add(v.what, p, set(g.base, p, v.v, false))
		}
	case "integer", "long":
		for _, v := range badNumbers(s) {
			g.add(v.what, p, set(g.base, p, v.v, false))
		}
	case "structure":
		g.structure(shapeName, p)
	case "list":
		cur, _ := lookup(g.base, p)
		l := cur.([]any)
		if len(l) == 0 {
			return
		}
		if s.Min != nil && *s.Min > 0 {
			g.add(fmt.Sprintf("list shorter than min %v", *s.Min), p, set(g.base, p, l[:int(*s.Min)-1], false))
		}
		if s.Max != nil && *s.Max < 1000 {
			long := make([]any, int(*s.Max)+1)
			for i := range long {
				long[i] = l[0]
			}
			g.add(fmt.Sprintf("list longer than max %v", *s.Max), p, set(g.base, p, long, false))
		}
		ep := p.with(0)
		g.visited[ep.validatorForm()] = true
		g.member(s.Member.Shape, g.model.Shapes[s.Member.Shape], ep)
	case "map":
		cur, _ := lookup(g.base, p)
		m := cur.(map[string]any)
		if s.Max != nil {
			big := map[string]any{}
			for i := 0; i <= int(*s.Max); i++ {
				big[fmt.Sprintf("k%04d", i)] = "v"
			}
			g.add(fmt.Sprintf("map with more than max %v entries", *s.Max), p, set(g.base, p, big, false))
		}
		if s.Min != nil && *s.Min > 0 {
			g.add(fmt.Sprintf("map with fewer than min %v entries", *s.Min), p, set(g.base, p, map[string]any{}, false))
		}
		keyShape, valShape := g.model.Shapes[s.Key.Shape], g.model.Shapes[s.Value.Shape]
		for _, k := range g.badStrings(keyShape) {
			entries := clone(m)
			entries[k.v.(string)] = "v"
			g.add("map key "+k.what, p, set(g.base, p, entries, false), p.validatorForm())
		}
		for _, v := range g.badStrings(valShape) {
			entries := clone(m)
			entries["some-key"] = v.v
			g.add("map value "+v.what, p, set(g.base, p, entries, false), p.validatorForm())
		}
		for _, w := range wrongTypes(g.model, valShape) {
			entries := clone(m)
			entries["some-key"] = w.v
			g.add("map value wrong type "+w.what, p, set(g.base, p, entries, false), p.validatorForm())
		}
	}
}

type value struct {
	what string
	v    any
}

// wrongTypes are JSON values of the wrong type for a shape.
func wrongTypes(m *awsmodel.Model, s *awsmodel.Shape) []value {
	str, num, boolean, obj, arr := value{"string", "1"}, value{"number", json.Number("1")}, value{"boolean", true},
		value{"object", map[string]any{}}, value{"array", []any{}}
	switch s.Type {
	case "string":
		return []value{num, boolean, obj, arr}
	case "integer", "long":
		return []value{str, boolean, obj, arr, {"fraction", json.Number("1.5")}, {"exponent fraction", json.Number("15e-1")}}
	case "boolean":
		return []value{str, num, obj, arr, {"string true", "true"}}
	case "structure":
		return []value{str, num, boolean, arr}
	case "list":
		out := []value{str, num, boolean, obj, {"array with null", []any{nil}}}
		switch m.Shapes[s.Member.Shape].Type {
		case "structure":
			out = append(out, value{"array of strings", []any{"x"}}, value{"array of arrays", []any{[]any{}}})
		default:
			out = append(out, value{"array of numbers", []any{json.Number("1")}}, value{"array of objects", []any{map[string]any{}}})
		}
		return out
	case "map":
		return []value{str, num, boolean, arr}
	}
	return nil
}

// badStrings are values violating a string shape's length bounds, pattern and enum (and only
// that constraint).
func (g *generator) badStrings(s *awsmodel.Shape) []value {
	var out []value
	min, max := 0, math.MaxInt
	if s.Min != nil {
		min = int(*s.Min)
	}
	if s.Max != nil && *s.Max < 1e6 {
		max = int(*s.Max)
	}
	if min > 0 {
		out = append(out, value{fmt.Sprintf("shorter than min length %d", min), strings.Repeat("a", min-1)})
	}
	if max != math.MaxInt {
		out = append(out, value{fmt.Sprintf("longer than max length %d", max), strings.Repeat("a", max+1)})
		// Length counts characters, not bytes: max characters of 2 bytes each are fine, one
		// more is not.
		out = append(out, value{fmt.Sprintf("longer than max length %d in characters", max), strings.Repeat("é", max+1)})
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			panic(fmt.Sprintf("pattern %q does not compile: %v", s.Pattern, err))
		}
		n := 0
		for _, c := range []string{"-leading-dash", "has space", "under_score", "dot.ted", "ünïcode", "", "!", "a\nb"} {
			l := len([]rune(c))
			if l < min || l > max || re.MatchString(c) {
				continue
			}
			out = append(out, value{fmt.Sprintf("not matching pattern %s: %q", s.Pattern, c), c})
			n++
		}
		if n == 0 {
			panic(fmt.Sprintf("no candidate violates pattern %q", s.Pattern))
		}
	}
	if len(s.Enum) > 0 {
		out = append(out, value{"not in enum", "NOT_AN_ENUM_VALUE"})
		lower := strings.ToLower(s.Enum[0])
		if lower != s.Enum[0] {
			out = append(out, value{"enum in the wrong case", lower})
		}
		out = append(out, value{"enum with a space", s.Enum[0] + " "}, value{"empty enum", ""})
	}
	return out
}

// badNumbers are values violating an integer or long shape's bounds.
func badNumbers(s *awsmodel.Shape) []value {
	var out []value
	if s.Min != nil {
		out = append(out, value{fmt.Sprintf("below min %v", *s.Min), json.Number(strconv.FormatFloat(*s.Min-1, 'f', 0, 64))})
		out = append(out, value{"far below min", json.Number("-2147483649")})
	}
	if s.Max != nil {
		if *s.Max >= math.MaxInt64 {
			out = append(out, value{"above the long range", json.Number("9223372036854775808")})
		} else {
			out = append(out, value{fmt.Sprintf("above max %v", *s.Max), json.Number(strconv.FormatFloat(*s.Max+1, 'f', 0, 64))})
		}
	}
	if s.Type == "integer" {
		out = append(out, value{"above the integer range", json.Number("2147483648")})
	}
	out = append(out, value{"huge", json.Number("1e400")})
	return out
}

// constrained lists every member path (validator form, list elements as .1) of an input shape
// that carries a constraint a generator must exercise: a bound, pattern or enum on it or on its
// list elements, map keys or values.
func constrained(m *awsmodel.Model, shape string) []string {
	var out []string
	var walk func(shape string, p path, depth int)
	walk = func(shape string, p path, depth int) {
		if depth > 12 {
			return
		}
		s := m.Shapes[shape]
		has := func(x *awsmodel.Shape) bool {
			return x.Min != nil && *x.Min > 0 || x.Max != nil && *x.Max < 1e6 || x.Pattern != "" || len(x.Enum) > 0
		}
		switch s.Type {
		case "structure":
			for _, name := range s.SortedMembers() {
				mem := s.Members[name]
				if mem.Location != "" {
					continue
				}
				walk(mem.Shape, p.with(mem.WireName(name)), depth+1)
			}
		case "list":
			if has(s) {
				out = append(out, p.validatorForm())
			}
			walk(s.Member.Shape, p.with(0), depth+1)
		case "map":
			if has(s) || has(m.Shapes[s.Key.Shape]) || has(m.Shapes[s.Value.Shape]) {
				out = append(out, p.validatorForm())
			}
		default:
			if has(s) {
				out = append(out, p.validatorForm())
			}
		}
	}
	walk(shape, nil, 0)
	sort.Strings(out)
	return out
}
