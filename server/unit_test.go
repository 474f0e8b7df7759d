package server

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/server/apierr"
)

func TestParseProperties(t *testing.T) {
	t.Parallel()
	text := "# comment\n! other comment\n\nkey.converter=org.StringConverter\n" +
		"a : b\nc d\n  spaced.key   =  v  \nmulti=one \\\n    two\nesc=tab\\there\nempty=\n"
	got, err := parseProperties(text)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"key.converter": "org.StringConverter", "a": "b", "c": "d", "spaced.key": "v  ",
		"multi": "one two", "esc": "tab\there", "empty": "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseProperties:\n got %q\nwant %q", got, want)
	}
}

func TestForbiddenWorkerKeys(t *testing.T) {
	t.Parallel()
	props := map[string]string{
		"key.converter": "x", "producer.linger.ms": "5", "consumer.max.poll.records": "10", "offset.flush.interval.ms": "1",
		"group.id": "g", "sasl.mechanism": "m", "producer.sasl.jaas.config": "j", "consumer.bootstrap.servers": "b",
		"worker.x": "1", "plugin.path": "/p", "rest.port": "1",
	}
	got := forbiddenWorkerKeys(props)
	want := []string{"consumer.bootstrap.servers", "group.id", "plugin.path", "producer.sasl.jaas.config", "rest.port", "sasl.mechanism", "worker.x"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("forbidden keys: got %v, want %v", got, want)
	}
}

func TestPageTokens(t *testing.T) {
	t.Parallel()
	p := newPageTokens([]byte("0123456789abcdef0123456789abcdef"))
	tok := p.mint(pagePosition{Kind: "connectors", Account: "1/us-east-1", Filter: "f", Name: "n", ARN: "a"})
	pos, err := p.open(tok, "connectors", "1/us-east-1", "f")
	if err != nil || pos.Name != "n" || pos.ARN != "a" {
		t.Fatalf("open own token: %v %+v", err, pos)
	}
	other := newPageTokens([]byte("another key another key another k"))
	for name, c := range map[string]struct{ tok, kind, account, filter string }{
		"other kind":    {tok, "replicators", "1/us-east-1", "f"},
		"other account": {tok, "connectors", "2/us-east-1", "f"},
		"other filter":  {tok, "connectors", "1/us-east-1", "g"},
		"tampered":      {strings.Replace(tok, tok[2:3], "x", 1), "connectors", "1/us-east-1", "f"},
		"garbage":       {"not-a-token", "connectors", "1/us-east-1", "f"},
		"other key":     {other.mint(pagePosition{Kind: "connectors", Account: "1/us-east-1", Filter: "f"}), "connectors", "1/us-east-1", "f"},
	} {
		_, err := p.open(c.tok, c.kind, c.account, c.filter)
		if e := apierr.From(err); err == nil || e.Type != "BadRequestException" || e.InvalidParameter != "nextToken" {
			t.Errorf("%s: got %v, want BadRequestException on nextToken", name, err)
		}
	}
}

func TestProjectCopiesByWireName(t *testing.T) {
	t.Parallel()
	req := &kc.CreateConnectorRequest{
		ConnectorName: proto.String("c"),
		Capacity: &kc.Capacity{AutoScaling: &kc.AutoScaling{
			McuCount: proto.Int32(2), MinWorkerCount: proto.Int32(1), MaxWorkerCount: proto.Int32(3),
			ScaleOutPolicy: &kc.ScaleOutPolicy{CpuUtilizationPercentage: proto.Int32(70)},
		}},
		Plugins:                []*kc.Plugin{{CustomPlugin: &kc.CustomPlugin{CustomPluginArn: proto.String("p"), Revision: proto.Int64(1)}}},
		ConnectorConfiguration: map[string]string{"connector.class": "x"},
	}
	d := &kc.DescribeConnectorResponse{}
	project(d, req)
	if d.GetConnectorName() != "c" || d.GetCapacity().GetAutoScaling().GetMcuCount() != 2 ||
		d.GetCapacity().GetAutoScaling().GetScaleOutPolicy().GetCpuUtilizationPercentage() != 70 ||
		d.GetPlugins()[0].GetCustomPlugin().GetRevision() != 1 || d.GetConnectorConfiguration()["connector.class"] != "x" {
		t.Fatalf("project lost members: %v", d)
	}
	// The copy is deep: changing the source afterwards does not change the projection.
	req.Capacity.AutoScaling.McuCount = proto.Int32(8)
	if d.GetCapacity().GetAutoScaling().GetMcuCount() != 2 {
		t.Fatal("project aliased a nested message")
	}
}

