package transforms

import (
	"fmt"
	"strings"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// InsertField$Key / InsertField$Value: topic.field, partition.field, timestamp.field,
// static.field with static.value; a field name ending in "!" is required, "?" (the default)
// optional. offset.field applies to sink records only: Kafka Connect fails every record of a
// source connector with it, so Fjord refuses it when the connector is created.

type insertSpec struct {
	name     string
	optional bool
}

func parseInsertSpec(s *string) *insertSpec {
	if s == nil {
		return nil
	}
	v := *s
	switch {
	case strings.HasSuffix(v, "?"):
		return &insertSpec{v[:len(v)-1], true}
	case strings.HasSuffix(v, "!"):
		return &insertSpec{v[:len(v)-1], false}
	}
	return &insertSpec{v, true}
}

type insertField struct {
	side                                    side
	topic, partition, timestamp, staticName *insertSpec
	staticValue                             *string
	replaceNull                             bool
	cache                                   schemaCache
}

func newInsertField(o *options, s side) Transform {
	t := &insertField{
		side:        s,
		topic:       parseInsertSpec(o.optional("topic.field")),
		partition:   parseInsertSpec(o.optional("partition.field")),
		timestamp:   parseInsertSpec(o.optional("timestamp.field")),
		staticName:  parseInsertSpec(o.optional("static.field")),
		staticValue: o.optional("static.value"),
		replaceNull: o.boolean("replace.null.with.default", true),
	}
	offset := o.optional("offset.field")
	if offset != nil {
		o.fail("offset.field", "offset.field applies to sink connectors only; Kafka Connect fails every record of a source connector with it (Only SinkRecord supported for [field insertion])")
	}
	if t.topic == nil && t.partition == nil && t.timestamp == nil && t.staticName == nil && offset == nil {
		o.errs = append(o.errs, FieldError{Key: o.key("type"), Message: "No field insertion configured"})
	}
	if t.staticName != nil && t.staticValue == nil {
		o.errs = append(o.errs, invalid(o.key("static.value"), "null", "No value specified for static field: "+t.staticName.name))
	}
	return t
}

const insertPurpose = "field insertion"

func (t *insertField) Apply(r *Record) (*Record, error) {
	schema, v := t.side.get(r)
	if null(v) {
		return r, nil
	}
	if schema == nil {
		m, err := requireMap(v, insertPurpose)
		if err != nil {
			return nil, err
		}
		if t.topic != nil {
			m.put(t.topic.name, r.Topic)
		}
		if t.partition != nil && r.Partition != nil {
			m.put(t.partition.name, *r.Partition)
		}
		if t.timestamp != nil && !r.Timestamp.IsZero() {
			m.put(t.timestamp.name, r.Timestamp.UnixMilli())
		}
		if t.staticName != nil && t.staticValue != nil {
			m.put(t.staticName.name, *t.staticValue)
		}
		return t.side.with(r, nil, m.value()), nil
	}
	st, err := requireStruct(v, insertPurpose)
	if err != nil {
		return nil, err
	}
	out, err := t.cache.get(st.Schema, t.schema)
	if err != nil {
		return nil, err
	}
	n := data.NewStruct(out)
	for i := range st.Schema.Fields {
		n.Values[i] = fieldValue(st, i, t.replaceNull)
	}
	if t.topic != nil {
		n.Put(t.topic.name, r.Topic)
	}
	if t.partition != nil && r.Partition != nil {
		n.Put(t.partition.name, *r.Partition)
	}
	if t.timestamp != nil && !r.Timestamp.IsZero() {
		n.Put(t.timestamp.name, r.Timestamp.UTC())
	}
	if t.staticName != nil && t.staticValue != nil {
		n.Put(t.staticName.name, *t.staticValue)
	}
	return t.side.with(r, out, n), nil
}

func (t *insertField) schema(in *data.Schema) (*data.Schema, error) {
	out := copyBasics(in, data.StructType)
	out.Fields = append([]data.Field(nil), in.Fields...)
	add := func(spec *insertSpec, s *data.Schema) error {
		if spec == nil {
			return nil
		}
		if spec.optional {
			s = data.OptionalOf(s)
		}
		if out.Field(spec.name) >= 0 {
			return fmt.Errorf("Cannot create field because of field name duplication %s", spec.name)
		}
		out.Fields = append(out.Fields, data.Field{Name: spec.name, Schema: s})
		return nil
	}
	for _, f := range []struct {
		spec *insertSpec
		s    *data.Schema
	}{
		{t.topic, data.StringSchema},
		{t.partition, data.Int32Schema},
		{t.timestamp, data.TimestampSchema()},
		{t.staticName, data.StringSchema},
	} {
		if err := add(f.spec, f.s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReplaceField$Key / ReplaceField$Value: exclude (alias blacklist), include (alias whitelist),
// renames old:new, replace.null.with.default.

type replaceField struct {
	side             side
	exclude, include map[string]bool
	renames, reverse map[string]string
	replaceNull      bool
	cache            schemaCache
}

func newReplaceField(o *options, s side) Transform {
	t := &replaceField{side: s, exclude: map[string]bool{}, include: map[string]bool{}, renames: map[string]string{}, reverse: map[string]string{}}
	// Kafka 3.x still accepts the deprecated names; the new name wins when both are set.
	listOf := func(name, deprecated string) []string {
		if _, ok := o.raw(name); ok {
			return o.list(name)
		}
		return o.list(deprecated)
	}
	for _, f := range listOf("exclude", "blacklist") {
		t.exclude[f] = true
	}
	for _, f := range listOf("include", "whitelist") {
		t.include[f] = true
	}
	for _, m := range o.list("renames") {
		parts := strings.Split(m, ":")
		// Java's String.split drops trailing empty strings.
		for len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		if len(parts) != 2 {
			v, _ := o.raw("renames")
			o.invalid("renames", v, "Invalid rename mapping: %s", m)
			continue
		}
		t.renames[parts[0]] = parts[1]
	}
	for k, v := range t.renames {
		t.reverse[v] = k
	}
	t.replaceNull = o.boolean("replace.null.with.default", true)
	return t
}

func (t *replaceField) keep(name string) bool {
	return !t.exclude[name] && (len(t.include) == 0 || t.include[name])
}

func (t *replaceField) renamed(name string) string {
	if n, ok := t.renames[name]; ok {
		return n
	}
	return name
}

const replacePurpose = "field replacement"

func (t *replaceField) Apply(r *Record) (*Record, error) {
	schema, v := t.side.get(r)
	if null(v) {
		return r, nil
	}
	if schema == nil {
		m, err := requireMap(v, replacePurpose)
		if err != nil {
			return nil, err
		}
		out := &smap{ordered: m.ordered}
		for _, e := range m.entries {
			if k := e.Key.(string); t.keep(k) {
				out.put(t.renamed(k), e.Value)
			}
		}
		return t.side.with(r, nil, out.value()), nil
	}
	st, err := requireStruct(v, replacePurpose)
	if err != nil {
		return nil, err
	}
	out, err := t.cache.get(st.Schema, t.schema)
	if err != nil {
		return nil, err
	}
	n := data.NewStruct(out)
	for i, f := range out.Fields {
		old := f.Name
		if o, ok := t.reverse[f.Name]; ok {
			old = o
		}
		n.Values[i], _ = getField(st, old, t.replaceNull)
	}
	return t.side.with(r, out, n), nil
}

func (t *replaceField) schema(in *data.Schema) (*data.Schema, error) {
	out := copyBasics(in, data.StructType)
	for _, f := range in.Fields {
		if t.keep(f.Name) {
			name := t.renamed(f.Name)
			if out.Field(name) >= 0 {
				return nil, fmt.Errorf("Cannot create field because of field name duplication %s", name)
			}
			out.Fields = append(out.Fields, data.Field{Name: name, Schema: f.Schema})
		}
	}
	return out, nil
}

// ValueToKey: fields (required, not empty), replace.null.with.default.

type valueToKey struct {
	fields      []string
	replaceNull bool
	cache       schemaCache
}

func newValueToKey(o *options) Transform {
	t := &valueToKey{}
	if v, ok := o.raw("fields"); !ok {
		o.errs = append(o.errs, missing(o.key("fields")))
	} else if t.fields = o.list("fields"); len(t.fields) == 0 {
		o.invalid("fields", v, "Empty list")
	}
	t.replaceNull = o.boolean("replace.null.with.default", true)
	return t
}

const valueToKeyPurpose = "copying fields from value to key"

func (t *valueToKey) Apply(r *Record) (*Record, error) {
	out := *r
	if r.ValueSchema == nil {
		m, err := requireMap(r.Value, valueToKeyPurpose)
		if err != nil {
			return nil, err
		}
		key := &smap{ordered: m.ordered}
		for _, f := range t.fields {
			v, _ := m.get(f)
			key.put(f, v)
		}
		out.KeySchema, out.Key = nil, key.value()
		return &out, nil
	}
	st, err := requireStruct(r.Value, valueToKeyPurpose)
	if err != nil {
		return nil, err
	}
	ks, err := t.cache.get(st.Schema, func(in *data.Schema) (*data.Schema, error) {
		ks := &data.Schema{Type: data.StructType}
		for _, f := range t.fields {
			i := in.Field(f)
			if i < 0 {
				return nil, fmt.Errorf("Field does not exist: %s", f)
			}
			if ks.Field(f) < 0 {
				ks.Fields = append(ks.Fields, data.Field{Name: f, Schema: in.Fields[i].Schema})
			}
		}
		return ks, nil
	})
	if err != nil {
		return nil, err
	}
	key := data.NewStruct(ks)
	for i, f := range ks.Fields {
		key.Values[i], _ = getField(st, f.Name, t.replaceNull)
	}
	out.KeySchema, out.Key = ks, key
	out.ValueSchema = st.Schema
	return &out, nil
}

// ExtractField$Key / ExtractField$Value: field (required), field.syntax.version V1 (the field
// name as is) or V2 (a dotted path into nested structs or maps, backticks quoting a name with
// dots), replace.null.with.default.

type extractField struct {
	side        side
	field       string
	path        []string
	replaceNull bool
}

func newExtractField(o *options, s side) Transform {
	t := &extractField{side: s}
	t.field, _ = o.required("field")
	t.replaceNull = o.boolean("replace.null.with.default", true)
	switch o.enum("field.syntax.version", "V1", "V1", "V2") {
	case "V2":
		p, err := fieldPathV2(t.field)
		if err != nil {
			o.invalid("field", t.field, "%s", err.Error())
		}
		t.path = p
	default:
		t.path = []string{t.field}
	}
	return t
}

const extractPurpose = "field extraction"

func (t *extractField) Apply(r *Record) (*Record, error) {
	schema, v := t.side.get(r)
	if schema == nil {
		if null(v) {
			return t.side.with(r, nil, nil), nil
		}
		m, err := requireMap(v, extractPurpose)
		if err != nil {
			return nil, err
		}
		for i, step := range t.path {
			x, _ := m.get(step)
			if i == len(t.path)-1 || null(x) {
				return t.side.with(r, nil, x), nil
			}
			if m, err = requireMap(x, extractPurpose); err != nil {
				return t.side.with(r, nil, nil), nil
			}
		}
		return t.side.with(r, nil, nil), nil
	}
	var st *data.Struct
	if !null(v) {
		var err error
		if st, err = requireStruct(v, extractPurpose); err != nil {
			return nil, err
		}
	}
	// The field's schema along the path.
	cur := schema
	var fs *data.Schema
	for i, step := range t.path {
		j := -1
		if cur != nil && cur.Type == data.StructType {
			j = cur.Field(step)
		}
		if j < 0 {
			return nil, fmt.Errorf("Unknown field: %s", t.field)
		}
		fs = cur.Fields[j].Schema
		if i < len(t.path)-1 {
			cur = fs
		}
	}
	if st == nil {
		return t.side.with(r, fs, nil), nil
	}
	var out any
	for i, step := range t.path {
		last := i == len(t.path)-1
		x, _ := getField(st, step, last && t.replaceNull)
		if last || null(x) {
			out = x
			break
		}
		if st, _ = x.(*data.Struct); st == nil {
			break
		}
	}
	return t.side.with(r, fs, out), nil
}

// fieldPathV2 is Kafka's SingleFieldPath for field.syntax.version=V2.
func fieldPathV2(path string) ([]string, error) {
	var steps []string
	idx := 0
	incomplete := func(at int) error {
		return fmt.Errorf("Incomplete backtick pair in path: [%s], consider adding a backslash before backtick at position %d to escape it", path, at)
	}
	for idx < len(path) && idx >= 0 {
		if path[idx] != '`' {
			start := idx
			if j := strings.IndexByte(path[idx:], '.'); j >= 0 {
				idx += j
				steps = append(steps, path[start:idx])
				idx++
			} else {
				steps = append(steps, path[start:])
				idx = -1
			}
			continue
		}
		at := idx
		idx++
		var field strings.Builder
		start := idx
		for {
			j := strings.IndexByte(path[idx:], '`')
			if j < 0 {
				return nil, incomplete(at)
			}
			idx += j
			escaped := path[idx-1] == '\\'
			if idx >= len(path)-1 {
				if escaped {
					return nil, incomplete(at)
				}
				field.WriteString(path[start:idx])
				steps = append(steps, field.String())
				idx++
				break
			}
			if path[idx+1] != '.' {
				idx++
				continue
			}
			if escaped {
				field.WriteString(path[start : idx-1])
				field.WriteByte('`')
				idx++
				start = idx
				continue
			}
			field.WriteString(path[start:idx])
			steps = append(steps, field.String())
			idx += 2
			break
		}
	}
	if path != "" && path[len(path)-1] == '.' {
		steps = append(steps, "")
	}
	return steps, nil
}
