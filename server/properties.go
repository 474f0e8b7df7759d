package server

import (
	"sort"
	"strings"

	"github.com/fjord-io/fjord/workers/catalog"
)

// parseProperties parses Java properties text (catalog.ParseProperties: the workers' config
// providers read properties files with the same parser).
func parseProperties(text string) (map[string]string, error) { return catalog.ParseProperties(text) }

// Worker-configuration keys MSK Connect refuses: it owns them (api-docs/README.md, "Errors").
var (
	forbiddenWorkerPrefixes = []string{"access.control.", "admin.", "client.", "connect.", "inter.worker.", "internal.",
		"listeners.https.", "metrics.", "rest.", "sasl.", "security.", "socket.", "ssl.", "topic.tracking.", "worker."}
	forbiddenWorkerKeyList = []string{"bootstrap.servers", "group.id", "plugin.path", "config.storage.topic", "status.storage.topic"}
	// Inside producer.* and consumer.* overrides, MSK Connect keeps the connection and security
	// settings to itself; everything else (batching, compression, fetch sizes, …) is allowed.
	forbiddenClientOverrides = []string{"bootstrap.servers", "sasl.", "security.", "ssl.", "client.dns.lookup", "metric.reporters",
		"interceptor.classes", "key.serializer", "value.serializer", "key.deserializer", "value.deserializer", "group.id"}
)

// forbiddenWorkerKeys returns the keys of props that MSK Connect does not allow, sorted.
func forbiddenWorkerKeys(props map[string]string) []string {
	var bad []string
	for k := range props {
		if workerKeyForbidden(k) {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	return bad
}

func workerKeyForbidden(k string) bool {
	for _, p := range []string{"producer.", "consumer."} {
		if rest, ok := strings.CutPrefix(k, p); ok {
			for _, f := range forbiddenClientOverrides {
				if rest == f || (strings.HasSuffix(f, ".") && strings.HasPrefix(rest, f)) {
					return true
				}
			}
			return false
		}
	}
	for _, f := range forbiddenWorkerKeyList {
		if k == f {
			return true
		}
	}
	for _, p := range forbiddenWorkerPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
