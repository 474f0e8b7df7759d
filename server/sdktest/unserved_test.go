package sdktest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/smithy-go"
)

// TestUnservedKafkaOperations: operations of the kafka model that Fjord does not serve answer
// one clear, consistent error naming the operation — not a served operation whose path looks
// alike (ListClusterOperationsV2 used to reach DescribeClusterV2) and not a signature error
// naming the wrong service (paths outside the served prefixes used to get one).
func TestUnservedKafkaOperations(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := context.Background()
	arn := "arn:aws:kafka:us-east-1:000000000000:cluster/prod/0b1f6a2e-1111-4222-8333-944445555666-1"
	calls := map[string]func() error{
		"ListClusterOperationsV2": func() error {
			_, err := f.k.ListClusterOperationsV2(ctx, &kafka.ListClusterOperationsV2Input{ClusterArn: aws.String(arn)})
			return err
		},
		"ListConfigurations": func() error {
			_, err := f.k.ListConfigurations(ctx, &kafka.ListConfigurationsInput{})
			return err
		},
		"CreateClusterV2": func() error {
			_, err := f.k.CreateClusterV2(ctx, &kafka.CreateClusterV2Input{ClusterName: aws.String("c")})
			return err
		},
		"DescribeCluster": func() error {
			_, err := f.k.DescribeCluster(ctx, &kafka.DescribeClusterInput{ClusterArn: aws.String(arn)})
			return err
		},
		"ListKafkaVersions": func() error {
			_, err := f.k.ListKafkaVersions(ctx, &kafka.ListKafkaVersionsInput{})
			return err
		},
	}
	for op, call := range calls {
		err := call()
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "BadRequestException" ||
			!strings.Contains(api.ErrorMessage(), op+" is an operation of the kafka API that Fjord does not serve") {
			t.Errorf("%s: %v", op, err)
		}
	}
	// The served neighbour still answers as itself.
	_, err := f.k.DescribeClusterV2(ctx, &kafka.DescribeClusterV2Input{ClusterArn: aws.String(arn)})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "NotFoundException" {
		t.Errorf("DescribeClusterV2 of an unknown cluster: %v", err)
	}
}
