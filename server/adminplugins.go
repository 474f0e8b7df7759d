package server

import (
	"context"
	"errors"
	"strings"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
)

// DescribePlugin bounds.
const defaultPluginClasses, maxPluginClasses = 1000, 100000

// DescribePlugin shows a custom plugin revision's class index and the connectors using the
// plugin.
func (a *adminService) DescribePlugin(ctx context.Context, req *adminv1.DescribePluginRequest) (*adminv1.DescribePluginResponse, error) {
	s := a.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := resourceARN(caller, req.CustomPluginArn, "customPluginArn", kafkaConnectSvc, rtCustomPlugin); err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.MaxClasses, defaultPluginClasses, maxPluginClasses, "maxClasses")
	if err != nil {
		return nil, err
	}
	if req.Revision < 0 {
		return nil, apierr.BadRequest("revision", "revision must be 0 (the latest) or a revision number")
	}
	r, err := s.st.CustomPlugins.Get(ctx, caller.AccountID, caller.Region, req.CustomPluginArn)
	if err != nil {
		return nil, s.storeErr(ctx, err, "custom plugin "+req.CustomPluginArn)
	}
	rev := req.Revision
	if rev == 0 {
		latest, err := s.st.CustomPlugins.LatestRevision(ctx, r.ARN)
		if err != nil {
			return nil, s.storeErr(ctx, err, "custom plugin "+r.ARN)
		}
		rev = latest.Revision
	} else if _, err := s.st.CustomPlugins.Revision(ctx, r.ARN, rev); err != nil {
		return nil, s.storeErr(ctx, err, "revision of custom plugin "+r.ARN)
	}
	out := &adminv1.DescribePluginResponse{CustomPluginArn: r.ARN, Name: r.Name, State: r.State, Revision: rev}
	if r.StateCode != "" || r.StateMessage != "" {
		out.StateDescription = &adminv1.StateDescription{Code: r.StateCode, Message: r.StateMessage}
	}
	pc, err := s.st.PluginClassesOf(ctx, r.ARN, rev)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, s.storeErr(ctx, err, "custom plugin "+r.ARN)
	default:
		out.Indexed, out.IndexTime = true, ts(pc.IndexedAt)
		out.ArchiveCount, out.ClassCount = int32(pc.Archives), int32(len(pc.Classes))
		out.UnreadableArchives = pc.Unreadable
		out.ConnectorClasses = connectorClasses(pc.Classes)
		for _, c := range pc.Classes {
			if !strings.HasPrefix(c, req.ClassPrefix) {
				continue
			}
			out.MatchingClassCount++
			if len(out.Classes) < limit {
				out.Classes = append(out.Classes, c)
			}
		}
	}
	users, err := s.st.CustomPlugins.Users(ctx, r.ARN)
	if err != nil {
		return nil, s.storeErr(ctx, err, "custom plugin "+r.ARN)
	}
	for _, u := range users {
		out.UsedBy = append(out.UsedBy, &adminv1.PluginUse{ConnectorArn: u.ARN, Revision: u.Revision})
	}
	return out, nil
}

// connectorClasses are the classes whose simple name ends in "Connector": the likely
// connector.class values.
func connectorClasses(classes []string) []string {
	var out []string
	for _, c := range classes {
		simple := c[strings.LastIndexAny(c, ".$")+1:]
		if strings.HasSuffix(simple, "Connector") && !strings.Contains(c, "$") {
			out = append(out, c)
		}
	}
	return out
}

// workloadPlugins describes a connector's plugin revisions for DescribeWorkload.
func (s *Server) workloadPlugins(ctx context.Context, r *store.Resource) ([]*adminv1.WorkloadPlugin, error) {
	d := &kc.DescribeConnectorResponse{}
	if err := workload.DecodeDoc(r.Doc, d); err != nil {
		return nil, err
	}
	var out []*adminv1.WorkloadPlugin
	for _, u := range connectorPlugins(d.Plugins) {
		p := &adminv1.WorkloadPlugin{CustomPluginArn: u.ARN, Revision: u.Revision}
		pc, err := s.st.PluginClassesOf(ctx, u.ARN, u.Revision)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			p.Indexed, p.ClassCount, p.ConnectorClasses = true, int32(len(pc.Classes)), connectorClasses(pc.Classes)
		}
		out = append(out, p)
	}
	return out, nil
}
