package transforms

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

func TestChainOrderAndPredicates(t *testing.T) {
	conf := map[string]string{
		"transforms":                   "unwrap, route ,stamp",
		"transforms.unwrap.type":       ExtractNewRecordState,
		"transforms.unwrap.predicate":  "isOrders",
		"transforms.route.type":        RegexRouter,
		"transforms.route.regex":       `dbserver1\.public\.(.*)`,
		"transforms.route.replacement": "cdc.$1",
		"transforms.stamp.type":        TimestampRouter,
		"transforms.stamp.predicate":   "hasSkip",
		"transforms.stamp.negate":      "TRUE",
		"predicates":                   "isOrders,hasSkip,tomb",
		"predicates.isOrders.type":     TopicNameMatches,
		"predicates.isOrders.pattern":  `.*\.orders`,
		"predicates.hasSkip.type":      HasHeaderKey,
		"predicates.hasSkip.name":      "skip",
		"predicates.tomb.type":         RecordIsTombstone,
	}
	c, err := New(conf)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 3 {
		t.Fatalf("len %d", c.Len())
	}
	f := newFixture()
	create := f.record(debezium.OpCreate, nil, []any{int32(1), "a", nil}, nil)
	out := apply(t, c, create)
	// unwrap applied (the topic matched), then routed, then stamped (no "skip" header).
	if out.Topic != "cdc.orders-20231114" || fieldNames(out.ValueSchema)[0] != "id" {
		t.Errorf("create: topic %q schema %s", out.Topic, out.ValueSchema.Name)
	}
	// With a "skip" header the negated predicate skips the stamp.
	create.Headers = append(create.Headers, Header{Key: "skip"})
	if out := apply(t, c, create); out.Topic != "cdc.orders" {
		t.Errorf("with skip header: %q", out.Topic)
	}
	// Another table: unwrap is skipped, the envelope passes to the routers.
	other := &Record{Topic: "dbserver1.public.items", ValueSchema: f.table.Envelope, Value: create.Value, Timestamp: f.ts}
	if out := apply(t, c, other); out.Topic != "cdc.items-20231114" || out.ValueSchema != f.table.Envelope {
		t.Errorf("other table: %+v", out)
	}
	// A dropped record stops the chain (the tombstone has no timestamp: TimestampRouter
	// would fail on it).
	if out := apply(t, c, &Record{Topic: "dbserver1.public.orders"}); out != nil {
		t.Errorf("tombstone not dropped: %+v", out)
	}
	// The predicates themselves.
	p := predicateOf(t, conf, "tomb")
	if !p.Test(&Record{Topic: "x"}) || p.Test(create) {
		t.Errorf("RecordIsTombstone")
	}
	if p := predicateOf(t, conf, "isOrders"); !p.Test(&Record{Topic: "a.orders"}) || p.Test(&Record{Topic: "a.orders.x"}) {
		t.Errorf("TopicNameMatches matches the whole topic")
	}
	// An error names the transform.
	if _, err := c.Apply(&Record{Topic: "nope", Value: "v"}); err == nil || !strings.HasPrefix(err.Error(), "transform stamp: Timestamp missing") {
		t.Errorf("error: %v", err)
	}
	// No transforms: the record as it is.
	empty, err := New(map[string]string{"connector.class": "x"})
	if err != nil || empty.Len() != 0 {
		t.Fatal(err)
	}
	if out := apply(t, empty, create); out != create {
		t.Errorf("empty chain changed the record")
	}
	var nilChain *Chain
	if out := apply(t, nilChain, create); out != create {
		t.Errorf("nil chain changed the record")
	}
}

func predicateOf(t *testing.T, conf map[string]string, alias string) Predicate {
	t.Helper()
	c := map[string]string{"transforms": "x", "transforms.x.type": RegexRouter, "transforms.x.regex": "a", "transforms.x.replacement": "b", "transforms.x.predicate": alias}
	for k, v := range conf {
		if strings.HasPrefix(k, "predicates") {
			c[k] = v
		}
	}
	ch, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return ch.stages[0].predicate
}

