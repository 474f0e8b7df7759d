package transforms

import (
	"fmt"
	"sort"
	"sync"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// side is the part of a record a $Key or $Value transform operates on.
type side bool

const (
	keySide   side = true
	valueSide side = false
)

func (s side) get(r *Record) (*data.Schema, any) {
	if s == keySide {
		return r.KeySchema, r.Key
	}
	return r.ValueSchema, r.Value
}

// with returns a copy of r with the side replaced (Connect's newRecord).
func (s side) with(r *Record, schema *data.Schema, v any) *Record {
	out := *r
	if s == keySide {
		out.KeySchema, out.Key = schema, v
	} else {
		out.ValueSchema, out.Value = schema, v
	}
	return &out
}

// fieldValue is Connect's Struct.get (withDefault: the field schema's default for a null) or
// Struct.getWithoutDefault.
func fieldValue(st *data.Struct, i int, withDefault bool) any {
	var v any
	if i < len(st.Values) {
		v = st.Values[i]
	}
	if null(v) {
		v = nil
	}
	if v == nil && withDefault {
		return st.Schema.Fields[i].Schema.Default
	}
	return v
}

// null reports whether v is a null value: nil, or a nil *data.Struct or data.Map.
func null(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case *data.Struct:
		return x == nil
	case data.Map:
		return x == nil
	case map[string]any:
		return x == nil
	case []any:
		return x == nil
	}
	return false
}

// getField returns the value of field name of st, and false when st's schema has no such field.
func getField(st *data.Struct, name string, withDefault bool) (any, bool) {
	i := st.Schema.Field(name)
	if i < 0 {
		return nil, false
	}
	return fieldValue(st, i, withDefault), true
}

// requireStruct is Connect's Requirements.requireStruct.
func requireStruct(v any, purpose string) (*data.Struct, error) {
	st, ok := v.(*data.Struct)
	if !ok || st == nil {
		return nil, fmt.Errorf("Only Struct objects supported for [%s], found: %s", purpose, className(v))
	}
	return st, nil
}

func className(v any) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// Schemaless maps. A schemaless value's map is either a Go map[string]any or a data.Map with
// string keys (the two forms workers/connect/convert serializes); a transform returns the
// form it was given: a data.Map keeps its order, with new keys appended.

// smap is a schemaless map being transformed.
type smap struct {
	ordered bool
	entries data.Map
}

// requireMap is Connect's Requirements.requireMap.
func requireMap(v any, purpose string) (*smap, error) {
	bad := fmt.Errorf("Only Map objects supported in absence of schema for [%s], found: %s", purpose, className(v))
	switch m := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		es := make(data.Map, len(keys))
		for i, k := range keys {
			es[i] = data.Entry{Key: k, Value: m[k]}
		}
		return &smap{entries: es}, nil
	case data.Map:
		for _, e := range m {
			if _, ok := e.Key.(string); !ok {
				return nil, fmt.Errorf("Only Map objects with string keys supported in absence of schema for [%s], found key %s", purpose, className(e.Key))
			}
		}
		return &smap{ordered: true, entries: append(data.Map(nil), m...)}, nil
	}
	return nil, bad
}

func (m *smap) get(k string) (any, bool) {
	for _, e := range m.entries {
		if e.Key == k {
			return e.Value, true
		}
	}
	return nil, false
}

// put sets k (HashMap.put: replaces an existing key in place).
func (m *smap) put(k string, v any) {
	for i, e := range m.entries {
		if e.Key == k {
			m.entries[i].Value = v
			return
		}
	}
	m.entries = append(m.entries, data.Entry{Key: k, Value: v})
}

// value is the map in the form it was given.
func (m *smap) value() any {
	if m.ordered {
		return m.entries
	}
	out := make(map[string]any, len(m.entries))
	for _, e := range m.entries {
		out[e.Key.(string)] = e.Value
	}
	return out
}

// copyBasics is Connect's SchemaUtil.copySchemaBasics onto a new schema of type t: the name,
// version, doc and parameters, and for an array its element schema. Optionality and default
// are not copied.
func copyBasics(s *data.Schema, t data.Type) *data.Schema {
	out := &data.Schema{Type: t, Name: s.Name, Version: s.Version, Doc: s.Doc, Params: append([]data.Param(nil), s.Params...)}
	if t == data.Array {
		out.Value = s.Value
	}
	return out
}

// schemaCache maps input schemas (by pointer) to the schemas a transform made of them, as
// Connect's transforms cache them (LRU of 16); it is reset when full.
type schemaCache struct {
	mu sync.Mutex
	m  map[any]*data.Schema
}

const schemaCacheSize = 16

func (c *schemaCache) get(in *data.Schema, make func(*data.Schema) (*data.Schema, error)) (*data.Schema, error) {
	return c.getKey(in, in, make)
}

// getKey is get with a key of its own (comparable) for what the made schema depends on.
func (c *schemaCache) getKey(key any, in *data.Schema, make func(*data.Schema) (*data.Schema, error)) (*data.Schema, error) {
	c.mu.Lock()
	out, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return out, nil
	}
	out, err := make(in)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= schemaCacheSize {
		c.m = map[any]*data.Schema{}
	}
	c.m[key] = out
	c.mu.Unlock()
	return out, nil
}
