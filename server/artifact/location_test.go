package artifact

import (
	"strings"
	"testing"
)

func TestParseBucketARN(t *testing.T) {
	t.Parallel()
	ok := []struct{ arn, bucket string }{
		{"arn:aws:s3:::my-bucket", "my-bucket"},
		{"arn:aws-cn:s3:::my-bucket", "my-bucket"},
		{"arn:aws-us-gov:s3:::my.bucket.example", "my.bucket.example"},
		{"arn:aws-iso-b:s3:::abc", "abc"},
		{"arn:aws:s3:::Legacy_Bucket", "Legacy_Bucket"},
		{"arn:aws:s3:::" + strings.Repeat("a", 63), strings.Repeat("a", 63)},
	}
	for _, tc := range ok {
		got, err := ParseBucketARN(tc.arn)
		if err != nil || got != tc.bucket {
			t.Errorf("ParseBucketARN(%q) = %q, %v; want %q", tc.arn, got, err, tc.bucket)
		}
	}
	bad := []string{
		"",
		"my-bucket",
		"s3://my-bucket",
		"arn:aws:s3:::",
		"arn:aws:s3::my-bucket",
		"arn:aws:s3:::my-bucket/path/plugin.zip",
		"arn:aws:s3:us-east-1:123456789012:accesspoint/ap",
		"arn:aws:s3:us-east-1::my-bucket",
		"arn:aws:s3::123456789012:my-bucket",
		"arn:aws:kafka:::my-bucket",
		"arn:gcp:s3:::my-bucket",
		"arn:aws-:s3:::my-bucket",
		"arn:AWS:s3:::my-bucket",
		"ARN:aws:s3:::my-bucket",
		"arn:aws:s3:::..",
		"arn:aws:s3:::...",
		"arn:aws:s3:::ab",
		"arn:aws:s3:::my..bucket",
		"arn:aws:s3:::-bucket",
		"arn:aws:s3:::bucket-",
		"arn:aws:s3:::my bucket",
		"arn:aws:s3:::my\\bucket",
		"arn:aws:s3:::" + strings.Repeat("a", 256),
	}
	for _, arn := range bad {
		got, err := ParseBucketARN(arn)
		if err == nil {
			t.Errorf("ParseBucketARN(%q) = %q, want an error", arn, got)
			continue
		}
		if !strings.Contains(err.Error(), "is not an S3 bucket ARN") {
			t.Errorf("ParseBucketARN(%q): message %q does not say what is wrong", arn, err)
		}
	}
}

func FuzzParseBucketARN(f *testing.F) {
	for _, s := range []string{"arn:aws:s3:::my-bucket", "arn:aws-cn:s3:::a.b.c", "arn:aws:s3:::../x", "arn:aws:s3:::a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arn string) {
		bucket, err := ParseBucketARN(arn)
		if err != nil {
			return
		}
		// A bucket name must be safe as a single folder name.
		if bucket == "" || bucket == "." || bucket == ".." || strings.ContainsAny(bucket, "/\\\x00") {
			t.Fatalf("ParseBucketARN(%q) accepted unsafe bucket %q", arn, bucket)
		}
		if again, err := ParseBucketARN("arn:aws:s3:::" + bucket); err != nil || again != bucket {
			t.Fatalf("bucket %q from %q does not round-trip: %q, %v", bucket, arn, again, err)
		}
	})
}