func TestValidate(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"connector.class": "io.debezium.connector.mysql.MySqlConnector"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		conf map[string]string
		want []FieldError // messages: substrings
	}{
		{"valid", base("transforms", "unwrap,route", "transforms.unwrap.type", ExtractNewRecordState, "transforms.unwrap.add.fields", "op,table,lsn,source.ts_ms",
			"transforms.route.type", RegexRouter, "transforms.route.regex", "(.*)", "transforms.route.replacement", "$1", "transforms.route.unknown.option", "ignored"), nil},
		{"unknown class", base("transforms", "route", "transforms.route.type", "io.debezium.transforms.ByLogicalTableRouter"),
			[]FieldError{{"transforms.route.type", "transform route (io.debezium.transforms.ByLogicalTableRouter) is not supported by Fjord; Fjord applies " + strings.Join(Classes, ", ")}}},
		{"abstract class", base("transforms", "a", "transforms.a.type", "org.apache.kafka.connect.transforms.InsertField", "transforms.a.topic.field", "t"),
			[]FieldError{{"transforms.a.type", "use org.apache.kafka.connect.transforms.InsertField$Key or org.apache.kafka.connect.transforms.InsertField$Value"}}},
		{"no type", base("transforms", "a"), []FieldError{{"transforms.a.type", `Missing required configuration "transforms.a.type" which has no default value.`}}},
		{"duplicate alias", base("transforms", "a,a", "transforms.a.type", ValueToKey, "transforms.a.fields", "id"),
			[]FieldError{{"transforms", "Invalid value a,a for configuration transforms: Duplicate alias provided."}}},
		{"missing options", base("transforms", "r,e,v", "transforms.r.type", RegexRouter, "transforms.e.type", ExtractFieldValue, "transforms.v.type", ValueToKey, "transforms.v.fields", " "),
			[]FieldError{
				{"transforms.e.field", `Missing required configuration "transforms.e.field" which has no default value.`},
				{"transforms.r.regex", `Missing required configuration "transforms.r.regex"`},
				{"transforms.r.replacement", `Missing required configuration "transforms.r.replacement"`},
				{"transforms.v.fields", "Invalid value   for configuration transforms.v.fields: Empty list"},
			}},
		{"bad regex", base("transforms", "r", "transforms.r.type", RegexRouter, "transforms.r.regex", "orders(", "transforms.r.replacement", "x"),
			[]FieldError{{"transforms.r.regex", "Invalid value orders( for configuration transforms.r.regex: Invalid regex: error parsing regexp: missing closing )"}}},
		{"java-only regex", base("transforms", "r", "transforms.r.type", RegexRouter, "transforms.r.regex", "(?!tmp).*", "transforms.r.replacement", "x"),
			[]FieldError{{"transforms.r.regex", "look-around, back-references and possessive quantifiers are not supported"}}},
		{"bad group reference", base("transforms", "r", "transforms.r.type", RegexRouter, "transforms.r.regex", "(.*)", "transforms.r.replacement", "$2"),
			[]FieldError{{"transforms.r.replacement", "Invalid value $2 for configuration transforms.r.replacement: No group 2"}}},
		{"bad enums and booleans", base("transforms", "u,x", "transforms.u.type", ExtractNewRecordState, "transforms.u.delete.handling.mode", "delete",
			"transforms.u.drop.tombstones", "yes", "transforms.u.add.fields", "a:b:c",
			"transforms.x.type", ExtractFieldKey, "transforms.x.field", "id", "transforms.x.field.syntax.version", "V3"),
			[]FieldError{
				{"transforms.u.add.fields", "Unexpected field name: a:b:c"},
				{"transforms.u.delete.handling.mode", "Invalid value delete for configuration transforms.u.delete.handling.mode: String must be one of: none, drop, rewrite"},
				{"transforms.u.drop.tombstones", "Expected value to be either true or false"},
				{"transforms.x.field.syntax.version", "String must be one of: V1, V2"},
			}},
		{"drop.fields.header.name", base("transforms", "u", "transforms.u.type", ExtractNewRecordState, "transforms.u.drop.fields.header.name", "dropped"),
			[]FieldError{{"transforms.u.drop.fields.header.name", "not supported by Fjord"}}},
		{"bad delete.tombstone.handling.mode", base("transforms", "u", "transforms.u.type", ExtractNewRecordState, "transforms.u.delete.tombstone.handling.mode", "none"),
			[]FieldError{{"transforms.u.delete.tombstone.handling.mode", "String must be one of: drop, tombstone, rewrite, rewrite-with-tombstone, delete-to-tombstone"}}},
		{"insert nothing, offset, static without value", base("transforms", "a,b", "transforms.a.type", InsertFieldValue,
			"transforms.b.type", InsertFieldKey, "transforms.b.offset.field", "off", "transforms.b.static.field", "s"),
			[]FieldError{
				{"transforms.a.type", "No field insertion configured"},
				{"transforms.b.offset.field", "sink connectors only"},
				{"transforms.b.static.value", "No value specified for static field: s"},
			}},
		{"bad renames", base("transforms", "a", "transforms.a.type", ReplaceFieldValue, "transforms.a.renames", "a:b,c"),
			[]FieldError{{"transforms.a.renames", "Invalid rename mapping: c"}}},
		{"bad timestamp.format", base("transforms", "a", "transforms.a.type", TimestampRouter, "transforms.a.timestamp.format", "yyyyMMdd-q"),
			[]FieldError{{"transforms.a.timestamp.format", "Illegal pattern character 'q'"}}},
		{"predicates", base("transforms", "a,b,c", "transforms.a.type", ValueToKey, "transforms.a.fields", "id", "transforms.a.predicate", "nope",
			"transforms.b.type", ValueToKey, "transforms.b.fields", "id", "transforms.b.negate", "true",
			"transforms.c.type", ValueToKey, "transforms.c.fields", "id", "transforms.c.predicate", "p", "transforms.c.negate", "maybe",
			"predicates", "p,q,r,s", "predicates.p.type", TopicNameMatches, "predicates.p.pattern", "[",
			"predicates.q.type", "com.acme.IsFriday", "predicates.r.type", HasHeaderKey),
			[]FieldError{
				{"predicates.p.pattern", "Invalid value [ for configuration predicates.p.pattern: entry must be a Java-compatible regular expression"},
				{"predicates.q.type", "predicate q (com.acme.IsFriday) is not supported by Fjord; Fjord applies " + strings.Join(PredicateClasses, ", ")},
				{"predicates.r.name", `Missing required configuration "predicates.r.name"`},
				{"predicates.s.type", `Missing required configuration "predicates.s.type"`},
				{"transforms.a.predicate", "predicate nope is not in predicates"},
				{"transforms.b.negate", "Config 'transforms.b.negate' was provided but there is no config 'transforms.b.predicate' defining a predicate to be negated."},
				{"transforms.c.negate", "Expected value to be either true or false"},
			}},
	} {
		got := Validate(tc.conf)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d problems %v, want %d", tc.name, len(got), got, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if got[i].Key != w.Key || !strings.Contains(got[i].Message, w.Message) {
				t.Errorf("%s: problem %d = %v, want key %s and %q", tc.name, i, got[i], w.Key, w.Message)
			}
		}
		_, err := New(tc.conf)
		if (err == nil) != (len(tc.want) == 0) {
			t.Errorf("%s: New: %v", tc.name, err)
		}
	}
}

