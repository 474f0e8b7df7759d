package cdc

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
)

// Topic creation: a topic the task writes to that does not exist is created before the first
// record is produced to it, as Kafka Connect does for a source connector with topic.creation
// (MSK's brokers do not create topics on produce). The settings are Connect's:
// topic.creation.default.partitions (1 when unset; -1 is the broker's default),
// topic.creation.default.replication.factor (min(3, brokers) when unset; -1 is the broker's
// default) and any other topic.creation.default.<topic config> (cleanup.policy, …); groups
// (topic.creation.groups=<g>,… with topic.creation.<g>.include / .exclude regular expressions)
// override them for the topics they match, first group first.

// Kafka Connect's partition count of its offsets topic (offset.storage.partitions), used when
// the task finds the topic missing.
const offsetsPartitions = 25

// topicSettings are the settings of created topics.
type topicSettings struct {
	partitions  int32
	replication int16 // 0: min(3, brokers)
	configs     map[string]*string
}

type topicGroup struct {
	name             string
	include, exclude []*regexp.Regexp
	topicSettings
}

type topicCreation struct {
	def    topicSettings
	groups []topicGroup
}

// parseTopicCreation reads the topic.creation.* keys.
func parseTopicCreation(conf map[string]string) (topicCreation, error) {
	var errs debezium.Errors
	settings := func(prefix string, base topicSettings) topicSettings {
		s := topicSettings{partitions: base.partitions, replication: base.replication, configs: map[string]*string{}}
		for k, v := range base.configs {
			s.configs[k] = v
		}
		for k, v := range conf {
			opt, ok := strings.CutPrefix(k, prefix)
			if !ok || strings.Contains(opt, "*") {
				continue
			}
			v = strings.TrimSpace(v)
			switch opt {
			case "partitions":
				n, err := strconv.ParseInt(v, 10, 32)
				if err != nil || (n < 1 && n != -1) {
					errs = append(errs, debezium.FieldError{Key: k, Message: fmt.Sprintf("Invalid value %s for configuration %s: must be -1 or at least 1", v, k)})
					continue
				}
				s.partitions = int32(n)
			case "replication.factor":
				n, err := strconv.ParseInt(v, 10, 16)
				if err != nil || (n < 1 && n != -1) {
					errs = append(errs, debezium.FieldError{Key: k, Message: fmt.Sprintf("Invalid value %s for configuration %s: must be -1 or at least 1", v, k)})
					continue
				}
				s.replication = int16(n)
			case "include", "exclude":
			default:
				s.configs[opt] = &v
			}
		}
		return s
	}
	var c topicCreation
	c.def = settings("topic.creation.default.", topicSettings{partitions: 1})
	for _, g := range debezium.SplitList(conf["topic.creation.groups"]) {
		if g == "default" {
			continue
		}
		prefix := "topic.creation." + g + "."
		tg := topicGroup{name: g, topicSettings: settings(prefix, c.def)}
		for _, which := range []string{"include", "exclude"} {
			for _, pat := range debezium.SplitList(conf[prefix+which]) {
				re, err := regexp.Compile("^(?:" + pat + ")$")
				if err != nil {
					errs = append(errs, debezium.FieldError{Key: prefix + which, Message: fmt.Sprintf("%q is not a valid regular expression: %v", pat, err)})
					continue
				}
				if which == "include" {
					tg.include = append(tg.include, re)
				} else {
					tg.exclude = append(tg.exclude, re)
				}
			}
		}
		c.groups = append(c.groups, tg)
	}
	if len(errs) > 0 {
		return c, errs
	}
	return c, nil
}

// of returns the settings of topic.
func (c topicCreation) of(topic string) topicSettings {
	for _, g := range c.groups {
		if matchAny(g.include, topic) && !matchAny(g.exclude, topic) {
			return g.topicSettings
		}
	}
	return c.def
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, r := range res {
		if r.MatchString(s) {
			return true
		}
	}
	return false
}

// ensureTopic returns the partition count of topic, creating it first when it does not exist.
func (w *writer) ensureTopic(ctx context.Context, topic string) (int, error) {
	s := w.creation.of(topic)
	if topic == w.cc.OffsetsTopic {
		compact := "compact"
		s = topicSettings{partitions: offsetsPartitions, configs: map[string]*string{"cleanup.policy": &compact}}
	}
	adm := kadm.NewClient(w.cl)
	var n int
	err := retry(ctx, w.log, "create topic "+topic, func() error {
		d, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		if t, ok := d[topic]; ok && t.Err == nil {
			n = len(t.Partitions)
			return nil
		} else if ok && !errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
			return t.Err
		}
		rf := s.replication
		if rf == 0 {
			if w.brokers == 0 {
				md, err := adm.BrokerMetadata(ctx)
				if err != nil {
					return err
				}
				w.brokers = len(md.Brokers)
			}
			rf = int16(max(1, min(3, w.brokers)))
		}
		resp, err := adm.CreateTopic(ctx, s.partitions, rf, s.configs, topic)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil && resp.NumPartitions > 0:
			w.log.Info("created topic", "topic", topic, "partitions", resp.NumPartitions, "replication_factor", rf)
			n = int(resp.NumPartitions)
			return nil
		case err == nil:
			w.log.Info("created topic", "topic", topic, "partitions", s.partitions, "replication_factor", rf)
			if s.partitions > 0 {
				n = int(s.partitions)
				return nil
			}
		case errors.Is(err, kerr.TopicAlreadyExists):
		default:
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
		// Created by another client meanwhile, or with the broker's default partition count
		// by an old broker: look again (the client's metadata may take a few seconds).
		d, err = adm.ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		if t, ok := d[topic]; ok && t.Err == nil && len(t.Partitions) > 0 {
			n = len(t.Partitions)
			return nil
		}
		return kerr.UnknownTopicOrPartition
	})
	if err != nil {
		return 0, fmt.Errorf("cdc: %w", err)
	}
	return n, nil
}
