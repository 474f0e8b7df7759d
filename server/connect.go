package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/fjord-io/fjord/proto/awsmodel"
	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/server/artifact"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
)

// connectService implements MSK Connect's 18 operations.
type connectService struct {
	kc.UnimplementedKafkaConnectServer
	s *Server
}

// Connector lifecycle states (ConnectorState).
const (
	stateCreating = workload.StateCreating
	stateRunning  = workload.StateRunning
	stateUpdating = workload.StateUpdating
	stateDeleting = workload.StateDeleting
	stateFailed   = workload.StateFailed
	stateActive   = "ACTIVE"
)

// Resource types inside kafkaconnect ARNs.
const (
	rtConnector     = "connector"
	rtCustomPlugin  = "custom-plugin"
	rtWorkerConfig  = "worker-configuration"
	rtConnectorOp   = "connector-operation"
	rtReplicator    = "replicator"
	rtReplicatorOp  = "replicator-operation" // internal: replicator updates are no API resource
	rtCluster       = "cluster"
	kafkaConnectSvc = awsmodel.KafkaConnect
)

// KafkaConnectVersions are the Apache Kafka Connect versions MSK Connect offers.
var KafkaConnectVersions = []string{"2.7.1", "3.7.x"}

func (c *connectService) validate(op string, m proto.Message) error {
	return c.s.kcValid.Request(op, m)
}

// ---- custom plugins ----

func (c *connectService) CreateCustomPlugin(ctx context.Context, req *kc.CreateCustomPluginRequest) (*kc.CreateCustomPluginResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("CreateCustomPlugin", req); err != nil {
		return nil, err
	}
	if err := checkTags(req.GetTags()); err != nil {
		return nil, err
	}
	loc := req.GetLocation().GetS3Location()
	if _, err := artifact.ParseBucketARN(loc.GetBucketArn()); err != nil {
		return nil, apierr.BadRequest("location.s3Location.bucketArn", "location.s3Location.bucketArn must be an S3 bucket ARN such as arn:aws:s3:::my-bucket")
	}
	arn := newARN(kafkaConnectSvc, caller.Region, caller.AccountID, rtCustomPlugin, req.GetName())
	res := &store.Resource{ARN: arn, AccountID: caller.AccountID, Region: caller.Region, Name: req.GetName(), State: stateCreating}
	rev := &kc.CustomPluginRevisionSummary{
		ContentType: req.ContentType,
		Description: req.Description,
		Location:    &kc.CustomPluginLocationDescription{S3Location: &kc.S3LocationDescription{}},
		Revision:    proto.Int64(1),
	}
	project(rev.Location.S3Location, loc)
	doc := &kc.DescribeCustomPluginResponse{
		CustomPluginArn: proto.String(arn),
		Description:     req.Description,
		LatestRevision:  rev,
		Name:            req.Name,
	}
	// Creation times are set by the store; stamp them into the document after.
	res.Doc = workload.EncodeDoc(doc)
	storeRev := &store.Revision{Revision: 1, Doc: workload.EncodeDoc(rev)}
	if err := s.st.CustomPlugins.Create(ctx, res, req.GetTags(), storeRev); err != nil {
		return nil, s.storeErr(ctx, err, "custom plugin "+req.GetName())
	}
	s.trigger()
	return &kc.CreateCustomPluginResponse{
		CustomPluginArn:   proto.String(arn),
		CustomPluginState: proto.String(stateCreating),
		Name:              req.Name,
		Revision:          proto.Int64(1),
	}, nil
}

// customPlugin loads a plugin of the caller's account as its Describe output.
func (c *connectService) customPlugin(ctx context.Context, caller Caller, arn, member string) (*kc.DescribeCustomPluginResponse, *store.Resource, error) {
	if _, err := resourceARN(caller, arn, member, kafkaConnectSvc, rtCustomPlugin); err != nil {
		return nil, nil, err
	}
	r, err := c.s.st.CustomPlugins.Get(ctx, caller.AccountID, caller.Region, arn)
	if err != nil {
		return nil, nil, c.s.storeErr(ctx, err, "custom plugin "+arn)
	}
	out := &kc.DescribeCustomPluginResponse{}
	if err := workload.DecodeDoc(r.Doc, out); err != nil {
		return nil, nil, c.s.storeErr(ctx, err, "custom plugin "+arn)
	}
	out.CreationTime = ts(r.CreatedAt)
	if out.LatestRevision != nil {
		out.LatestRevision.CreationTime = ts(r.CreatedAt)
	}
	out.CustomPluginState = proto.String(r.State)
	if code, msg := stateCodeMessage(r); code != nil {
		out.StateDescription = &kc.StateDescription{Code: code, Message: msg}
	}
	return out, r, nil
}

