package catalog

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/mm2"
)

// Kind says which way a connector moves data, as Kafka Connect's connector types.
type Kind string

// Connector kinds.
const (
	KindSource Kind = "source"
	KindSink   Kind = "sink"
)

// Engine names the worker engine that runs a class's tasks; workers/tasks maps every Engine
// to a task factory.
type Engine string

// The engines of the classes in Classes.
const (
	EngineMirrorSource     Engine = "mirror-source"
	EngineMirrorCheckpoint Engine = "mirror-checkpoint"
	EngineMirrorHeartbeat  Engine = "mirror-heartbeat"
	EngineDebeziumMySQL    Engine = "debezium-mysql"
	EngineDebeziumPostgres Engine = "debezium-postgres"
)

// The Debezium connector classes Fjord runs with its own engines (workers/cdc).
const (
	DebeziumMySQL    = debezium.MySQLConnector
	DebeziumPostgres = debezium.PostgresConnector
)

// The MirrorMaker 2 connector classes.
const (
	MirrorSource     = mm2.SourceConnectorClass
	MirrorCheckpoint = mm2.CheckpointConnectorClass
	MirrorHeartbeat  = mm2.HeartbeatConnectorClass
)

// Type is a configuration key's type, named as Kafka Connect's ConfigDef.Type (the Connect
// REST validate route shows it).
type Type string

// Key types.
const (
	TypeBoolean  Type = "BOOLEAN"
	TypeInt      Type = "INT"
	TypeLong     Type = "LONG"
	TypeDouble   Type = "DOUBLE"
	TypeString   Type = "STRING"
	TypeList     Type = "LIST"
	TypeClass    Type = "CLASS"
	TypePassword Type = "PASSWORD"
)

// Key is one configuration key of a class.
type Key struct {
	// Name is the key as written in a connector configuration; a name ending in ".*" stands
	// for a prefix.
	Name string
	// Type is the key's type.
	Type Type
	// Default is the value used when the key is absent, as written in a configuration ("" with
	// Required, or when the absence has a meaning of its own).
	Default string
	// Required keys have no default: a configuration without them is refused.
	Required bool
	// Password keys are secrets: masked in every response and never logged.
	Password bool
	// Group is the key's group in Connect's validate response ("Common", "Transforms", the
	// class's own group …).
	Group string
	// Doc says what the key does in Fjord and how that differs from Kafka Connect.
	Doc string
}

// FieldError is one problem with one key.
type FieldError struct {
	Key     string
	Message string
}

func (e FieldError) Error() string { return e.Key + ": " + e.Message }

// Class is one connector class Fjord runs.
type Class struct {
	// Name is the fully-qualified Java class name.
	Name string
	// Aliases are the other names Kafka Connect accepts for it: the simple class name and the
	// simple name without its "Connector" suffix.
	Aliases []string
	// Kind is source or sink.
	Kind Kind
	// BuiltIn classes ship with Apache Kafka: a connector using one needs no plugin content
	// (MSK Connect users upload a placeholder ZIP for MirrorMaker 2).
	BuiltIn bool
	// Engine is what runs the class's tasks in a worker.
	Engine Engine
	// Version is the version Connect's REST API reports for the class.
	Version string
	// Keys is the class's own configuration definition (Common keys excluded), in
	// documentation order.
	Keys []Key
	// MaxTasks caps the class's task count whatever tasks.max says (MirrorHeartbeat runs one
	// task); 0 means tasks.max alone decides.
	MaxTasks int
	// Transforms says the class's engine applies single message transforms
	// (workers/connect/transforms); a configuration with transforms for a class whose engine
	// does not is refused rather than run without them.
	Transforms bool
	// ValidateFunc checks the class's own keys of a configuration; the keys whose values are
	// config-provider references have been left out (they are checked once resolved, when
	// the task starts).
	ValidateFunc func(conf map[string]string) []FieldError
}

// classes is the registry, sorted by name.
var classes = []*Class{
	debeziumClass(DebeziumMySQL, EngineDebeziumMySQL, debezium.MySQLKeys, func(conf map[string]string) debezium.Errors {
		_, errs := debezium.ParseMySQL(conf)
		return errs
	}),
	debeziumClass(DebeziumPostgres, EngineDebeziumPostgres, debezium.PostgresKeys, func(conf map[string]string) debezium.Errors {
		_, errs := debezium.ParsePostgres(conf)
		return errs
	}),
	mirrorClass(MirrorCheckpoint, EngineMirrorCheckpoint, 0),
	mirrorClass(MirrorHeartbeat, EngineMirrorHeartbeat, 1),
	mirrorClass(MirrorSource, EngineMirrorSource, 0),
}

// kafkaVersion is the Apache Kafka version whose built-in classes Fjord's MirrorMaker 2
// engine follows.
const kafkaVersion = "3.7.1"

func mirrorClass(name string, engine Engine, maxTasks int) *Class {
	keys := make([]Key, 0, len(mm2.SupportedKeys))
	for _, k := range mm2.SupportedKeys {
		if k.Name == "connector.class" || k.Name == "tasks.max" || strings.HasPrefix(k.Name, "(") || mm2.IsRuntimeKey(k.Name) {
			continue
		}
		keys = append(keys, Key{Name: k.Name, Type: mm2KeyType(k), Default: k.Default,
			Required: k.Default == "(required)", Password: strings.Contains(k.Name, "jaas.config") || strings.Contains(k.Name, "password"),
			Group: "MirrorMaker 2", Doc: k.Doc})
	}
	simple := name[strings.LastIndexByte(name, '.')+1:]
	return &Class{
		Name: name, Aliases: []string{simple, strings.TrimSuffix(simple, "Connector")},
		Kind: KindSource, BuiltIn: true, Engine: engine, Version: kafkaVersion, Keys: keys, MaxTasks: maxTasks,
		ValidateFunc: validateMirror,
	}
}

