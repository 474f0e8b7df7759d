package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
)

func runWorkloads(ctx context.Context, args []string) error {
	const use = "usage: fjord workloads describe|events ARN [flags], or fjord workloads watch [ARN] [flags]"
	if len(args) == 0 {
		return errors.New(use)
	}
	action, args := args[0], args[1:]
	if action == "watch" {
		return runWatch(ctx, args)
	}
	var af adminFlags
	var f *flags
	var limitText, limitFlag string // --events (describe) or --max-results (events)
	var all bool
	var nextToken string
	switch action {
	case "describe":
		f = newFlags("workloads describe ARN", `Describes a connector or replicator through the admin gRPC API: its state, desired shape
(workers × MCU, tasks, autoscaling, and what the autoscaler last saw: the CPU utilization of each
third of its window against the thresholds, its decision or why it made none), where each worker runs with its tasks, epoch, state and
latest CPU and memory utilization, and its most recent events (newest first).`)
		limitFlag = "events"
		f.str(&limitText, limitFlag, "", "20", "how many recent events to show (at most 100)")
	case "events":
		f = newFlags("workloads events ARN", `Lists a connector's or replicator's events through the admin gRPC API, newest first: every
placement, move, resize, task change, scale step, rollback and state change, with its reason.
Events outlive the workload.`)
		limitFlag = "max-results"
		f.str(&limitText, limitFlag, "", "100", "events per page (at most 1000)")
		f.boolean(&all, "all", false, "follow every page to the first event")
		f.str(&nextToken, "next-token", "", "", "continue from a previous page's nextToken")
	default:
		return fmt.Errorf("unknown workloads action %q: use describe, events or watch", action)
	}
	af.register(f)
	arn, err := parseWithPositional(f, args)
	if err != nil {
		return err
	}
	if arn == "" {
		return errors.New(use)
	}
	limit, err := strconv.Atoi(limitText)
	if err != nil {
		return fmt.Errorf("--%s must be a number, got %q", limitFlag, limitText)
	}
	client, closeConn, err := af.dial()
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if action == "describe" {
		resp, err := client.DescribeWorkload(ctx, &adminv1.DescribeWorkloadRequest{WorkloadArn: arn, MaxEvents: int32(limit)})
		if err != nil {
			return err
		}
		if af.output == "json" {
			return writeJSON(os.Stdout, resp)
		}
		return printWorkload(os.Stdout, resp)
	}
	resp := &adminv1.ListWorkloadEventsResponse{}
	token := nextToken
	for {
		page, err := client.ListWorkloadEvents(ctx, &adminv1.ListWorkloadEventsRequest{WorkloadArn: arn, MaxResults: int32(limit), NextToken: token})
		if err != nil {
			return err
		}
		resp.Events = append(resp.Events, page.Events...)
		resp.NextToken, token = page.NextToken, page.NextToken
		if !all || token == "" {
			break
		}
	}
	if af.output == "json" {
		return writeJSON(os.Stdout, resp)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	printEvents(w, resp.Events, arn)
	if resp.NextToken != "" {
		fmt.Fprintf(w, "\nmore: --next-token %s (or --all)\n", resp.NextToken)
	}
	return w.Flush()
}

// printWorkload writes a workload's description for a terminal.
func printWorkload(out io.Writer, d *adminv1.DescribeWorkloadResponse) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Name:\t%s (%s)\n", d.WorkloadName, d.Kind)
	fmt.Fprintf(w, "ARN:\t%s\n", d.WorkloadArn)
	fmt.Fprintf(w, "State:\t%s\n", d.State)
	if sd := d.StateDescription; sd != nil {
		fmt.Fprintf(w, "State description:\t%s: %s\n", sd.Code, sd.Message)
	}
	fmt.Fprintf(w, "Created:\t%s\n", d.CreationTime.AsTime().Format(time.RFC3339))
	if s := d.Desired; s != nil {
		fmt.Fprintf(w, "Desired:\t%d workers × %d MCU, %d tasks\n", s.Workers, s.McuPerWorker, s.Tasks)
		if s.Autoscaled {
			fmt.Fprintf(w, "Autoscaling:\t%d–%d workers", s.MinWorkers, s.MaxWorkers)
			if s.AutoscaleReason != "" {
				fmt.Fprintf(w, "; last decision %s: %s", s.AutoscaleTime.AsTime().Format(time.RFC3339), s.AutoscaleReason)
			}
			fmt.Fprintln(w)
			if o := s.AutoscaleObservation; o != nil {
				fmt.Fprintf(w, "Autoscaler saw:\t%s, window %s: CPU by third %s; scale out above %g%%, in below %g%%\n",
					o.Time.AsTime().Format(time.RFC3339), o.Window.AsDuration(), formatThirds(o), o.ScaleOutCpuPercent, o.ScaleInCpuPercent)
				fmt.Fprintf(w, "Autoscaler verdict:\t%s: %s\n", o.Decision, o.Reason)
			}
		}
	}
	for _, p := range d.Plugins {
		classes := "classes not indexed"
		if p.Indexed {
			classes = fmt.Sprintf("%d classes", p.ClassCount)
			if cs := p.ConnectorClasses; len(cs) > 0 {
				more := ""
				if len(cs) > 5 {
					cs, more = cs[:5], fmt.Sprintf(" and %d more (fjord plugins describe)", len(p.ConnectorClasses)-5)
				}
				classes += "; connectors " + strings.Join(cs, ", ") + more
			}
		}
		fmt.Fprintf(w, "Plugin:\t%s (revision %d): %s\n", p.CustomPluginArn, p.Revision, classes)
	}
	fmt.Fprintln(w, "\nPlacement:")
	if len(d.Workers) == 0 {
		fmt.Fprintln(w, "(no workers)")
	} else {
		printWorkers(w, d.Workers, false)
	}
	fmt.Fprintln(w, "\nRecent events (newest first):")
	printEvents(w, d.RecentEvents, d.WorkloadArn)
	return w.Flush()
}

// formatThirds renders an observation's CPU means by third of the window, oldest first, with
// their sample counts: "85.1% (3 samples), 91.0% (4), 88.3% (3)".
func formatThirds(o *adminv1.AutoscaleObservation) string {
	parts := make([]string, len(o.ThirdCpuPercent))
	for i, cpu := range o.ThirdCpuPercent {
		var n int32
		if i < len(o.ThirdSamples) {
			n = o.ThirdSamples[i]
		}
		mean := fmt.Sprintf("%.1f%%", cpu)
		if n == 0 {
			mean = "–"
		}
		if i == 0 {
			parts[i] = fmt.Sprintf("%s (%d samples)", mean, n)
		} else {
			parts[i] = fmt.Sprintf("%s (%d)", mean, n)
		}
	}
	return strings.Join(parts, ", ")
}

// printEvents writes an events table; worker ids are shown without the workload's ARN.
func printEvents(w io.Writer, events []*adminv1.WorkloadEvent, workloadARN string) {
	if len(events) == 0 {
		fmt.Fprintln(w, "(no events)")
		return
	}
	fmt.Fprintln(w, "TIME\tKIND\tAGENT\tWORKER\tREASON")
	for _, e := range events {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", e.Time.AsTime().Format(time.RFC3339), e.Kind, dash(e.AgentId), dash(shortWorkerID(e.WorkerId, workloadARN)), e.Reason)
	}
}
