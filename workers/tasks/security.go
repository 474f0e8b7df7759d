package tasks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/mm2"
	"github.com/fjord-io/fjord/workers/runtime"
)

// preflightTimeout bounds the connection check a task makes before it starts: long enough for
// a TLS handshake and a SASL exchange, short enough not to delay a task whose cluster is merely
// unreachable (the engine then retries on its own).
const preflightTimeout = 10 * time.Second

// securedTask runs an engine task after checking that its clusters accept its security
// settings. A refused login (SASL authentication failed) is cluster trouble the task waits out:
// it reports AUTHENTICATION_FAILED for the cluster in its health (the workload is FAILED with
// it after the server's bound) and tries again with backoff, so that a fixed user or password
// on the cluster lets it run again by itself; a refused login later in the engine restarts the
// task, which waits the same way. A certificate that does not verify, a broker that does not
// speak TLS or a mechanism it does not accept is a permanent INVALID_CONFIGURATION error
// naming the cluster and its keys (only a new configuration fixes it). Other errors pass
// unchanged. No message carries the password.
type securedTask struct {
	runtime.Task
	checks []clusterCheck
	m      *runtime.TaskMetrics
}

// clusterCheck is one cluster a task talks to.
type clusterCheck struct {
	role, alias, prefix string
	bootstrap           []string
	sec                 mm2.ClientSecurity
	cluster             runtime.Cluster
}

// secured wraps t; usesSource says whether t has source-cluster clients.
func secured(t runtime.Task, c mm2.Config, usesSource bool, m *runtime.TaskMetrics) runtime.Task {
	var checks []clusterCheck
	if usesSource {
		checks = append(checks, clusterCheck{"source", c.SourceAlias, mm2.SourceClusterPrefix, c.SourceBootstrap, c.SourceSecurity, runtime.ClusterSource})
	}
	checks = append(checks, clusterCheck{"target", c.TargetAlias, mm2.TargetClusterPrefix, c.TargetBootstrap, c.TargetSecurity, runtime.ClusterTarget})
	if c.Connect != nil && c.Connect.Security.Mechanism == mm2.MechanismIAM && !mm2.SameServers(c.Connect.Bootstrap, c.TargetBootstrap) {
		// kafkaClusterClientAuthentication IAM: a role that cannot be assumed fails the
		// connector before the runtime's clients start.
		checks = append(checks, clusterCheck{"Connect", "kafkaCluster", mm2.ConnectPrefix, c.Connect.Bootstrap, c.Connect.Security, runtime.ClusterTarget})
	}
	return &securedTask{Task: t, checks: checks, m: m}
}

// loginRetryMax bounds the wait between two logins a cluster refused.
const loginRetryMax = 15 * time.Second

