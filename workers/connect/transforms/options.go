package transforms

import (
	"fmt"
	"strings"
)

// options reads one transform's or predicate's options (<prefix><name>) as Kafka's ConfigDef
// parses them (strings trimmed, booleans true/false in any case, lists split on commas) and
// collects every problem.
type options struct {
	conf   map[string]string
	prefix string
	errs   []FieldError
}

func (o *options) key(name string) string { return o.prefix + name }

func (o *options) fail(name, format string, args ...any) {
	o.errs = append(o.errs, FieldError{Key: o.key(name), Message: fmt.Sprintf(format, args...)})
}

func (o *options) invalid(name, value, format string, args ...any) {
	o.errs = append(o.errs, invalid(o.key(name), value, fmt.Sprintf(format, args...)))
}

// raw returns the option's value as given and whether it is set.
func (o *options) raw(name string) (string, bool) {
	v, ok := o.conf[o.key(name)]
	return v, ok
}

// str is a STRING option: trimmed, or def when absent.
func (o *options) str(name, def string) string {
	if v, ok := o.raw(name); ok {
		return strings.TrimSpace(v)
	}
	return def
}

// optional is a STRING option without default: nil when absent.
func (o *options) optional(name string) *string {
	v, ok := o.raw(name)
	if !ok {
		return nil
	}
	v = strings.TrimSpace(v)
	return &v
}

// required is a STRING option without default that must be present.
func (o *options) required(name string) (string, bool) {
	v, ok := o.raw(name)
	if !ok {
		o.errs = append(o.errs, missing(o.key(name)))
		return "", false
	}
	return strings.TrimSpace(v), true
}

// boolean is a BOOLEAN option.
func (o *options) boolean(name string, def bool) bool {
	v, ok := o.raw(name)
	if !ok {
		return def
	}
	b, err := parseBool(v)
	if err != nil {
		o.invalid(name, v, "Expected value to be either true or false")
		return def
	}
	return b
}

// list is a LIST option (empty when absent).
func (o *options) list(name string) []string { return splitList(o.conf[o.key(name)]) }

// enum is a STRING option that must be one of values (compared ignoring case); it returns the
// value as listed.
func (o *options) enum(name, def string, values ...string) string {
	v, ok := o.raw(name)
	if !ok {
		return def
	}
	t := strings.TrimSpace(v)
	for _, x := range values {
		if strings.EqualFold(x, t) {
			return x
		}
	}
	o.invalid(name, v, "String must be one of: %s", strings.Join(values, ", "))
	return def
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean")
}

func missing(key string) FieldError {
	return FieldError{Key: key, Message: fmt.Sprintf("Missing required configuration %q which has no default value.", key)}
}

func invalid(key, value, msg string) FieldError {
	return FieldError{Key: key, Message: fmt.Sprintf("Invalid value %s for configuration %s: %s", value, key, msg)}
}