func TestClasses(t *testing.T) {
	for _, want := range []string{ExtractNewRecordState, RegexRouter, InsertFieldKey, InsertFieldValue, ReplaceFieldKey, ReplaceFieldValue, ValueToKey, ExtractFieldKey, ExtractFieldValue, TimestampRouter} {
		if !slices.Contains(Classes, want) {
			t.Errorf("Classes lacks %s", want)
		}
	}
	if !slices.IsSorted(Classes) || len(Classes) != 10 {
		t.Errorf("Classes %v", Classes)
	}
	if !reflect.DeepEqual(PredicateClasses, []string{HasHeaderKey, RecordIsTombstone, TopicNameMatches}) {
		t.Errorf("PredicateClasses %v", PredicateClasses)
	}
}

// TestChainConcurrent: one chain serves a task's records from several goroutines (the schema
// caches are shared); run with -race.
func TestChainConcurrent(t *testing.T) {
	c, err := New(map[string]string{
		"transforms":                    "unwrap,insert,replace,key",
		"transforms.unwrap.type":        ExtractNewRecordState,
		"transforms.unwrap.add.fields":  "op",
		"transforms.insert.type":        InsertFieldValue,
		"transforms.insert.topic.field": "topic",
		"transforms.replace.type":       ReplaceFieldValue,
		"transforms.replace.renames":    "name:title",
		"transforms.key.type":           ValueToKey,
		"transforms.key.fields":         "id",
	})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture()
	done := make(chan []string)
	for g := 0; g < 4; g++ {
		go func(g int) {
			var names []string
			for i := 0; i < 200; i++ {
				out, err := c.Apply(f.record(debezium.OpCreate, nil, []any{int32(i), "n", nil}, nil))
				if err != nil {
					t.Error(err)
					break
				}
				names = fieldNames(out.ValueSchema)
				if out.Key.(*data.Struct).Values[0] != int32(i) {
					t.Errorf("key %v", out.Key)
				}
			}
			done <- names
		}(g)
	}
	for g := 0; g < 4; g++ {
		if names := <-done; !reflect.DeepEqual(names, []string{"id", "title", "route", "__op", "topic"}) {
			t.Errorf("fields %v", names)
		}
	}
}
