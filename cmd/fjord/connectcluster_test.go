package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2/records"
)

// TestConnectClusterE2E: a connector's kafkaCluster is the cluster of its Connect runtime, as
// in MSK Connect. An exactly-once MirrorSource connector whose kafkaCluster is the target gets
// the three internal topics there under MSK Connect's names (compacted, with Kafka Connect's
// partition counts); its source offsets are in the offsets topic in Connect's format, one per
// copied partition; the status and config topics hold Connect's records. kill -9 of its worker
// process while records stream in: the agent restarts it, and it resumes from the offsets
// topic — every record on the target, in order, none twice. A connector whose kafkaCluster is
// unreachable fails naming it; IAM authentication is refused at creation.
func TestConnectClusterE2E(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3*time.Second)
	agent := f.startAgent(t, "agent-kc", 4)
	ctx := t.Context()
	plugin := f.customPlugin(t)

	// IAM with the connector's cluster works since the IAM issue: TestDevKafkaIAM runs it.

	// A connector whose kafkaCluster does not answer (a port nobody listens on).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	deadARN := f.createConnectorOn(t, plugin, "unreachable", dead, f.mirrorSourceConfig(`nothing`, nil))
	t0 := time.Now()

	topics := []string{"kc.0", "kc.1"}
	createTopics(t, f.src, 4, topics...)
	prod := newProducer(t, f.src)
	c := newCorpus()
	c.produce(t, prod, topics, 4, 4000)

	const name = "kc-mirror"
	created := time.Now()
	arn := f.createConnector(t, plugin, name, 1, f.mirrorSourceConfig(`kc\..*`, map[string]string{
		"tasks.max": "2", "exactly.once.support": "required"}))
	f.waitConnector(t, arn, kctypes.ConnectorStateRunning, time.Minute)
	check := newMirrorCheck(t, c, f.tgt, func(topic string) string { return "east." + topic }, `^east\.kc\.`)
	check.waitComplete(t, 2*time.Minute, "the first 4,000 records on the target")

	// The internal topics, on the target, as MSK Connect names them and Connect creates them.
	id := arn[strings.LastIndexByte(arn, '/')+1:]
	want := map[string]int{
		"__amazon_msk_connect_offsets_" + name + "_" + id: 25,
		"__amazon_msk_connect_configs_" + name + "_" + id: 1,
		"__amazon_msk_connect_status_" + name + "_" + id:  5,
	}
	adm := kadm.NewClient(newClient(t, f.tgt))
	details, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for topic, parts := range want {
		d, ok := details[topic]
		if !ok {
			t.Fatalf("internal topic %s is not on the connector's cluster; topics: %v", topic, details.Names())
		}
		if len(d.Partitions) != parts {
			t.Errorf("%s has %d partitions, want %d", topic, len(d.Partitions), parts)
		}
		rc, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		policy := ""
		for _, cfg := range rc[0].Configs {
			if cfg.Key == "cleanup.policy" && cfg.Value != nil {
				policy = *cfg.Value
			}
		}
		if policy != "compact" {
			t.Errorf("%s cleanup.policy = %q, want compact", topic, policy)
		}
	}
	offsetsTopic := "__amazon_msk_connect_offsets_" + name + "_" + id
	t.Logf("internal topics on the connector's cluster %.1f s after its creation: %v", time.Since(created).Seconds(), want)

	// The offsets topic holds Connect-format source offsets for every copied partition.
	offsets := readSourceOffsets(t, f.tgt, offsetsTopic, name, func(m map[srcTP]int64) bool {
		for _, k := range c.partitions() {
			if m[k] < 4000/8-1 {
				return false
			}
		}
		return true
	})
	t.Logf("source offsets in %s: %v", offsetsTopic, offsets)
	if details.Has("mm2-offsets.east.internal") {
		if n := sumOffsets(endOffsets(t, f.tgt, "mm2-offsets.east.internal")); n > 0 {
			t.Errorf("%d progress records in mm2-offsets.east.internal too", n)
		}
	}

	// Status and config records as Kafka Connect writes them.
	statusTopic := "__amazon_msk_connect_status_" + name + "_" + id
	configsTopic := "__amazon_msk_connect_configs_" + name + "_" + id
	status := readCompacted(t, f.tgt, statusTopic, func(m map[string][]byte) bool {
		return m["status-connector-"+name] != nil && m["status-task-"+name+"-0"] != nil && m["status-task-"+name+"-1"] != nil
	})
	for _, key := range []string{"status-connector-" + name, "status-task-" + name + "-0", "status-task-" + name + "-1"} {
		var s struct {
			State      string  `json:"state"`
			Trace      *string `json:"trace"`
			WorkerID   string  `json:"worker_id"`
			Generation *int64  `json:"generation"`
		}
		if err := json.Unmarshal(status[key], &s); err != nil || s.State != "RUNNING" || s.WorkerID == "" || s.Generation == nil {
			t.Errorf("%s = %s (%v), want Connect's RUNNING status", key, status[key], err)
		}
	}
	configs := readCompacted(t, f.tgt, configsTopic, func(m map[string][]byte) bool { return m["commit-"+name] != nil })
	var conf struct {
		Properties map[string]string `json:"properties"`
	}
	if err := json.Unmarshal(configs["connector-"+name], &conf); err != nil || conf.Properties["connector.class"] != classSource ||
		conf.Properties["name"] != name || conf.Properties["topics"] != `kc\..*` {
		t.Errorf("connector-%s = %s (%v)", name, configs["connector-"+name], err)
	}
	for k := range conf.Properties {
		if strings.HasPrefix(k, "fjord.connect.") {
			t.Errorf("config record holds the runtime key %s", k)
		}
	}
	if string(configs["commit-"+name]) != `{"tasks":2}` || configs["task-"+name+"-1"] == nil {
		t.Errorf("commit-%s = %s, task-%s-1 = %s", name, configs["commit-"+name], name, configs["task-"+name+"-1"])
	}

	// The unreachable connector failed, naming its cluster.
	d := f.waitConnector(t, deadARN, kctypes.ConnectorStateFailed, 3*time.Minute)
	msg := aws.ToString(d.StateDescription.Message)
	if aws.ToString(d.StateDescription.Code) != "CLUSTER_UNREACHABLE" || !strings.Contains(msg, dead) || !strings.Contains(msg, "kafkaCluster") {
		t.Errorf("unreachable connector: %s: %s", aws.ToString(d.StateDescription.Code), msg)
	}
	t.Logf("unreachable kafkaCluster: FAILED %.1f s after creation: %s: %s", time.Since(t0).Seconds(), aws.ToString(d.StateDescription.Code), msg)
	// Its worker process ended: the agent's only child is now the MirrorSource connector's.
	poll(t, time.Minute, "the failed connector's worker process to end", func() bool { return len(childPIDs(agent.cmd.Process.Pid)) == 1 })

	// kill -9 of the worker while records stream in: the agent restarts it, and it resumes from
	// the offsets topic.
	s := c.stream(t, prod, topics, 4, 1)
	defer s.halt(t)
	check.waitFor(t, time.Minute, "replication mid-stream", func() bool { return check.seen > 4000+1000 })
	pids := childPIDs(agent.cmd.Process.Pid)
	if len(pids) != 1 {
		t.Fatalf("the agent runs worker processes %v, want one", pids)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 worker %d: %v", pid, err)
		}
	}
	killedAt := time.Now()
	poll(t, time.Minute, "the agent to start the connector's worker again", func() bool {
		for _, p := range childPIDs(agent.cmd.Process.Pid) {
			for _, old := range pids {
				if p == old {
					return false
				}
			}
		}
		n, _ := f.runningWorkers(t, arn)
		return n == 1 && len(childPIDs(agent.cmd.Process.Pid)) >= 1
	})
	seenAtKill := check.seen
	check.waitFor(t, time.Minute, "replication after the restart", func() bool { return check.seen > seenAtKill+1000 })
	t.Logf("worker killed (pids %v); replicating again within %.1f s", pids, time.Since(killedAt).Seconds())
	s.halt(t)
	check.waitComplete(t, 2*time.Minute, "every source record on the target after kill -9")
	t.Logf("after kill -9: %d records on the target, 0 lost, %d duplicates", check.seen-check.dups, check.dups)
	if check.dups != 0 {
		t.Errorf("%d duplicates read read_committed from an exactly-once connector", check.dups)
	}

	// A checkpoint connector bounds its translations by the progress of the MirrorSource
	// connector it names, read from that connector's offsets topic — here the one its worker
	// configuration names (offset.storage.topic, as MSK Connect allows). With offset.lag.max
	// that high, the only offset sync of kcp.0 is its first record's: translating a group
	// committed at the partition's end (300) needs the progress.
	createTopics(t, f.src, 1, "kcp.0")
	cp := newCorpus()
	cp.produce(t, prod, []string{"kcp.0"}, 1, 300)
	wc := f.workerConfiguration(t, "shared-offsets", "offset.storage.topic=kc-shared-offsets\n")
	alo := f.createConnectorWithWorkerConfig(t, plugin, "kc-alo", 1, wc, f.mirrorSourceConfig(`kcp\..*`, map[string]string{"offset.lag.max": "100000"}))
	cpARN := f.createConnector(t, plugin, "kc-checkpoint", 1, f.mirrorSourceConfig(`kcp\..*`, map[string]string{
		"connector.class": classCheckpoint, "groups": "kc-.*", "emit.checkpoints.interval.seconds": "1",
		"refresh.groups.interval.seconds": "1", "fjord.source.connector": "kc-alo"}))
	f.waitConnector(t, alo, kctypes.ConnectorStateRunning, time.Minute)
	f.waitConnector(t, cpARN, kctypes.ConnectorStateRunning, time.Minute)
	newMirrorCheck(t, cp, f.tgt, func(topic string) string { return "east." + topic }, `^east\.kcp\.`).waitComplete(t, time.Minute, "kcp.0 on the target")
	readSourceOffsets(t, f.tgt, "kc-shared-offsets", "kc-alo", func(m map[srcTP]int64) bool { return m[srcTP{"kcp.0", 0}] == 299 })
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "kcp.0", Partition: 0, At: 300, LeaderEpoch: -1})
	if err := kadm.NewClient(newClient(t, f.src)).CommitAllOffsets(ctx, "kc-group", offs); err != nil {
		t.Fatalf("commit a source group offset: %v", err)
	}
	waitRecord(t, f.tgt, "east.checkpoints.internal", time.Minute, "a checkpoint of kc-group at the end of kcp.0", func(r *kgo.Record) bool {
		c, err := records.DecodeCheckpoint(r.Key, r.Value)
		return err == nil && c.ConsumerGroupID == "kc-group" && c.Topic == "east.kcp.0" && c.UpstreamOffset == 300 && c.DownstreamOffset == 300
	})
	t.Logf("checkpoint connector translated kc-group's offset 300 with kc-alo's progress from its offsets topic kc-shared-offsets")
}

