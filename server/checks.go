package server

import (
	"context"
	"regexp"
	"sort"
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

// secretRefARNRE finds Secrets Manager secret ARNs in config-provider references.
var secretRefARNRE = regexp.MustCompile(`arn:aws[a-zA-Z-]*:secretsmanager:[a-z0-9-]+:(\d{12}):secret:[A-Za-z0-9/_+=.@-]+`)

// checkSecretAccounts refuses a connector configuration whose config-provider references name a
// secret ARN of another account than account (the connector's): a BadRequestException naming
// member and the key. Nothing is read, so the answer is the same whether or not the secret
// exists.
func checkSecretAccounts(conf map[string]string, account, member string) error {
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := conf[k]
		if !catalog.HasReference(v) {
			continue
		}
		for _, ref := range catalog.References(v) {
			for _, m := range secretRefARNRE.FindAllStringSubmatch(ref.Text, -1) {
				if m[1] != account {
					return apierr.BadRequest(member, "%s: key %s refers to a secret of account %s: a connector can only use secrets of its own account (%s)",
						member, k, m[1], account)
				}
			}
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
//
// A secret of another account than account (the replicator's) is refused: a workload reads only
// its own account's secrets. The check reads nothing, so the answer is the same whether or not
// the secret exists.
func checkClusterSecurity(c *kv.KafkaCluster, member, account string) error {
	if a := c.GetClientAuthentication(); a != nil {
		sc := a.GetSaslScram()
		if sc == nil {
			return apierr.BadRequest(member+".clientAuthentication.saslScram", "%s.clientAuthentication.saslScram is required", member)
		}
		if !workload.IsSecretARN(sc.GetSecretArn()) {
			return apierr.BadRequest(member+".clientAuthentication.saslScram.secretArn",
				"%s.clientAuthentication.saslScram.secretArn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)", member)
		}
		if acct := workload.SecretAccount(sc.GetSecretArn()); acct != account {
			return apierr.BadRequest(member+".clientAuthentication.saslScram.secretArn",
				"%s.clientAuthentication.saslScram.secretArn is a secret of account %s: a replicator can only use secrets of its own account (%s)", member, acct, account)
		}
	}
	return nil
}
