package mm2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	saws "github.com/twmb/franz-go/pkg/sasl/aws"
)

// MSK's IAM client authentication, as Amazon's aws-msk-iam-auth library configures it:
//
//	security.protocol=SASL_SSL
//	sasl.mechanism=AWS_MSK_IAM
//	sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required [awsRoleArn=… awsStsRegion=… awsProfileName=…];
//	sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler
//
// The clients sign MSK's kafka-cluster:Connect payload (franz-go's sasl/aws) with credentials
// of, in order: the JAAS option awsRoleArn (assumed through STS, as the library does), the
// workload's service execution role (KeyServiceExecutionRole, which the server adds to every
// task), or the process's default AWS credential chain (with awsProfileName, that profile).
// Assumed-role credentials are cached per process and refreshed IAMRefreshBefore their expiry,
// so long-running tasks keep connecting without restarting. STS is reached where the AWS SDK's
// usual configuration points (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, …), in awsStsRegion, else
// the process's region, else us-east-1. franz-go takes the signing region from a broker name
// under amazonaws.com, else from AWS_REGION / AWS_DEFAULT_REGION.
const (
	IAMLoginModule     = "software.amazon.msk.auth.iam.IAMLoginModule"
	IAMCallbackHandler = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
	// KeyServiceExecutionRole is the runtime key holding the workload's
	// serviceExecutionRoleArn. The server adds it to every task of connectors and
	// replicators; it is never part of a connector's own configuration.
	KeyServiceExecutionRole = "fjord.service.execution.role.arn"
)

// IAMAuth is the IAM identity of a cluster's clients (sasl.mechanism AWS_MSK_IAM).
type IAMAuth struct {
	// RoleARN is the role the clients assume: the JAAS option awsRoleArn, else the workload's
	// service execution role; "" uses the default credential chain.
	RoleARN string
	// STSRegion is awsStsRegion.
	STSRegion string
	// Profile is awsProfileName: the shared-config profile of the base credentials.
	Profile string
}

