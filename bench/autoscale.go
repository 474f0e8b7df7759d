package main

// The autoscaling benchmark: autoscale_reaction_s.
//
// Set-up, on loopback: `fjord dev --agents 0` (Postgres, the server, the "source" and "target"
// kfake clusters) with --autoscale-window W and --autoscale-cooldown C, and two `fjord agent`
// processes of 4 MCU that measure their workers every second. A MirrorSource connector with
// autoScaling (1 MCU, 1–3 workers, scale out above 10 % CPU, in below 2 %) copies a topic of 12
// partitions (the thresholds sit well below what the load causes, ~20-30 % of one core here, so
// that the measure is the reaction, not a threshold barely crossed). Once it runs and the cooldown since its creation has passed, a producer in this
// process starts a sustained load on the topic (as fast as the source accepts, 1 KiB values).
//
//   - autoscale_reaction_s: from the start of the load until the connector's second worker
//     reports RUNNING (the server's workers table, polled every 50 ms). Baseline: W + C, what
//     the configuration promises at worst (a window of samples, a cooldown since the last
//     step); ratio < 1 means the autoscaler reacted within it.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type autoscaleConfig struct {
	fjord            string
	window, cooldown time.Duration
}

func (ac *autoscaleConfig) register() {
	flag.DurationVar(&ac.window, "autoscale-window", 10*time.Second, "the server's --autoscale-window in the autoscale suite")
	flag.DurationVar(&ac.cooldown, "autoscale-cooldown", 10*time.Second, "the server's --autoscale-cooldown in the autoscale suite")
}

func runAutoscaleSuite(ac autoscaleConfig, fjordBin string) error {
	ac.fjord = fjordBin
	logf("autoscale: window %v, cooldown %v", ac.window, ac.cooldown)
	r, err := runAutoscale(context.Background(), ac)
	if err != nil {
		return err
	}
	return emit(os.Stdout, r)
}

