package catalog

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Kafka Connect's topic creation for source connectors (KIP-158): a topic a source connector
// writes to that does not exist is created with the settings of the first topic.creation group
// that matches it, else the default group's:
//   - topic.creation.default.partitions (-1: the broker's default) and
//     topic.creation.default.replication.factor (-1: the broker's default);
//   - any other topic.creation.default.<topic config> (cleanup.policy, retention.ms …);
//   - topic.creation.groups=<group>,… with topic.creation.<group>.include / .exclude (lists of
//     regular expressions matched against whole topic names) and the group's own settings,
//     which override the default group's.
//
// Kafka Connect creates topics only when topic.creation.default.* is configured; Fjord's CDC
// runtime always does (MSK's brokers do not create topics on produce), with one partition and
// min(3, brokers) replicas unless configured.

// TopicSettings are the settings of a topic the runtime creates: Partitions (0: unset, -1:
// the broker's default), ReplicationFactor (likewise) and topic configs.
type TopicSettings struct {
	Partitions        int32
	ReplicationFactor int16
	Configs           map[string]*string
}

// TopicGroup is one topic.creation group.
type TopicGroup struct {
	Name             string
	Include, Exclude []*regexp.Regexp
	TopicSettings
}

// TopicCreation is a configuration's topic.creation settings.
type TopicCreation struct {
	Default TopicSettings
	Groups  []TopicGroup
}

// ParseTopicCreation reads the topic.creation.* keys of conf; every problem names its key.
func ParseTopicCreation(conf map[string]string) (TopicCreation, []FieldError) {
	var errs []FieldError
	settings := func(prefix string, base TopicSettings) TopicSettings {
		s := TopicSettings{Partitions: base.Partitions, ReplicationFactor: base.ReplicationFactor, Configs: map[string]*string{}}
		for k, v := range base.Configs {
			s.Configs[k] = v
		}
		for k, v := range conf {
			opt, ok := strings.CutPrefix(k, prefix)
			if !ok || opt == "" {
				continue
			}
			v = strings.TrimSpace(v)
			switch opt {
			case "partitions", "replication.factor":
				n, err := strconv.ParseInt(v, 10, 16)
				if opt == "partitions" {
					n, err = strconv.ParseInt(v, 10, 32)
				}
				if err != nil || (n < 1 && n != -1) {
					errs = append(errs, FieldError{Key: k, Message: fmt.Sprintf("Invalid value %s for configuration %s: must be -1 (the broker's default) or at least 1", v, k)})
					continue
				}
				if opt == "partitions" {
					s.Partitions = int32(n)
				} else {
					s.ReplicationFactor = int16(n)
				}
			case "include", "exclude":
			default:
				s.Configs[opt] = &v
			}
		}
		return s
	}
	var c TopicCreation
	c.Default = settings("topic.creation.default.", TopicSettings{})
	for _, g := range splitList(conf["topic.creation.groups"]) {
		if g == "default" {
			continue
		}
		prefix := "topic.creation." + g + "."
		tg := TopicGroup{Name: g, TopicSettings: settings(prefix, c.Default)}
		for _, which := range []string{"include", "exclude"} {
			for _, pat := range splitList(conf[prefix+which]) {
				re, err := regexp.Compile(`\A(?:` + pat + `)\z`)
				if err != nil {
					errs = append(errs, FieldError{Key: prefix + which, Message: fmt.Sprintf("Invalid value %s for configuration %s: %q is not a valid regular expression: %v", conf[prefix+which], prefix+which, pat, err)})
					continue
				}
				if which == "include" {
					tg.Include = append(tg.Include, re)
				} else {
					tg.Exclude = append(tg.Exclude, re)
				}
			}
		}
		c.Groups = append(c.Groups, tg)
	}
	return c, errs
}

// For returns the settings of topic: the first group that includes and does not exclude it,
// else the default group's.
func (c TopicCreation) For(topic string) TopicSettings {
	for _, g := range c.Groups {
		if matchesAny(g.Include, topic) && !matchesAny(g.Exclude, topic) {
			return g.TopicSettings
		}
	}
	return c.Default
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, r := range res {
		if r.MatchString(s) {
			return true
		}
	}
	return false
}
