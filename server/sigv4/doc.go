// Package sigv4 owns the server side of AWS Signature Version 4: it decides
// whether a request was signed by an access key Fjord knows, and for whom.
//
// REST requests (the kafkaconnect and kafka APIs) are verified by
// [Verifier.VerifyHTTP]. The request is rebuilt from what went over the wire —
// the raw escaped path, the raw query and only the headers the client listed
// in SignedHeaders — and signed again with aws-sdk-go-v2's own signer, so the
// canonical request is computed exactly as the SDKs compute it. In particular
// the canonical URI is the wire path escaped once more: an ARN's "/" travels
// as "%2F" and is signed as "%252F" by the aws CLI v1, aws-sdk-go-v2 and the
// JavaScript SDK v3 alike.
//
// gRPC has no AWS client, so Fjord defines an equivalent: the caller signs a
// synthetic request
//
//	POST https://<:authority><full method>
//
// whose body is the deterministic protobuf encoding of the request message,
// with only host and x-amz-date signed, and sends the resulting authorization
// and x-amz-date as gRPC metadata. [UnaryClientInterceptor] signs that way and
// [Verifier.UnaryServerInterceptor] (or [Verifier.VerifyGRPC]) checks it.
//
// Refusals are [*Error] values carrying the AWS error name for the
// X-Amzn-ErrorType header; any other error (a failing [CredentialStore]) is an
// internal failure. Session tokens are not validated: a signed
// X-Amz-Security-Token is treated as an ordinary signed header.
package sigv4