func runAutoscale(ctx context.Context, ac autoscaleConfig) (res result, err error) {
	dir, err := os.MkdirTemp("", "fjord-bench-autoscale-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // as root, Postgres runs as postgres
		return res, err
	}
	bin := ac.fjord
	if bin == "" {
		if bin, err = buildFjord(dir); err != nil {
			return res, err
		}
	}
	dataDir := filepath.Join(dir, "dev")
	if err := writePlugin(filepath.Join(dataDir, "s3", "bench", "plugin.zip")); err != nil {
		return res, err
	}
	ports, err := freePorts(6)
	if err != nil {
		return res, err
	}
	httpAddr, grpcAddr, srcAddr, tgtAddr := ports[0], ports[1], ports[2], ports[3]
	dev := &child{name: "fjord dev", dir: dir}
	if err := dev.start(bin, "dev", "--agents", "0", "--kafka-retention-bytes", devRetentionBytes, "--data-dir", dataDir, "--http-addr", httpAddr,
		"--grpc-addr", grpcAddr, "--source-kafka-addr", srcAddr, "--target-kafka-addr", tgtAddr,
		"--autoscale-window", ac.window.String(), "--autoscale-cooldown", ac.cooldown.String(), "--log-level", "warn"); err != nil {
		return res, err
	}
	children := []*child{dev}
	defer func() {
		for i := len(children) - 1; i >= 0; i-- {
			children[i].stop()
		}
		if err != nil {
			for _, c := range children {
				c.dumpLog()
			}
		}
	}()
	if err := waitHTTP(ctx, dev, "http://"+httpAddr+"/healthz", 2*time.Minute); err != nil {
		return res, err
	}
	for i, id := range []string{"scale-agent-a", "scale-agent-b"} {
		a := &child{name: id, dir: dir}
		if err := a.start(bin, "agent", "--server", grpcAddr, "--token-file", filepath.Join(dataDir, "agent.token"), "--mcu", "4",
			"--id", id, "--http-addr", ports[4+i], "--metrics-interval", "1s", "--log-level", "warn"); err != nil {
			return res, err
		}
		children = append(children, a)
		if err := waitHTTP(ctx, a, "http://"+ports[4+i]+"/readyz", time.Minute); err != nil {
			return res, err
		}
	}
	dbURL, err := devDatabaseURL(dataDir)
	if err != nil {
		return res, err
	}
	db, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return res, err
	}
	defer db.Close()

	src, err := kgo.NewClient(kgo.SeedBrokers(srcAddr), kgo.MaxBufferedRecords(20_000))
	if err != nil {
		return res, err
	}
	defer src.Close()
	if err := createTopics(ctx, kadm.NewClient(src), 12, "scale"); err != nil {
		return res, err
	}
	kc := kafkaconnect.NewFromConfig(sdkConfig("http://"+httpAddr, 2))
	plugin, err := kc.CreateCustomPlugin(ctx, &kafkaconnect.CreateCustomPluginInput{
		Name: aws.String("scale-plugin"), ContentType: kctypes.CustomPluginContentTypeZip,
		Location: &kctypes.CustomPluginLocation{S3Location: &kctypes.S3Location{
			BucketArn: aws.String("arn:aws:s3:::bench"), FileKey: aws.String("plugin.zip")}},
	})
	if err != nil {
		return res, fmt.Errorf("create custom plugin: %w", err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		d, err := kc.DescribeCustomPlugin(ctx, &kafkaconnect.DescribeCustomPluginInput{CustomPluginArn: plugin.CustomPluginArn})
		if err != nil {
			return res, err
		}
		if d.CustomPluginState == kctypes.CustomPluginStateActive {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("custom plugin is %s", d.CustomPluginState)
		}
	}
	created := time.Now()
	c, err := kc.CreateConnector(ctx, &kafkaconnect.CreateConnectorInput{
		ConnectorName:       aws.String("scale-mirror"),
		KafkaConnectVersion: aws.String("3.7.x"),
		Capacity: &kctypes.Capacity{AutoScaling: &kctypes.AutoScaling{McuCount: 1, MinWorkerCount: 1, MaxWorkerCount: 3,
			ScaleOutPolicy: &kctypes.ScaleOutPolicy{CpuUtilizationPercentage: 10},
			ScaleInPolicy:  &kctypes.ScaleInPolicy{CpuUtilizationPercentage: 2}}},
		ConnectorConfiguration: map[string]string{
			"connector.class":                  "org.apache.kafka.connect.mirror.MirrorSourceConnector",
			"source.cluster.alias":             "source",
			"target.cluster.alias":             "target",
			"source.cluster.bootstrap.servers": srcAddr,
			"target.cluster.bootstrap.servers": tgtAddr,
			"topics":                           "scale",
		},
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
			BootstrapServers: aws.String(tgtAddr), Vpc: &kctypes.Vpc{Subnets: []string{"subnet-1"}}}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: plugin.CustomPluginArn, Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/bench"),
	})
	if err != nil {
		return res, fmt.Errorf("create connector: %w", err)
	}
	arn := aws.ToString(c.ConnectorArn)
	running := func() (int, error) {
		var n int
		err := db.QueryRow(ctx, `SELECT count(*) FROM workers WHERE workload_arn = $1 AND NOT stopping
			AND reported_state = 'RUNNING' AND reported_epoch = epoch AND reported_agent = agent_id`, arn).Scan(&n)
		return n, err
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		n, err := running()
		if err != nil {
			return res, err
		}
		if n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("connector %s did not start", arn)
		}
	}
	// The first step may come a cooldown after creation: start the load after it, so that the
	// measure is the reaction to the load, not the wait for a young workload's cooldown.
	time.Sleep(time.Until(created.Add(ac.cooldown)))

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	value := []byte(strings.Repeat("v", 1024))
	var produced atomic.Int64
	loadDone := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(loadDone)
		for i := 0; loadCtx.Err() == nil; i++ {
			src.Produce(loadCtx, &kgo.Record{Topic: "scale", Partition: int32(i % 12), Key: []byte(fmt.Sprint(i)), Value: value},
				func(*kgo.Record, error) { produced.Add(1) })
		}
	}()
	var reaction time.Duration
	limit := 5 * (ac.window + ac.cooldown)
	for {
		time.Sleep(50 * time.Millisecond)
		n, err := running()
		if err != nil {
			return res, err
		}
		if n >= 2 {
			reaction = time.Since(start)
			break
		}
		if time.Since(start) > limit {
			return res, fmt.Errorf("no second worker %v after the load started (%d records produced)", limit, produced.Load())
		}
	}
	stopLoad()
	<-loadDone
	var reason string
	_ = db.QueryRow(ctx, `SELECT reason FROM workload_events WHERE workload_arn = $1 AND kind = 'autoscale' ORDER BY id DESC LIMIT 1`, arn).Scan(&reason)
	logf("autoscale: second worker RUNNING %.1f s after the load started (%d records produced); %s", reaction.Seconds(), produced.Load(), reason)
	return single("autoscale_reaction_s", "s", reaction.Seconds(), (ac.window + ac.cooldown).Seconds()), nil
}

// devDatabaseURL reads the Postgres URL fjord dev wrote into its data directory.
func devDatabaseURL(dataDir string) (string, error) {
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(dataDir, "database.url"))
		if err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("fjord dev wrote no %s: %v", filepath.Join(dataDir, "database.url"), err)
		}
	}
}
