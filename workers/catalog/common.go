package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fjord-io/fjord/workers/connect/transforms"
)

// The converter classes a worker applies (key.converter, value.converter, header.converter),
// all shipped with Apache Kafka.
const (
	ByteArrayConverter    = "org.apache.kafka.connect.converters.ByteArrayConverter"
	StringConverter       = "org.apache.kafka.connect.storage.StringConverter"
	JSONConverter         = "org.apache.kafka.connect.json.JsonConverter"
	SimpleHeaderConverter = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
)

// Converters are the converter classes Fjord's workers apply.
var Converters = []string{ByteArrayConverter, JSONConverter, SimpleHeaderConverter, StringConverter}

// Transforms are the single message transform classes Fjord's workers apply
// (transforms.<alias>.type), sorted.
var Transforms = transforms.Classes

// Predicates are the predicate classes Fjord's workers apply (predicates.<alias>.type), sorted.
var Predicates = transforms.PredicateClasses

// BuiltInPackages are the Java packages whose classes ship with Apache Kafka itself: a
// configuration naming one (a MirrorMaker 2 connector, a converter, a transform, a predicate)
// needs no custom plugin content.
var BuiltInPackages = []string{
	"org.apache.kafka.connect.mirror.",
	"org.apache.kafka.connect.converters.",
	"org.apache.kafka.connect.storage.",
	"org.apache.kafka.connect.json.",
	"org.apache.kafka.connect.transforms.",
	"org.apache.kafka.connect.file.",
	"org.apache.kafka.common.config.provider.",
}

// BuiltIn reports whether a Java class ships with Apache Kafka.
func BuiltIn(javaClass string) bool {
	for _, p := range BuiltInPackages {
		if strings.HasPrefix(javaClass, p) {
			return true
		}
	}
	return false
}

// CommonKeys are the keys every connector accepts (Kafka Connect's ConnectorConfig and
// SourceConnectorConfig), as Fjord applies them.
var CommonKeys = []Key{
	{Name: "name", Type: TypeString, Group: "Common", Doc: "The connector's name; Fjord sets it to connectorName."},
	{Name: "connector.class", Type: TypeString, Required: true, Group: "Common", Doc: "The connector class: its full name, simple name, or simple name without the Connector suffix."},
	{Name: "tasks.max", Type: TypeInt, Default: "1", Group: "Common", Doc: "Most tasks; with autoScaling capacity MSK Connect's workers × MCU × 2 applies below it."},
	{Name: "key.converter", Type: TypeClass, Group: "Common", Doc: "Converter of record keys; overrides the worker configuration's. ByteArrayConverter, StringConverter or JsonConverter."},
	{Name: "value.converter", Type: TypeClass, Group: "Common", Doc: "Converter of record values; overrides the worker configuration's."},
	{Name: "header.converter", Type: TypeClass, Group: "Common", Doc: "Converter of record headers; overrides the worker configuration's."},
	{Name: "transforms", Type: TypeList, Group: "Transforms", Doc: "Aliases of the single message transforms applied in order; each needs transforms.<alias>.type."},
	{Name: "predicates", Type: TypeList, Group: "Predicates", Doc: "Aliases of the predicates transforms refer to."},
	{Name: "config.action.reload", Type: TypeString, Default: "restart", Group: "Common", Doc: "Accepted; configuration changes always restart the tasks."},
	{Name: "errors.tolerance", Type: TypeString, Default: "none", Group: "Error Handling", Doc: "none or all."},
	{Name: "errors.retry.timeout", Type: TypeLong, Default: "0", Group: "Error Handling", Doc: "Accepted."},
	{Name: "errors.retry.delay.max.ms", Type: TypeLong, Default: "60000", Group: "Error Handling", Doc: "Accepted."},
	{Name: "errors.log.enable", Type: TypeBoolean, Default: "false", Group: "Error Handling", Doc: "Accepted."},
	{Name: "errors.log.include.messages", Type: TypeBoolean, Default: "false", Group: "Error Handling", Doc: "Accepted."},
	{Name: "exactly.once.support", Type: TypeString, Group: "Exactly Once Support", Doc: "requested or required: records and source offsets in one transaction (KIP-618); absent or disabled: at-least-once."},
	{Name: "transaction.boundary", Type: TypeString, Default: "poll", Group: "Exactly Once Support", Doc: "poll (Fjord commits a transaction per poll round); interval and connector are accepted and behave as poll."},
	{Name: "offsets.storage.topic", Type: TypeString, Group: "Exactly Once Support", Doc: "The connector's own offsets topic on its Kafka cluster; default the runtime's."},
}

