package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
)

// watchInterval is how often `fjord workloads watch` asks for new events.
const watchInterval = time.Second

// runWatch follows workload events live: it asks the admin API for the events after the last
// one it saw every second and prints them, until interrupted.
func runWatch(ctx context.Context, args []string) error {
	f := newFlags("workloads watch [ARN]", `Follows workload events live through the admin gRPC API, until interrupted (Ctrl-C): every
state change (kind "state": created, RUNNING, UPDATING, FAILED, DELETING, DELETED), placement,
move, scale step and operation step, as it is recorded, of one connector or replicator or (no
ARN) of every workload of the account and region. It asks for new events once a second;
--output json prints one JSON object per event and line.`)
	var af adminFlags
	af.register(f)
	arn, err := parseWithPositional(f, args)
	if err != nil {
		return err
	}
	client, closeConn, err := af.dial()
	if err != nil {
		return err
	}
	defer closeConn()
	follow := func(after int64, now bool) (*adminv1.FollowWorkloadEventsResponse, error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return client.FollowWorkloadEvents(cctx, &adminv1.FollowWorkloadEventsRequest{WorkloadArn: arn, AfterEventId: after, MaxResults: 1000, StartNow: now})
	}
	start, err := follow(0, true)
	if err != nil {
		return err
	}
	after := start.LastEventId
	fmt.Fprintf(os.Stderr, "watching events after event %d (every %s; Ctrl-C to stop)\n", after, watchInterval)
	if af.output == "table" {
		fmt.Fprintln(os.Stdout, "TIME                  WORKLOAD              KIND          REASON")
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(watchInterval):
		}
		resp, err := follow(after, false)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if s, ok := status.FromError(err); ok && (s.Code() == codes.InvalidArgument || s.Code() == codes.PermissionDenied || s.Code() == codes.Unauthenticated) {
				return err
			}
			fmt.Fprintf(os.Stderr, "watch: %v (retrying)\n", err)
			continue
		}
		for _, e := range resp.Events {
			if err := printWatched(os.Stdout, af.output, e); err != nil {
				return err
			}
		}
		after = resp.LastEventId
	}
}

// printWatched writes one event: a table line, or one line of JSON.
func printWatched(w io.Writer, output string, e *adminv1.WorkloadEvent) error {
	if output == "json" {
		raw, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", raw)
		return err
	}
	name := e.WorkloadName
	if name == "" {
		name = workloadNameOf(e.WorkloadArn)
	}
	reason := e.Reason
	if e.WorkerId != "" {
		reason += " (worker " + shortWorkerID(e.WorkerId, e.WorkloadArn) + ")"
	}
	_, err := fmt.Fprintf(w, "%-21s %-21s %-13s %s\n", e.Time.AsTime().Format(time.RFC3339), name, e.Kind, reason)
	return err
}

// workloadNameOf is the name in a workload ARN (…:connector/NAME/ID or …:replicator/NAME/ID).
func workloadNameOf(arn string) string {
	if _, rest, ok := strings.Cut(arn, "/"); ok {
		name, _, _ := strings.Cut(rest, "/")
		return name
	}
	return arn
}
