package server

import (
	"context"
	"slices"

	"github.com/fjord-io/fjord/proto/awsmodel"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
)

// taggable returns the table holding the resource an ARN names, after checking that it is the
// caller's. Both services' tag operations share one HTTP path; the ARN says which it is.
func (s *Server) taggable(ctx context.Context, arn string) (*store.Resources, Caller, error) {
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, caller, err
	}
	a, ok := workload.ParseARN(arn)
	if !ok {
		return nil, caller, apierr.BadRequest("resourceArn", "resourceArn is not a valid ARN: %q", arn)
	}
	var table *store.Resources
	switch {
	case a.Service == awsmodel.KafkaConnect && a.ResourceType == rtConnector:
		table = s.st.Connectors
	case a.Service == awsmodel.KafkaConnect && a.ResourceType == rtCustomPlugin:
		table = s.st.CustomPlugins
	case a.Service == awsmodel.KafkaConnect && a.ResourceType == rtWorkerConfig:
		table = s.st.WorkerConfigurations
	case a.Service == awsmodel.Kafka && a.ResourceType == rtReplicator:
		table = s.st.Replicators
	default:
		return nil, caller, apierr.BadRequest("resourceArn", "resourceArn %s does not name a taggable resource (connector, custom plugin, worker configuration or replicator)", arn)
	}
	if a.Account != caller.AccountID || a.Region != caller.Region {
		return nil, caller, apierr.NotFound("resource %s not found", arn)
	}
	if _, err := table.Get(ctx, caller.AccountID, caller.Region, arn); err != nil {
		return nil, caller, s.storeErr(ctx, err, "resource "+arn)
	}
	return table, caller, nil
}

// tagResource adds or overwrites tags. The request's own bounds are checked before any database
// work; the store refuses, atomically, a change that would leave more than store.MaxTags tags.
func (s *Server) tagResource(ctx context.Context, arn string, tags map[string]string) error {
	if err := checkTags(tags); err != nil {
		return err
	}
	if _, _, err := s.taggable(ctx, arn); err != nil {
		return err
	}
	if err := s.st.TagsSet(ctx, arn, tags); err != nil {
		return s.storeErr(ctx, err, "resource "+arn)
	}
	if _, ok := tags[workload.DeliveryTag]; ok {
		s.respec(ctx, arn)
	}
	return nil
}

// respec makes a workload's workers pick up a tag their task configurations depend on.
func (s *Server) respec(ctx context.Context, arn string) {
	if err := s.st.RespecWorkload(ctx, arn); err != nil {
		s.log.Warn("workers will pick up the tag change at their next restart", "workload_arn", arn, "error", err)
	}
}

func (s *Server) untagResource(ctx context.Context, arn string, keys []string) error {
	if err := checkTagKeys(keys); err != nil {
		return err
	}
	if _, _, err := s.taggable(ctx, arn); err != nil {
		return err
	}
	if err := s.st.TagsRemove(ctx, arn, keys); err != nil {
		return s.storeErr(ctx, err, "resource "+arn)
	}
	if slices.Contains(keys, workload.DeliveryTag) {
		s.respec(ctx, arn)
	}
	return nil
}

func (s *Server) listTags(ctx context.Context, arn string) (map[string]string, error) {
	if _, _, err := s.taggable(ctx, arn); err != nil {
		return nil, err
	}
	tags, err := s.st.Tags(ctx, arn)
	if err != nil {
		return nil, s.storeErr(ctx, err, "resource "+arn)
	}
	return tags, nil
}