// roleARNRE is an IAM role ARN; its name (the group) has at most maxRoleName characters. The
// bound is checked apart: `{1,512}` in the expression compiles to 512 copies of the class, a
// program of 66 KB held by every process that links this package, workers included.
var roleARNRE = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:iam::\d{12}:role/([\w+=,.@/-]+)$`)

// maxRoleName is the longest role name (with its path) in a role ARN.
const maxRoleName = 512

// IsRoleARN says whether s is an IAM role ARN (arn:<partition>:iam::<account>:role/<name>).
func IsRoleARN(s string) bool {
	m := roleARNRE.FindStringSubmatch(s)
	return m != nil && len(m[1]) <= maxRoleName
}

// IAMRefreshBefore is how long before their expiry assumed-role credentials are replaced.
// Tests lower the credentials' lifetime through it; FJORD_IAM_REFRESH_BEFORE (a Go duration)
// sets it for a worker process.
var IAMRefreshBefore = 5 * time.Minute

// IAMSessionDuration is the DurationSeconds of AssumeRole (STS allows 15 min to the role's
// maximum; 1 h is the default of roles).
const IAMSessionDuration = time.Hour

func init() {
	if v := os.Getenv("FJORD_IAM_REFRESH_BEFORE"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			IAMRefreshBefore = d
		}
	}
}

// RoleError is a role STS would not let the worker assume. Permanent errors (STS refused: no
// retry can fix them) make the workload FAILED; others (STS unreachable) are retried. The
// message names the role and STS's error code, never credentials.
type RoleError struct {
	Role      string
	Code      string
	Permanent bool
	Err       error
}

func (e *RoleError) Error() string {
	if e.Permanent {
		return fmt.Sprintf("the IAM role %s cannot be assumed (STS refused it: %s)", e.Role, e.Code)
	}
	return fmt.Sprintf("the IAM role %s cannot be assumed now (STS: %s)", e.Role, e.Code)
}
func (e *RoleError) Unwrap() error { return e.Err }

type iamKey struct{ role, region, profile string }

var (
	iamMu     sync.Mutex
	iamCaches = map[iamKey]*iamSource{}
)

// iamSource is the process-wide credentials of one identity.
type iamSource struct {
	once  sync.Once
	cache *aws.CredentialsCache
	err   error
	// Assumed counts the AssumeRole calls (for tests and metrics).
	assumed func() int
}

// IAMAssumeCount is how many times the process called AssumeRole for role (tests: a refresh
// without a task restart).
func IAMAssumeCount(role string) int {
	iamMu.Lock()
	defer iamMu.Unlock()
	n := 0
	for k, s := range iamCaches {
		if k.role == role && s.assumed != nil {
			n += s.assumed()
		}
	}
	return n
}

func (a IAMAuth) source() *iamSource {
	k := iamKey{a.RoleARN, a.STSRegion, a.Profile}
	iamMu.Lock()
	defer iamMu.Unlock()
	s, ok := iamCaches[k]
	if !ok {
		s = &iamSource{}
		iamCaches[k] = s
	}
	return s
}

func (s *iamSource) init(ctx context.Context, a IAMAuth) error {
	s.once.Do(func() {
		var opts []func(*awsconfig.LoadOptions) error
		if a.Profile != "" {
			opts = append(opts, awsconfig.WithSharedConfigProfile(a.Profile))
		}
		cfg, err := awsconfig.LoadDefaultConfig(context.WithoutCancel(ctx), opts...)
		if err != nil {
			s.err = fmt.Errorf("load the AWS SDK configuration: %w", err)
			return
		}
		if a.RoleARN == "" {
			s.cache = aws.NewCredentialsCache(cfg.Credentials, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = IAMRefreshBefore })
			return
		}
		region := a.STSRegion
		if region == "" {
			region = cfg.Region
		}
		if region == "" {
			region = "us-east-1"
		}
		cfg.Region = region
		var mu sync.Mutex
		n := 0
		s.assumed = func() int { mu.Lock(); defer mu.Unlock(); return n }
		client := sts.NewFromConfig(cfg)
		prov := stscreds.NewAssumeRoleProvider(countingSTS{client, func() { mu.Lock(); n++; mu.Unlock() }}, a.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "fjord"
			o.Duration = IAMSessionDuration
		})
		s.cache = aws.NewCredentialsCache(prov, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = IAMRefreshBefore })
	})
	return s.err
}

type countingSTS struct {
	*sts.Client
	count func()
}

func (c countingSTS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, opts ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	c.count()
	return c.Client.AssumeRole(ctx, in, opts...)
}

// Credentials returns the current credentials of the identity (cached; refreshed before they
// expire). A role STS refuses is a *RoleError.
func (a IAMAuth) Credentials(ctx context.Context) (aws.Credentials, error) {
	s := a.source()
	if err := s.init(ctx, a); err != nil {
		return aws.Credentials{}, err
	}
	c, err := s.cache.Retrieve(ctx)
	if err != nil {
		if a.RoleARN == "" {
			return aws.Credentials{}, fmt.Errorf("no AWS credentials for AWS_MSK_IAM: %w", err)
		}
		return aws.Credentials{}, roleError(a.RoleARN, err)
	}
	return c, nil
}

// roleError classifies an AssumeRole failure.
func roleError(role string, err error) *RoleError {
	e := &RoleError{Role: role, Err: err, Code: "unreachable"}
	var ae smithy.APIError
	var ne net.Error
	switch {
	case errors.As(err, &ae):
		e.Code = ae.ErrorCode()
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) && e.Code == "UnknownError" {
			e.Code = fmt.Sprintf("HTTP %d", re.HTTPStatusCode())
		}
		e.Permanent = ae.ErrorFault() != smithy.FaultServer && e.Code != "Throttling" && e.Code != "ThrottlingException" &&
			!strings.Contains(e.Code, "Timeout") && (re == nil || re.HTTPStatusCode() < 500)
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
	}
	return e
}

// authFn gives franz-go's AWS_MSK_IAM mechanism the credentials of each new connection.
func (a IAMAuth) authFn(ctx context.Context) (saws.Auth, error) {
	c, err := a.Credentials(ctx)
	if err != nil {
		return saws.Auth{}, err
	}
	return saws.Auth{AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey, SessionToken: c.SessionToken, UserAgent: "fjord"}, nil
}
