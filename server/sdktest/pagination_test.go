package sdktest

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	kt "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kct "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
)

// lister is one paginated list operation: one page of at most one item, as account 0 or the
// other account, with a filter ("" = none; for ListConnectorOperations the connector ARN).
type lister struct {
	name    string
	kafka   bool   // the kafka service (else kafkaconnect)
	filter  string // a filter that matches two or more items
	filter2 string // another filter
	page    func(other bool, filter string, token *string) (next *string, names []string, err error)
}

// TestNextToken: nextToken is opaque and tamper-evident: a token continues exactly the list,
// filter and account that produced it; a forged, tampered or foreign token is a
// BadRequestException and never a 5xx or someone else's data.
func TestNextToken(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()

	plugin := f.activePlugin(t, "a-plugin")
	f.env.PutObject(t, pluginBucket, "p.zip", zipBytes(t, map[string]string{"x.jar": "x"}))
	for _, n := range []string{"a-plugin-2", "b-plugin"} {
		must(f.kc.CreateCustomPlugin(ctx, pluginInput(n, "p.zip", kct.CustomPluginContentTypeZip))).get(t)
	}
	var conns []string
	for _, n := range []string{"a-1", "a-2", "b-1"} {
		conns = append(conns, createConnector(t, f.kc, connectorInput(n, plugin)))
	}
	for _, arn := range conns[:2] {
		for range 2 {
			// Each update must complete before the next: an UPDATING connector refuses another.
			updateAndWait(t, f.kc, &kafkaconnect.UpdateConnectorInput{ConnectorArn: aws.String(arn),
				CurrentVersion: describeConnector(t, f.kc, arn).CurrentVersion, ConnectorConfiguration: mirrorConfig()})
		}
	}
	for _, n := range []string{"a-1", "a-2", "b-1"} {
		must(f.kc.CreateWorkerConfiguration(ctx, workerConfigInput(n, workerProps))).get(t)
		createReplicator(t, f.k, f.replicatorInput(n))
	}

	kcOf := func(other bool) *kafkaconnect.Client {
		if other {
			return f.otherC
		}
		return f.kc
	}
	kOf := func(other bool) *kafka.Client {
		if other {
			return f.otherK
		}
		return f.k
	}
	one := aws.Int32(1)
	listers := []lister{
		{name: "ListConnectors", filter: "a-", filter2: "a",
			page: func(other bool, filter string, token *string) (*string, []string, error) {
				out, err := kcOf(other).ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{MaxResults: one, NextToken: token, ConnectorNamePrefix: opt(filter)})
				if err != nil {
					return nil, nil, err
				}
				var names []string
				for _, c := range out.Connectors {
					names = append(names, aws.ToString(c.ConnectorName))
				}
				return out.NextToken, names, nil
			}},
		{name: "ListCustomPlugins", filter: "a-", filter2: "a-plugin",
			page: func(other bool, filter string, token *string) (*string, []string, error) {
				out, err := kcOf(other).ListCustomPlugins(ctx, &kafkaconnect.ListCustomPluginsInput{MaxResults: one, NextToken: token, NamePrefix: opt(filter)})
				if err != nil {
					return nil, nil, err
				}
				var names []string
				for _, c := range out.CustomPlugins {
					names = append(names, aws.ToString(c.Name))
				}
				return out.NextToken, names, nil
			}},
		{name: "ListWorkerConfigurations", filter: "a-", filter2: "",
			page: func(other bool, filter string, token *string) (*string, []string, error) {
				out, err := kcOf(other).ListWorkerConfigurations(ctx, &kafkaconnect.ListWorkerConfigurationsInput{MaxResults: one, NextToken: token, NamePrefix: opt(filter)})
				if err != nil {
					return nil, nil, err
				}
				var names []string
				for _, c := range out.WorkerConfigurations {
					names = append(names, aws.ToString(c.Name))
				}
				return out.NextToken, names, nil
			}},
		{name: "ListConnectorOperations", filter: conns[0], filter2: conns[1],
			page: func(other bool, filter string, token *string) (*string, []string, error) {
				out, err := kcOf(other).ListConnectorOperations(ctx, &kafkaconnect.ListConnectorOperationsInput{MaxResults: one, NextToken: token, ConnectorArn: aws.String(filter)})
				if err != nil {
					return nil, nil, err
				}
				var names []string
				for _, c := range out.ConnectorOperations {
					names = append(names, aws.ToString(c.ConnectorOperationArn))
				}
				return out.NextToken, names, nil
			}},
		{name: "ListReplicators", kafka: true, filter: "a-", filter2: "",
			page: func(other bool, filter string, token *string) (*string, []string, error) {
				out, err := kOf(other).ListReplicators(ctx, &kafka.ListReplicatorsInput{MaxResults: one, NextToken: token, ReplicatorNameFilter: opt(filter)})
				if err != nil {
					return nil, nil, err
				}
				var names []string
				for _, c := range out.Replicators {
					names = append(names, aws.ToString(c.ReplicatorName))
				}
				return out.NextToken, names, nil
			}},
		{name: "ListClustersV2", kafka: true, filter: "", filter2: "s",
			page: func(other bool, filter string, token *string) (*string, []string, error) {
				out, err := kOf(other).ListClustersV2(ctx, &kafka.ListClustersV2Input{MaxResults: one, NextToken: token, ClusterNameFilter: opt(filter)})
				if err != nil {
					return nil, nil, err
				}
				var names []string
				for _, c := range out.ClusterInfoList {
					names = append(names, aws.ToString(c.ClusterName))
				}
				return out.NextToken, names, nil
			}},
	}

	tokens := map[string]string{} // list name → a valid token of it
	for _, l := range listers {
		next, first, err := l.page(false, l.filter, nil)
		check(t, err)
		if next == nil || len(first) != 1 {
			t.Fatalf("%s: first page %v, nextToken %v; want one item and a token", l.name, first, next)
		}
		tokens[l.name] = *next
		// The token continues the same list.
		_, second, err := l.page(false, l.filter, next)
		check(t, err)
		if len(second) != 1 || second[0] == first[0] {
			t.Errorf("%s: second page %v after %v", l.name, second, first)
		}
	}

	for _, l := range listers {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			bad := func(what string, other bool, filter, token string) {
				t.Helper()
				_, names, err := l.page(other, filter, aws.String(token))
				if err == nil {
					t.Errorf("%s: accepted, returned %v", what, names)
					return
				}
				if l.kafka {
					wantErr[*kt.BadRequestException](t, err, 400, "nextToken")
				} else {
					wantErr[*kct.BadRequestException](t, err, 400, "nextToken")
				}
			}
			tok := tokens[l.name]
			body, sig, _ := strings.Cut(tok, ".")
			bad("garbage", false, l.filter, "garbage")
			bad("empty signature", false, l.filter, body+".")
			bad("forged signature", false, l.filter, body+"."+base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
			bad("tampered position", false, l.filter, flip(body)+"."+sig)
			bad("tampered signature", false, l.filter, body+"."+flip(sig))
			bad("truncated", false, l.filter, tok[:len(tok)-2])
			bad("other filter", false, l.filter2, tok)
			if l.name == "ListConnectorOperations" {
				// The other account does not see the connector at all.
				_, _, err := l.page(true, l.filter, aws.String(tok))
				wantErr[*kct.NotFoundException](t, err, 404)
			} else {
				bad("other account", true, l.filter, tok)
			}
			for _, o := range listers {
				if o.name != l.name {
					bad("token of "+o.name, false, l.filter, tokens[o.name])
				}
			}
			// The genuine token still works after all that.
			_, names, err := l.page(false, l.filter, aws.String(tok))
			check(t, err)
			eq(t, "items on the genuine second page", len(names), 1)
		})
	}
}