func (c *connectService) DescribeCustomPlugin(ctx context.Context, req *kc.DescribeCustomPluginRequest) (*kc.DescribeCustomPluginResponse, error) {
	caller, err := c.s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("DescribeCustomPlugin", req); err != nil {
		return nil, err
	}
	out, _, err := c.customPlugin(ctx, caller, req.GetCustomPluginArn(), "customPluginArn")
	return out, err
}

func (c *connectService) ListCustomPlugins(ctx context.Context, req *kc.ListCustomPluginsRequest) (*kc.ListCustomPluginsResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("ListCustomPlugins", req); err != nil {
		return nil, err
	}
	out := &kc.ListCustomPluginsResponse{}
	next, err := s.listResources(ctx, caller, s.st.CustomPlugins, "custom-plugins", req.GetNamePrefix(), "", req.NextToken, pageSize(req.MaxResults),
		func(r *store.Resource) error {
			d, _, err := c.customPlugin(ctx, caller, r.ARN, "")
			if err != nil {
				return err
			}
			sum := &kc.CustomPluginSummary{}
			project(sum, d)
			out.CustomPlugins = append(out.CustomPlugins, sum)
			return nil
		})
	out.NextToken = next
	return out, err
}

func (c *connectService) DeleteCustomPlugin(ctx context.Context, req *kc.DeleteCustomPluginRequest) (*kc.DeleteCustomPluginResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("DeleteCustomPlugin", req); err != nil {
		return nil, err
	}
	arn := req.GetCustomPluginArn()
	if _, err := resourceARN(caller, arn, "customPluginArn", kafkaConnectSvc, rtCustomPlugin); err != nil {
		return nil, err
	}
	// A plugin has no workload: it is gone as soon as it is deleted, unless a connector (one
	// that is not gone, whatever its state) uses one of its revisions.
	if err := s.st.CustomPlugins.Remove(ctx, caller.AccountID, caller.Region, arn, ""); err != nil {
		var inUse *store.InUseError
		if errors.As(err, &inUse) {
			return nil, inUseError("custom plugin", arn, inUse)
		}
		return nil, s.storeErr(ctx, err, "custom plugin "+arn)
	}
	return &kc.DeleteCustomPluginResponse{CustomPluginArn: proto.String(arn), CustomPluginState: proto.String(stateDeleting)}, nil
}

// ---- worker configurations ----

func (c *connectService) CreateWorkerConfiguration(ctx context.Context, req *kc.CreateWorkerConfigurationRequest) (*kc.CreateWorkerConfigurationResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("CreateWorkerConfiguration", req); err != nil {
		return nil, err
	}
	if err := checkTags(req.GetTags()); err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(req.GetPropertiesFileContent())
	if err != nil {
		return nil, apierr.BadRequest("propertiesFileContent", "propertiesFileContent must be base64-encoded Java properties text")
	}
	props, err := parseProperties(string(raw))
	if err != nil {
		return nil, apierr.BadRequest("propertiesFileContent", "propertiesFileContent: %v", err)
	}
	if bad := forbiddenWorkerKeys(props); len(bad) > 0 {
		return nil, apierr.BadRequest("propertiesFileContent",
			"propertiesFileContent sets properties that MSK Connect does not allow in a worker configuration: %s", strings.Join(bad, ", "))
	}
	arn := newARN(kafkaConnectSvc, caller.Region, caller.AccountID, rtWorkerConfig, req.GetName())
	doc := &kc.DescribeWorkerConfigurationResponse{
		Description:            req.Description,
		LatestRevision:         &kc.WorkerConfigurationRevisionDescription{Description: req.Description, Revision: proto.Int64(1)},
		Name:                   req.Name,
		WorkerConfigurationArn: proto.String(arn),
	}
	res := &store.Resource{ARN: arn, AccountID: caller.AccountID, Region: caller.Region, Name: req.GetName(),
		State: stateActive, Doc: workload.EncodeDoc(doc)}
	rev := &store.Revision{Revision: 1, Doc: workload.EncodeDoc(doc.LatestRevision), Secret: []byte(req.GetPropertiesFileContent())}
	if err := s.st.WorkerConfigurations.Create(ctx, res, req.GetTags(), rev); err != nil {
		return nil, s.storeErr(ctx, err, "worker configuration "+req.GetName())
	}
	return &kc.CreateWorkerConfigurationResponse{
		CreationTime: ts(res.CreatedAt),
		LatestRevision: &kc.WorkerConfigurationRevisionSummary{
			CreationTime: ts(res.CreatedAt), Description: req.Description, Revision: proto.Int64(1),
		},
		Name:                     req.Name,
		WorkerConfigurationArn:   proto.String(arn),
		WorkerConfigurationState: proto.String(stateActive),
	}, nil
}

