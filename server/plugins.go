package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
)

// classKey is one key of a connector configuration that names a Java class a worker loads.
type classKey struct{ key, class string }

// classKeys lists the keys of conf naming classes a worker loads: connector.class first, then
// the converters and the types of transforms and predicates, sorted by key. Empty values are
// left to the catalog's validation.
func classKeys(conf map[string]string) []classKey {
	var out []classKey
	for k, v := range conf {
		v = strings.TrimSpace(v)
		if v == "" || k == "connector.class" || catalog.HasReference(v) {
			continue
		}
		switch {
		case k == "key.converter" || k == "value.converter" || k == "header.converter",
			strings.HasPrefix(k, "transforms.") && strings.HasSuffix(k, ".type"),
			strings.HasPrefix(k, "predicates.") && strings.HasSuffix(k, ".type"):
			out = append(out, classKey{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	if c := strings.TrimSpace(conf["connector.class"]); c != "" {
		out = append([]classKey{{"connector.class", c}}, out...)
	}
	return out
}

// builtInClass reports whether a class named under key ships with Apache Kafka, so that it
// needs no plugin content: a class of Kafka's own packages, or (for connector.class) an alias
// of a built-in class of the catalog (MirrorSourceConnector, MirrorSource, …).
func builtInClass(key, class string) bool {
	if catalog.BuiltIn(class) {
		return true
	}
	if key == "connector.class" {
		if c, ok := catalog.Lookup(class); ok && c.BuiltIn {
			return true
		}
	}
	return false
}

// inIndex reports whether classes (sorted) hold the class named under key. connector.class
// may also be an alias, as Kafka Connect resolves it: the simple name of a class of the
// plugin, or that name without its "Connector" suffix.
func inIndex(classes []string, key, class string) bool {
	if _, found := slices.BinarySearch(classes, class); found {
		return true
	}
	if key != "connector.class" || strings.ContainsAny(class, ".") {
		return false
	}
	for _, c := range classes {
		simple := c[strings.LastIndexAny(c, ".$")+1:]
		if simple == class || (strings.HasSuffix(simple, "Connector") && strings.TrimSuffix(simple, "Connector") == class) {
			return true
		}
	}
	return false
}

// checkPluginClasses refuses a connector configuration naming a class that neither ships with
// Apache Kafka nor is in one of the connector's plugin revisions, as MSK Connect fails such a
// connector (Kafka Connect finds no class of that name): BadRequestException naming the key,
// the class and the plugins. It runs before the catalog's validation, so that a class in no
// plugin is reported as such, and a class in the plugin that Fjord has no engine for gets the
// catalog's message.
func (s *Server) checkPluginClasses(ctx context.Context, conf map[string]string, plugins []store.Use, member string) error {
	var indexes []*store.PluginClasses
	for _, ck := range classKeys(conf) {
		if builtInClass(ck.key, ck.class) {
			continue
		}
		if indexes == nil {
			indexes = make([]*store.PluginClasses, len(plugins))
			for i, p := range plugins {
				pc, err := s.st.PluginClassesOf(ctx, p.ARN, p.Revision)
				switch {
				case errors.Is(err, store.ErrNotFound):
					pc = nil // not indexed (yet): it holds nothing Fjord knows of
				case err != nil:
					return s.storeErr(ctx, err, fmt.Sprintf("revision %d of custom plugin %s", p.Revision, p.ARN))
				}
				indexes[i] = pc
			}
		}
		found := false
		for _, pc := range indexes {
			if pc != nil && inIndex(pc.Classes, ck.key, ck.class) {
				found = true
				break
			}
		}
		if found {
			continue
		}
		where := make([]string, len(plugins))
		for i, p := range plugins {
			held := "not indexed yet"
			if pc := indexes[i]; pc != nil {
				held = fmt.Sprintf("%d classes", len(pc.Classes))
			}
			where[i] = fmt.Sprintf("custom plugin %s (revision %d, %s)", p.ARN, p.Revision, held)
		}
		return apierr.BadRequest(member, "%s: %s: class %s is not in %s, and it does not ship with Apache Kafka: a worker could not load it",
			member, ck.key, ck.class, strings.Join(where, " or "))
	}
	return nil
}

// connectorPlugins lists the plugin revisions of a connector's description.
func connectorPlugins(plugins []*kc.PluginDescription) []store.Use {
	out := make([]store.Use, 0, len(plugins))
	for _, p := range plugins {
		out = append(out, store.Use{ARN: p.GetCustomPlugin().GetCustomPluginArn(), Revision: p.GetCustomPlugin().GetRevision()})
	}
	return out
}

// inUseError is the ConflictException of deleting a custom plugin or worker configuration
// that connectors use.
func inUseError(what, arn string, e *store.InUseError) error {
	users := make([]string, len(e.Users))
	for i, u := range e.Users {
		users[i] = fmt.Sprintf("%s (revision %d)", u.ARN, u.Revision)
	}
	more := ""
	if e.More {
		more = " and others"
	}
	return apierr.Conflict("%s %s is in use by connector %s%s; delete the connectors that use it first",
		what, arn, strings.Join(users, ", "), more)
}
