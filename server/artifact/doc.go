// Package artifact fetches a custom plugin's object from its S3 location and
// inspects it, so that the custom plugin lifecycle can move a plugin from
// CREATING to ACTIVE (with fileDescription.fileSize and fileMd5) or to
// CREATE_FAILED (with the reason as stateDescription).
//
// The package owns three things:
//
//   - [Location] and [ParseBucketARN]: the wire form of MSK Connect's
//     s3Location (bucketArn, fileKey, objectVersion) and its validation.
//   - [Fetcher] implementations that open an object: [S3Fetcher] talks to AWS S3
//     or any S3-compatible endpoint through aws-sdk-go-v2; [DirFetcher] serves
//     buckets from a local folder, which is what `fjord dev` uses.
//   - [Inspect], which reads the whole object once, records its size and MD5
//     and checks that it is a readable ZIP archive (a JAR is a ZIP archive too);
//     [InspectIndex] does the same and, in that pass, indexes the Java classes
//     of the object and of the JARs nested in it ([Index], bounded by
//     MaxNestingDepth, MaxIndexEntries and MaxNestedBytes).
//
// Every error that Fetchers and Inspect return for a problem with the object or
// the storage is an [*Error]: its message is meant to be shown to the API
// caller as-is (it never contains credentials, signed URLs or internal
// endpoints), its kind is one of the Err* sentinels for errors.Is, and the
// underlying cause is kept for logs. Cancellation is reported as the context's
// error, not as an *Error.
//
// The package speaks neither SQL nor gRPC: the custom plugin service calls
// Inspect and records the outcome through the store.
package artifact