// TestMaxResultsBounds: maxResults outside the model's 1..100 is a BadRequestException naming
// it; the bounds themselves are accepted.
func TestMaxResultsBounds(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	for _, n := range []int32{0, 101, -1} {
		_, err := f.kc.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{MaxResults: aws.Int32(n)})
		wantErr[*kct.BadRequestException](t, err, 400, "maxResults")
		_, err = f.kc.ListCustomPlugins(ctx, &kafkaconnect.ListCustomPluginsInput{MaxResults: aws.Int32(n)})
		wantErr[*kct.BadRequestException](t, err, 400, "maxResults")
		_, err = f.k.ListReplicators(ctx, &kafka.ListReplicatorsInput{MaxResults: aws.Int32(n)})
		wantErr[*kt.BadRequestException](t, err, 400, "maxResults")
		_, err = f.k.ListClustersV2(ctx, &kafka.ListClustersV2Input{MaxResults: aws.Int32(n)})
		wantErr[*kt.BadRequestException](t, err, 400, "maxResults")
	}
	for _, n := range []int32{1, 100} {
		must(f.kc.ListWorkerConfigurations(ctx, &kafkaconnect.ListWorkerConfigurationsInput{MaxResults: aws.Int32(n)})).get(t)
		out := must(f.k.ListClustersV2(ctx, &kafka.ListClustersV2Input{MaxResults: aws.Int32(n)})).get(t)
		eq(t, fmt.Sprintf("clusters with maxResults %d", n), len(out.ClusterInfoList), int(min(n, 2)))
	}
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// flip changes one character in the middle of a base64url string to another valid one.
func flip(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