func (c *connectService) workerConfiguration(ctx context.Context, caller Caller, arn, member string) (*kc.DescribeWorkerConfigurationResponse, error) {
	if _, err := resourceARN(caller, arn, member, kafkaConnectSvc, rtWorkerConfig); err != nil {
		return nil, err
	}
	r, err := c.s.st.WorkerConfigurations.Get(ctx, caller.AccountID, caller.Region, arn)
	if err != nil {
		return nil, c.s.storeErr(ctx, err, "worker configuration "+arn)
	}
	out := &kc.DescribeWorkerConfigurationResponse{}
	if err := workload.DecodeDoc(r.Doc, out); err != nil {
		return nil, c.s.storeErr(ctx, err, "worker configuration "+arn)
	}
	out.CreationTime = ts(r.CreatedAt)
	out.WorkerConfigurationState = proto.String(r.State)
	rev, err := c.s.st.WorkerConfigurations.LatestRevision(ctx, arn)
	if err != nil {
		return nil, c.s.storeErr(ctx, err, "worker configuration "+arn)
	}
	out.LatestRevision = &kc.WorkerConfigurationRevisionDescription{}
	if err := workload.DecodeDoc(rev.Doc, out.LatestRevision); err != nil {
		return nil, c.s.storeErr(ctx, err, "worker configuration "+arn)
	}
	out.LatestRevision.CreationTime = ts(rev.CreatedAt)
	out.LatestRevision.PropertiesFileContent = proto.String(string(rev.Secret))
	return out, nil
}

func (c *connectService) DescribeWorkerConfiguration(ctx context.Context, req *kc.DescribeWorkerConfigurationRequest) (*kc.DescribeWorkerConfigurationResponse, error) {
	caller, err := c.s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("DescribeWorkerConfiguration", req); err != nil {
		return nil, err
	}
	return c.workerConfiguration(ctx, caller, req.GetWorkerConfigurationArn(), "workerConfigurationArn")
}

func (c *connectService) ListWorkerConfigurations(ctx context.Context, req *kc.ListWorkerConfigurationsRequest) (*kc.ListWorkerConfigurationsResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("ListWorkerConfigurations", req); err != nil {
		return nil, err
	}
	out := &kc.ListWorkerConfigurationsResponse{}
	next, err := s.listResources(ctx, caller, s.st.WorkerConfigurations, "worker-configurations", req.GetNamePrefix(), "", req.NextToken, pageSize(req.MaxResults),
		func(r *store.Resource) error {
			d, err := c.workerConfiguration(ctx, caller, r.ARN, "")
			if err != nil {
				return err
			}
			sum := &kc.WorkerConfigurationSummary{}
			project(sum, d)
			if sum.LatestRevision != nil {
				sum.LatestRevision = &kc.WorkerConfigurationRevisionSummary{
					CreationTime: d.LatestRevision.CreationTime, Description: d.LatestRevision.Description, Revision: d.LatestRevision.Revision,
				}
			}
			out.WorkerConfigurations = append(out.WorkerConfigurations, sum)
			return nil
		})
	out.NextToken = next
	return out, err
}

func (c *connectService) DeleteWorkerConfiguration(ctx context.Context, req *kc.DeleteWorkerConfigurationRequest) (*kc.DeleteWorkerConfigurationResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("DeleteWorkerConfiguration", req); err != nil {
		return nil, err
	}
	arn := req.GetWorkerConfigurationArn()
	if _, err := resourceARN(caller, arn, "workerConfigurationArn", kafkaConnectSvc, rtWorkerConfig); err != nil {
		return nil, err
	}
	if err := s.st.WorkerConfigurations.Remove(ctx, caller.AccountID, caller.Region, arn, ""); err != nil {
		var inUse *store.InUseError
		if errors.As(err, &inUse) {
			return nil, inUseError("worker configuration", arn, inUse)
		}
		return nil, s.storeErr(ctx, err, "worker configuration "+arn)
	}
	return &kc.DeleteWorkerConfigurationResponse{WorkerConfigurationArn: proto.String(arn), WorkerConfigurationState: proto.String(stateDeleting)}, nil
}

// ---- connectors ----

