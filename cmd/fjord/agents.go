package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
	"github.com/fjord-io/fjord/server/sigv4"
)

// adminFlags are the connection, credential and output flags of the admin CLI commands
// (`fjord agents`, `fjord workloads`), the same as `fjord clusters` takes.
type adminFlags struct {
	server, accessKey, secretKey, region, output string
	tls                                          clientTLS
}

func (a *adminFlags) register(f *flags) {
	f.str(&a.server, "server", "", "127.0.0.1:9090", "gRPC address of a Fjord server")
	f.str(&a.accessKey, "access-key-id", "AWS_ACCESS_KEY_ID", "test", "access key to sign with")
	f.str(&a.secretKey, "secret-access-key", "AWS_SECRET_ACCESS_KEY", "test", "secret key to sign with")
	f.str(&a.region, "region", "AWS_REGION", "us-east-1", "region of the workloads")
	f.str(&a.output, "output", "", "table", "output format: table or json")
	a.tls.register(f)
}

// dial opens a SigV4-signing connection to the admin API; close it when done.
func (a *adminFlags) dial() (adminv1.AdminClient, func(), error) {
	if a.output != "table" && a.output != "json" {
		return nil, nil, fmt.Errorf("--output must be table or json, not %q", a.output)
	}
	newLogger("warn")
	transport, err := a.tls.dialOption()
	if err != nil {
		return nil, nil, err
	}
	conn, err := grpc.NewClient(a.server, transport,
		grpc.WithUnaryInterceptor(sigv4.UnaryClientInterceptor(sigv4.Credential{AccessKeyID: a.accessKey, SecretAccessKey: a.secretKey}, a.region, "kafka")))
	if err != nil {
		return nil, nil, err
	}
	return adminv1.NewAdminClient(conn), func() { conn.Close() }, nil
}

// parseWithPositional parses args allowing one positional argument before or among the
// flags (`fjord workloads describe ARN --output json`); it returns the positional or "".
func parseWithPositional(f *flags, args []string) (string, error) {
	if err := f.Parse(args); err != nil {
		return "", err
	}
	if f.NArg() == 0 {
		return "", nil
	}
	pos, rest := f.Arg(0), f.Args()[1:]
	if err := f.Parse(rest); err != nil {
		return "", err
	}
	if f.NArg() > 0 {
		return "", fmt.Errorf("unexpected arguments %q", f.Args())
	}
	return pos, nil
}

// writeJSON prints a response as indented protojson (lowerCamelCase names, zero values
// included, int64 as strings as protojson does).
func writeJSON(w io.Writer, m proto.Message) error {
	raw, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err = w.Write(b.Bytes())
	return err
}

func runAgents(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "revoke" {
		return runAgentsRevoke(ctx, args[1:])
	}
	if len(args) == 0 || args[0] != "list" {
		return errors.New("usage: fjord agents list|revoke [ID] [--output table|json] [flags]")
	}
	f := newFlags("agents list", `Lists the agent fleet through the admin gRPC API: each agent's address, version, MCU capacity
and use, lease state, last heartbeat, and the workers of the signing credential's account on it
with their tasks, state and latest CPU and memory utilization. Agents are shared by every
account; other accounts' workers are only counted.`)
	var af adminFlags
	af.register(f)
	if err := f.Parse(args[1:]); err != nil {
		return err
	}
	client, closeConn, err := af.dial()
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := client.ListAgents(ctx, &adminv1.ListAgentsRequest{})
	if err != nil {
		return err
	}
	if af.output == "json" {
		return writeJSON(os.Stdout, resp)
	}
	return printAgents(os.Stdout, resp, time.Now())
}

