package logship_test

import (
	"bytes"
	"compress/gzip"
	"context"
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
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/server/motoserver"
	"github.com/fjord-io/fjord/workers/logship"
)

const region = "us-east-1"

func awsConfig(endpoint string) aws.Config {
	return aws.Config{Region: region, BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
}

// destinations creates a log group, a bucket and a Firehose stream writing to another bucket.
func destinations(t *testing.T, cfg aws.Config) {
	t.Helper()
	ctx := t.Context()
	logs := cloudwatchlogs.NewFromConfig(cfg)
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("fjord-logs")}); err != nil {
		t.Fatalf("CreateLogGroup: %v", err)
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{"log-bucket", "firehose-bucket"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("CreateBucket %s: %v", b, err)
		}
	}
	fh := firehose.NewFromConfig(cfg)
	if _, err := fh.CreateDeliveryStream(ctx, &firehose.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("fjord-stream"),
		ExtendedS3DestinationConfiguration: &fhtypes.ExtendedS3DestinationConfiguration{
			BucketARN: aws.String("arn:aws:s3:::firehose-bucket"), RoleARN: aws.String("arn:aws:iam::123456789012:role/firehose"),
			BufferingHints: &fhtypes.BufferingHints{IntervalInSeconds: aws.Int32(60), SizeInMBs: aws.Int32(1)},
		}}); err != nil {
		t.Fatalf("CreateDeliveryStream: %v", err)
	}
}

func delivery() *agentv1.LogDelivery {
	return &agentv1.LogDelivery{CloudwatchLogGroup: "fjord-logs", S3Bucket: "log-bucket", S3Prefix: "connectors",
		FirehoseDeliveryStream: "fjord-stream", Region: region, AccountId: "123456789012",
		LogType: "KafkaConnectLogs", Resource: "my-connector-0f3d-1"}
}

// delivered reads back what each destination holds: CloudWatch events, S3 object lines and
// Firehose records (moto writes them to the stream's bucket).
func delivered(t *testing.T, cfg aws.Config, worker string) (cw, s3Lines, fhLines []string) {
	t.Helper()
	ctx := t.Context()
	logs := cloudwatchlogs.NewFromConfig(cfg)
	var token *string
	for {
		out, err := logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("fjord-logs"),
			LogStreamName: aws.String(worker), StartFromHead: aws.Bool(true), NextToken: token})
		if err != nil {
			break // no stream yet
		}
		for _, e := range out.Events {
			cw = append(cw, aws.ToString(e.Message))
		}
		if len(out.Events) == 0 || aws.ToString(out.NextForwardToken) == aws.ToString(token) {
			break
		}
		token = out.NextForwardToken
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	read := func(bucket string, gz bool) []string {
		var lines []string
		list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		if err != nil {
			return nil
		}
		for _, o := range list.Contents {
			obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("GetObject %s: %v", aws.ToString(o.Key), err)
			}
			var r io.Reader = obj.Body
			if gz {
				if !strings.HasPrefix(aws.ToString(o.Key), "connectors/AWSLogs/123456789012/KafkaConnectLogs/us-east-1/my-connector-0f3d-1/") ||
					!strings.HasSuffix(aws.ToString(o.Key), ".log.gz") {
					t.Errorf("S3 key %s does not follow the vended-logs layout", aws.ToString(o.Key))
				}
				zr, err := gzip.NewReader(obj.Body)
				if err != nil {
					t.Fatalf("gunzip %s: %v", aws.ToString(o.Key), err)
				}
				r = zr
			}
			b, _ := io.ReadAll(r)
			obj.Body.Close()
			for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
				if l != "" {
					lines = append(lines, l)
				}
			}
		}
		return lines
	}
	return cw, read("log-bucket", true), read("firehose-bucket", false)
}

func writeLines(s *logship.Shipper, from, to int) {
	for i := from; i < to; i++ {
		fmt.Fprintf(s, `{"time":"%s","level":"INFO","msg":"line %06d","task_id":1}`+"\n", time.Now().UTC().Format(time.RFC3339Nano), i)
	}
}