func (c *connectService) CreateConnector(ctx context.Context, req *kc.CreateConnectorRequest) (*kc.CreateConnectorResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("CreateConnector", req); err != nil {
		return nil, err
	}
	if err := checkTags(req.GetTags()); err != nil {
		return nil, err
	}
	if err := checkCapacity(req.Capacity, "capacity"); err != nil {
		return nil, err
	}
	if !contains(KafkaConnectVersions, req.GetKafkaConnectVersion()) {
		return nil, apierr.BadRequest("kafkaConnectVersion", "kafkaConnectVersion %q is not supported; use one of %s",
			req.GetKafkaConnectVersion(), strings.Join(KafkaConnectVersions, ", "))
	}
	if err := checkBootstrapServers(req.GetKafkaCluster().GetApacheKafkaCluster().GetBootstrapServers(), "kafkaCluster.apacheKafkaCluster.bootstrapServers"); err != nil {
		return nil, err
	}
	if err := checkKafkaClusterAuth(req.GetKafkaClusterClientAuthentication()); err != nil {
		return nil, err
	}
	if _, ok := workload.ParseARN(req.GetServiceExecutionRoleArn()); !ok {
		return nil, apierr.BadRequest("serviceExecutionRoleArn", "serviceExecutionRoleArn must be an IAM role ARN")
	}
	if len(req.Plugins) != 1 {
		return nil, apierr.BadRequest("plugins", "plugins must list exactly one custom plugin")
	}
	var uses store.ConnectorUses
	for i, p := range req.Plugins {
		member := fmt.Sprintf("plugins.%d.customPlugin.customPluginArn", i+1)
		plugin, r, err := c.customPlugin(ctx, caller, p.GetCustomPlugin().GetCustomPluginArn(), member)
		if err != nil {
			return nil, err
		}
		if r.State != stateActive {
			return nil, apierr.BadRequest(member, "custom plugin %s is %s; a connector needs an ACTIVE plugin", r.ARN, r.State)
		}
		if _, err := s.st.CustomPlugins.Revision(ctx, r.ARN, p.GetCustomPlugin().GetRevision()); err != nil {
			return nil, s.storeErr(ctx, err, fmt.Sprintf("revision %d of custom plugin %s", p.GetCustomPlugin().GetRevision(), plugin.GetCustomPluginArn()))
		}
		uses.Plugins = append(uses.Plugins, store.Use{ARN: r.ARN, Revision: p.GetCustomPlugin().GetRevision()})
	}
	if wc := req.WorkerConfiguration; wc != nil {
		if _, err := resourceARN(caller, wc.GetWorkerConfigurationArn(), "workerConfiguration.workerConfigurationArn", kafkaConnectSvc, rtWorkerConfig); err != nil {
			return nil, err
		}
		if _, err := s.st.WorkerConfigurations.Get(ctx, caller.AccountID, caller.Region, wc.GetWorkerConfigurationArn()); err != nil {
			return nil, s.storeErr(ctx, err, "worker configuration "+wc.GetWorkerConfigurationArn())
		}
		if _, err := s.st.WorkerConfigurations.Revision(ctx, wc.GetWorkerConfigurationArn(), wc.GetRevision()); err != nil {
			return nil, s.storeErr(ctx, err, fmt.Sprintf("revision %d of worker configuration %s", wc.GetRevision(), wc.GetWorkerConfigurationArn()))
		}
		uses.WorkerConfiguration = &store.Use{ARN: wc.GetWorkerConfigurationArn(), Revision: wc.GetRevision()}
	}
	// The plugin first: a class in no plugin is refused naming the plugin; then the catalog
	// (a class in the plugin that Fjord has no engine for, and every other key).
	if err := s.checkPluginClasses(ctx, req.GetConnectorConfiguration(), uses.Plugins, "connectorConfiguration"); err != nil {
		return nil, err
	}
	if _, err := checkConnectorConfiguration(workload.WithRuntimeDefaults(req.GetConnectorConfiguration(), req.GetKafkaCluster().GetApacheKafkaCluster().GetBootstrapServers()),
		"connectorConfiguration"); err != nil {
		return nil, err
	}
	if err := checkSecretAccounts(req.GetConnectorConfiguration(), caller.AccountID, "connectorConfiguration"); err != nil {
		return nil, err
	}
	if err := s.checkConfigProviders(ctx, req.GetConnectorConfiguration(), req.GetWorkerConfiguration(), "connectorConfiguration"); err != nil {
		return nil, err
	}

	arn := newARN(kafkaConnectSvc, caller.Region, caller.AccountID, rtConnector, req.GetConnectorName())
	doc := &kc.DescribeConnectorResponse{}
	project(doc, req)
	doc.ConnectorConfiguration = nil // sealed separately
	doc.ConnectorArn = proto.String(arn)
	if doc.NetworkType == nil {
		doc.NetworkType = proto.String("IPV4")
	}
	fillCapacityDefaults(doc.Capacity)
	secret, err := json.Marshal(req.GetConnectorConfiguration())
	if err != nil {
		return nil, apierr.Internal("encode connector configuration")
	}
	res := &store.Resource{ARN: arn, AccountID: caller.AccountID, Region: caller.Region, Name: req.GetConnectorName(),
		State: stateCreating, Doc: workload.EncodeDoc(doc), Secret: secret}
	// The plugin and worker configuration revisions are recorded with the connector: they
	// cannot be deleted while it exists, and a delete racing this creation makes it fail.
	if err := s.st.Connectors.CreateUsing(ctx, res, req.GetTags(), uses); err != nil {
		var gone *store.GoneError
		if errors.As(err, &gone) {
			return nil, apierr.NotFound("%s", gone.Error())
		}
		return nil, s.storeErr(ctx, err, "connector "+req.GetConnectorName())
	}
	s.trigger()
	return &kc.CreateConnectorResponse{ConnectorArn: proto.String(arn), ConnectorName: req.ConnectorName, ConnectorState: proto.String(stateCreating)}, nil
}

