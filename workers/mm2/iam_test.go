package mm2

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fjord-io/fjord/server/motoserver"
)

// mskIAMKeys are the client keys of AWS's MirrorMaker-on-MSK-Connect guide for one cluster.
func mskIAMKeys(prefix, jaasOpts string) map[string]string {
	return map[string]string{
		prefix + "security.protocol":                  "SASL_SSL",
		prefix + "sasl.mechanism":                     "AWS_MSK_IAM",
		prefix + "sasl.jaas.config":                   IAMLoginModule + " required" + jaasOpts + ";",
		prefix + "sasl.client.callback.handler.class": IAMCallbackHandler,
	}
}

func TestParseIAM(t *testing.T) {
	t.Parallel()
	const role, own = "arn:aws:iam::111122223333:role/mm2", "arn:aws:iam::111122223333:role/connector"
	m := base()
	for k, v := range mskIAMKeys("source.cluster.", "") {
		m[k] = v
	}
	for k, v := range mskIAMKeys("target.cluster.", ` awsRoleArn="`+role+`" awsStsRegion=eu-west-1 awsProfileName=dev awsDebugCreds=true`) {
		m[k] = v
	}
	c, err := ParseConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.SourceSecurity; s.Mechanism != MechanismIAM || s.Protocol != ProtocolSASLSSL || s.IAM != (IAMAuth{}) || len(s.Opts()) != 2 {
		t.Errorf("source without a role: %+v", s)
	}
	if s := c.TargetSecurity; s.IAM != (IAMAuth{RoleARN: role, STSRegion: "eu-west-1", Profile: "dev"}) {
		t.Errorf("target with awsRoleArn: %+v", s.IAM)
	}
	// The service execution role the server adds applies where the JAAS line names none;
	// awsRoleArn wins, as in Amazon's library.
	m[KeyServiceExecutionRole] = own
	if c, err = ParseConfig(m); err != nil || c.SourceSecurity.IAM.RoleARN != own || c.TargetSecurity.IAM.RoleARN != role {
		t.Errorf("with the service execution role: %+v %+v %v", c.SourceSecurity.IAM, c.TargetSecurity.IAM, err)
	}
	if _, ok := c.Extra[KeyServiceExecutionRole]; ok || !IsRuntimeKey(KeyServiceExecutionRole) {
		t.Error("the service execution role key is not a runtime key")
	}
	m[KeyServiceExecutionRole] = "role/x"
	var ce *ConfigError
	if _, err := ParseConfig(m); !errors.As(err, &ce) || ce.Key != KeyServiceExecutionRole {
		t.Errorf("a malformed role: %v", err)
	}
}

func TestParseConnectIAM(t *testing.T) {
	t.Parallel()
	const own = "arn:aws:iam::111122223333:role/connector"
	m := base()
	m[KeyConnectBootstrap] = "k:9098"
	m[KeyConnectProtocol], m[KeyConnectMechanism] = "SSL", IAMMechanism
	m[KeyConnectOffsets], m[KeyConnectConfigs], m[KeyConnectStatus] = "o", "c", "s"
	m[KeyServiceExecutionRole] = own
	c, err := ParseConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Connect.Security; s.Protocol != ProtocolSASLSSL || s.Mechanism != MechanismIAM || s.IAM.RoleARN != own {
		t.Errorf("Connect runtime with IAM: %+v", s)
	}
}

// TestIAMCredentialsRefresh: credentials of an assumed role (moto's STS) are cached and
// replaced before they expire: with IAMRefreshBefore just under the session's hour, a new
// AssumeRole happens every few seconds while the callers keep getting valid credentials.
func TestIAMCredentialsRefresh(t *testing.T) {
	moto := motoserver.New(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", moto.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	old := IAMRefreshBefore
	IAMRefreshBefore = IAMSessionDuration - 2*time.Second
	t.Cleanup(func() { IAMRefreshBefore = old })

	const role = "arn:aws:iam::111122223333:role/refresh"
	a := IAMAuth{RoleARN: role}
	first, err := a.Credentials(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.AccessKeyID, "ASIA") || first.SessionToken == "" {
		t.Fatalf("not session credentials: %s", first.AccessKeyID)
	}
	again, _ := a.Credentials(t.Context())
	if again.AccessKeyID != first.AccessKeyID || IAMAssumeCount(role) != 1 {
		t.Fatalf("not cached: %d AssumeRole calls", IAMAssumeCount(role))
	}
	time.Sleep(2500 * time.Millisecond)
	next, err := a.Credentials(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if next.AccessKeyID == first.AccessKeyID || IAMAssumeCount(role) != 2 {
		t.Fatalf("not refreshed: %d AssumeRole calls", IAMAssumeCount(role))
	}
}

// TestIAMRoleRefused: a role STS will not let the worker assume is a permanent RoleError
// naming the role. moto's STS assumes any role unless its IAM access control is on
// (INITIAL_NO_AUTH_ACTION_COUNT=0): then it refuses callers it does not know.
func TestIAMRoleRefused(t *testing.T) {
	t.Setenv("INITIAL_NO_AUTH_ACTION_COUNT", "0")
	moto := motoserver.New(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", moto.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDUNKNOWNTOMOTO")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "us-east-1")
	const role = "arn:aws:iam::111122223333:role/refused"
	_, err := IAMAuth{RoleARN: role}.Credentials(t.Context())
	var re *RoleError
	if !errors.As(err, &re) || !re.Permanent || re.Role != role || !strings.Contains(err.Error(), role) {
		t.Fatalf("want a permanent RoleError naming %s, got %v", role, err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the message holds a credential: %v", err)
	}
	t.Log(err)
}

// TestIsRoleARN: a role name has 1 to 512 characters of IAM's set, after any partition and a
// 12-digit account.
func TestIsRoleARN(t *testing.T) {
	t.Parallel()
	for arn, want := range map[string]bool{
		"arn:aws:iam::111122223333:role/mm2":                            true,
		"arn:aws-us-gov:iam::111122223333:role/path/to/mm2+x=y,z.a@b-c": true,
		"arn:aws:iam::111122223333:role/" + strings.Repeat("r", 512):    true,
		"arn:aws:iam::111122223333:role/" + strings.Repeat("r", 513):    false,
		"arn:aws:iam::111122223333:role/":                               false,
		"arn:aws:iam::11112222333:role/mm2":                             false,
		"arn:aws:iam::111122223333:user/mm2":                            false,
		"arn:aws:iam::111122223333:role/mm2 x":                          false,
	} {
		if got := IsRoleARN(arn); got != want {
			t.Errorf("IsRoleARN(%.60q) = %v, want %v", arn, got, want)
		}
	}
}