// createConnectorOn creates a one-worker, 1-MCU connector whose kafkaCluster is bootstrap.
func (f *fleet) createConnectorOn(t *testing.T, plugin, name, bootstrap string, conf map[string]string) string {
	t.Helper()
	out, err := f.api.kc.CreateConnector(t.Context(), &kafkaconnect.CreateConnectorInput{
		ConnectorName: aws.String(name), KafkaConnectVersion: aws.String("3.7.x"),
		Capacity:               &kctypes.Capacity{ProvisionedCapacity: &kctypes.ProvisionedCapacity{McuCount: 1, WorkerCount: 1}},
		ConnectorConfiguration: conf,
		KafkaCluster: &kctypes.KafkaCluster{ApacheKafkaCluster: &kctypes.ApacheKafkaCluster{
			BootstrapServers: aws.String(bootstrap), Vpc: &kctypes.Vpc{Subnets: []string{"subnet-1"}}}},
		KafkaClusterClientAuthentication: &kctypes.KafkaClusterClientAuthentication{AuthenticationType: kctypes.KafkaClusterClientAuthenticationTypeNone},
		KafkaClusterEncryptionInTransit:  &kctypes.KafkaClusterEncryptionInTransit{EncryptionType: kctypes.KafkaClusterEncryptionInTransitTypePlaintext},
		Plugins:                          []kctypes.Plugin{{CustomPlugin: &kctypes.CustomPlugin{CustomPluginArn: aws.String(plugin), Revision: 1}}},
		ServiceExecutionRoleArn:          aws.String("arn:aws:iam::000000000000:role/fjord-connect"),
	})
	if err != nil {
		t.Fatalf("CreateConnector %s: %v", name, err)
	}
	return aws.ToString(out.ConnectorArn)
}