// connector loads a connector of the caller's account as its Describe output.
func (c *connectService) connector(ctx context.Context, caller Caller, arn, member string) (*kc.DescribeConnectorResponse, error) {
	if _, err := resourceARN(caller, arn, member, kafkaConnectSvc, rtConnector); err != nil {
		return nil, err
	}
	r, err := c.s.st.Connectors.Get(ctx, caller.AccountID, caller.Region, arn)
	if err != nil {
		return nil, c.s.storeErr(ctx, err, "connector "+arn)
	}
	return workload.ConnectorDescription(r)
}

func (c *connectService) DescribeConnector(ctx context.Context, req *kc.DescribeConnectorRequest) (*kc.DescribeConnectorResponse, error) {
	caller, err := c.s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("DescribeConnector", req); err != nil {
		return nil, err
	}
	return c.connector(ctx, caller, req.GetConnectorArn(), "connectorArn")
}

func (c *connectService) ListConnectors(ctx context.Context, req *kc.ListConnectorsRequest) (*kc.ListConnectorsResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("ListConnectors", req); err != nil {
		return nil, err
	}
	out := &kc.ListConnectorsResponse{}
	next, err := s.listResources(ctx, caller, s.st.Connectors, "connectors", req.GetConnectorNamePrefix(), "", req.NextToken, pageSize(req.MaxResults),
		func(r *store.Resource) error {
			d, err := workload.DescribeConnector(r, false)
			if err != nil {
				return err
			}
			sum := &kc.ConnectorSummary{}
			project(sum, d)
			out.Connectors = append(out.Connectors, sum)
			return nil
		})
	out.NextToken = next
	return out, err
}

func (c *connectService) UpdateConnector(ctx context.Context, req *kc.UpdateConnectorRequest) (*kc.UpdateConnectorResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("UpdateConnector", req); err != nil {
		return nil, err
	}
	arn := req.GetConnectorArn()
	a, err := resourceARN(caller, arn, "connectorArn", kafkaConnectSvc, rtConnector)
	if err != nil {
		return nil, err
	}
	hasCap, hasConf := req.Capacity != nil, len(req.ConnectorConfiguration) > 0
	if hasCap == hasConf {
		return nil, apierr.BadRequest("capacity", "UpdateConnector takes exactly one of capacity and connectorConfiguration")
	}
	var newCap *kc.Capacity
	var newClass *catalog.Class
	if hasCap {
		newCap = &kc.Capacity{}
		project(newCap, req.Capacity)
		if err := checkCapacity(newCap, "capacity"); err != nil {
			return nil, err
		}
	} else {
		// The plugin first, as at creation: the connector's plugins cannot change.
		cur, err := c.connector(ctx, caller, arn, "connectorArn")
		if err != nil {
			return nil, err
		}
		if err := s.checkPluginClasses(ctx, req.ConnectorConfiguration, connectorPlugins(cur.Plugins), "connectorConfiguration"); err != nil {
			return nil, err
		}
		if newClass, err = checkConnectorConfiguration(workload.WithRuntimeDefaults(req.ConnectorConfiguration,
			cur.GetKafkaCluster().GetApacheKafkaCluster().GetBootstrapServers()), "connectorConfiguration"); err != nil {
			return nil, err
		}
		if err := checkSecretAccounts(req.ConnectorConfiguration, caller.AccountID, "connectorConfiguration"); err != nil {
			return nil, err
		}
		if err := c.checkUpdateProviders(ctx, caller, arn, req.ConnectorConfiguration); err != nil {
			return nil, err
		}
	}

	opARN := workload.ARN{Partition: "aws", Service: kafkaConnectSvc, Region: caller.Region, Account: caller.AccountID,
		ResourceType: rtConnectorOp, Resource: a.Name() + "/" + uuid.NewString() + "/" + uuid.NewString()}.String()
	op := &store.Operation{ARN: opARN, ConnectorARN: arn, AccountID: caller.AccountID}
	var opType string
	updated, err := s.st.Connectors.Update(ctx, caller.AccountID, caller.Region, arn,
		store.UpdateOptions{ExpectVersion: req.GetCurrentVersion(), Operation: op},
		func(r *store.Resource) error {
			// A CREATING connector may be updated too (a departure from AWS, which requires
			// RUNNING): the update completes once the workers run the target.
			if r.State != stateRunning && r.State != stateCreating {
				return apierr.BadRequest("connectorArn", "connector %s is %s; only a RUNNING connector can be updated", arn, r.State)
			}
			cur, err := workload.ConnectorDescription(r)
			if err != nil {
				return err
			}
			desc := &kc.DescribeConnectorOperationResponse{
				ConnectorArn:          proto.String(arn),
				ConnectorOperationArn: proto.String(opARN),
			}
			var state workload.OpState
			if hasCap {
				opType = "UPDATE_WORKER_SETTING"
				desc.OriginWorkerSetting = &kc.WorkerSetting{Capacity: cur.Capacity}
				next := &kc.CapacityDescription{}
				project(next, newCap)
				fillCapacityDefaults(next)
				desc.TargetWorkerSetting = &kc.WorkerSetting{Capacity: next}
			} else {
				opType = "UPDATE_CONNECTOR_CONFIGURATION"
				if curClass, _ := catalog.Lookup(cur.ConnectorConfiguration["connector.class"]); curClass != newClass {
					return apierr.BadRequest("connectorConfiguration", "connector.class cannot be changed (it is %q)", cur.ConnectorConfiguration["connector.class"])
				}
				state.Origin, state.Target = cur.ConnectorConfiguration, req.ConnectorConfiguration
				desc.OriginConnectorConfiguration = maskConfiguration(state.Origin)
				desc.TargetConnectorConfiguration = maskConfiguration(state.Target)
			}
			// The scheduler's leader carries the operation through its steps (server/workload/operations.go);
			// the connector keeps its description until the first step applies the target.
			desc.OperationSteps = workload.NewOperationSteps(opType)
			desc.ConnectorOperationType = proto.String(opType)
			desc.ConnectorOperationState = proto.String("UPDATE_IN_PROGRESS")
			op.State = "UPDATE_IN_PROGRESS"
			op.Doc = workload.EncodeDoc(desc)
			state.Creating = r.State == stateCreating
			sec, err := json.Marshal(state)
			if err != nil {
				return err
			}
			op.Secret = sec
			r.State, r.StateCode, r.StateMessage = stateUpdating, "", ""
			return nil
		})
	if err != nil {
		return nil, s.storeErr(ctx, err, "connector "+arn)
	}
	s.trigger()
	return &kc.UpdateConnectorResponse{
		ConnectorArn: proto.String(arn), ConnectorState: proto.String(updated.State), ConnectorOperationArn: proto.String(opARN),
	}, nil
}

