package artifact

import (
	"fmt"
	"strings"
)

// maxKeyLen is S3's limit on an object key, in bytes.
const maxKeyLen = 1024

// Location is where a plugin's object lives: MSK Connect's s3Location.
type Location struct {
	// BucketARN is the bucket's ARN, e.g. "arn:aws:s3:::my-bucket".
	BucketARN string
	// Key is the object key inside the bucket (fileKey), e.g. "path/plugin.zip".
	Key string
	// Version is the object version (objectVersion); "" means the current one.
	Version string
}

// String returns the location as the caller wrote it, for messages and logs.
func (l Location) String() string {
	s := l.BucketARN + "/" + l.Key
	if l.Version != "" {
		s += "?versionId=" + l.Version
	}
	return s
}

// object names the object in messages: `object path/plugin.zip` or
// `object path/plugin.zip version 3sL4kqtJ`.
func (l Location) object() string {
	if l.Version == "" {
		return "object " + l.Key
	}
	return "object " + l.Key + " version " + l.Version
}

// bucket validates the location and returns the bucket name. Errors are
// *Error of kind ErrInvalidLocation.
func (l Location) bucket() (string, error) {
	bucket, err := ParseBucketARN(l.BucketARN)
	if err != nil {
		return "", newError(ErrInvalidLocation, nil, err.Error())
	}
	switch {
	case l.Key == "":
		return "", newError(ErrInvalidLocation, nil, "fileKey is empty")
	case len(l.Key) > maxKeyLen:
		return "", newError(ErrInvalidLocation, nil,
			fmt.Sprintf("fileKey is %d bytes long; S3 allows at most %d", len(l.Key), maxKeyLen))
	}
	return bucket, nil
}

// ParseBucketARN returns the bucket name of an S3 bucket ARN such as
// "arn:aws:s3:::my-bucket". Any AWS partition is accepted ("aws", "aws-cn",
// "aws-us-gov", "aws-iso-b", …); region and account must be empty, as they
// are in bucket ARNs. Object ARNs ("arn:aws:s3:::bucket/key") and access point
// ARNs are refused.
//
// Bucket names follow S3's rules, including the legacy ones still valid for
// old us-east-1 buckets (upper case letters and underscores, up to 255
// characters), so that no real bucket is refused; a name can never be "." or
// ".." or hold a "/", which makes it safe as a folder name for [DirFetcher].
func ParseBucketARN(arn string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("bucketArn %q is not an S3 bucket ARN (want arn:aws:s3:::bucket-name): %s", arn, why)
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return bad(`it does not have the form "arn:partition:s3:::bucket"`)
	}
	partition, service, region, account, bucket := parts[1], parts[2], parts[3], parts[4], parts[5]
	if !validPartition(partition) {
		return bad(fmt.Sprintf("unknown partition %q", partition))
	}
	if service != "s3" {
		return bad(fmt.Sprintf("service is %q, not s3", service))
	}
	if region != "" || account != "" {
		return bad("a bucket ARN has no region and no account")
	}
	if strings.Contains(bucket, "/") {
		return bad("it names an object or an access point, not a bucket")
	}
	if why := invalidBucketName(bucket); why != "" {
		return bad(why)
	}
	return bucket, nil
}

// validPartition accepts "aws" and "aws-<word>[-<word>…]" in lower case.
func validPartition(p string) bool {
	if p == "aws" {
		return true
	}
	rest, ok := strings.CutPrefix(p, "aws-")
	if !ok {
		return false
	}
	for word := range strings.SplitSeq(rest, "-") {
		if word == "" {
			return false
		}
		for _, c := range word {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// invalidBucketName returns why name is not a bucket name, or "".
func invalidBucketName(name string) string {
	if len(name) < 3 || len(name) > 255 {
		return fmt.Sprintf("bucket name %q must be 3 to 63 characters long", name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
		if !ok {
			return fmt.Sprintf("bucket name %q may only hold letters, digits, '.', '-' and '_'", name)
		}
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return fmt.Sprintf("bucket name %q must start and end with a letter or a digit", name)
	}
	if strings.Contains(name, "..") {
		return fmt.Sprintf("bucket name %q must not contain two adjacent periods", name)
	}
	return ""
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