func TestCheckCapacity(t *testing.T) {
	t.Parallel()
	i := proto.Int32
	ok := []*kc.Capacity{
		{ProvisionedCapacity: &kc.ProvisionedCapacity{McuCount: i(1), WorkerCount: i(1)}},
		{AutoScaling: &kc.AutoScaling{McuCount: i(8), MinWorkerCount: i(1), MaxWorkerCount: i(10), MaxAutoscalingTaskCount: i(10)}},
	}
	for _, c := range ok {
		if err := checkCapacity(c, "capacity"); err != nil {
			t.Errorf("checkCapacity(%v): %v", c, err)
		}
	}
	bad := map[string]*kc.Capacity{
		"capacity":                                 {},
		"capacity.provisionedCapacity.mcuCount":    {ProvisionedCapacity: &kc.ProvisionedCapacity{McuCount: i(3), WorkerCount: i(1)}},
		"capacity.provisionedCapacity.workerCount": {ProvisionedCapacity: &kc.ProvisionedCapacity{McuCount: i(1), WorkerCount: i(11)}},
		"capacity.autoScaling.minWorkerCount":      {AutoScaling: &kc.AutoScaling{McuCount: i(1), MinWorkerCount: i(3), MaxWorkerCount: i(2)}},
		"capacity.autoScaling.maxAutoscalingTaskCount": {AutoScaling: &kc.AutoScaling{McuCount: i(1), MinWorkerCount: i(1), MaxWorkerCount: i(4),
			MaxAutoscalingTaskCount: i(3)}},
		"capacity.autoScaling.scaleInPolicy.cpuUtilizationPercentage": {AutoScaling: &kc.AutoScaling{McuCount: i(1), MinWorkerCount: i(1), MaxWorkerCount: i(2),
			ScaleInPolicy: &kc.ScaleInPolicy{CpuUtilizationPercentage: i(50)}, ScaleOutPolicy: &kc.ScaleOutPolicy{CpuUtilizationPercentage: i(50)}}},
	}
	for member, c := range bad {
		err := checkCapacity(c, "capacity")
		if e := apierr.From(err); err == nil || e.InvalidParameter != member {
			t.Errorf("checkCapacity for %s: got %v", member, err)
		}
	}
}

// TestCheckKafkaClusterAuth: NONE and IAM are accepted at creation; another type is refused
// naming the member.
func TestCheckKafkaClusterAuth(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"NONE", "IAM"} {
		if err := checkKafkaClusterAuth(&kc.KafkaClusterClientAuthentication{AuthenticationType: proto.String(typ)}); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	err := checkKafkaClusterAuth(&kc.KafkaClusterClientAuthentication{AuthenticationType: proto.String("SCRAM")})
	var ae *apierr.Error
	if !errors.As(err, &ae) || !strings.Contains(ae.Error(), "kafkaClusterClientAuthentication") {
		t.Errorf("SCRAM at creation: %v", err)
	}
}

// TestCheckSecretAccounts: a config-provider reference to another account's secret ARN is
// refused naming the member and the key; the workload's own account and secret names pass.
func TestCheckSecretAccounts(t *testing.T) {
	t.Parallel()
	ok := map[string]string{
		"a": "${secretsmanager:arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf:password}",
		"b": "${secretsmanager:db:password}", "c": "plain arn:aws:secretsmanager:us-east-1:111122223333:secret:x",
	}
	if err := checkSecretAccounts(ok, "000000000000", "connectorConfiguration"); err != nil {
		t.Fatalf("own account: %v", err)
	}
	for _, name := range []string{"db-AbCdEf", "never-created-XyZ123"} {
		bad := map[string]string{"database.password": "${secretsmanager:arn:aws:secretsmanager:us-east-1:111122223333:secret:" + name + ":password}"}
		err := checkSecretAccounts(bad, "000000000000", "connectorConfiguration")
		var ae *apierr.Error
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), "database.password") || !strings.Contains(err.Error(), "111122223333") || strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