// maskConfiguration hides values as AWS does in connector operations: every value is shown as
// "<redacted>" except connector.class and tasks.max.
func maskConfiguration(conf map[string]string) map[string]string {
	out := make(map[string]string, len(conf))
	for k, v := range conf {
		if k == "connector.class" || k == "tasks.max" {
			out[k] = v
			continue
		}
		out[k] = "<redacted>"
	}
	return out
}

func (c *connectService) DeleteConnector(ctx context.Context, req *kc.DeleteConnectorRequest) (*kc.DeleteConnectorResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("DeleteConnector", req); err != nil {
		return nil, err
	}
	arn := req.GetConnectorArn()
	if _, err := resourceARN(caller, arn, "connectorArn", kafkaConnectSvc, rtConnector); err != nil {
		return nil, err
	}
	_, err = s.st.Connectors.Update(ctx, caller.AccountID, caller.Region, arn, store.UpdateOptions{ExpectVersion: req.GetCurrentVersion()},
		func(r *store.Resource) error {
			r.State, r.StateCode, r.StateMessage = stateDeleting, "", ""
			return nil
		})
	if err != nil {
		return nil, s.storeErr(ctx, err, "connector "+arn)
	}
	s.trigger()
	return &kc.DeleteConnectorResponse{ConnectorArn: proto.String(arn), ConnectorState: proto.String(stateDeleting)}, nil
}

// ---- connector operations ----

func (c *connectService) DescribeConnectorOperation(ctx context.Context, req *kc.DescribeConnectorOperationRequest) (*kc.DescribeConnectorOperationResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("DescribeConnectorOperation", req); err != nil {
		return nil, err
	}
	arn := req.GetConnectorOperationArn()
	if _, err := resourceARN(caller, arn, "connectorOperationArn", kafkaConnectSvc, rtConnectorOp); err != nil {
		return nil, err
	}
	op, err := s.st.Operation(ctx, caller.AccountID, arn)
	if err != nil {
		return nil, s.storeErr(ctx, err, "connector operation "+arn)
	}
	return workload.OperationDescription(op)
}

