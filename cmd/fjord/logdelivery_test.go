package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/server/motoserver"
)

// logDestinations creates in moto the log group, the bucket and the Firehose stream (writing
// to a second bucket) a replicator's logDelivery names.
func logDestinations(t *testing.T, cfg aws.Config) {
	t.Helper()
	ctx := t.Context()
	if _, err := cloudwatchlogs.NewFromConfig(cfg).CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("replicator-logs")}); err != nil {
		t.Fatalf("CreateLogGroup: %v", err)
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{"replicator-log-bucket", "replicator-firehose-bucket"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("CreateBucket %s: %v", b, err)
		}
	}
	if _, err := firehose.NewFromConfig(cfg).CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("replicator-stream"),
		ExtendedS3DestinationConfiguration: &fhtypes.ExtendedS3DestinationConfiguration{
			BucketARN: aws.String("arn:aws:s3:::replicator-firehose-bucket"), RoleARN: aws.String("arn:aws:iam::000000000000:role/firehose"),
		}}); err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}
}

// deliveredLines reads every line each destination holds.
func deliveredLines(t *testing.T, cfg aws.Config) (cw, s3l, fh map[string]bool) {
	t.Helper()
	ctx := t.Context()
	cw, s3l, fh = map[string]bool{}, map[string]bool{}, map[string]bool{}
	logs := cloudwatchlogs.NewFromConfig(cfg)
	streams, err := logs.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("replicator-logs")})
	if err == nil {
		for _, st := range streams.LogStreams {
			var token *string
			for {
				out, err := logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("replicator-logs"),
					LogStreamName: st.LogStreamName, StartFromHead: aws.Bool(true), NextToken: token})
				if err != nil {
					break
				}
				for _, e := range out.Events {
					cw[aws.ToString(e.Message)] = true
				}
				if len(out.Events) == 0 || aws.ToString(out.NextForwardToken) == aws.ToString(token) {
					break
				}
				token = out.NextForwardToken
			}
		}
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	read := func(bucket string, into map[string]bool) {
		list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err != nil {
			return
		}
		for _, o := range list.Contents {
			obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				continue
			}
			var r io.Reader = obj.Body
			if strings.HasSuffix(aws.ToString(o.Key), ".gz") {
				if zr, err := gzip.NewReader(obj.Body); err == nil {
					r = zr
				}
			}
			b, _ := io.ReadAll(r)
			obj.Body.Close()
			for _, l := range strings.Split(string(b), "\n") {
				if l != "" {
					into[l] = true
				}
			}
		}
	}
	read("replicator-log-bucket", s3l)
	read("replicator-firehose-bucket", fh)
	return cw, s3l, fh
}

// workerLines are the log lines the replicator's workers wrote to stderr (which their agent
// passes through) at or after since and before until: the lines log delivery must deliver.
// The log delivery's own warnings go to stderr only.
func workerLines(stderr, arn string, since, until time.Time) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.Contains(l, `"component":"worker"`) || !strings.Contains(l, `"workload_arn":"`+arn+`"`) || strings.Contains(l, `"component":"log_delivery"`) {
			continue
		}
		var v struct {
			Time time.Time `json:"time"`
		}
		if json.Unmarshal([]byte(l), &v) != nil || v.Time.Before(since) || !v.Time.Before(until) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// TestLogDeliveryE2E: a replicator created with logDelivery to CloudWatch Logs, S3 and