// readSourceOffsets reads a Connect offsets topic (read_committed) until done holds for the
// latest source offset of each partition of connector's records; every record must be a
// well-formed Connect source offset of that connector.
func readSourceOffsets(t *testing.T, addr, topic, connector string, done func(map[srcTP]int64) bool) map[srcTP]int64 {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(250*time.Millisecond))
	got := map[srcTP]int64{}
	var errs []string
	readUntil(t, cl, 500*time.Millisecond, time.Minute, "source offsets in "+topic, func() bool { return done(got) },
		func(r *kgo.Record) {
			so, err := records.DecodeSourceOffset(r.Key, r.Value)
			var key []json.RawMessage
			switch {
			case err != nil:
				errs = append(errs, fmt.Sprintf("%s@%d: %v", r.Key, r.Offset, err))
			case json.Unmarshal(r.Key, &key) != nil || len(key) != 2 || !bytes.HasPrefix(key[1], []byte("{")):
				errs = append(errs, fmt.Sprintf("key %s is not [name, {partition}]", r.Key))
			case so.Connector != connector || so.Cluster != "east":
				errs = append(errs, fmt.Sprintf("key %s: not %s's", r.Key, connector))
			default:
				got[srcTP{so.Topic, so.Partition}] = so.Offset
			}
		},
		func() string { return fmt.Sprintf("offsets so far: %v", got) },
		func() []string { return errs })
	return got
}

// readCompacted reads topic from its start until done holds for the latest value of each key.
func readCompacted(t *testing.T, addr, topic string, done func(map[string][]byte) bool) map[string][]byte {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(250*time.Millisecond))
	got := map[string][]byte{}
	readUntil(t, cl, 500*time.Millisecond, time.Minute, "records in "+topic, func() bool { return done(got) },
		func(r *kgo.Record) { got[string(r.Key)] = r.Value },
		func() string {
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, k)
			}
			return fmt.Sprintf("keys so far: %v", keys)
		},
		func() []string { return nil })
	return got
}
