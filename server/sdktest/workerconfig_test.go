package sdktest

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kct "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"

	"github.com/fjord-io/fjord/server/servertest"
)

const workerProps = "key.converter=org.apache.kafka.connect.storage.StringConverter\n" +
	"value.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n" +
	"# a comment\n" +
	"producer.compression.type=zstd\n" +
	"consumer.max.poll.records=500\n" +
	"offset.flush.interval.ms=10000\n"

// TestWorkerConfiguration: Create, Describe (with the properties), List (prefix, pagination)
// and Delete.
func TestWorkerConfiguration(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()

	in := workerConfigInput("wc-main", workerProps)
	in.Description = aws.String("converters and overrides")
	created := must(f.kc.CreateWorkerConfiguration(ctx, in)).get(t)
	arn := aws.ToString(created.WorkerConfigurationArn)
	arnPrefix(t, "workerConfigurationArn", arn, "kafkaconnect", servertest.Account, "worker-configuration", "wc-main")
	eq(t, "create name", aws.ToString(created.Name), "wc-main")
	eq(t, "create state", created.WorkerConfigurationState, kct.WorkerConfigurationStateActive)
	recent(t, "create creationTime", created.CreationTime)
	if r := created.LatestRevision; r == nil || r.Revision != 1 || aws.ToString(r.Description) != "converters and overrides" {
		t.Errorf("create latestRevision %+v", r)
	}

	d := must(f.kc.DescribeWorkerConfiguration(ctx, &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: aws.String(arn)})).get(t)
	eq(t, "arn", aws.ToString(d.WorkerConfigurationArn), arn)
	eq(t, "name", aws.ToString(d.Name), "wc-main")
	eq(t, "description", aws.ToString(d.Description), "converters and overrides")
	eq(t, "state", d.WorkerConfigurationState, kct.WorkerConfigurationStateActive)
	recent(t, "creationTime", d.CreationTime)
	if d.LatestRevision == nil {
		t.Fatal("no latestRevision")
	}
	eq(t, "revision", d.LatestRevision.Revision, int64(1))
	// MSK Connect returns the properties as they were sent: base64 text.
	eq(t, "propertiesFileContent", aws.ToString(d.LatestRevision.PropertiesFileContent), b64(workerProps))
	eq(t, "revision description", aws.ToString(d.LatestRevision.Description), "converters and overrides")
	recent(t, "revision creationTime", d.LatestRevision.CreationTime)

	for _, n := range []string{"wc-b", "wc-a", "other-1", "wc-c"} {
		must(f.kc.CreateWorkerConfiguration(ctx, workerConfigInput(n, "offset.flush.interval.ms=1000\n"))).get(t)
	}
	must(f.otherC.CreateWorkerConfiguration(ctx, workerConfigInput("wc-zz", "a=b\n"))).get(t)

	all := must(f.kc.ListWorkerConfigurations(ctx, &kafkaconnect.ListWorkerConfigurationsInput{})).get(t)
	var names []string
	for _, w := range all.WorkerConfigurations {
		names = append(names, aws.ToString(w.Name))
		if w.WorkerConfigurationState != kct.WorkerConfigurationStateActive || w.LatestRevision == nil || w.LatestRevision.Revision != 1 {
			t.Errorf("summary %s: state %s, latestRevision %+v", aws.ToString(w.Name), w.WorkerConfigurationState, w.LatestRevision)
		}
		recent(t, "summary creationTime", w.CreationTime)
	}
	eqSlice(t, "all", names, []string{"other-1", "wc-a", "wc-b", "wc-c", "wc-main"})
	eq(t, "summary arn", aws.ToString(all.WorkerConfigurations[4].WorkerConfigurationArn), arn)
	eq(t, "summary description", aws.ToString(all.WorkerConfigurations[4].Description), "converters and overrides")

	var pages [][]string
	p := kafkaconnect.NewListWorkerConfigurationsPaginator(f.kc, &kafkaconnect.ListWorkerConfigurationsInput{
		MaxResults: aws.Int32(2), NamePrefix: aws.String("wc-"),
	})
	for p.HasMorePages() {
		out := must(p.NextPage(ctx)).get(t)
		var page []string
		for _, w := range out.WorkerConfigurations {
			page = append(page, aws.ToString(w.Name))
		}
		pages = append(pages, page)
	}
	eq(t, "pages", len(pages), 2)
	eqSlice(t, "prefix, paginated", flatten(pages), []string{"wc-a", "wc-b", "wc-c", "wc-main"})

	del := must(f.kc.DeleteWorkerConfiguration(ctx, &kafkaconnect.DeleteWorkerConfigurationInput{WorkerConfigurationArn: aws.String(arn)})).get(t)
	eq(t, "delete arn", aws.ToString(del.WorkerConfigurationArn), arn)
	eq(t, "delete state", del.WorkerConfigurationState, kct.WorkerConfigurationStateDeleting)
	_, err := f.kc.DescribeWorkerConfiguration(ctx, &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: aws.String(arn)})
	wantErr[*kct.NotFoundException](t, err, 404, arn)
	_, err = f.kc.DeleteWorkerConfiguration(ctx, &kafkaconnect.DeleteWorkerConfigurationInput{WorkerConfigurationArn: aws.String(arn)})
	wantErr[*kct.NotFoundException](t, err, 404, arn)
	all = must(f.kc.ListWorkerConfigurations(ctx, &kafkaconnect.ListWorkerConfigurationsInput{NamePrefix: aws.String("wc-")})).get(t)
	eq(t, "after delete", len(all.WorkerConfigurations), 3)
}

