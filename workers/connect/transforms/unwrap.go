package transforms

import (
	"fmt"
	"strings"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// io.debezium.transforms.ExtractNewRecordState ("unwrap"): a Debezium change event (a value
// whose schema's name ends in .Envelope) becomes its after state.
//
// Deletes and tombstones follow delete.tombstone.handling.mode (Debezium 2.5 and later:
// tombstone, drop, rewrite, rewrite-with-tombstone, delete-to-tombstone) when it is set, and
// otherwise the older pair drop.tombstones (default true) and delete.handling.mode (none,
// drop, rewrite; default none), as Debezium 2.x does. In the rewrite modes the after state gets
// a "__deleted" field ("true" for a delete, whose before state is kept, "false" otherwise).
// add.fields (with add.fields.prefix, default "__") copies fields of the envelope (op, ts_ms,
// …), of its source block (table, lsn, …, or source.<field>) or of its transaction block
// (id, total_order, data_collection_order) into the new value, add.headers (with
// add.headers.prefix) into headers; "field:name" names the copy. route.by.field sends the
// record to the topic that field of the row names. Truncate events are dropped; records that
// are not change events pass unchanged.

type deleteMode int

const (
	// Legacy (delete.handling.mode with drop.tombstones).
	legacyNone deleteMode = iota
	legacyDrop
	legacyRewrite
	// delete.tombstone.handling.mode.
	modeTombstone
	modeDrop
	modeRewrite
	modeRewriteWithTombstone
	modeDeleteToTombstone
)

const deletedField = "__deleted"

type fieldRef struct {
	strct    string // "" for the envelope itself
	field    string
	newField string
}

func parseFieldRefs(o *options, name, prefix string) []fieldRef {
	var out []fieldRef
	for _, f := range o.list(name) {
		parts := strings.Split(f, ":")
		for len(parts) > 1 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		if len(parts) > 2 {
			v, _ := o.raw(name)
			o.invalid(name, v, "Unexpected field name: %s", f)
			continue
		}
		splits := strings.Split(parts[0], ".")
		r := fieldRef{}
		if len(splits) == 1 {
			r.field = splits[0]
			r.strct = structOf(r.field)
		} else {
			r.strct, r.field = splits[0], splits[1]
		}
		switch {
		case len(parts) == 2:
			r.newField = prefix + parts[1]
		case len(splits) == 1:
			r.newField = prefix + r.field
		default:
			r.newField = prefix + r.strct + "_" + r.field
		}
		out = append(out, r)
	}
	return out
}

// structOf is the block holding an unqualified field.
func structOf(field string) string {
	switch field {
	case "id", "total_order", "data_collection_order":
		return "transaction"
	case "op", "ts_ms", "ts_us", "ts_ns":
		return ""
	case "updateDescription":
		return "updateDescription"
	}
	return "source"
}

// schemaIn returns the schema of the referenced field in an envelope schema: in its block,
// else in the envelope itself (a field another transform added), as an optional copy of its
// basics; nil when neither has it.
func (f fieldRef) schemaIn(env *data.Schema) *data.Schema {
	parent := env
	if f.strct != "" {
		i := env.Field(f.strct)
		if i < 0 {
			parent = nil
		} else {
			parent = env.Fields[i].Schema
		}
	}
	var s *data.Schema
	if parent != nil && parent.Type == data.StructType {
		if i := parent.Field(f.field); i >= 0 {
			s = parent.Fields[i].Schema
		}
	}
	if s == nil {
		i := env.Field(f.field)
		if i < 0 {
			return nil
		}
		s = env.Fields[i].Schema
	}
	out := copyBasics(s, s.Type)
	if s.Type == data.MapType {
		out.Key, out.Value = s.Key, s.Value
	}
	if s.Type == data.StructType {
		out.Fields = s.Fields
	}
	out.Optional = true
	return out
}

func (f fieldRef) valueIn(env *data.Struct) any {
	parent := env
	if f.strct != "" {
		v, _ := getField(env, f.strct, false)
		parent, _ = v.(*data.Struct)
	}
	if parent == nil {
		return nil
	}
	if v, ok := getField(parent, f.field, false); ok {
		return v
	}
	v, _ := getField(env, f.field, false)
	return v
}

type unwrap struct {
	mode deleteMode
	// legacy: configured with delete.handling.mode (Debezium 1.x to 2.4 order: added fields
	// before __deleted); otherwise Debezium 2.5's order (__deleted first).
	legacy       bool
	dropTomb     bool
	fields       []fieldRef
	headers      []fieldRef
	routeByField string
	replaceNull  bool
	cache        schemaCache // (envelope schema, row schema) → row schema with the added fields
	deleted      *insertField
	notDeleted   *insertField
}

func newUnwrap(o *options) Transform {
	t := &unwrap{}
	if v, ok := o.raw("delete.tombstone.handling.mode"); ok && strings.TrimSpace(v) != "" {
		switch o.enum("delete.tombstone.handling.mode", "tombstone", "drop", "tombstone", "rewrite", "rewrite-with-tombstone", "delete-to-tombstone") {
		case "drop":
			t.mode = modeDrop
		case "rewrite":
			t.mode = modeRewrite
		case "rewrite-with-tombstone":
			t.mode = modeRewriteWithTombstone
		case "delete-to-tombstone":
			t.mode = modeDeleteToTombstone
		default:
			t.mode = modeTombstone
		}
	} else {
		t.legacy = true
		t.dropTomb = o.boolean("drop.tombstones", true)
		switch o.enum("delete.handling.mode", "none", "none", "drop", "rewrite") {
		case "drop":
			t.mode = legacyDrop
		case "rewrite":
			t.mode = legacyRewrite
		default:
			t.mode = legacyNone
		}
	}
	t.fields = parseFieldRefs(o, "add.fields", o.str("add.fields.prefix", "__"))
	t.headers = parseFieldRefs(o, "add.headers", o.str("add.headers.prefix", "__"))
	t.routeByField = o.str("route.by.field", "")
	if v := o.str("drop.fields.header.name", ""); v != "" {
		o.invalid("drop.fields.header.name", v, "dropping the fields a header lists is not supported by Fjord")
	}
	t.replaceNull = o.boolean("replace.null.with.default", true)
	yes, no := "true", "false"
	t.deleted = &insertField{side: valueSide, staticName: &insertSpec{deletedField, true}, staticValue: &yes, replaceNull: t.replaceNull}
	t.notDeleted = &insertField{side: valueSide, staticName: &insertSpec{deletedField, true}, staticValue: &no, replaceNull: t.replaceNull}
	return t
}

func (t *unwrap) rewrite() bool {
	return t.mode == legacyRewrite || t.mode == modeRewrite || t.mode == modeRewriteWithTombstone
}

func isEnvelope(r *Record) bool {
	return r.ValueSchema != nil && strings.HasSuffix(r.ValueSchema.Name, ".Envelope")
}

// extract is ExtractField$Value on field name of an envelope.
func extract(r *Record, env *data.Struct, name string) (*Record, error) {
	i := r.ValueSchema.Field(name)
	if i < 0 {
		return nil, fmt.Errorf("Unknown field: %s", name)
	}
	return valueSide.with(r, r.ValueSchema.Fields[i].Schema, fieldValue(env, i, true)), nil
}

func (t *unwrap) Apply(r *Record) (*Record, error) {
	tombstone := null(r.Value)
	envelope := isEnvelope(r)
	var env *data.Struct
	if !tombstone && envelope {
		var err error
		if env, err = requireStruct(r.Value, "source field insertion"); err != nil {
			return nil, err
		}
	}
	if (envelope || tombstone) && len(t.headers) > 0 {
		r = t.addHeaders(r, env)
	}
	if tombstone {
		switch t.mode {
		case legacyNone, legacyDrop, legacyRewrite:
			if t.dropTomb {
				return nil, nil
			}
			return r, nil
		case modeRewriteWithTombstone:
			return r, nil
		}
		return nil, nil
	}
	if !envelope {
		return r, nil
	}
	after, err := extract(r, env, "after")
	if err != nil {
		return nil, err
	}
	// mark adds __deleted in the rewrite modes to a struct row.
	mark := func(rec *Record, it *insertField) (*Record, error) {
		if _, ok := rec.Value.(*data.Struct); !ok || !t.rewrite() {
			return rec, nil
		}
		return it.Apply(rec)
	}
	if !null(after.Value) {
		out := after
		if !t.legacy {
			if out, err = mark(out, t.notDeleted); err != nil {
				return nil, err
			}
		}
		if t.routeByField != "" {
			row, err := requireStruct(out.Value, "Read record to set topic routing for CREATE / UPDATE")
			if err != nil {
				return nil, err
			}
			out = setTopic(out, row, t.routeByField)
		}
		if out, err = t.addFields(env, out); err != nil {
			return nil, err
		}
		if t.legacy {
			return mark(out, t.notDeleted)
		}
		return out, nil
	}
	before, err := extract(r, env, "before")
	if err != nil {
		return nil, err
	}
	if null(before.Value) {
		return nil, nil // a truncate event
	}
	out := after
	switch t.mode {
	case legacyDrop, modeDrop:
		return nil, nil
	case modeDeleteToTombstone:
		o := *r
		o.ValueSchema, o.Value = nil, nil
		out = &o
	case legacyRewrite, modeRewrite, modeRewriteWithTombstone:
		out = before
		if !t.legacy {
			if out, err = mark(out, t.deleted); err != nil {
				return nil, err
			}
		}
	}
	if t.routeByField != "" {
		row, err := requireStruct(before.Value, "Read record to set topic routing for DELETE")
		if err != nil {
			return nil, err
		}
		out = setTopic(out, row, t.routeByField)
	}
	if null(out.Value) {
		return out, nil
	}
	if out, err = t.addFields(env, out); err != nil {
		return nil, err
	}
	if t.legacy {
		return mark(out, t.deleted)
	}
	return out, nil
}

// setTopic sends r to the topic the row's field names (unchanged when it is null or blank).
func setTopic(r *Record, row *data.Struct, field string) *Record {
	v, _ := getField(row, field, true)
	s, _ := v.(string)
	if strings.TrimSpace(s) == "" {
		return r
	}
	out := *r
	out.Topic = s
	return &out
}

func (t *unwrap) addHeaders(r *Record, env *data.Struct) *Record {
	out := *r
	out.Headers = append([]Header(nil), r.Headers...)
	for _, f := range t.headers {
		if env == nil {
			if f.field == "op" {
				out.Headers = append(out.Headers, Header{Key: f.newField, Schema: data.StringSchema, Value: "d"})
			}
			continue
		}
		if s := f.schemaIn(env.Schema); s != nil {
			out.Headers = append(out.Headers, Header{Key: f.newField, Schema: s, Value: f.valueIn(env)})
		}
	}
	return &out
}

// addFields rebuilds the row with the add.fields of the envelope (always, as Debezium does:
// the row's schema becomes a required struct with the row schema's name, doc and parameters).
func (t *unwrap) addFields(env *data.Struct, r *Record) (*Record, error) {
	row, err := requireStruct(r.Value, "source field insertion")
	if err != nil {
		return nil, err
	}
	type key struct{ env, row *data.Schema }
	schema, err := t.cache.getKey(key{env.Schema, row.Schema}, row.Schema, func(in *data.Schema) (*data.Schema, error) {
		out := copyBasics(in, data.StructType)
		out.Fields = append([]data.Field(nil), in.Fields...)
		for _, f := range t.fields {
			if s := f.schemaIn(env.Schema); s != nil {
				if out.Field(f.newField) >= 0 {
					return nil, fmt.Errorf("Cannot create field because of field name duplication %s", f.newField)
				}
				out.Fields = append(out.Fields, data.Field{Name: f.newField, Schema: s})
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	n := data.NewStruct(schema)
	copy(n.Values, row.Values)
	for i := len(row.Values); i < len(schema.Fields); i++ {
		for _, f := range t.fields {
			if f.newField == schema.Fields[i].Name {
				n.Values[i] = f.valueIn(env)
				break
			}
		}
	}
	return valueSide.with(r, schema, n), nil
}
