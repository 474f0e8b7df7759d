package mm2

import (
	"fmt"
	"regexp"
	"strings"
)

// Default include and exclude lists, as MirrorMaker 2's DefaultTopicFilter and
// DefaultGroupFilter.
const (
	DefaultTopicsInclude = ".*"
	DefaultTopicsExclude = `.*[\-\.]internal, .*\.replica, __.*`
	DefaultGroupsInclude = ".*"
	DefaultGroupsExclude = "console-consumer-.*, connect-.*, __.*"
)

// Filter selects names (topics or consumer groups) by two lists of regular expressions: a
// name is selected when it fully matches one include pattern and no exclude pattern, as
// MM2's DefaultTopicFilter / DefaultGroupFilter (Java's Pattern.matches: the whole name must
// match, so "orders" does not select "orders-dlq"). The zero Filter selects nothing.
type Filter struct {
	include, exclude *regexp.Regexp
	// Include and Exclude are the patterns as written, for display.
	Include, Exclude []string
}

// NewFilter compiles include and exclude pattern lists (Go RE2 syntax, which covers what MM2
// configurations use in practice; look-arounds and back-references are refused).
func NewFilter(include, exclude []string) (Filter, error) {
	f := Filter{Include: include, Exclude: exclude}
	var err error
	if f.include, err = compileList(include); err != nil {
		return Filter{}, fmt.Errorf("include: %w", err)
	}
	if f.exclude, err = compileList(exclude); err != nil {
		return Filter{}, fmt.Errorf("exclude: %w", err)
	}
	return f, nil
}

// MustFilter is NewFilter for patterns known at compile time; it panics on a bad pattern.
func MustFilter(include, exclude []string) Filter {
	f, err := NewFilter(include, exclude)
	if err != nil {
		panic(err)
	}
	return f
}

// Matches reports whether name is selected.
func (f Filter) Matches(name string) bool {
	if f.include == nil || !f.include.MatchString(name) {
		return false
	}
	return f.exclude == nil || !f.exclude.MatchString(name)
}

// SplitList splits a comma-separated MM2 list, trimming spaces and dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func compileList(patterns []string) (*regexp.Regexp, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	parts := make([]string, len(patterns))
	for i, p := range patterns {
		if _, err := regexp.Compile(p); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
		parts[i] = "(?:" + p + ")"
	}
	return regexp.Compile("^(?:" + strings.Join(parts, "|") + ")$")
}