// Firehose (moto) delivers its workers' log lines to all three within 10 s; moto is then
// stopped for 30 s and restarted (empty: the test creates the destinations again) while
// records keep flowing and new topics make the workers log: every line written from the
// outage on reaches every destination, and every record is replicated.
func TestLogDeliveryE2E(t *testing.T) {
	t.Parallel()
	moto := motoserver.New(t)
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(moto.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	logDestinations(t, cfg)
	f := startFleet(t, 3*time.Second)
	agent := f.startAgentEnv(t, "logs-agent", 4, []string{"AWS_ENDPOINT_URL=" + moto.Endpoint,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"})
	createTopics(t, f.src, 2, "logs.a")
	out, err := f.api.k.CreateReplicator(t.Context(), &kafka.CreateReplicatorInput{
		ReplicatorName:          aws.String("rep-logs"),
		ServiceExecutionRoleArn: aws.String("arn:aws:iam::000000000000:role/fjord-replicator"),
		KafkaClusters: []ktypes.KafkaCluster{
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(f.srcARN)},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-1"}}},
			{AmazonMskCluster: &ktypes.AmazonMskCluster{MskClusterArn: aws.String(f.tgtARN)},
				VpcConfig: &ktypes.KafkaClusterClientVpcConfig{SubnetIds: []string{"subnet-2"}}},
		},
		ReplicationInfoList: []ktypes.ReplicationInfo{{
			SourceKafkaClusterArn: aws.String(f.srcARN), TargetKafkaClusterArn: aws.String(f.tgtARN),
			TargetCompressionType: ktypes.TargetCompressionTypeNone,
			TopicReplication: &ktypes.TopicReplication{TopicsToReplicate: []string{`logs\..*`}, DetectAndCopyNewTopics: aws.Bool(true),
				StartingPosition: &ktypes.ReplicationStartingPosition{Type: ktypes.ReplicationStartingPositionTypeEarliest}},
			ConsumerGroupReplication: &ktypes.ConsumerGroupReplication{ConsumerGroupsToReplicate: []string{".*"}},
		}},
		LogDelivery: &ktypes.LogDelivery{ReplicatorLogDelivery: &ktypes.ReplicatorLogDelivery{
			CloudWatchLogs: &ktypes.ReplicatorCloudWatchLogs{Enabled: aws.Bool(true), LogGroup: aws.String("replicator-logs")},
			S3:             &ktypes.ReplicatorS3{Enabled: aws.Bool(true), Bucket: aws.String("replicator-log-bucket"), Prefix: aws.String("fjord")},
			Firehose:       &ktypes.ReplicatorFirehose{Enabled: aws.Bool(true), DeliveryStream: aws.String("replicator-stream")},
		}},
	})
	if err != nil {
		t.Fatalf("CreateReplicator: %v", err)
	}
	arn := aws.ToString(out.ReplicatorArn)
	f.waitReplicatorRunning(t, arn, time.Minute)
	running := time.Now()

	// Within 10 s: the lines the workers wrote since they started are in every destination.
	poll(t, 10*time.Second, "the workers' first lines in CloudWatch Logs, S3 and Firehose", func() bool {
		want := workerLines(agent.stderr.String(), arn, time.Time{}, running)
		cw, s3l, fh := deliveredLines(t, cfg)
		return len(want) > 0 && subset(want, cw) && subset(want, s3l) && subset(want, fh)
	})
	t.Logf("%d lines delivered to each destination within %.1f s of RUNNING",
		len(workerLines(agent.stderr.String(), arn, time.Time{}, running)), time.Since(running).Seconds())

	prod := newClient(t, f.src)
	produce := func(topic string, from, to int) {
		for i := from; i < to; i++ {
			prod.Produce(t.Context(), &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("v%d", i))}, nil)
		}
		if err := prod.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	produce("logs.a", 0, 1000)

	// The outage: 30 s without any destination. New topics make the workers log meanwhile.
	outage := time.Now()
	moto.Stop()
	createTopics(t, f.src, 1, "logs.b", "logs.c")
	produce("logs.a", 1000, 2000)
	produce("logs.b", 0, 500)
	time.Sleep(30 * time.Second)
	moto.Restart(t)
	logDestinations(t, cfg)
	produce("logs.c", 0, 500)

	// Every line written from the outage on reaches every destination (those written in the
	// last 2 s may still be queued: they are checked on the next round).
	var want []string
	poll(t, 60*time.Second, "every line written since the outage delivered", func() bool {
		want = workerLines(agent.stderr.String(), arn, outage, time.Now().Add(-2*time.Second))
		cw, s3l, fh := deliveredLines(t, cfg)
		return len(want) > 0 && subset(want, cw) && subset(want, s3l) && subset(want, fh)
	})
	topicLines := 0
	for _, l := range want {
		if strings.Contains(l, "logs.b") || strings.Contains(l, "logs.c") {
			topicLines++
		}
	}
	t.Logf("%d lines written since the outage began, %d of them about the topics created during it: all delivered to CloudWatch Logs, S3 and Firehose", len(want), topicLines)
	if topicLines == 0 {
		t.Error("no worker line mentions the topics created during the outage: the check proved nothing")
	}
	// Replication was unaffected: every record on the target, once (read_committed: the
	// replicator writes transactionally).
	for topic, n := range map[string]int{"source.logs.a": 2000, "source.logs.b": 500, "source.logs.c": 500} {
		consumeN(t, f.tgt, topic, n, time.Minute)
	}
	// The failure was visible: workload events while the destinations were gone, and once
	// they were back.
	var events bytes.Buffer
	poll(t, 30*time.Second, "log_delivery_failing and log_delivery_recovered workload events", func() bool {
		events.Reset()
		evs, err := f.db.Query(t.Context(), `SELECT kind, reason FROM workload_events WHERE workload_arn = $1 AND kind LIKE 'log_delivery%' ORDER BY id`, arn)
		if err != nil {
			t.Fatal(err)
		}
		defer evs.Close()
		kinds := map[string]int{}
		for evs.Next() {
			var kind, reason string
			if err := evs.Scan(&kind, &reason); err != nil {
				t.Fatal(err)
			}
			kinds[kind]++
			fmt.Fprintf(&events, "%s: %s\n", kind, reason)
		}
		return kinds["log_delivery_failing"] > 0 && kinds["log_delivery_recovered"] > 0
	})
	t.Logf("workload events:\n%s", events.String())
}

func subset(lines []string, in map[string]bool) bool {
	for _, l := range lines {
		if !in[l] {
			return false
		}
	}
	return true
}