// TestWorkerConfigurationForbiddenKeys: every key MSK Connect reserves is refused with a
// BadRequestException naming it; nothing is created.
func TestWorkerConfigurationForbiddenKeys(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	forbidden := []string{
		"access.control.allow.origin", "admin.retries", "client.id", "connect.protocol", "inter.worker.key.size",
		"internal.key.converter", "listeners.https.ssl.keystore.location", "metrics.num.samples", "rest.port",
		"sasl.mechanism", "security.protocol", "socket.connection.setup.timeout.ms", "ssl.truststore.location",
		"topic.tracking.enable", "worker.sync.timeout.ms",
		"bootstrap.servers", "group.id", "plugin.path", "config.storage.topic", "status.storage.topic",
		"producer.bootstrap.servers", "producer.security.protocol", "consumer.sasl.jaas.config", "consumer.ssl.keystore.type",
	}
	for _, key := range forbidden {
		_, err := f.kc.CreateWorkerConfiguration(ctx, workerConfigInput("wc", "key.converter=x\n"+key+"=v\n"))
		wantErr[*kct.BadRequestException](t, err, 400, key, "propertiesFileContent")
	}
	// Java-properties syntax does not hide a key: other separators, leading blanks, escapes,
	// continuation lines and CRLF line ends.
	for key, text := range map[string]string{
		"rest.port":      "  rest.port : 8083\n",
		"sasl.mechanism": "sasl.mechanism PLAIN\n",
		"group.id":       "group\\.id=mine\n",
		"ssl.keystore":   "key.converter=x\r\nssl.\\\r\n    keystore=/x\r\n",
	} {
		_, err := f.kc.CreateWorkerConfiguration(ctx, workerConfigInput("wc", text))
		wantErr[*kct.BadRequestException](t, err, 400, key)
	}
	// All of them at once are named together.
	_, err := f.kc.CreateWorkerConfiguration(ctx, workerConfigInput("wc", "group.id=g\nrest.port=1\nconsumer.max.poll.records=5\nplugin.path=/x\n"))
	e := wantErr[*kct.BadRequestException](t, err, 400, "group.id", "plugin.path", "rest.port")
	if s := e.ErrorMessage(); strings.Contains(s, "consumer.max.poll.records") {
		t.Errorf("message %q names an allowed key", s)
	}

	_, err = f.kc.CreateWorkerConfiguration(ctx, &kafkaconnect.CreateWorkerConfigurationInput{
		Name: aws.String("wc"), PropertiesFileContent: aws.String("key.converter=x (not base64)"),
	})
	wantErr[*kct.BadRequestException](t, err, 400, "propertiesFileContent", "base64")

	l := must(f.kc.ListWorkerConfigurations(ctx, &kafkaconnect.ListWorkerConfigurationsInput{})).get(t)
	eq(t, "worker configurations after refusals", len(l.WorkerConfigurations), 0)

	// Allowed producer/consumer overrides and plain worker settings are accepted.
	must(f.kc.CreateWorkerConfiguration(ctx, workerConfigInput("wc", workerProps))).get(t)
}

// TestWorkerConfigurationErrors: NotFound for unknown and foreign ARNs, Conflict for a taken
// name in the same account only.
func TestWorkerConfigurationErrors(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := t.Context()
	arn := aws.ToString(must(f.kc.CreateWorkerConfiguration(ctx, workerConfigInput("shared-name", workerProps))).get(t).WorkerConfigurationArn)
	describe := &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: aws.String(arn)}
	before := must(f.kc.DescribeWorkerConfiguration(ctx, describe)).get(t)

	unknown := unknownARN("kafkaconnect", "worker-configuration", "shared-name")
	_, err := f.kc.DescribeWorkerConfiguration(ctx, &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: aws.String(unknown)})
	wantErr[*kct.NotFoundException](t, err, 404, unknown)
	_, err = f.kc.DeleteWorkerConfiguration(ctx, &kafkaconnect.DeleteWorkerConfigurationInput{WorkerConfigurationArn: aws.String(unknown)})
	wantErr[*kct.NotFoundException](t, err, 404, unknown)

	_, err = f.otherC.DescribeWorkerConfiguration(ctx, describe)
	wantErr[*kct.NotFoundException](t, err, 404)
	_, err = f.otherC.DeleteWorkerConfiguration(ctx, &kafkaconnect.DeleteWorkerConfigurationInput{WorkerConfigurationArn: aws.String(arn)})
	wantErr[*kct.NotFoundException](t, err, 404)
	sameOutput(t, "worker configuration after foreign calls", before, must(f.kc.DescribeWorkerConfiguration(ctx, describe)).get(t))

	_, err = f.kc.CreateWorkerConfiguration(ctx, workerConfigInput("shared-name", "a=b\n"))
	wantErr[*kct.ConflictException](t, err, 409, "shared-name")
	sameOutput(t, "worker configuration after conflict", before, must(f.kc.DescribeWorkerConfiguration(ctx, describe)).get(t))
	other := must(f.otherC.CreateWorkerConfiguration(ctx, workerConfigInput("shared-name", "a=b\n"))).get(t)
	arnPrefix(t, "other account's ARN", aws.ToString(other.WorkerConfigurationArn), "kafkaconnect", servertest.OtherAccount, "worker-configuration", "shared-name")

	_, err = f.kc.DescribeWorkerConfiguration(ctx, &kafkaconnect.DescribeWorkerConfigurationInput{WorkerConfigurationArn: aws.String("arn:aws:kafkaconnect")})
	wantErr[*kct.BadRequestException](t, err, 400, "workerConfigurationArn")
}
