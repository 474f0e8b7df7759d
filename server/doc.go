// Package server is Fjord's API: the gRPC services that mirror AWS MSK Connect (kafkaconnect)
// and the MSK Replicator part of MSK (kafka), Fjord's admin service, the agent gateway, and
// their REST face — grpc-gateway over an in-process connection (localConn) that calls the
// same method handlers through the same interceptor chain (recovery, metrics and logging,
// authentication) as the gRPC listener.
//
// Request flow over REST: the HTTP middleware reads the body, verifies its AWS Signature V4
// (server/sigv4) and hands the verified caller to the gateway, which forwards it as metadata
// honoured only on the in-process connection; the gateway decodes AWS JSON (server/awsjson)
// into the request message; the gRPC handler validates it against the AWS model
// (server/validate) and the rules AWS documents beyond the model, calls the store, and returns
// an *apierr.Error for anything the client got wrong, which the gateway's error handler writes
// in AWS's error form (X-Amzn-ErrorType header, {"message": …} body).
//
// What a stored connector or replicator becomes for the scheduler and the workers (shapes,
// task specifications, operation steps) is the workload compiler's (server/workload). The
// caller (cmd/fjord) builds it and the scheduler's leader and passes both in Config: the server
// runs the leader and hands the compiler's task specs to the agent gateway.
package server
