package awsjson_test

import (
	"encoding/json"
	"sort"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/fjord-io/fjord/proto/awsmodel"
	_ "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"        // registers the response messages
	_ "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1" // likewise
	"github.com/fjord-io/fjord/server/awsjson"
)

// TestEmptyListsWritten goes over every operation of both AWS models: the output of each
// operation Fjord serves, encoded with nothing in it, carries every list member of the output
// shape as [], as AWS returns them (boto3 users index resp["connectors"] without a check).
func TestEmptyListsWritten(t *testing.T) {
	served := 0
	for _, svc := range []struct{ model, pkg string }{
		{awsmodel.KafkaConnect, "fjord.kafkaconnect.v1."},
		{awsmodel.Kafka, "fjord.kafka.v1."},
	} {
		m := awsmodel.MustLoad(svc.model)
		ops := make([]string, 0, len(m.Operations))
		for name := range m.Operations {
			ops = append(ops, name)
		}
		sort.Strings(ops)
		for _, name := range ops {
			op := m.Operations[name]
			if op.Output == nil {
				continue
			}
			mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(svc.pkg + name + "Response"))
			if err != nil {
				continue // an operation Fjord does not serve
			}
			served++
			b, err := awsjson.Marshal(mt.New().Interface())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var got map[string]json.RawMessage
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: %s: %v", name, b, err)
			}
			out := m.Shapes[op.Output.Shape]
			for member, ref := range out.Members {
				if ref.Location != "" {
					continue // headers, not the body
				}
				if m.Shapes[ref.Shape].Type != "list" {
					continue
				}
				want := "[]"
				wire := ref.WireName(member)
				if string(got[wire]) != want {
					t.Errorf("%s %s: member %s is %q in %s, want %s", svc.model, name, wire, got[wire], b, want)
				}
			}
		}
	}
	if served < 25 {
		t.Fatalf("checked only %d operations; the proto registry lookup looks wrong", served)
	}
}