// printAgents writes the agents table, then the table of their workers.
func printAgents(out io.Writer, resp *adminv1.ListAgentsResponse, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "AGENT\tADDRESS\tVERSION\tSTATE\tCONNECTED\tMCU USED/CAP\tWORKERS\tLAST HEARTBEAT\tLABELS\tCERT SERIAL\tENROLLED\tREVOKED")
	var workers []*adminv1.Worker
	for _, a := range resp.Agents {
		n := fmt.Sprint(len(a.Workers))
		if a.OtherWorkers > 0 {
			n += fmt.Sprintf(" (+%d other)", a.OtherWorkers)
		}
		serial, enrolled, revoked := "-", "-", "-"
		if e := a.Enrollment; e != nil {
			serial, enrolled = shortSerial(e.Serial), e.EnrolledTime.AsTime().UTC().Format(time.RFC3339)
			if e.RevokedTime != nil {
				revoked = e.RevokedTime.AsTime().UTC().Format(time.RFC3339)
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\n", a.AgentId, dash(a.Address), dash(a.Version), a.State,
			yesNo(a.Connected), a.McuUsed, a.McuCapacity, n, sinceText(now, a.LastHeartbeatTime.AsTime()), labelList(a.Labels),
			serial, enrolled, revoked)
		workers = append(workers, a.Workers...)
	}
	if len(resp.Agents) == 0 {
		fmt.Fprintln(w, "(no agents)")
	}
	if len(workers) > 0 {
		fmt.Fprintln(w)
		printWorkers(w, workers, true)
	}
	return w.Flush()
}

// printWorkers writes a workers table (with the workload columns when withWorkload).
func printWorkers(w io.Writer, workers []*adminv1.Worker, withWorkload bool) {
	head := "WORKER\tAGENT\tMCU\tEPOCH\tTASKS\tSTATE\tCPU%\tMEM%\tERROR"
	if withWorkload {
		head = "WORKER\tWORKLOAD\tKIND\tAGENT\tMCU\tEPOCH\tTASKS\tSTATE\tCPU%\tMEM%\tERROR"
	}
	fmt.Fprintln(w, head)
	for _, x := range workers {
		cpu, mem := "-", "-"
		if m := x.Metrics; m != nil {
			cpu, mem = fmt.Sprintf("%.1f", m.CpuUtilizationPercent), fmt.Sprintf("%.1f", m.MemoryUtilizationPercent)
		}
		cols := []string{shortWorkerID(x.WorkerId, x.WorkloadArn)}
		if withWorkload {
			cols = append(cols, x.WorkloadName, x.WorkloadKind)
		}
		cols = append(cols, dash(x.AgentId), fmt.Sprint(x.Mcu), fmt.Sprint(x.Epoch), taskList(x), x.State, cpu, mem, dash(x.Error))
		fmt.Fprintln(w, strings.Join(cols, "\t"))
	}
}

// shortWorkerID is a worker id without its workload's ARN ("worker-0"), for tables that show
// the workload elsewhere; JSON output keeps the full id.
func shortWorkerID(id, workloadARN string) string {
	if short, ok := strings.CutPrefix(id, workloadARN+"/"); ok && workloadARN != "" {
		return short
	}
	return id
}

// taskList shows a worker's task ids and the count they are numbered in: "0,2 of 4".
func taskList(x *adminv1.Worker) string {
	if len(x.TaskIds) == 0 {
		return "-"
	}
	ids := make([]string, len(x.TaskIds))
	for i, t := range x.TaskIds {
		ids[i] = fmt.Sprint(t)
	}
	s := strings.Join(ids, ",")
	if x.TaskCount > 0 {
		s += fmt.Sprintf(" of %d", x.TaskCount)
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// sinceText shows how long ago t was, to the second.
func sinceText(now, t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "-"
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}

func labelList(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ",")
}

// shortSerial shows the first 16 hex digits of a certificate serial (JSON output has it whole).
func shortSerial(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

func runAgentsRevoke(ctx context.Context, args []string) error {
	f := newFlags("agents revoke", `Revokes the client certificate of an enrolled agent: its stream is closed on whichever
server holds it and refused from then on. The id can enroll again (with the join token) under a new
certificate: remove the agent's --state-dir first.`)
	var af adminFlags
	af.register(f)
	id, err := parseWithPositional(f, args)
	if err != nil {
		return err
	}
	if id == "" {
		return errors.New("usage: fjord agents revoke ID [flags]")
	}
	client, closeConn, err := af.dial()
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := client.RevokeAgent(ctx, &adminv1.RevokeAgentRequest{AgentId: id})
	if err != nil {
		return err
	}
	if af.output == "json" {
		return writeJSON(os.Stdout, resp)
	}
	e := resp.Enrollment
	fmt.Printf("agent %s: certificate %s revoked at %s\n", id, e.Serial, e.RevokedTime.AsTime().UTC().Format(time.RFC3339))
	return nil
}
