package transforms

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The transform and predicate classes Fjord applies.
const (
	ExtractNewRecordState = "io.debezium.transforms.ExtractNewRecordState"
	RegexRouter           = "org.apache.kafka.connect.transforms.RegexRouter"
	InsertFieldKey        = "org.apache.kafka.connect.transforms.InsertField$Key"
	InsertFieldValue      = "org.apache.kafka.connect.transforms.InsertField$Value"
	ReplaceFieldKey       = "org.apache.kafka.connect.transforms.ReplaceField$Key"
	ReplaceFieldValue     = "org.apache.kafka.connect.transforms.ReplaceField$Value"
	ValueToKey            = "org.apache.kafka.connect.transforms.ValueToKey"
	ExtractFieldKey       = "org.apache.kafka.connect.transforms.ExtractField$Key"
	ExtractFieldValue     = "org.apache.kafka.connect.transforms.ExtractField$Value"
	TimestampRouter       = "org.apache.kafka.connect.transforms.TimestampRouter"

	TopicNameMatches  = "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"
	HasHeaderKey      = "org.apache.kafka.connect.transforms.predicates.HasHeaderKey"
	RecordIsTombstone = "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"
)

// maker builds one transform from its options, reporting problems to o.
type maker func(o *options) Transform

var makers = map[string]maker{
	ExtractNewRecordState: newUnwrap,
	RegexRouter:           newRegexRouter,
	InsertFieldKey:        func(o *options) Transform { return newInsertField(o, keySide) },
	InsertFieldValue:      func(o *options) Transform { return newInsertField(o, valueSide) },
	ReplaceFieldKey:       func(o *options) Transform { return newReplaceField(o, keySide) },
	ReplaceFieldValue:     func(o *options) Transform { return newReplaceField(o, valueSide) },
	ValueToKey:            newValueToKey,
	ExtractFieldKey:       func(o *options) Transform { return newExtractField(o, keySide) },
	ExtractFieldValue:     func(o *options) Transform { return newExtractField(o, valueSide) },
	TimestampRouter:       newTimestampRouter,
}

// predicateMaker builds one predicate from its options.
type predicateMaker func(o *options) Predicate

var predicateMakers = map[string]predicateMaker{
	TopicNameMatches:  newTopicNameMatches,
	HasHeaderKey:      newHasHeaderKey,
	RecordIsTombstone: func(*options) Predicate { return recordIsTombstone{} },
}

// Classes are the transform classes Fjord applies (transforms.<alias>.type), sorted.
var Classes = sortedKeys(makers)

// PredicateClasses are the predicate classes Fjord applies (predicates.<alias>.type), sorted.
var PredicateClasses = sortedKeys(predicateMakers)

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// abstractClasses are Kafka's abstract transforms: a configuration must name their $Key or
// $Value class, as Kafka Connect refuses the abstract one.
var abstractClasses = map[string]bool{
	"org.apache.kafka.connect.transforms.InsertField":  true,
	"org.apache.kafka.connect.transforms.ReplaceField": true,
	"org.apache.kafka.connect.transforms.ExtractField": true,
}

// Predicate is one configured predicate.
type Predicate interface {
	Test(r *Record) bool
}

// stage is one transform of a chain with its optional predicate.
type stage struct {
	alias     string
	t         Transform
	predicate Predicate
	negate    bool
}

// Chain is a connector's transforms in order (Kafka Connect's TransformationChain).
type Chain struct {
	stages []stage
}

// Len is the number of transforms.
func (c *Chain) Len() int {
	if c == nil {
		return 0
	}
	return len(c.stages)
}

// Apply runs r through the chain: each transform whose predicate (if any, negated if
// configured) holds. It returns nil when a transform drops the record; r itself is never
// modified. An error names the transform's alias.
func (c *Chain) Apply(r *Record) (*Record, error) {
	if c == nil {
		return r, nil
	}
	for _, s := range c.stages {
		if r == nil {
			return nil, nil
		}
		if s.predicate != nil && s.predicate.Test(r) == s.negate {
			continue
		}
		out, err := s.t.Apply(r)
		if err != nil {
			return nil, fmt.Errorf("transform %s: %w", s.alias, err)
		}
		r = out
	}
	return r, nil
}

