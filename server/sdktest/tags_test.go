package sdktest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	kt "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kct "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
)

// tagAPI is TagResource / UntagResource / ListTagsForResource of one service, for the owning
// account (other = false) or the other one, plus that service's typed error checks.
type tagAPI struct {
	tag        func(other bool, arn string, tags map[string]string) error
	untag      func(other bool, arn string, keys []string) error
	list       func(other bool, arn string) (map[string]string, error)
	notFound   func(t *testing.T, err error)
	badRequest func(t *testing.T, err error, want ...string)
}

func (f *fixture) connectTags(t *testing.T) tagAPI {
	ctx := t.Context()
	cl := func(other bool) *kafkaconnect.Client {
		if other {
			return f.otherC
		}
		return f.kc
	}
	return tagAPI{
		tag: func(other bool, arn string, tags map[string]string) error {
			_, err := cl(other).TagResource(ctx, &kafkaconnect.TagResourceInput{ResourceArn: aws.String(arn), Tags: tags})
			return err
		},
		untag: func(other bool, arn string, keys []string) error {
			_, err := cl(other).UntagResource(ctx, &kafkaconnect.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: keys})
			return err
		},
		list: func(other bool, arn string) (map[string]string, error) {
			out, err := cl(other).ListTagsForResource(ctx, &kafkaconnect.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
			if err != nil {
				return nil, err
			}
			return out.Tags, nil
		},
		notFound: func(t *testing.T, err error) { t.Helper(); wantErr[*kct.NotFoundException](t, err, 404) },
		badRequest: func(t *testing.T, err error, want ...string) {
			t.Helper()
			wantErr[*kct.BadRequestException](t, err, 400, want...)
		},
	}
}

func (f *fixture) kafkaTags(t *testing.T) tagAPI {
	ctx := t.Context()
	cl := func(other bool) *kafka.Client {
		if other {
			return f.otherK
		}
		return f.k
	}
	return tagAPI{
		tag: func(other bool, arn string, tags map[string]string) error {
			_, err := cl(other).TagResource(ctx, &kafka.TagResourceInput{ResourceArn: aws.String(arn), Tags: tags})
			return err
		},
		untag: func(other bool, arn string, keys []string) error {
			_, err := cl(other).UntagResource(ctx, &kafka.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: keys})
			return err
		},
		list: func(other bool, arn string) (map[string]string, error) {
			out, err := cl(other).ListTagsForResource(ctx, &kafka.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
			if err != nil {
				return nil, err
			}
			return out.Tags, nil
		},
		notFound: func(t *testing.T, err error) { t.Helper(); wantErr[*kt.NotFoundException](t, err, 404) },
		badRequest: func(t *testing.T, err error, want ...string) {
			t.Helper()
			wantErr[*kt.BadRequestException](t, err, 400, want...)
		},
	}
}

