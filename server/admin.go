package server

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fjord-io/fjord/proto/awsmodel"
	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/server/agentgw"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
)

// adminService is Fjord's own admin API: the cluster registry's write side and the fleet view
// (agents, where workloads run, and their events).
type adminService struct {
	adminv1.UnimplementedAdminServer
	s *Server
}

// clusterNameRE is MSK's cluster-name rule.
var clusterNameRE = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z-]{0,63}$`)

// DefaultKafkaVersion is what a registered cluster reports when none is given.
const DefaultKafkaVersion = "3.7.x"

func toAdminCluster(c *store.Cluster) *adminv1.Cluster {
	return &adminv1.Cluster{ClusterArn: c.ARN, ClusterName: c.Name, BootstrapServers: c.BootstrapServers,
		KafkaVersion: c.KafkaVersion, CreationTime: timestamppb.New(c.CreatedAt)}
}

func (a *adminService) RegisterCluster(ctx context.Context, req *adminv1.RegisterClusterRequest) (*adminv1.RegisterClusterResponse, error) {
	s := a.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !clusterNameRE.MatchString(req.ClusterName) {
		return nil, apierr.BadRequest("clusterName", "clusterName must be 1 to 64 letters, digits or '-', starting with a letter or digit")
	}
	if err := checkBootstrapServers(req.BootstrapServers, "bootstrapServers"); err != nil {
		return nil, err
	}
	c, err := RegisterCluster(ctx, s.st, caller.AccountID, caller.Region, req.ClusterName, req.BootstrapServers, req.KafkaVersion)
	if err != nil {
		return nil, s.storeErr(ctx, err, "cluster "+req.ClusterName)
	}
	s.log.Info("cluster registered", "cluster_arn", c.ARN, "bootstrap_servers", c.BootstrapServers)
	return &adminv1.RegisterClusterResponse{Cluster: toAdminCluster(c)}, nil
}

func (a *adminService) ListClusters(ctx context.Context, _ *adminv1.ListClustersRequest) (*adminv1.ListClustersResponse, error) {
	s := a.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.st.Clusters(ctx, caller.AccountID, caller.Region, "", "", 10000)
	if err != nil {
		return nil, s.storeErr(ctx, err, "clusters")
	}
	out := &adminv1.ListClustersResponse{}
	for _, c := range rows {
		out.Clusters = append(out.Clusters, toAdminCluster(c))
	}
	return out, nil
}

func (a *adminService) DeregisterCluster(ctx context.Context, req *adminv1.DeregisterClusterRequest) (*adminv1.DeregisterClusterResponse, error) {
	s := a.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := resourceARN(caller, req.ClusterArn, "clusterArn", kafkaSvc, rtCluster); err != nil {
		return nil, err
	}
	if err := s.st.ClusterRemove(ctx, caller.AccountID, caller.Region, req.ClusterArn); err != nil {
		return nil, s.storeErr(ctx, err, "cluster "+req.ClusterArn)
	}
	return &adminv1.DeregisterClusterResponse{}, nil
}

// RegisterCluster adds a cluster to the registry of an account and region (or updates the
// bootstrap servers of the cluster of that name), minting its ARN. `fjord dev` calls it
// directly; the admin API calls it for the signing account.
func RegisterCluster(ctx context.Context, st *store.Store, account, region, name, bootstrap, version string) (*store.Cluster, error) {
	if version == "" {
		version = DefaultKafkaVersion
	}
	return st.ClusterRegister(ctx, &store.Cluster{
		ARN:       newARN(kafkaSvc, region, account, rtCluster, name),
		AccountID: account, Region: region, Name: name,
		BootstrapServers: bootstrap, KafkaVersion: version,
	})
}

// Fleet view limits.
const (
	// defaultRecentEvents and maxRecentEvents bound DescribeWorkload's recent_events.
	defaultRecentEvents, maxRecentEvents = 20, 100
	// defaultEventPage and maxEventPage bound a ListWorkloadEvents page.
	defaultEventPage, maxEventPage = 100, 1000
)

// ListAgents lists the whole fleet: agents are shared by every account, so every caller sees
// every agent, its capacity and its use; the workers on it are shown only when they belong to
// the caller's account and region (the others are counted in other_workers).
func (a *adminService) ListAgents(ctx context.Context, _ *adminv1.ListAgentsRequest) (*adminv1.ListAgentsResponse, error) {
	s := a.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	agents, err := s.st.Agents(ctx)
	if err != nil {
		return nil, s.storeErr(ctx, err, "agents")
	}
	workers, err := s.st.Workers(ctx)
	if err != nil {
		return nil, s.storeErr(ctx, err, "workers")
	}
	metrics, err := s.st.WorkerMetricsOf(ctx, nil)
	if err != nil {
		return nil, s.storeErr(ctx, err, "worker metrics")
	}
	enrollments, err := s.st.AgentEnrollments(ctx)
	if err != nil {
		return nil, s.storeErr(ctx, err, "agent enrollments")
	}
	byAgent := map[string][]store.Worker{}
	for _, w := range workers {
		if w.AgentID != "" {
			byAgent[w.AgentID] = append(byAgent[w.AgentID], w)
		}
	}
	out := &adminv1.ListAgentsResponse{Agents: make([]*adminv1.Agent, 0, len(agents))}
	for _, ag := range agents {
		pa := &adminv1.Agent{
			AgentId: ag.ID, Address: ag.Address, Version: ag.Version, Labels: ag.Labels, McuCapacity: int32(ag.MCUCapacity),
			State: ag.State, Connected: ag.DisconnectedAt.IsZero() && ag.State != store.AgentDead, ServerId: ag.ServerID,
			ConnectedTime: ts(ag.ConnectedAt), LastHeartbeatTime: ts(ag.LastHeartbeat),
			Generation: ag.Generation, AppliedGeneration: ag.AppliedGeneration,
		}
		if !ag.DisconnectedAt.IsZero() {
			pa.DisconnectedTime = ts(ag.DisconnectedAt)
		}
		if e, ok := enrollments[ag.ID]; ok {
			pa.Enrollment = toEnrollment(e)
		}
		for _, w := range byAgent[ag.ID] {
			if !w.Stopping {
				pa.McuUsed += int32(w.MCU)
			}
			if !ownWorkload(caller, w.WorkloadARN) {
				pa.OtherWorkers++
				continue
			}
			pa.Workers = append(pa.Workers, toAdminWorker(w, metrics))
		}
		out.Agents = append(out.Agents, pa)
	}
	return out, nil
}

func toEnrollment(e store.Enrollment) *adminv1.Enrollment {
	out := &adminv1.Enrollment{Serial: e.Serial, Fingerprint: e.Fingerprint, EnrolledTime: ts(e.EnrolledAt), NotAfter: ts(e.NotAfter)}
	if e.Revoked() {
		out.RevokedTime = ts(e.RevokedAt)
	}
	return out
}

// RevokeAgent revokes an agent's certificate (store.AgentRevoke): the replica holding its
// stream closes it, and the certificate is refused from then on.
func (a *adminService) RevokeAgent(ctx context.Context, req *adminv1.RevokeAgentRequest) (*adminv1.RevokeAgentResponse, error) {
	s := a.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if req.AgentId == "" {
		return nil, apierr.BadRequest("agentId", "agentId is required")
	}
	e, err := s.st.AgentRevoke(ctx, req.AgentId)
	if err != nil {
		return nil, s.storeErr(ctx, err, "agent enrollment "+req.AgentId)
	}
	s.log.Warn("agent certificate revoked", "agent_id", req.AgentId, "serial", e.Serial, "by_account", caller.AccountID)
	return &adminv1.RevokeAgentResponse{Enrollment: toEnrollment(e)}, nil
}

// ownWorkload reports whether a workload ARN belongs to the caller's account and region.
func ownWorkload(c Caller, arn string) bool {
	a, ok := workload.ParseARN(arn)
	return ok && a.Account == c.AccountID && a.Region == c.Region
}

// workloadTable resolves a workload ARN of the caller to its kind and table. Another account's
// or region's ARN is NotFound; an ARN that is neither a connector nor a replicator is a
// BadRequest naming member.
func (s *Server) workloadTable(c Caller, arn, member string) (string, *store.Resources, error) {
	a, ok := workload.ParseARN(arn)
	if !ok {
		return "", nil, apierr.BadRequest(member, "%s is not a valid ARN: %q", member, arn)
	}
	var kind string
	var table *store.Resources
	switch {
	case a.Service == awsmodel.KafkaConnect && a.ResourceType == rtConnector:
		kind, table = workload.KindConnector, s.st.Connectors
	case a.Service == kafkaSvc && a.ResourceType == rtReplicator:
		kind, table = workload.KindReplicator, s.st.Replicators
	default:
		return "", nil, apierr.BadRequest(member, "%s must be the ARN of a connector (kafkaconnect) or a replicator (kafka)", member)
	}
	if a.Account != c.AccountID || a.Region != c.Region {
		return "", nil, apierr.NotFound("%s %s not found", kind, arn)
	}
	return kind, table, nil
}

// DescribeWorkload shows a workload's desired shape, its placement and its recent events.
func (a *adminService) DescribeWorkload(ctx context.Context, req *adminv1.DescribeWorkloadRequest) (*adminv1.DescribeWorkloadResponse, error) {
	s := a.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	kind, table, err := s.workloadTable(caller, req.WorkloadArn, "workloadArn")
	if err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.MaxEvents, defaultRecentEvents, maxRecentEvents, "maxEvents")
	if err != nil {
		return nil, err
	}
	r, err := table.Get(ctx, caller.AccountID, caller.Region, req.WorkloadArn)
	if err != nil {
		return nil, s.storeErr(ctx, err, kind+" "+req.WorkloadArn)
	}
	desired, err := s.desiredShape(ctx, kind, r)
	if err != nil {
		return nil, s.storeErr(ctx, err, kind+" "+req.WorkloadArn)
	}
	workers, err := s.st.WorkloadWorkers(ctx, r.ARN)
	if err != nil {
		return nil, s.storeErr(ctx, err, kind+" "+req.WorkloadArn)
	}
	ids := make([]string, 0, len(workers))
	for _, w := range workers {
		ids = append(ids, w.ID)
	}
	metrics, err := s.st.WorkerMetricsOf(ctx, ids)
	if err != nil {
		return nil, s.storeErr(ctx, err, kind+" "+req.WorkloadArn)
	}
	events, err := s.st.WorkloadEventsPage(ctx, r.ARN, 0, limit)
	if err != nil {
		return nil, s.storeErr(ctx, err, kind+" "+req.WorkloadArn)
	}
	out := &adminv1.DescribeWorkloadResponse{
		WorkloadArn: r.ARN, WorkloadName: r.Name, Kind: kind, State: r.State, CreationTime: ts(r.CreatedAt),
		CurrentVersion: r.CurrentVersion, Desired: desired,
	}
	if r.StateCode != "" || r.StateMessage != "" {
		out.StateDescription = &adminv1.StateDescription{Code: r.StateCode, Message: r.StateMessage}
	}
	for _, w := range workers {
		out.Workers = append(out.Workers, toAdminWorker(w, metrics))
	}
	for _, e := range events {
		out.RecentEvents = append(out.RecentEvents, toAdminEvent(e))
	}
	if table == s.st.Connectors {
		if out.Plugins, err = s.workloadPlugins(ctx, r); err != nil {
			return nil, s.storeErr(ctx, err, kind+" "+req.WorkloadArn)
		}
	}
	return out, nil
}

// desiredShape is what the scheduler places for r: its shape, with the autoscaler's current
// worker count when it is autoscaled. A FAILED or DELETING workload wants no workers.
func (s *Server) desiredShape(ctx context.Context, kind string, r *store.Resource) (*adminv1.WorkloadShape, error) {
	sh, err := s.workload.CachedShape(kind, r)
	if err != nil {
		return nil, err
	}
	out := &adminv1.WorkloadShape{Workers: int32(sh.Workers), McuPerWorker: int32(sh.MCU), Tasks: int32(sh.Tasks)}
	if p := sh.Autoscale; p != nil {
		out.Autoscaled, out.MinWorkers, out.MaxWorkers = true, int32(p.MinWorkers), int32(p.MaxWorkers)
		st, err := s.st.AutoscaleStateGet(ctx, r.ARN)
		switch {
		case err == nil:
			out.Workers = int32(st.Workers)
			if p.TasksFor != nil {
				out.Tasks = int32(max(p.TasksFor(st.Workers), 1))
			}
			out.AutoscaleReason, out.AutoscaleTime = st.Reason, ts(st.ChangedAt)
			out.AutoscaleObservation = toAdminObservation(st.Observed)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	if sh.FailCode != "" || r.State == "FAILED" || r.State == "DELETING" {
		out.Workers = 0
	}
	return out, nil
}

// toAdminObservation is what the autoscaler last saw of a workload; nil when nothing yet.
func toAdminObservation(o *store.AutoscaleObservation) *adminv1.AutoscaleObservation {
	if o == nil {
		return nil
	}
	out := &adminv1.AutoscaleObservation{Time: ts(o.At), Window: durationpb.New(o.Window), Workers: int32(o.Workers),
		ScaleOutCpuPercent: o.ScaleOutCPU, ScaleInCpuPercent: o.ScaleInCPU, Decision: o.Decision, Reason: o.Reason}
	for i := range o.ThirdCPU {
		out.ThirdCpuPercent = append(out.ThirdCpuPercent, o.ThirdCPU[i])
		out.ThirdSamples = append(out.ThirdSamples, int32(o.ThirdSamples[i]))
	}
	return out
}

// ListWorkloadEvents pages through a workload's events, newest first. A workload that no
// longer exists still lists its events; one that never had any is NotFound.
func (a *adminService) ListWorkloadEvents(ctx context.Context, req *adminv1.ListWorkloadEventsRequest) (*adminv1.ListWorkloadEventsResponse, error) {
	s := a.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	kind, table, err := s.workloadTable(caller, req.WorkloadArn, "workloadArn")
	if err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.MaxResults, defaultEventPage, maxEventPage, "maxResults")
	if err != nil {
		return nil, err
	}
	const tokenKind = "workload-events"
	var before int64
	if req.NextToken != "" {
		pos, err := s.tokens.open(req.NextToken, tokenKind, caller.AccountID, req.WorkloadArn)
		if err != nil {
			return nil, err
		}
		before = pos.ID
	}
	events, err := s.st.WorkloadEventsPage(ctx, req.WorkloadArn, before, limit+1)
	if err != nil {
		return nil, s.storeErr(ctx, err, kind+" "+req.WorkloadArn)
	}
	if len(events) == 0 && before == 0 {
		if _, err := table.Get(ctx, caller.AccountID, caller.Region, req.WorkloadArn); err != nil {
			return nil, s.storeErr(ctx, err, kind+" "+req.WorkloadArn)
		}
	}
	out := &adminv1.ListWorkloadEventsResponse{}
	if len(events) > limit {
		events = events[:limit]
		out.NextToken = s.tokens.mint(pagePosition{Kind: tokenKind, Account: caller.AccountID, Filter: req.WorkloadArn, ID: events[limit-1].ID})
	}
	for _, e := range events {
		out.Events = append(out.Events, toAdminEvent(e))
	}
	return out, nil
}

// followSettle is how long FollowWorkloadEvents waits for an event id missing from the
// sequence (a transaction still committing) before it skips it.
const followSettle = 5 * time.Second

// FollowWorkloadEvents returns the events after after_event_id, oldest first, of one workload
// or of every workload of the caller's account and region.
func (a *adminService) FollowWorkloadEvents(ctx context.Context, req *adminv1.FollowWorkloadEventsRequest) (*adminv1.FollowWorkloadEventsResponse, error) {
	s := a.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	var kind string
	var table *store.Resources
	if req.WorkloadArn != "" {
		if kind, table, err = s.workloadTable(caller, req.WorkloadArn, "workloadArn"); err != nil {
			return nil, err
		}
	}
	if req.AfterEventId < 0 {
		return nil, apierr.BadRequest("afterEventId", "afterEventId must not be negative")
	}
	limit, err := pageLimit(req.MaxResults, defaultEventPage, maxEventPage, "maxResults")
	if err != nil {
		return nil, err
	}
	if req.StartNow {
		if table != nil { // following a workload starts while it exists
			if _, err := table.Get(ctx, caller.AccountID, caller.Region, req.WorkloadArn); err != nil {
				return nil, s.storeErr(ctx, err, kind+" "+req.WorkloadArn)
			}
		}
		last, err := s.st.LastEventID(ctx)
		if err != nil {
			return nil, s.storeErr(ctx, err, "workload events")
		}
		return &adminv1.FollowWorkloadEventsResponse{LastEventId: last}, nil
	}
	events, last, err := s.st.EventsAfter(ctx, req.AfterEventId, limit, followSettle)
	if err != nil {
		return nil, s.storeErr(ctx, err, "workload events")
	}
	out := &adminv1.FollowWorkloadEventsResponse{LastEventId: last}
	for _, e := range events {
		if req.WorkloadArn != "" && e.WorkloadARN != req.WorkloadArn {
			continue
		}
		if req.WorkloadArn == "" && !arnOf(e.WorkloadARN, caller.AccountID, caller.Region) {
			continue
		}
		out.Events = append(out.Events, toAdminEvent(e))
	}
	return out, nil
}

// arnOf reports whether arn (arn:partition:service:region:account:…) belongs to account and
// region.
func arnOf(arn, account, region string) bool {
	p := strings.SplitN(arn, ":", 6)
	return len(p) == 6 && p[3] == region && p[4] == account
}

func toAdminEvent(e store.WorkloadEvent) *adminv1.WorkloadEvent {
	return &adminv1.WorkloadEvent{EventId: e.ID, Time: ts(e.At), Kind: e.Kind, Reason: e.Reason, AgentId: e.AgentID, WorkerId: e.WorkerID,
		WorkloadArn: e.WorkloadARN, State: e.State, PreviousState: e.PreviousState, StateCode: e.StateCode, WorkloadName: e.WorkloadName}
}

// toAdminWorker describes a worker: its placement, what its agent reported for the current
// placement and epoch (older reports are left out: they describe a previous incarnation), and
// the latest metrics its current agent reported.
func toAdminWorker(w store.Worker, metrics map[string]store.WorkerMetricsRow) *adminv1.Worker {
	name := ""
	if a, ok := workload.ParseARN(w.WorkloadARN); ok {
		name = a.Name()
	}
	out := &adminv1.Worker{
		WorkerId: w.ID, WorkloadArn: w.WorkloadARN, WorkloadName: name, WorkloadKind: w.WorkloadKind, AgentId: w.AgentID,
		Mcu: int32(w.MCU), Epoch: w.Epoch, TaskCount: int32(w.TaskCount), State: "PENDING",
	}
	for _, t := range w.Tasks {
		out.TaskIds = append(out.TaskIds, int32(t))
	}
	current := w.AgentID != "" && w.Report.AgentID == w.AgentID && w.Report.Epoch == w.Epoch && w.Report.State != ""
	if current {
		out.State, out.Error, out.Restarts, out.ReportedTime = w.Report.State, w.Report.Error, int32(w.Report.Restarts), ts(w.Report.At)
		var tasks []agentgw.TaskReport
		if err := json.Unmarshal(w.Report.Tasks, &tasks); err == nil {
			for _, t := range tasks {
				out.Tasks = append(out.Tasks, &adminv1.TaskState{TaskId: int32(t.TaskID), State: t.State, Error: t.Error})
			}
		}
	}
	if w.Stopping {
		out.State = "STOPPING"
	}
	if m, ok := metrics[w.ID]; ok && w.AgentID != "" && m.AgentID == w.AgentID {
		var wm agentv1.WorkerMetrics
		if err := proto.Unmarshal(m.Metrics, &wm); err == nil {
			out.Metrics = &adminv1.WorkerMetrics{
				Time: ts(m.At), CpuUtilizationPercent: wm.CpuUtilization * 100, MemoryUtilizationPercent: wm.MemoryUtilization * 100,
				MemoryBytes: wm.MemoryBytes, RecordsPerSecond: wm.RecordsPerSecond, BytesPerSecond: wm.BytesPerSecond, Lag: wm.Lag,
				ReplicationLatencyMs: wm.ReplicationLatencyMs, RunningTasks: wm.RunningTasks, ErroredTasks: wm.ErroredTasks,
			}
		}
	}
	return out
}

// pageLimit reads an optional page size: 0 takes def, 1 … max is used as is, anything else is
// refused naming member.
func pageLimit(v int32, def, max int, member string) (int, error) {
	switch n := int(v); {
	case n < 0 || n > max:
		return 0, apierr.BadRequest(member, "%s must be between 1 and %d", member, max)
	case n == 0:
		return def, nil
	default:
		return n, nil
	}
}
