package server

import (
	"context"
	"crypto/subtle"
	"errors"

	"google.golang.org/grpc/metadata"

	"github.com/fjord-io/fjord/proto/awsmodel"
	kafkaconnectv1 "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/server/sigv4"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
)

// What other faces of the same replica (the Kafka Connect REST API, server/connectrest) use:
// the MSK Connect operations in-process, through the same interceptor chain as the AWS API
// (recovery, metrics, authentication), the store and the workload compiler.

// KafkaConnect is the MSK Connect service as an in-process client; calls need a context from
// AsCaller. Valid after Start.
func (s *Server) KafkaConnect() kafkaconnectv1.KafkaConnectClient {
	return kafkaconnectv1.NewKafkaConnectClient(s.local)
}

// AsCaller returns ctx carrying c as the verified caller of the calls made with it through
// KafkaConnect.
func (s *Server) AsCaller(ctx context.Context, c Caller) context.Context {
	if c.Service == "" {
		c.Service = awsmodel.KafkaConnect
	}
	return metadata.NewOutgoingContext(ctx, metadata.Pairs(mdGatewayKey, s.gatewayKey, mdAccessKey, c.AccessKeyID,
		mdAccount, c.AccountID, mdRegion, c.Region, mdService, c.Service))
}

// ErrBadCredentials: an access key the store does not know, or a wrong secret.
var ErrBadCredentials = errors.New("unknown access key or wrong secret")

// CheckSecret authenticates an access key id and its secret (HTTP basic authentication) with
// the credentials the AWS API verifies signatures with: ErrBadCredentials, or the store's
// error when it cannot be asked.
func (s *Server) CheckSecret(ctx context.Context, accessKeyID, secret string) (accountID string, err error) {
	cred, err := s.creds.Credential(ctx, accessKeyID)
	if errors.Is(err, sigv4.ErrUnknownKey) {
		return "", ErrBadCredentials
	}
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(cred.SecretAccessKey), []byte(secret)) != 1 {
		return "", ErrBadCredentials
	}
	return cred.AccountID, nil
}

// Store is the replica's store.
func (s *Server) Store() *store.Store { return s.st }

// Workload is the replica's workload compiler.
func (s *Server) Workload() *workload.Compiler { return s.workload }

// Trigger asks the scheduler's leader to reconcile now (after a change it must act on).
func (s *Server) Trigger() { s.trigger() }

// APIError converts an error of a KafkaConnect call to the API error it stands for.
func APIError(err error) *apierr.Error { return apierr.From(err) }