// validateCommon checks the common keys of conf for class c; the transforms and predicates
// are validateTransforms'.
func validateCommon(conf map[string]string, c *Class) []FieldError {
	var errs []FieldError
	if v, ok := conf["tasks.max"]; ok {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err != nil || n < 1 {
			errs = append(errs, FieldError{Key: "tasks.max", Message: fmt.Sprintf("Invalid value %s for configuration tasks.max: must be a positive integer", v)})
		}
	}
	for _, k := range []string{"key.converter", "value.converter", "header.converter"} {
		v, ok := conf[k]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if !slices.Contains(Converters, v) || (k != "header.converter" && v == SimpleHeaderConverter) {
			errs = append(errs, FieldError{Key: k, Message: fmt.Sprintf("Invalid value %s for configuration %s: Fjord's workers apply %s",
				v, k, strings.Join(Converters, ", "))})
		}
	}
	for _, k := range []string{"errors.log.enable", "errors.log.include.messages"} {
		if v, ok := conf[k]; ok && !isBool(v) {
			errs = append(errs, FieldError{Key: k, Message: fmt.Sprintf("Invalid value %s for configuration %s: Expected value to be either true or false", v, k)})
		}
	}
	if v, ok := conf["errors.tolerance"]; ok {
		if l := strings.ToLower(strings.TrimSpace(v)); l != "none" && l != "all" {
			errs = append(errs, FieldError{Key: "errors.tolerance", Message: fmt.Sprintf("Invalid value %s for configuration errors.tolerance: String must be one of: none, all", v)})
		}
	}
	if v, ok := conf["transaction.boundary"]; ok {
		if l := strings.ToLower(strings.TrimSpace(v)); l != "poll" && l != "interval" && l != "connector" {
			errs = append(errs, FieldError{Key: "transaction.boundary", Message: fmt.Sprintf("Invalid value %s for configuration transaction.boundary: String must be one of: poll, interval, connector", v)})
		}
	}
	return errs
}

// validateTransforms checks the transforms and predicates of conf as Kafka Connect does
// (workers/connect/transforms.Validate): each problem names its key (transforms.<alias>.type
// for an unknown transform, naming it and listing the supported ones;
// transforms.<alias>.<option> for an option). Problems of keys in deferred (config-provider
// references, resolved when the task starts) are left out. A class whose engine applies no
// transforms (Class.Transforms) refuses any.
func validateTransforms(conf map[string]string, deferred map[string]bool, c *Class) []FieldError {
	var errs []FieldError
	if aliases := splitList(conf["transforms"]); len(aliases) > 0 && !c.Transforms && !deferred["transforms"] {
		errs = append(errs, FieldError{Key: "transforms", Message: fmt.Sprintf(
			"Invalid value %s for configuration transforms: Fjord's %s engine applies no single message transforms (%s)", conf["transforms"], c.Engine, c.Name)})
	}
	for _, e := range transforms.Validate(conf) {
		if !deferred[e.Key] {
			errs = append(errs, FieldError{Key: e.Key, Message: e.Message})
		}
	}
	return errs
}

func isBool(v string) bool {
	l := strings.ToLower(strings.TrimSpace(v))
	return l == "true" || l == "false"
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
