package server

import (
	"regexp"
	"sort"
	"strings"

	"google.golang.org/grpc"

	"github.com/fjord-io/fjord/proto/awsmodel"
	kafkav1 "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"
	kafkaconnectv1 "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
)

// modelRoute is one operation of an AWS model with its HTTP binding.
type modelRoute struct {
	service, op string
	method      string
	path        *regexp.Regexp
	prefix      string // the template's literal start: a cheap test before the regexp
	literal     int    // literal characters of the template: the most specific route wins
	served      bool
}

// modelRoutes are every operation of both models, most specific first: what a request is,
// whatever Fjord serves of it. A request is matched here before it is authenticated (its
// signature must be scoped to the operation's service) and before the gateway routes it (an
// operation Fjord does not serve gets one clear error naming it instead of whatever served
// route its path happens to resemble).
func modelRoutes() []modelRoute {
	var out []modelRoute
	for _, svc := range []struct {
		name string
		desc *grpc.ServiceDesc
	}{{awsmodel.KafkaConnect, &kafkaconnectv1.KafkaConnect_ServiceDesc}, {awsmodel.Kafka, &kafkav1.Kafka_ServiceDesc}} {
		served := map[string]bool{}
		for _, m := range svc.desc.Methods {
			served[m.MethodName] = true
		}
		for name, op := range awsmodel.MustLoad(svc.name).Operations {
			tmpl, _, _ := strings.Cut(op.HTTP.RequestURI, "?")
			var re strings.Builder
			literal := 0
			re.WriteString("^")
			for _, part := range regexp.MustCompile(`\{[^}]+\}|[^{]+`).FindAllString(tmpl, -1) {
				switch {
				case strings.HasSuffix(part, "+}"):
					re.WriteString(".+")
				case strings.HasPrefix(part, "{"):
					re.WriteString("[^/]+")
				default:
					re.WriteString(regexp.QuoteMeta(part))
					literal += len(part)
				}
			}
			re.WriteString("/?$")
			prefix, _, _ := strings.Cut(tmpl, "{")
			out = append(out, modelRoute{service: svc.name, op: name, method: op.HTTP.Method, prefix: prefix,
				path: regexp.MustCompile(re.String()), literal: literal, served: served[name]})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].literal != out[j].literal {
			return out[i].literal > out[j].literal
		}
		return out[i].service+out[i].op < out[j].service+out[j].op
	})
	return out
}

// routeOf finds the operation of a request: the most specific route matching its method and
// escaped path. ambiguous is true when the other service has an operation at the same place
// (the tag operations), where a signature of either service is accepted.
func routeOf(routes []modelRoute, method, escapedPath string) (r modelRoute, ambiguous, ok bool) {
	for _, c := range routes {
		if c.method != method || !strings.HasPrefix(escapedPath, c.prefix) || !c.path.MatchString(escapedPath) {
			continue
		}
		if !ok {
			r, ok = c, true
			continue
		}
		if c.literal == r.literal && c.service != r.service {
			ambiguous = true
		}
		break
	}
	return r, ambiguous, ok
}

// serviceOf says which service's signature a request to route needs ("" = either): its
// operation's, or — for a path that is no operation of either model — none in particular.
func serviceOf(route modelRoute, ambiguous, ok bool) string {
	if !ok || ambiguous {
		return ""
	}
	return route.service
}