func (c *connectService) ListConnectorOperations(ctx context.Context, req *kc.ListConnectorOperationsRequest) (*kc.ListConnectorOperationsResponse, error) {
	s := c.s
	caller, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.validate("ListConnectorOperations", req); err != nil {
		return nil, err
	}
	arn := req.GetConnectorArn()
	if _, err := c.connector(ctx, caller, arn, "connectorArn"); err != nil {
		return nil, err
	}
	var after *store.Operation
	if req.NextToken != nil {
		pos, err := s.tokens.open(req.GetNextToken(), "connector-operations", caller.AccountID, arn)
		if err != nil {
			return nil, err
		}
		after = &store.Operation{ARN: pos.ARN, CreatedAt: timeFromMicros(pos.Time)}
	}
	limit := pageSize(req.MaxResults)
	ops, err := s.st.Operations(ctx, arn, after, limit+1)
	if err != nil {
		return nil, s.storeErr(ctx, err, "connector "+arn)
	}
	out := &kc.ListConnectorOperationsResponse{}
	for i, op := range ops {
		if i == limit {
			last := ops[limit-1]
			out.NextToken = proto.String(s.tokens.mint(pagePosition{Kind: "connector-operations", Account: caller.AccountID, Filter: arn,
				ARN: last.ARN, Time: last.CreatedAt.UnixMicro()}))
			break
		}
		d, err := workload.OperationDescription(op)
		if err != nil {
			return nil, s.storeErr(ctx, err, "connector operation "+op.ARN)
		}
		sum := &kc.ConnectorOperationSummary{}
		project(sum, d)
		out.ConnectorOperations = append(out.ConnectorOperations, sum)
	}
	return out, nil
}

// ---- tags (both services: /v1/tags/{resourceArn} routes by the ARN's service) ----

func (c *connectService) TagResource(ctx context.Context, req *kc.TagResourceRequest) (*kc.TagResourceResponse, error) {
	if err := c.validate("TagResource", req); err != nil {
		return nil, err
	}
	return &kc.TagResourceResponse{}, c.s.tagResource(ctx, req.GetResourceArn(), req.GetTags())
}

func (c *connectService) UntagResource(ctx context.Context, req *kc.UntagResourceRequest) (*kc.UntagResourceResponse, error) {
	if err := c.validate("UntagResource", req); err != nil {
		return nil, err
	}
	return &kc.UntagResourceResponse{}, c.s.untagResource(ctx, req.GetResourceArn(), req.GetTagKeys())
}

func (c *connectService) ListTagsForResource(ctx context.Context, req *kc.ListTagsForResourceRequest) (*kc.ListTagsForResourceResponse, error) {
	if err := c.validate("ListTagsForResource", req); err != nil {
		return nil, err
	}
	tags, err := c.s.listTags(ctx, req.GetResourceArn())
	return &kc.ListTagsForResourceResponse{Tags: tags}, err
}

// ---- rules beyond the model ----

// checkCapacity enforces MSK Connect's documented capacity rules.
func checkCapacity(c *kc.Capacity, member string) error {
	if c == nil {
		return apierr.BadRequest(member, "%s is required", member)
	}
	if (c.AutoScaling == nil) == (c.ProvisionedCapacity == nil) {
		return apierr.BadRequest(member, "%s must set exactly one of autoScaling and provisionedCapacity", member)
	}
	mcu := func(m string, v int32) error {
		if v != 1 && v != 2 && v != 4 && v != 8 {
			return apierr.BadRequest(m, "%s must be 1, 2, 4 or 8, got %d", m, v)
		}
		return nil
	}
	if p := c.ProvisionedCapacity; p != nil {
		if err := mcu(member+".provisionedCapacity.mcuCount", p.GetMcuCount()); err != nil {
			return err
		}
		if w := p.GetWorkerCount(); w < 1 || w > 10 {
			return apierr.BadRequest(member+".provisionedCapacity.workerCount", "%s.provisionedCapacity.workerCount must be between 1 and 10, got %d", member, w)
		}
		return nil
	}
	a := c.AutoScaling
	m := member + ".autoScaling"
	if err := mcu(m+".mcuCount", a.GetMcuCount()); err != nil {
		return err
	}
	if a.GetMinWorkerCount() < 1 || a.GetMinWorkerCount() > 10 {
		return apierr.BadRequest(m+".minWorkerCount", "%s.minWorkerCount must be between 1 and 10, got %d", m, a.GetMinWorkerCount())
	}
	if a.GetMaxWorkerCount() < 1 || a.GetMaxWorkerCount() > 10 {
		return apierr.BadRequest(m+".maxWorkerCount", "%s.maxWorkerCount must be between 1 and 10, got %d", m, a.GetMaxWorkerCount())
	}
	if a.GetMinWorkerCount() > a.GetMaxWorkerCount() {
		return apierr.BadRequest(m+".minWorkerCount", "%s.minWorkerCount (%d) must not exceed maxWorkerCount (%d)", m, a.GetMinWorkerCount(), a.GetMaxWorkerCount())
	}
	if a.MaxAutoscalingTaskCount != nil && a.GetMaxAutoscalingTaskCount() < a.GetMaxWorkerCount() {
		return apierr.BadRequest(m+".maxAutoscalingTaskCount", "%s.maxAutoscalingTaskCount (%d) must be at least maxWorkerCount (%d)", m, a.GetMaxAutoscalingTaskCount(), a.GetMaxWorkerCount())
	}
	in, out := int32(20), int32(80)
	if a.ScaleInPolicy != nil {
		in = a.ScaleInPolicy.GetCpuUtilizationPercentage()
	}
	if a.ScaleOutPolicy != nil {
		out = a.ScaleOutPolicy.GetCpuUtilizationPercentage()
	}
	if in >= out {
		return apierr.BadRequest(m+".scaleInPolicy.cpuUtilizationPercentage", "%s.scaleInPolicy.cpuUtilizationPercentage (%d) must be below scaleOutPolicy.cpuUtilizationPercentage (%d)", m, in, out)
	}
	return nil
}