func waitAll(t *testing.T, cfg aws.Config, worker string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		cw, s3l, fh := delivered(t, cfg, worker)
		if len(cw) >= n && len(s3l) >= n && len(fh) >= n {
			for name, got := range map[string][]string{"cloudwatch": cw, "s3": s3l, "firehose": fh} {
				seen := map[string]bool{}
				for _, l := range got {
					seen[l] = true
				}
				for i := range n {
					if !containsLine(seen, i) {
						t.Fatalf("%s: line %d missing (%d lines delivered)", name, i, len(got))
					}
				}
			}
			t.Logf("cloudwatch %d, s3 %d, firehose %d lines", len(cw), len(s3l), len(fh))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: cloudwatch %d, s3 %d, firehose %d of %d lines", within, len(cw), len(s3l), len(fh), n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func containsLine(seen map[string]bool, i int) bool {
	want := fmt.Sprintf(`"msg":"line %06d"`, i)
	for l := range seen {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// TestDeliveryToMoto: lines written to a Shipper reach CloudWatch Logs (the worker's stream),
// S3 (gzipped objects under the vended-logs layout) and Firehose within seconds, each line
// once per destination.
func TestDeliveryToMoto(t *testing.T) {
	t.Parallel()
	moto := motoserver.New(t)
	cfg := awsConfig(moto.Endpoint)
	destinations(t, cfg)
	reg := prometheus.NewRegistry()
	s, err := logship.New(t.Context(), logship.Options{WorkerID: "worker-a", Delivery: delivery(), AWS: &cfg, Registerer: reg,
		S3Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	writeLines(s, 0, 2000)
	waitAll(t, cfg, "worker-a", 2000, 10*time.Second)
	s.Close(5 * time.Second)
	if p := s.Problem(); p != "" {
		t.Errorf("Problem() = %q with every destination up", p)
	}
	cw, s3l, fh := delivered(t, cfg, "worker-a")
	if len(cw) != 2000 || len(s3l) != 2000 || len(fh) != 2000 {
		t.Errorf("duplicates: cloudwatch %d, s3 %d, firehose %d lines for 2000 written", len(cw), len(s3l), len(fh))
	}
	if got := testutil.CollectAndCount(reg, "fjord_log_delivery_lines_total"); got != 0 {
		t.Errorf("metrics still registered after Close: %d series", got)
	}
}

// TestDeliverySurvivesOutage: the destinations go away (moto stopped) while lines keep
// coming; the Shipper reports the problem, keeps the lines, and delivers every one of them
// once the destinations are back (moto restarted empty: the test creates them again).
func TestDeliverySurvivesOutage(t *testing.T) {
	t.Parallel()
	moto := motoserver.New(t)
	cfg := awsConfig(moto.Endpoint)
	destinations(t, cfg)
	reg := prometheus.NewRegistry()
	s, err := logship.New(t.Context(), logship.Options{WorkerID: "worker-b", Delivery: delivery(), AWS: &cfg, Registerer: reg,
		S3Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(5 * time.Second)
	writeLines(s, 0, 100)
	waitAll(t, cfg, "worker-b", 100, 10*time.Second)
	moto.Stop()
	writeLines(s, 100, 600)
	deadline := time.Now().Add(15 * time.Second)
	for s.Problem() == "" {
		if time.Now().After(deadline) {
			t.Fatal("no Problem() reported while moto is down")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("while down: %s", s.Problem())
	failures := testutil.ToFloat64(mustVec(t, reg, "fjord_log_delivery_failures_total"))
	if failures == 0 {
		t.Error("fjord_log_delivery_failures_total stayed 0 while moto was down")
	}
	time.Sleep(3 * time.Second)
	moto.Restart(t)
	// moto keeps nothing across a restart: the destinations are created again, and the lines
	// delivered before the outage are gone with the old server.
	destinations(t, cfg)
	writeLines(s, 600, 700)
	deadline = time.Now().Add(40 * time.Second)
	for {
		cw, s3l, fh := delivered(t, cfg, "worker-b")
		ok := true
		for name, got := range map[string][]string{"cloudwatch": cw, "s3": s3l, "firehose": fh} {
			seen := map[string]bool{}
			for _, l := range got {
				seen[l] = true
			}
			for i := 100; i < 700; i++ {
				if !containsLine(seen, i) {
					ok = false
					if time.Now().After(deadline) {
						t.Fatalf("%s: line %d lost across the outage (%d lines delivered after it)", name, i, len(got))
					}
					break
				}
			}
		}
		if ok {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	for s.Problem() != "" {
		if time.Now().After(deadline) {
			t.Fatalf("Problem() still %q after recovery", s.Problem())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d := testutil.ToFloat64(mustVec(t, reg, "fjord_log_delivery_dropped_lines_total")); d != 0 {
		t.Errorf("%v lines dropped", d)
	}
}

// mustVec sums a counter family of reg.
func mustVec(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, m := range mf.GetMetric() {
					sum += m.GetCounter().GetValue()
				}
			}
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, "sum", nil, nil), prometheus.CounterValue, sum)
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(f, ch) }
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// TestQueueBound: a destination that never accepts keeps at most MaxQueueBytes of lines and
// counts what it drops; Close gives up after its timeout.
func TestQueueBound(t *testing.T) {
	t.Parallel()
	cfg := awsConfig("http://127.0.0.1:1") // nothing listens there
	reg := prometheus.NewRegistry()
	s, err := logship.New(context.Background(), logship.Options{WorkerID: "w", Delivery: &agentv1.LogDelivery{CloudwatchLogGroup: "g", Region: region},
		AWS: &cfg, Registerer: reg, MaxQueueBytes: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.Repeat([]byte("x"), 99)
	for range 1000 {
		_, _ = s.Write(append(line, '\n'))
	}
	if d := testutil.ToFloat64(mustVec(t, reg, "fjord_log_delivery_dropped_lines_total")); d < 890 {
		t.Errorf("dropped %v of 1000 lines of 99 bytes with a 10,000-byte queue; want ≥ 890", d)
	}
	t0 := time.Now()
	s.Close(500 * time.Millisecond)
	if el := time.Since(t0); el > 3*time.Second {
		t.Errorf("Close took %v with a 500ms timeout", el)
	}
}
