package server

import (
	"context"
	"strings"

	kv "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"
	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/workers/catalog"
)

// The creation-time checks of what the workload compiler (server/workload) turns into task
// specifications: the API refuses here what the compiler could never build; what can only be
// known when the workload is scheduled (a secret that cannot be read, a revision gone) is the
// compiler's shape check.

// checkConfigProviders refuses a connector configuration whose references its worker
// configuration cannot resolve (catalog.CheckReferences): a BadRequestException naming
// member, the first key and its provider, listing every problem.
func (s *Server) checkConfigProviders(ctx context.Context, conf map[string]string, wc workload.WorkerConfigurationRef, member string) error {
	has := false
	for _, v := range conf {
		if catalog.HasReference(v) {
			has = true
			break
		}
	}
	if !has {
		return nil
	}
	props, err := s.workload.WorkerProperties(ctx, wc)
	if err != nil {
		return s.storeErr(ctx, err, "the connector's worker configuration")
	}
	problems := catalog.CheckReferences(conf, props)
	if len(problems) == 0 {
		return nil
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Error()
	}
	return apierr.BadRequest(member, "%s: %s", member, strings.Join(msgs, "; "))
}

// checkUpdateProviders is checkConfigProviders of UpdateConnector's new configuration against
// the connector's worker configuration (which an update cannot change).
func (c *connectService) checkUpdateProviders(ctx context.Context, caller Caller, arn string, conf map[string]string) error {
	for _, v := range conf {
		if catalog.HasReference(v) {
			cur, err := c.connector(ctx, caller, arn, "connectorArn")
			if err != nil {
				return err
			}
			return c.s.checkConfigProviders(ctx, conf, cur.GetWorkerConfiguration(), "connectorConfiguration")
		}
	}
	return nil
}

// checkKafkaClusterAuth checks the connector's kafkaClusterClientAuthentication: NONE, or IAM
// (the Connect runtime's clients sign AWS_MSK_IAM with the serviceExecutionRoleArn), with
// PLAINTEXT or TLS encryption. The model's enum refuses other types.
func checkKafkaClusterAuth(auth *kc.KafkaClusterClientAuthentication) error {
	switch t := strings.ToUpper(auth.GetAuthenticationType()); t {
	case "", "NONE", "IAM":
		return nil
	}
	return apierr.BadRequest("kafkaClusterClientAuthentication.authenticationType",
		"kafkaClusterClientAuthentication.authenticationType must be NONE or IAM")
}

// checkClusterSecurity validates a replicator cluster's clientAuthentication and
// encryptionInTransit at CreateReplicator, beyond the model's enums (mechanism SHA256 or
// SHA512, encryptionType TLS): saslScram is required in clientAuthentication and its secretArn
// must be a Secrets Manager secret ARN. The root CA certificate is checked when the replicator
// is scheduled (workload.Compiler.Shape), as MSK accepts it at creation.
func checkClusterSecurity(c *kv.KafkaCluster, member string) error {
	if a := c.GetClientAuthentication(); a != nil {
		sc := a.GetSaslScram()
		if sc == nil {
			return apierr.BadRequest(member+".clientAuthentication.saslScram", "%s.clientAuthentication.saslScram is required", member)
		}
		if !workload.IsSecretARN(sc.GetSecretArn()) {
			return apierr.BadRequest(member+".clientAuthentication.saslScram.secretArn",
				"%s.clientAuthentication.saslScram.secretArn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)", member)
		}
	}
	return nil
}