// fillCapacityDefaults fills the scaling policies AWS defaults (scale in below 20 %, out
// above 80 %).
func fillCapacityDefaults(c *kc.CapacityDescription) {
	if c == nil || c.AutoScaling == nil {
		return
	}
	if c.AutoScaling.ScaleInPolicy == nil {
		c.AutoScaling.ScaleInPolicy = &kc.ScaleInPolicyDescription{CpuUtilizationPercentage: proto.Int32(20)}
	}
	if c.AutoScaling.ScaleOutPolicy == nil {
		c.AutoScaling.ScaleOutPolicy = &kc.ScaleOutPolicyDescription{CpuUtilizationPercentage: proto.Int32(80)}
	}
}

// checkConnectorConfiguration validates a connector configuration against the class registry
// (workers/catalog), the same validation the workers apply: the first problem is a
// BadRequestException naming the member and the key, and all of them are listed.
func checkConnectorConfiguration(conf map[string]string, member string) (*catalog.Class, error) {
	class, errs := catalog.Validate(conf)
	if len(errs) == 0 {
		return class, nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Key + ": " + e.Message
	}
	return nil, apierr.BadRequest(member, "%s: %s", member, strings.Join(msgs, "; "))
}

// checkBootstrapServers checks a "host:port[,host:port…]" list.
func checkBootstrapServers(s, member string) error {
	if strings.TrimSpace(s) == "" {
		return apierr.BadRequest(member, "%s must not be empty", member)
	}
	for _, hp := range strings.Split(s, ",") {
		hp = strings.TrimSpace(hp)
		i := strings.LastIndexByte(hp, ':')
		if i <= 0 || i == len(hp)-1 {
			return apierr.BadRequest(member, "%s must be host:port[,host:port…]; %q has no port", member, hp)
		}
		var port int
		if _, err := fmt.Sscanf(hp[i+1:], "%d", &port); err != nil || port < 1 || port > 65535 {
			return apierr.BadRequest(member, "%s: %q has an invalid port", member, hp)
		}
	}
	return nil
}

// AWS's documented tag limits (Amazon MSK's tag restrictions; the kafkaconnect model agrees on
// the lengths, the kafka model states none of them): at most store.MaxTags (50) tags per
// resource, keys of 1 to 128 characters not starting with aws:, values of at most 256. Handlers
// check them right after the model's validation, before any database work.
const (
	maxTagKeyLen   = 128
	maxTagValueLen = 256
	// maxTagKeys bounds an UntagResource's tagKeys (the kafkaconnect model's TagKeyList).
	maxTagKeys = 200
)

// checkTags enforces AWS's tag rules beyond the model: the count, the key and value lengths and
// the reserved aws: prefix. Over-long keys are not echoed.
func checkTags(tags map[string]string) error {
	if len(tags) > store.MaxTags {
		return apierr.BadRequest("tags", "tags: a resource can have at most %d tags; the request has %d", store.MaxTags, len(tags))
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := checkTagKey(k, "tags"); err != nil {
			return err
		}
		if n := utf8.RuneCountInString(tags[k]); n > maxTagValueLen {
			return apierr.BadRequest("tags."+k, "tags.%s: a tag value can have at most %d characters; it has %d", k, maxTagValueLen, n)
		}
	}
	return nil
}

// checkTagKey checks one tag key; member names the list or map it is in.
func checkTagKey(k, member string) error {
	if n := utf8.RuneCountInString(k); n < 1 || n > maxTagKeyLen {
		return apierr.BadRequest(member, "%s: a tag key must have 1 to %d characters; one has %d", member, maxTagKeyLen, n)
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return apierr.BadRequest(member, "%s: tag key %q uses the reserved prefix aws:", member, k)
	}
	return nil
}

// checkTagKeys checks an UntagResource's tagKeys: at most maxTagKeys keys of 1 to 128
// characters.
func checkTagKeys(keys []string) error {
	if len(keys) > maxTagKeys {
		return apierr.BadRequest("tagKeys", "tagKeys: at most %d tag keys per request; the request has %d", maxTagKeys, len(keys))
	}
	for _, k := range keys {
		if n := utf8.RuneCountInString(k); n < 1 || n > maxTagKeyLen {
			return apierr.BadRequest("tagKeys", "tagKeys: a tag key must have 1 to %d characters; one has %d", maxTagKeyLen, n)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
