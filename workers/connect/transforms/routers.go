package transforms

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// javaRegex compiles a java.util.regex pattern with Go's regexp (RE2). The syntax Connect
// users write for topic names (classes, groups, alternation, quantifiers, named groups,
// \Q…\E) is the same; look-around, back-references and possessive quantifiers have no RE2
// equivalent and are refused.
type javaRegex struct {
	full *regexp.Regexp // anchored: Matcher.matches
	find *regexp.Regexp // unanchored: Matcher.find
}

func compileJavaRegex(expr string) (*javaRegex, error) {
	find, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	full, err := regexp.Compile(`\A(?:` + expr + `)\z`)
	if err != nil {
		return nil, err
	}
	return &javaRegex{full: full, find: find}, nil
}

// regexError is the message of a pattern RE2 cannot compile.
func regexError(err error) string {
	msg := err.Error()
	var e *syntax.Error
	if errors.As(err, &e) && (e.Code == syntax.ErrInvalidPerlOp || e.Code == syntax.ErrInvalidEscape || e.Code == syntax.ErrInvalidRepeatOp) {
		msg += " (Fjord matches with RE2 syntax: look-around, back-references and possessive quantifiers are not supported)"
	}
	return msg
}

// replacement is a java.util.regex.Matcher replacement string, parsed: literal text, $n and
// ${name} group references, \x escapes.
type replacement []replPart

type replPart struct {
	lit   string
	group int // -1: literal
}

// parseReplacement parses repl as Matcher.appendReplacement does, for a pattern with these
// groups (names[i] is group i's name, "" when unnamed).
func parseReplacement(repl string, names []string) (replacement, error) {
	groups := len(names) - 1
	var out replacement
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, replPart{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(repl); {
		c := repl[i]
		switch c {
		case '\\':
			i++
			if i == len(repl) {
				return nil, fmt.Errorf("character to be escaped is missing")
			}
			lit.WriteByte(repl[i])
			i++
		case '$':
			i++
			if i == len(repl) {
				return nil, fmt.Errorf("Illegal group reference: group index is missing")
			}
			ref := 0
			if repl[i] == '{' {
				i++
				start := i
				for i < len(repl) && isASCIIAlnum(repl[i]) {
					i++
				}
				name := repl[start:i]
				if name == "" {
					return nil, fmt.Errorf("named capturing group has 0 length name")
				}
				if i == len(repl) || repl[i] != '}' {
					return nil, fmt.Errorf("named capturing group is missing trailing '}'")
				}
				i++
				ref = -1
				for g, n := range names {
					if n == name {
						ref = g
						break
					}
				}
				if ref < 0 {
					return nil, fmt.Errorf("No group with name {%s}", name)
				}
			} else {
				if repl[i] < '0' || repl[i] > '9' {
					return nil, fmt.Errorf("Illegal group reference")
				}
				ref = int(repl[i] - '0')
				i++
				for i < len(repl) && repl[i] >= '0' && repl[i] <= '9' {
					n := ref*10 + int(repl[i]-'0')
					if n > groups {
						break
					}
					ref = n
					i++
				}
				if ref > groups {
					return nil, fmt.Errorf("No group %d", ref)
				}
			}
			flush()
			out = append(out, replPart{group: ref})
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return out, nil
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (r replacement) expand(b *strings.Builder, s string, loc []int) {
	for _, p := range r {
		if p.group < 0 {
			b.WriteString(p.lit)
		} else if loc[2*p.group] >= 0 {
			b.WriteString(s[loc[2*p.group]:loc[2*p.group+1]])
		}
	}
}

// RegexRouter: regex, replacement (both required). A topic that the regex matches entirely is
// replaced as Matcher.replaceFirst does.

type regexRouter struct {
	re   *javaRegex
	repl replacement
}

func newRegexRouter(o *options) Transform {
	t := &regexRouter{}
	expr, ok := o.required("regex")
	repl, okRepl := o.required("replacement")
	if ok {
		re, err := compileJavaRegex(expr)
		if err != nil {
			o.invalid("regex", expr, "Invalid regex: %s", regexError(err))
			return t
		}
		t.re = re
		if okRepl {
			p, err := parseReplacement(repl, re.find.SubexpNames())
			if err != nil {
				o.invalid("replacement", repl, "%s", err.Error())
			}
			t.repl = p
		}
	}
	return t
}

func (t *regexRouter) Apply(r *Record) (*Record, error) {
	if !t.re.full.MatchString(r.Topic) {
		return r, nil
	}
	loc := t.re.find.FindStringSubmatchIndex(r.Topic)
	var b strings.Builder
	b.WriteString(r.Topic[:loc[0]])
	t.repl.expand(&b, r.Topic, loc)
	b.WriteString(r.Topic[loc[1]:])
	out := *r
	out.Topic = b.String()
	return &out, nil
}

// TimestampRouter: topic.format (default ${topic}-${timestamp}) and timestamp.format (a
// java.text.SimpleDateFormat pattern, default yyyyMMdd, in UTC) of the record's timestamp.

type timestampRouter struct {
	topicFormat string
	format      *dateFormat
}

func newTimestampRouter(o *options) Transform {
	t := &timestampRouter{topicFormat: o.str("topic.format", "${topic}-${timestamp}")}
	f := o.str("timestamp.format", "yyyyMMdd")
	df, err := parseDateFormat(f)
	if err != nil {
		o.invalid("timestamp.format", f, "%s", err.Error())
	}
	t.format = df
	return t
}

func (t *timestampRouter) Apply(r *Record) (*Record, error) {
	if r.Timestamp.IsZero() {
		return nil, fmt.Errorf("Timestamp missing on record: topic %s", r.Topic)
	}
	ts := t.format.format(r.Timestamp.UTC())
	topic := strings.ReplaceAll(t.topicFormat, "${topic}", r.Topic)
	topic = strings.ReplaceAll(topic, "${timestamp}", ts)
	out := *r
	out.Topic = topic
	return &out, nil
}

// Predicates.

type topicNameMatches struct{ re *javaRegex }

func newTopicNameMatches(o *options) Predicate {
	p := &topicNameMatches{}
	v, ok := o.required("pattern")
	if !ok {
		return p
	}
	if v == "" {
		o.invalid("pattern", v, "String must be non-empty")
		return p
	}
	re, err := compileJavaRegex(v)
	if err != nil {
		o.invalid("pattern", v, "entry must be a Java-compatible regular expression: %s", regexError(err))
		return p
	}
	p.re = re
	return p
}

func (p *topicNameMatches) Test(r *Record) bool { return p.re.full.MatchString(r.Topic) }

type hasHeaderKey struct{ name string }

func newHasHeaderKey(o *options) Predicate {
	p := &hasHeaderKey{}
	v, ok := o.required("name")
	if ok && v == "" {
		o.invalid("name", v, "String must be non-empty")
	}
	p.name = v
	return p
}

func (p *hasHeaderKey) Test(r *Record) bool {
	for _, h := range r.Headers {
		if h.Key == p.name {
			return true
		}
	}
	return false
}

type recordIsTombstone struct{}

func (recordIsTombstone) Test(r *Record) bool { return null(r.Value) }
