package artifact

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/fjord-io/fjord/server/motoserver"
)

func startMoto(t *testing.T) string { return motoserver.Start(t) }

// testClient is an S3 client of the test itself, independent of S3Fetcher,
// to create buckets and upload objects.
func testClient(t *testing.T, endpoint string) *s3.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(t.Context(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
}

func createBucket(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// put uploads data and returns the object's ETag and version id.
func put(t *testing.T, c *s3.Client, bucket, key string, data []byte) (etag, version string) {
	t.Helper()
	out, err := c.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
	})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`), aws.ToString(out.VersionId)
}

func TestS3Fetcher(t *testing.T) {
	t.Parallel()
	endpoint := startMoto(t)
	client := testClient(t, endpoint)
	fetcher, err := NewS3Fetcher(t.Context(), S3Config{
		Endpoint: endpoint, Region: "us-east-1", UsePathStyle: true,
		AccessKeyID: "test", SecretAccessKey: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if fetcher.MaxSize() != DefaultMaxSize {
		t.Fatalf("MaxSize() = %d, want the default %d", fetcher.MaxSize(), DefaultMaxSize)
	}

	const bucket = "plugins"
	const arn = "arn:aws:s3:::" + bucket
	createBucket(t, client, bucket)
	zipData := pluginZip(t)
	jarData := jarOf(t, true)
	zipETag, _ := put(t, client, bucket, "path/plugin.zip", zipData)
	put(t, client, bucket, "path/connector.jar", jarData)
	put(t, client, bucket, "bare.jar", jarOf(t, false))
	put(t, client, bucket, "garbage.zip", []byte("<html>not a zip</html>"))
	put(t, client, bucket, "empty.zip", zipOf(t))

	t.Run("zip", func(t *testing.T) {
		t.Parallel()
		got, err := Inspect(t.Context(), fetcher, Location{BucketARN: arn, Key: "path/plugin.zip"}, "ZIP")
		if err != nil {
			t.Fatal(err)
		}
		if want := infoOf(zipData); got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		// For a single-part upload S3's ETag is the MD5 too: a second,
		// independent oracle.
		if got.MD5 != zipETag {
			t.Fatalf("MD5 %s differs from the ETag %s", got.MD5, zipETag)
		}
	})
	t.Run("jar", func(t *testing.T) {
		t.Parallel()
		got, err := Inspect(t.Context(), fetcher, Location{BucketARN: arn, Key: "path/connector.jar"}, "JAR")
		if err != nil {
			t.Fatal(err)
		}
		if want := infoOf(jarData); got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
	t.Run("jar without manifest", func(t *testing.T) {
		t.Parallel()
		if _, err := Inspect(t.Context(), fetcher, Location{BucketARN: arn, Key: "bare.jar"}, "JAR"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		t.Parallel()
		_, err := Inspect(t.Context(), fetcher, Location{BucketARN: arn, Key: "garbage.zip"}, "ZIP")
		wantError(t, err, ErrInvalidArchive,
			"object garbage.zip is not a readable ZIP archive: zip: not a valid zip file")
	})
	t.Run("empty zip", func(t *testing.T) {
		t.Parallel()
		_, err := Inspect(t.Context(), fetcher, Location{BucketARN: arn, Key: "empty.zip"}, "ZIP")
		wantError(t, err, ErrInvalidArchive, "object empty.zip is an empty ZIP archive: it has no entries")
	})
	t.Run("missing key", func(t *testing.T) {
		t.Parallel()
		_, err := Inspect(t.Context(), fetcher, Location{BucketARN: arn, Key: "path/nope.zip"}, "ZIP")
		wantError(t, err, ErrNotFound, "bucket arn:aws:s3:::plugins: object path/nope.zip not found")
	})
	t.Run("missing bucket", func(t *testing.T) {
		t.Parallel()
		_, err := Inspect(t.Context(), fetcher, Location{BucketARN: "arn:aws:s3:::no-such-bucket", Key: "path/plugin.zip"}, "ZIP")
		wantError(t, err, ErrNotFound, "bucket arn:aws:s3:::no-such-bucket not found")
	})
	t.Run("bad arn", func(t *testing.T) {
		t.Parallel()
		_, err := Inspect(t.Context(), fetcher, Location{BucketARN: "arn:aws:s3:::plugins/path", Key: "plugin.zip"}, "ZIP")
		wantError(t, err, ErrInvalidLocation, "")
		// Open validates too, for callers that use a Fetcher directly.
		_, err = fetcher.Open(t.Context(), Location{BucketARN: "plugins", Key: "plugin.zip"})
		wantError(t, err, ErrInvalidLocation, "")
	})
	t.Run("too large", func(t *testing.T) {
		t.Parallel()
		small, err := NewS3Fetcher(t.Context(), S3Config{
			Endpoint: endpoint, Region: "us-east-1", UsePathStyle: true,
			AccessKeyID: "test", SecretAccessKey: "test", MaxSize: 100,
		})
		if err != nil {
			t.Fatal(err)
		}
		loc := Location{BucketARN: arn, Key: "path/plugin.zip"}
		// Refused from Content-Length, before the body is read.
		_, err = small.Open(t.Context(), loc)
		wantError(t, err, ErrTooLarge, "bucket arn:aws:s3:::plugins: object path/plugin.zip is larger than the limit of 100 bytes")
		_, err = Inspect(t.Context(), small, loc, "ZIP")
		wantError(t, err, ErrTooLarge, "")
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := Inspect(ctx, fetcher, Location{BucketARN: arn, Key: "path/plugin.zip"}, "ZIP")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
	t.Run("versions", func(t *testing.T) {
		t.Parallel()
		const vbucket = "versioned-plugins"
		const varn = "arn:aws:s3:::" + vbucket
		createBucket(t, client, vbucket)
		_, err := client.PutBucketVersioning(t.Context(), &s3.PutBucketVersioningInput{
			Bucket:                  aws.String(vbucket),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
		})
		if err != nil {
			t.Fatal(err)
		}
		v1Data := zipOf(t, entry{"v1.txt", "first"})
		v2Data := zipOf(t, entry{"v2.txt", "second, longer"})
		_, v1 := put(t, client, vbucket, "plugin.zip", v1Data)
		_, v2 := put(t, client, vbucket, "plugin.zip", v2Data)
		if v1 == "" || v2 == "" || v1 == v2 {
			t.Fatalf("versioning did not give distinct version ids: %q, %q", v1, v2)
		}
		for _, tc := range []struct {
			version string
			data    []byte
		}{{"", v2Data}, {v1, v1Data}, {v2, v2Data}} {
			got, err := Inspect(t.Context(), fetcher, Location{BucketARN: varn, Key: "plugin.zip", Version: tc.version}, "ZIP")
			if err != nil {
				t.Fatalf("version %q: %v", tc.version, err)
			}
			if want := infoOf(tc.data); got != want {
				t.Fatalf("version %q: got %+v, want %+v", tc.version, got, want)
			}
		}
		// A version id of another object does not exist for this key.
		_, v3 := put(t, client, vbucket, "other.zip", v1Data)
		_, err = Inspect(t.Context(), fetcher, Location{BucketARN: varn, Key: "plugin.zip", Version: v3}, "ZIP")
		wantError(t, err, ErrNotFound, "bucket arn:aws:s3:::versioned-plugins: object plugin.zip version "+v3+" not found")
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + l.Addr().String()
		l.Close()
		down, err := NewS3Fetcher(t.Context(), S3Config{
			Endpoint: closed, Region: "us-east-1", UsePathStyle: true, AccessKeyID: "test", SecretAccessKey: "test",
			MaxAttempts: 1, // no retry backoff to wait for
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Inspect(t.Context(), down, Location{BucketARN: arn, Key: "path/plugin.zip"}, "ZIP")
		wantError(t, err, ErrUnavailable, "bucket arn:aws:s3:::plugins: object path/plugin.zip: S3 storage could not be reached")
		if strings.Contains(err.Error(), "127.0.0.1") {
			t.Fatalf("message leaks the endpoint: %q", err)
		}
	})
}

func TestNewS3FetcherValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []S3Config{
		{AccessKeyID: "only-the-id"},
		{SecretAccessKey: "only-the-secret"},
		{MaxSize: -1},
		{MaxAttempts: -1},
		{Endpoint: "localhost:9000"},
		{Endpoint: "ftp://example.com"},
		{Endpoint: "http://"},
	} {
		if _, err := NewS3Fetcher(t.Context(), cfg); err == nil {
			t.Errorf("NewS3Fetcher(%+v) succeeded, want an error", cfg)
		}
	}
	f, err := NewS3Fetcher(t.Context(), S3Config{Endpoint: "https://s3.example.com", MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if f.MaxSize() != 1<<20 {
		t.Fatalf("MaxSize() = %d, want %d", f.MaxSize(), 1<<20)
	}
}