// debeziumClass is a Debezium connector class: not built in (a connector needs the plugin ZIP
// that holds the class, as in MSK Connect), one task (Debezium's database connectors run one),
// Debezium's common keys and the connector's own, validated by the connector's parser.
func debeziumClass(name string, engine Engine, own []debezium.Key, parse func(map[string]string) debezium.Errors) *Class {
	var keys []Key
	for _, k := range slices.Concat(debezium.CommonKeys, own) {
		key := Key{Name: k.Name, Type: Type(k.Type), Default: k.Default, Required: k.Required, Password: k.Password,
			Group: "Debezium", Doc: k.Doc}
		keys = append(keys, key)
		for _, a := range k.Aliases {
			alias := key
			alias.Name, alias.Required, alias.Doc = a, false, "The older name of "+k.Name+", read when "+k.Name+" is absent."
			keys = append(keys, alias)
		}
	}
	simple := name[strings.LastIndexByte(name, '.')+1:]
	return &Class{
		Name: name, Aliases: []string{simple, strings.TrimSuffix(simple, "Connector")},
		Kind: KindSource, Engine: engine, Version: debezium.Version, Keys: keys, MaxTasks: 1, Transforms: true,
		ValidateFunc: func(conf map[string]string) []FieldError {
			_, out := ParseTopicCreation(conf)
			for _, e := range parse(conf) {
				out = append(out, FieldError{Key: e.Key, Message: e.Message})
			}
			return out
		},
	}
}

func mm2KeyType(k mm2.Key) Type {
	switch {
	case strings.HasSuffix(k.Name, ".enabled"):
		return TypeBoolean
	case strings.HasSuffix(k.Name, ".seconds"), strings.HasSuffix(k.Name, ".ms"), strings.HasSuffix(k.Name, ".max"):
		return TypeLong
	case strings.HasSuffix(k.Name, ".class"):
		return TypeClass
	case strings.Contains(k.Name, "jaas.config"):
		return TypePassword
	case k.Name == "topics" || k.Name == "groups" || strings.HasSuffix(k.Name, ".exclude") || strings.HasSuffix(k.Name, ".servers"):
		return TypeList
	}
	return TypeString
}

// validateMirror is MirrorMaker 2's validation: exactly what the workers' parser checks,
// without reading files on the server's host.
func validateMirror(conf map[string]string) []FieldError {
	var out []FieldError
	for _, e := range mm2.Validate(conf) {
		out = append(out, FieldError{Key: e.Key, Message: e.Problem})
	}
	return out
}

// Classes returns every class, sorted by name.
func Classes() []*Class { return slices.Clone(classes) }

// Lookup finds a class by its name or one of its aliases.
func Lookup(name string) (*Class, bool) {
	name = strings.TrimSpace(name)
	for _, c := range classes {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c, true
		}
	}
	return nil, false
}

// Names lists every class name, sorted.
func Names() []string {
	out := make([]string, len(classes))
	for i, c := range classes {
		out[i] = c.Name
	}
	return out
}

// UnknownClassError is the message of a connector.class no engine runs.
func UnknownClassError(class string) string {
	return fmt.Sprintf("connector.class %s is not supported; Fjord runs %s", class, strings.Join(Names(), ", "))
}

// Validate checks a connector configuration as Kafka Connect would before creating the
// connector: connector.class names a class Fjord runs, the common keys (tasks.max,
// converters, transforms, …) are valid, and so are the class's own keys. It returns the class
// (nil when connector.class is missing or unknown) and every problem, sorted by key. Values
// that are config-provider references (${provider:path:key}) are checked only for presence;
// their resolved values are checked when the task starts.
func Validate(conf map[string]string) (*Class, []FieldError) {
	class := strings.TrimSpace(conf["connector.class"])
	if class == "" {
		return nil, []FieldError{{Key: "connector.class", Message: `Missing required configuration "connector.class" which has no default value.`}}
	}
	c, ok := Lookup(class)
	if !ok {
		return nil, []FieldError{{Key: "connector.class", Message: UnknownClassError(class)}}
	}
	plain := map[string]string{}
	deferred := map[string]bool{}
	for k, v := range conf {
		if HasReference(v) {
			deferred[k] = true
			continue
		}
		plain[k] = v
	}
	errs := validateCommon(plain, c)
	errs = append(errs, validateTransforms(conf, deferred, c)...)
	common := map[string]bool{} // a key the common checks refused is reported once
	for _, e := range errs {
		common[e.Key] = true
	}
	if c.ValidateFunc != nil {
		for _, e := range c.ValidateFunc(plain) {
			if !deferred[e.Key] && !common[e.Key] {
				errs = append(errs, e)
			}
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
	return c, errs
}

// TaskCap is the most tasks a connector of class c with configuration conf runs: tasks.max
// (0 when unset: the capacity decides), capped by the class's MaxTasks.
func (c *Class) TaskCap(conf map[string]string) int {
	n := 0
	if v, ok := conf["tasks.max"]; ok {
		if t, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && t > 0 {
			n = t
		}
	}
	if c.MaxTasks > 0 {
		n = c.MaxTasks
	}
	return n
}

// IsSecretKey reports whether a configuration key of class c (nil: any class) holds a secret
// and must be masked: a Password key, or any key whose name says password, secret or JAAS
// configuration, as MSK Connect masks them.
func (c *Class) IsSecretKey(key string) bool {
	if c != nil {
		for _, k := range c.Keys {
			if k.Name == key && k.Password {
				return true
			}
		}
	}
	l := strings.ToLower(key)
	for _, s := range []string{"password", "secret", "jaas.config", "credentials", "token", "ssl.key"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