// New builds the chain a connector configuration configures (transforms, transforms.<alias>.*,
// predicates, predicates.<alias>.*). An empty transforms list is an empty chain. Every problem
// Validate reports fails it.
func New(conf map[string]string) (*Chain, error) {
	c, errs := build(conf)
	if len(errs) > 0 {
		list := make([]error, len(errs))
		for i, e := range errs {
			list[i] = e
		}
		return nil, errors.Join(list...)
	}
	return c, nil
}

// Validate checks the transforms and predicates of a connector configuration as Kafka Connect
// does when it creates the connector, and returns every problem naming its key: a missing or
// unknown type (transforms.<alias>.type, predicates.<alias>.type), a missing required option, a
// value that is not valid (a regular expression, a boolean, an enum), a predicate that is not
// configured, negate without predicate, duplicate aliases. Options the transform does not
// define are ignored, as in Kafka.
func Validate(conf map[string]string) []FieldError {
	_, errs := build(conf)
	return errs
}

func build(conf map[string]string) (*Chain, []FieldError) {
	var errs []FieldError
	aliases := splitList(conf["transforms"])
	errs = append(errs, duplicates("transforms", conf["transforms"], aliases)...)
	predAliases := splitList(conf["predicates"])
	errs = append(errs, duplicates("predicates", conf["predicates"], predAliases)...)

	preds := map[string]Predicate{}
	for _, alias := range predAliases {
		if _, done := preds[alias]; done {
			continue
		}
		prefix := "predicates." + alias + "."
		typ := strings.TrimSpace(conf[prefix+"type"])
		if typ == "" {
			errs = append(errs, missing(prefix+"type"))
			preds[alias] = nil
			continue
		}
		mk, ok := predicateMakers[typ]
		if !ok {
			errs = append(errs, FieldError{Key: prefix + "type", Message: fmt.Sprintf(
				"predicate %s (%s) is not supported by Fjord; Fjord applies %s", alias, typ, strings.Join(PredicateClasses, ", "))})
			preds[alias] = nil
			continue
		}
		o := &options{conf: conf, prefix: prefix}
		p := mk(o)
		errs = append(errs, o.errs...)
		preds[alias] = p
	}

	c := &Chain{}
	seen := map[string]bool{}
	for _, alias := range aliases {
		if seen[alias] {
			continue
		}
		seen[alias] = true
		prefix := "transforms." + alias + "."
		s := stage{alias: alias}
		if p, ok := conf[prefix+"predicate"]; ok && strings.TrimSpace(p) != "" {
			p = strings.TrimSpace(p)
			pred, configured := preds[p]
			switch {
			case !configured && !slices.Contains(predAliases, p):
				errs = append(errs, FieldError{Key: prefix + "predicate", Message: fmt.Sprintf(
					"Invalid value %s for configuration %spredicate: predicate %s is not in predicates (%s)", p, prefix, p, conf["predicates"])})
			default:
				s.predicate = pred
			}
			if v, ok := conf[prefix+"negate"]; ok {
				b, err := parseBool(v)
				if err != nil {
					errs = append(errs, invalid(prefix+"negate", v, "Expected value to be either true or false"))
				}
				s.negate = b
			}
		} else if _, ok := conf[prefix+"negate"]; ok {
			errs = append(errs, FieldError{Key: prefix + "negate", Message: fmt.Sprintf(
				"Config '%snegate' was provided but there is no config '%spredicate' defining a predicate to be negated.", prefix, prefix)})
		}
		typ := strings.TrimSpace(conf[prefix+"type"])
		if typ == "" {
			errs = append(errs, missing(prefix+"type"))
			continue
		}
		mk, ok := makers[typ]
		if !ok {
			msg := fmt.Sprintf("transform %s (%s) is not supported by Fjord; Fjord applies %s", alias, typ, strings.Join(Classes, ", "))
			if abstractClasses[typ] {
				msg = fmt.Sprintf("transform %s (%s) is abstract: use %s$Key or %s$Value", alias, typ, typ, typ)
			}
			errs = append(errs, FieldError{Key: prefix + "type", Message: msg})
			continue
		}
		o := &options{conf: conf, prefix: prefix}
		s.t = mk(o)
		errs = append(errs, o.errs...)
		c.stages = append(c.stages, s)
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func duplicates(key, value string, aliases []string) []FieldError {
	seen := map[string]bool{}
	for _, a := range aliases {
		if seen[a] {
			return []FieldError{invalid(key, value, "Duplicate alias provided.")}
		}
		seen[a] = true
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
