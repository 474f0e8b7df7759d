package server

import (
	"context"
	"regexp"

	"google.golang.org/protobuf/types/known/timestamppb"

	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/store"
)

// adminService is Fjord's own admin API: the cluster registry's write side.
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
