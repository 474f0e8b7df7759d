package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// defaultRegion signs requests when neither S3Config.Region nor the
// environment names a region; S3-compatible stores mostly ignore it.
const defaultRegion = "us-east-1"

// S3Config configures an [S3Fetcher].
type S3Config struct {
	// Endpoint is the base URL of an S3-compatible store, e.g.
	// "http://minio.internal:9000"; "" means AWS S3's own endpoints.
	Endpoint string
	// Region signs requests; "" means the SDK's default chain (AWS_REGION,
	// shared config), then "us-east-1".
	Region string
	// UsePathStyle addresses buckets as <endpoint>/<bucket>/<key> instead of
	// <bucket>.<endpoint>/<key>; most S3-compatible stores need it.
	UsePathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials. Set both or
	// neither; neither means the SDK's default chain (environment, shared
	// files, web identity, ECS or EC2 roles).
	AccessKeyID, SecretAccessKey string
	// MaxSize is the largest object accepted, in bytes; 0 means
	// DefaultMaxSize (512 MiB).
	MaxSize int64
	// MaxAttempts is how many times a failed request (network error, 5xx,
	// throttling) is tried in all; 0 means the SDK's default, 3.
	MaxAttempts int
}

// validate checks c and fills in defaults.
func (c *S3Config) validate() error {
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return errors.New("s3: set both the access key id and the secret access key, or neither")
	}
	if c.MaxSize < 0 {
		return fmt.Errorf("s3: max size %d is negative", c.MaxSize)
	}
	if c.MaxAttempts < 0 {
		return fmt.Errorf("s3: max attempts %d is negative", c.MaxAttempts)
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("s3: endpoint %q is not an http(s) URL", c.Endpoint)
		}
	}
	return nil
}

// S3Fetcher opens objects in AWS S3 or an S3-compatible store with GetObject.
// It is safe for concurrent use.
type S3Fetcher struct {
	client  *s3.Client
	maxSize int64
}

// NewS3Fetcher validates cfg and builds the S3 client. It does not contact
// the store, so it succeeds while the store is down.
func NewS3Fetcher(ctx context.Context, cfg S3Config) (*S3Fetcher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.UsePathStyle
		if cfg.MaxAttempts > 0 {
			o.RetryMaxAttempts = cfg.MaxAttempts
		}
		// Objects uploaded without a checksum (or in parts) are still
		// checked by Inspect's MD5; the SDK's warning would only be noise.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &S3Fetcher{client: client, maxSize: cfg.MaxSize}, nil
}

// MaxSize returns the largest object the fetcher accepts, in bytes.
func (s *S3Fetcher) MaxSize() int64 { return s.maxSize }

// Open starts a GetObject and returns the body. An object whose
// Content-Length exceeds MaxSize is refused before its body is read.
func (s *S3Fetcher) Open(ctx context.Context, loc Location) (io.ReadCloser, error) {
	bucket, err := loc.bucket()
	if err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(loc.Key)}
	if loc.Version != "" {
		in.VersionId = aws.String(loc.Version)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, s3Error(loc, err)
	}
	if out.ContentLength != nil && *out.ContentLength > s.maxSize {
		out.Body.Close()
		return nil, tooLarge(loc, s.maxSize)
	}
	return out.Body, nil
}

// s3Error turns an SDK error into an *Error whose message names the location
// and S3's error code but none of the request details (endpoint URL, request
// ids), which stay in Cause.
func s3Error(loc Location, err error) *Error {
	where := fmt.Sprintf("bucket %s: %s", loc.BucketARN, loc.object())
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		if status >= 400 && status < 500 {
			return newError(ErrStorage, err, fmt.Sprintf("%s: S3 refused the request (HTTP %d)", where, status))
		}
		return newError(ErrUnavailable, err, fmt.Sprintf("%s: S3 storage could not be reached", where))
	}
	code, msg := ae.ErrorCode(), ae.ErrorMessage()
	switch code {
	case "NoSuchBucket":
		return newError(ErrNotFound, err, fmt.Sprintf("bucket %s not found", loc.BucketARN))
	case "NoSuchKey", "NoSuchVersion", "NotFound":
		return newError(ErrNotFound, err, where+" not found")
	case "AccessDenied":
		// S3 also says AccessDenied for a missing key when the caller may
		// not list the bucket, so say both.
		return newError(ErrAccessDenied, err, fmt.Sprintf(
			"%s: access denied by S3 (AccessDenied); the object may not exist, or Fjord may not read it", where))
	case "AllAccessDisabled", "AccountProblem", "InvalidObjectState":
		return newError(ErrAccessDenied, err, fmt.Sprintf("%s: access denied by S3 (%s)", where, code))
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
		// Fjord's own credentials are wrong: an operator problem, but the
		// caller still needs to know why the plugin failed.
		return newError(ErrAccessDenied, err, fmt.Sprintf("%s: S3 refused Fjord's credentials (%s)", where, code))
	}
	if status >= 500 || code == "SlowDown" || code == "RequestTimeout" || code == "Throttling" {
		return newError(ErrUnavailable, err, fmt.Sprintf("%s: S3 is unavailable (%s)", where, code))
	}
	if status == http.StatusNotFound {
		return newError(ErrNotFound, err, where+" not found")
	}
	if msg != "" {
		return newError(ErrStorage, err, fmt.Sprintf("%s: S3 refused the request (%s: %s)", where, code, msg))
	}
	return newError(ErrStorage, err, fmt.Sprintf("%s: S3 refused the request (%s)", where, code))
}
