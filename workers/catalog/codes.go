package catalog

import (
	"fmt"
	"strings"
)

// Stable error codes. They start WorkerStatus.error and TaskStatus.error ("CODE: message"), a
// workload's stateDescription code, and the scheduler's rules about which failures are
// permanent.
const (
	// CodeUnknownConnectorClass: a connector.class no engine runs.
	CodeUnknownConnectorClass = "UNKNOWN_CONNECTOR_CLASS"
	// CodeInvalidConfiguration: a configuration the class refuses (also a refused login or
	// an untrusted certificate: the configuration must change).
	CodeInvalidConfiguration = "INVALID_CONFIGURATION"
	// CodeClusterUnreachable: a Kafka cluster of the workload cannot be reached.
	CodeClusterUnreachable = "CLUSTER_UNREACHABLE"
	// CodeAuthenticationFailed: a Kafka cluster of the workload refuses its credentials (the
	// tasks keep retrying; the workload is FAILED while it lasts, RUNNING again after).
	CodeAuthenticationFailed = "AUTHENTICATION_FAILED"
	// CodeDNSResolutionFailed: a broker name of a Kafka cluster of the workload does not
	// resolve (the tasks keep retrying; the workload is FAILED while it lasts).
	CodeDNSResolutionFailed = "DNS_RESOLUTION_FAILED"
	// CodeSecretUnavailable: a secret the workload references cannot be read.
	CodeSecretUnavailable = "SECRET_UNAVAILABLE"
	// CodePluginMissingClass: connector.class is in none of the connector's custom plugins.
	CodePluginMissingClass = "PLUGIN_MISSING_CLASS"
	// CodeTaskFailed: a task's run ended in an error that carries no code of its own.
	CodeTaskFailed = "TASK_FAILED"
	// CodeTaskPanicked: a task panicked; the panic was recovered and the task restarted.
	CodeTaskPanicked = "TASK_PANICKED"
)

// HealthCodes are the codes of cluster trouble a worker reports while its tasks keep
// retrying (WorkerStatus.health_error): the workload is FAILED with it once it outlasts the
// server's bound, and RUNNING again once it is gone.
var HealthCodes = []string{CodeClusterUnreachable, CodeAuthenticationFailed, CodeDNSResolutionFailed}

// PermanentCodes are the codes of failures that restarting cannot fix: a worker failing with
// one makes its workload FAILED.
var PermanentCodes = []string{CodeUnknownConnectorClass, CodeInvalidConfiguration, CodeClusterUnreachable,
	CodeSecretUnavailable, CodePluginMissingClass}

// TransactionalID is the Kafka transactional id of task task of the workload with the given
// resource type ("connector", "replicator") and resource path (the ARN's part after the type,
// e.g. "name/uuid"): stable across moves and restarts, so that a task's newer incarnation
// fences the older one.
func TransactionalID(resourceType, resource string, task int) string {
	return fmt.Sprintf("fjord-%s-%s-task-%d", resourceType, strings.ReplaceAll(resource, "/", "-"), task)
}

// TransactionalIDForARN is TransactionalID of a workload ARN
// (arn:aws:<service>:<region>:<account>:<type>/<resource>).
func TransactionalIDForARN(arn string, task int) string {
	parts := strings.SplitN(arn, ":", 6)
	rest := parts[len(parts)-1]
	typ, res, _ := strings.Cut(rest, "/")
	return TransactionalID(typ, res, task)
}