func (t *securedTask) Run(ctx context.Context) error {
	for _, cc := range t.checks {
		for backoff := time.Second; ; backoff = min(2*backoff, loginRetryMax) {
			err := cc.preflight(ctx)
			var refused *loginRefused
			if !errors.As(err, &refused) {
				if err != nil {
					return err
				}
				break
			}
			if t.m != nil {
				broker := ""
				if len(cc.bootstrap) > 0 {
					broker = cc.bootstrap[0]
				}
				t.m.ClusterFailed(cc.cluster, broker, refused.err, true)
				t.m.AuthError()
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
		}
	}
	err := t.Task.Run(ctx)
	if err != nil && ctx.Err() == nil && errors.Is(err, kerr.SaslAuthenticationFailed) {
		// The login was refused after the check: start over (and wait at the check).
		return fmt.Errorf("a cluster refused the task's login (check the source.cluster. / target.cluster. sasl.jaas.config): %w", err)
	}
	if err != nil && ctx.Err() == nil && securityRefusal(err) {
		// The engine does not say which cluster refused: name both candidates' keys.
		return &runtime.Error{Code: runtime.CodeInvalidConfiguration, Permanent: true,
			Err: fmt.Errorf("a cluster refused the client's security settings (check the source.cluster. / target.cluster. security keys): %w", err)}
	}
	return err
}

// preflight connects to the cluster once. It returns a permanent error only when the cluster
// refused the security settings; unreachable clusters are left to the engine's retries.
func (cc clusterCheck) preflight(ctx context.Context) error {
	if cc.sec.Mechanism == mm2.MechanismIAM {
		// The role first: STS refusing it is the workload's configuration, named as such.
		if _, err := cc.sec.IAM.Credentials(ctx); err != nil {
			var re *mm2.RoleError
			if errors.As(err, &re) && !re.Permanent {
				return nil // STS unreachable: the engine's clients retry
			}
			return &runtime.Error{Code: runtime.CodeInvalidConfiguration, Permanent: true,
				Err: fmt.Errorf("%s cluster %s: AWS_MSK_IAM: %w", cc.role, cc.alias, err)}
		}
	}
	hook := &saslHook{}
	cl, err := kgo.NewClient(slices.Concat([]kgo.Opt{kgo.SeedBrokers(cc.bootstrap...), kgo.WithHooks(hook)}, cc.sec.Opts())...)
	if err != nil {
		return nil // the engine reports bad client options itself
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	err = cl.Ping(pctx)
	switch {
	case err == nil:
		return nil
	case securityRefusal(err):
	case hook.closed():
		// A broker may close the connection instead of answering a failed authentication
		// (Kafka with SaslHandshake v0 does; so does kfake).
		err = fmt.Errorf("%w: the broker closed the connection during the SASL exchange: %v", kerr.SaslAuthenticationFailed, err)
	default:
		return nil
	}
	if errors.Is(err, kerr.SaslAuthenticationFailed) {
		return &loginRefused{err: cc.describe(err)}
	}
	return &runtime.Error{Code: runtime.CodeInvalidConfiguration, Permanent: true, Err: cc.describe(err)}
}

// loginRefused is a cluster refusing the task's login at the check: the task waits it out.
type loginRefused struct{ err error }

func (e *loginRefused) Error() string { return e.err.Error() }
func (e *loginRefused) Unwrap() error { return e.err }

// saslHook notes whether reading the answer to a SASL request failed.
type saslHook struct{ failed atomic.Bool }

func (h *saslHook) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	const saslHandshake, saslAuthenticate = 17, 36
	if (key == saslHandshake || key == saslAuthenticate) && e2e.ReadErr != nil {
		h.failed.Store(true)
	}
}

func (h *saslHook) closed() bool { return h.failed.Load() }

// describe says which cluster refused what, and which keys to check. It never includes the
// password.
func (cc clusterCheck) describe(err error) error {
	where := fmt.Sprintf("%s cluster %s (%s)", cc.role, cc.alias, strings.Join(cc.bootstrap, ","))
	var cve *tls.CertificateVerificationError
	var rhe tls.RecordHeaderError
	switch {
	case errors.As(err, &cve):
		return fmt.Errorf("%s: the broker's TLS certificate does not verify (check %sssl.truststore.certificates and %sssl.endpoint.identification.algorithm): %w",
			where, cc.prefix, cc.prefix, err)
	case errors.As(err, &rhe):
		return fmt.Errorf("%s: the broker does not speak TLS (check %ssecurity.protocol=%s): %w", where, cc.prefix, cc.sec.Protocol, err)
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return fmt.Errorf("%s: the broker does not accept SASL mechanism %q (check %ssecurity.protocol and %ssasl.mechanism): %w",
			where, cc.sec.Mechanism, cc.prefix, cc.prefix, err)
	}
	if cc.sec.Mechanism == mm2.MechanismIAM {
		who := "the default AWS credentials"
		if cc.sec.IAM.RoleARN != "" {
			who = "role " + cc.sec.IAM.RoleARN
		}
		return fmt.Errorf("%s: SASL AWS_MSK_IAM authentication failed for %s (check the cluster's IAM access and %ssasl.jaas.config): %w",
			where, who, cc.prefix, err)
	}
	return fmt.Errorf("%s: SASL %s authentication failed for user %q (check %ssasl.jaas.config and %ssasl.mechanism): %w",
		where, cc.sec.Mechanism, cc.sec.Username, cc.prefix, cc.prefix, err)
}

// securityRefusal says whether err is a cluster refusing the client's security settings —
// something no retry fixes.
func securityRefusal(err error) bool {
	for _, e := range []error{kerr.SaslAuthenticationFailed, kerr.UnsupportedSaslMechanism, kerr.IllegalSaslState} {
		if errors.Is(err, e) {
			return true
		}
	}
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var he x509.HostnameError
	var cie x509.CertificateInvalidError
	var rhe tls.RecordHeaderError
	return errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &he) || errors.As(err, &cie) || errors.As(err, &rhe)
}