// TestTags: TagResource, UntagResource and ListTagsForResource on every taggable resource —
// connectors, custom plugins and worker configurations through the kafkaconnect client,
// replicators through the kafka client — with the NotFound and BadRequest cases of each.
func TestTags(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	initial := map[string]string{"env": "test", "owner": "team-a", "odd key/+ =": "odd value/+ ="}
	plugin := f.activePlugin(t, "mm2")

	pluginIn := pluginInput("tagged", "zips/mm2.zip", kct.CustomPluginContentTypeZip)
	pluginIn.Tags = initial
	connIn := connectorInput("tagged", plugin)
	connIn.Tags = initial
	wcIn := workerConfigInput("tagged", workerProps)
	wcIn.Tags = initial
	repIn := f.replicatorInput("tagged")
	repIn.Tags = initial

	for _, kind := range []struct {
		name    string
		arn     string
		unknown string
		api     tagAPI
	}{
		{"connector", createConnector(t, f.kc, connIn), unknownARN("kafkaconnect", "connector", "tagged"), f.connectTags(t)},
		{"custom plugin", aws.ToString(must(f.kc.CreateCustomPlugin(ctx, pluginIn)).get(t).CustomPluginArn),
			unknownARN("kafkaconnect", "custom-plugin", "tagged"), f.connectTags(t)},
		{"worker configuration", aws.ToString(must(f.kc.CreateWorkerConfiguration(ctx, wcIn)).get(t).WorkerConfigurationArn),
			unknownARN("kafkaconnect", "worker-configuration", "tagged"), f.connectTags(t)},
		{"replicator", createReplicator(t, f.k, repIn), unknownARN("kafka", "replicator", "tagged"), f.kafkaTags(t)},
	} {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			api, arn := kind.api, kind.arn
			tags := func(want map[string]string, what string) {
				t.Helper()
				got, err := api.list(false, arn)
				check(t, err)
				eqMap(t, what, got, want)
			}
			tags(initial, "tags from create")

			check(t, api.tag(false, arn, map[string]string{"env": "prod", "cost-center": "42", "empty": ""}))
			tags(map[string]string{"env": "prod", "owner": "team-a", "odd key/+ =": "odd value/+ =", "cost-center": "42", "empty": ""}, "tags after TagResource")
			check(t, api.untag(false, arn, []string{"owner", "never-set", "odd key/+ ="}))
			want := map[string]string{"env": "prod", "cost-center": "42", "empty": ""}
			tags(want, "tags after UntagResource")

			// Another account: NotFound for all three, and nothing changes.
			api.notFound(t, api.tag(true, arn, map[string]string{"x": "y"}))
			api.notFound(t, api.untag(true, arn, []string{"env"}))
			_, err := api.list(true, arn)
			api.notFound(t, err)
			// Unknown ARNs.
			api.notFound(t, api.tag(false, kind.unknown, map[string]string{"x": "y"}))
			api.notFound(t, api.untag(false, kind.unknown, []string{"env"}))
			_, err = api.list(false, kind.unknown)
			api.notFound(t, err)
			// Reserved prefix, in any case, even among good tags.
			api.badRequest(t, api.tag(false, arn, map[string]string{"fine": "1", "aws:createdBy": "me"}), "aws:")
			api.badRequest(t, api.tag(false, arn, map[string]string{"AWS:x": "1"}), "aws:")
			// More than 50 tags (AWS's limit per resource): in one call, or in all.
			api.badRequest(t, api.tag(false, arn, manyTags("n", 51)), "50")
			api.badRequest(t, api.tag(false, arn, manyTags("n", 48)), "50")
			tags(want, "tags after refused calls")
			check(t, api.tag(false, arn, manyTags("n", 47)))
			got, err := api.list(false, arn)
			check(t, err)
			eq(t, "tag count at the limit", len(got), 50)
			eq(t, "a tag at the limit", got["n046"], "46")
			api.badRequest(t, api.tag(false, arn, map[string]string{"one-more": "x"}), "50")
			// Overwriting at the limit is fine.
			check(t, api.tag(false, arn, map[string]string{"env": "staging"}))
			got, err = api.list(false, arn)
			check(t, err)
			eq(t, "env after overwrite", got["env"], "staging")
			eq(t, "tag count after overwrite", len(got), 50)
		})
	}

	// Malformed ARNs and ARNs of something that cannot be tagged.
	t.Run("not taggable", func(t *testing.T) {
		t.Parallel()
		_, err := f.kc.ListTagsForResource(ctx, &kafkaconnect.ListTagsForResourceInput{ResourceArn: aws.String("not-an-arn")})
		wantErr[*kct.BadRequestException](t, err, 400, "resourceArn")
		_, err = f.k.TagResource(ctx, &kafka.TagResourceInput{ResourceArn: aws.String("arn:aws:s3:::bucket/x"), Tags: map[string]string{"a": "b"}})
		wantErr[*kt.BadRequestException](t, err, 400, "resourceArn")
	})
}

// TestReplicatorTagsInDescribe: DescribeReplicator carries the replicator's current tags.
func TestReplicatorTagsInDescribe(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	arn := createReplicator(t, f.k, f.replicatorInput("r"))
	eq(t, "tags of an untagged replicator", len(describeReplicator(t, f.k, arn).Tags), 0)
	must(f.k.TagResource(ctx, &kafka.TagResourceInput{ResourceArn: aws.String(arn), Tags: map[string]string{"a": "1", "b": "2"}})).get(t)
	must(f.k.UntagResource(ctx, &kafka.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"a"}})).get(t)
	eqMap(t, "describe tags", describeReplicator(t, f.k, arn).Tags, map[string]string{"b": "2"})
}
