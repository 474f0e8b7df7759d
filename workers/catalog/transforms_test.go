package catalog

import (
	"strings"
	"testing"

	"github.com/fjord-io/fjord/workers/connect/transforms"
)

func TestValidateTransforms(t *testing.T) {
	t.Parallel()
	if len(Transforms) == 0 || Transforms[0] != transforms.Classes[0] || len(Predicates) != 3 {
		t.Fatalf("Transforms %v Predicates %v", Transforms, Predicates)
	}
	// A class whose engine applies transforms (the CDC connectors').
	cdc := &Class{Name: "io.debezium.connector.mysql.MySqlConnector", Engine: "cdc", Transforms: true}
	check := func(kv ...string) []FieldError {
		conf := map[string]string{"connector.class": cdc.Name}
		deferred := map[string]bool{}
		for i := 0; i < len(kv); i += 2 {
			conf[kv[i]] = kv[i+1]
			if HasReference(kv[i+1]) {
				deferred[kv[i]] = true
			}
		}
		return validateTransforms(conf, deferred, cdc)
	}
	// Supported transforms and predicates pass.
	if errs := check("transforms", "route,unwrap", "transforms.route.type", transforms.RegexRouter,
		"transforms.route.regex", "(.*)", "transforms.route.replacement", "copy-$1", "transforms.route.predicate", "notTmp", "transforms.route.negate", "true",
		"transforms.unwrap.type", transforms.ExtractNewRecordState, "transforms.unwrap.delete.handling.mode", "rewrite",
		"predicates", "notTmp", "predicates.notTmp.type", transforms.TopicNameMatches, "predicates.notTmp.pattern", "tmp-.*"); len(errs) != 0 {
		t.Errorf("valid transforms refused: %v", errs)
	}
	// An unknown transform is refused naming it, listing the supported ones.
	errs := check("transforms", "route", "transforms.route.type", "io.debezium.transforms.ByLogicalTableRouter")
	if len(errs) != 1 || errs[0].Key != "transforms.route.type" || !strings.Contains(errs[0].Message, "io.debezium.transforms.ByLogicalTableRouter") ||
		!strings.Contains(errs[0].Message, transforms.ExtractNewRecordState) {
		t.Errorf("unknown transform: %v", errs)
	}
	// Options: every problem, by key, sorted.
	errs = check("transforms", "r", "transforms.r.type", transforms.RegexRouter, "transforms.r.regex", "a(",
		"predicates", "p", "predicates.p.type", transforms.HasHeaderKey)
	if len(errs) != 3 || errs[0].Key != "predicates.p.name" || errs[1].Key != "transforms.r.regex" || errs[2].Key != "transforms.r.replacement" {
		t.Errorf("option problems: %v", errs)
	}
	// Config-provider references are checked when the task starts, not here.
	if errs := check("transforms", "r", "transforms.r.type", transforms.RegexRouter, "transforms.r.regex", "${env:REGEX}",
		"transforms.r.replacement", "${file:/opt/x.properties:replacement}"); len(errs) != 0 {
		t.Errorf("references refused: %v", errs)
	}

	// MirrorMaker 2's engine applies no transforms: Validate refuses them (and still names
	// every other problem of theirs).
	_, errs = Validate(map[string]string{"connector.class": MirrorSource, "source.cluster.alias": "a", "target.cluster.alias": "b",
		"source.cluster.bootstrap.servers": "a:9092", "target.cluster.bootstrap.servers": "b:9092",
		"transforms": "route", "transforms.route.type": "com.acme.Route"})
	if len(errs) != 2 || errs[0].Key != "transforms" || !strings.Contains(errs[0].Message, "mirror-source engine applies no single message transforms") ||
		errs[1].Key != "transforms.route.type" {
		t.Errorf("MirrorSource with transforms: %v", errs)
	}
	_, errs = Validate(map[string]string{"connector.class": MirrorSource, "source.cluster.alias": "a", "target.cluster.alias": "b",
		"source.cluster.bootstrap.servers": "a:9092", "target.cluster.bootstrap.servers": "b:9092"})
	if len(errs) != 0 {
		t.Errorf("MirrorSource: %v", errs)
	}
}
