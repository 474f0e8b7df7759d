package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	kc "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/server/artifact"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
)

// trigger asks the lifecycle loop and the scheduler (on whichever replica leads) to run now
// rather than at their next tick.
func (s *Server) trigger() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.st.NotifyReconcile(ctx); err != nil {
		s.log.Warn("notify the scheduler", "error", err)
	}
}

// lifecycleLoop advances the lifecycle the API server owns on its own: custom plugins
// CREATING → ACTIVE / CREATE_FAILED (fetch, inspect and index the object's classes), and the
// class index of ACTIVE plugins that have none. Workloads' lifecycles
// (CREATING → RUNNING, DELETING → gone) belong to the scheduler. Every step is idempotent and re-checks the state in the
// transaction that changes it, so several server replicas may run the loop at once, and a
// crash mid-step is resumed by the next tick of any replica.
func (s *Server) lifecycleLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.LifecycleInterval)
	defer t.Stop()
	var inflight, indexFailed sync.Map
	var wg sync.WaitGroup
	defer wg.Wait()
	// slots bounds the fetches of this replica (PluginIngestConcurrency). A plugin that finds
	// none stays CREATING and is taken at the next tick; a finished fetch kicks the loop so that
	// the next one starts at once.
	slots := make(chan struct{}, s.cfg.PluginIngestConcurrency)
	start := func(key string, fn func()) bool {
		if _, busy := inflight.Load(key); busy {
			return true
		}
		select {
		case slots <- struct{}{}:
		default:
			return false
		}
		inflight.Store(key, true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				inflight.Delete(key)
				<-slots
				select {
				case s.kick <- struct{}{}:
				default:
				}
			}()
			fn()
		}()
		return true
	}
	s.backfillConnectorUses(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		if keys, err := s.st.CustomPlugins.ARNsInState(ctx, stateCreating); err == nil {
			for _, k := range keys {
				if !start(k.ARN, func() { s.ingestPlugin(ctx, k) }) {
					break
				}
			}
		} else if ctx.Err() == nil {
			s.log.Warn("list plugins to ingest", "error", err)
		}
		if uses, err := s.st.PluginsUnindexed(ctx); err == nil {
			for _, u := range uses {
				key := fmt.Sprintf("index %s %d", u.ARN, u.Revision)
				if at, failed := indexFailed.Load(key); failed && time.Since(at.(time.Time)) < indexRetry {
					continue
				}
				if !start(key, func() {
					if err := s.indexPlugin(ctx, u); err != nil && ctx.Err() == nil {
						indexFailed.Store(key, time.Now())
						s.log.Warn("index custom plugin", "custom_plugin_arn", u.ARN, "revision", u.Revision, "error", err)
					}
				}) {
					break
				}
			}
		} else if ctx.Err() == nil {
			s.log.Warn("list plugins to index", "error", err)
		}
	}
}

var errSkip = errors.New("state changed")

// pluginFetchTimeout bounds one plugin ingestion.
const pluginFetchTimeout = 5 * time.Minute

// ingestPlugin fetches and inspects a CREATING custom plugin's object and records the outcome.
func (s *Server) ingestPlugin(ctx context.Context, k store.Key) {
	log := s.log.With("custom_plugin_arn", k.ARN)
	r, err := s.st.CustomPlugins.Get(ctx, k.AccountID, k.Region, k.ARN)
	if err != nil || r.State != stateCreating {
		return
	}
	doc := &kc.DescribeCustomPluginResponse{}
	if err := workload.DecodeDoc(r.Doc, doc); err != nil {
		log.Error("decode plugin", "error", err)
		return
	}
	rev := doc.GetLatestRevision()
	loc := rev.GetLocation().GetS3Location()
	fctx, cancel := context.WithTimeout(ctx, pluginFetchTimeout)
	info, index, ierr := artifact.InspectIndex(fctx, s.cfg.Artifacts, artifact.Location{
		BucketARN: loc.GetBucketArn(), Key: loc.GetFileKey(), Version: loc.GetObjectVersion(),
	}, rev.GetContentType())
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the next start resumes
	}
	if ierr == nil {
		// The index is written before the plugin turns ACTIVE, so that no connector sees an
		// ACTIVE plugin without its classes; a crash in between indexes again.
		if err := s.putPluginClasses(ctx, k.ARN, rev.GetRevision(), index); err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				log.Error("record plugin classes", "error", err)
			}
			return
		}
	}
	_, err = s.st.CustomPlugins.Update(ctx, k.AccountID, k.Region, k.ARN, store.UpdateOptions{}, func(r *store.Resource) error {
		if r.State != stateCreating {
			return errSkip
		}
		if ierr != nil {
			r.State, r.StateCode, r.StateMessage = "CREATE_FAILED", "PLUGIN_OBJECT_INVALID", ierr.Error()
			return nil
		}
		rev.FileDescription = &kc.CustomPluginFileDescription{FileMd5: proto.String(info.MD5), FileSize: proto.Int64(info.Size)}
		r.State, r.StateCode, r.StateMessage = stateActive, "", ""
		r.Doc = workload.EncodeDoc(doc)
		return nil
	})
	switch {
	case errors.Is(err, errSkip), errors.Is(err, store.ErrNotFound):
	case err != nil:
		log.Error("record plugin ingestion", "error", err)
	case ierr != nil:
		log.Info("custom plugin failed", "reason", ierr.Error())
	default:
		log.Info("custom plugin active", "file_size", info.Size, "file_md5", info.MD5,
			"classes", len(index.Classes), "archives", index.Archives, "unreadable_archives", len(index.Unreadable))
	}
}

// backfillConnectorUses records the plugin and worker configuration revisions of connectors
// created before Fjord recorded them, so that those revisions cannot be deleted under them
// either. It runs once per start of the loop; every server replica may run it (it is
// idempotent).
func (s *Server) backfillConnectorUses(ctx context.Context) {
	docs, err := s.st.ConnectorsWithoutUses(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("list connectors without recorded uses", "error", err)
		}
		return
	}
	for _, c := range docs {
		d := &kc.DescribeConnectorResponse{}
		if err := workload.DecodeDoc(c.Doc, d); err != nil {
			s.log.Error("decode connector", "connector_arn", c.ARN, "error", err)
			continue
		}
		uses := store.ConnectorUses{Plugins: connectorPlugins(d.Plugins)}
		if wc := d.WorkerConfiguration; wc != nil && wc.GetWorkerConfigurationArn() != "" {
			uses.WorkerConfiguration = &store.Use{ARN: wc.GetWorkerConfigurationArn(), Revision: wc.GetRevision()}
		}
		err := s.st.ConnectorUsesPut(ctx, c.ARN, uses)
		var gone *store.GoneError
		switch {
		case errors.As(err, &gone):
			s.log.Warn("connector uses a revision that no longer exists", "connector_arn", c.ARN, "error", err)
		case errors.Is(err, store.ErrNotFound), err == nil:
		default:
			s.log.Warn("record connector uses", "connector_arn", c.ARN, "error", err)
		}
	}
	if len(docs) > 0 {
		s.log.Info("recorded the uses of earlier connectors", "connectors", len(docs))
	}
}

func (s *Server) putPluginClasses(ctx context.Context, arn string, revision int64, index *artifact.Index) error {
	return s.st.PluginClassesPut(ctx, &store.PluginClasses{ARN: arn, Revision: revision,
		Classes: index.Classes, Archives: index.Archives, Unreadable: index.Unreadable})
}

// indexRetry is how long a replica waits before indexing an ACTIVE plugin again after a
// failure.
const indexRetry = 5 * time.Minute

// indexPlugin indexes the classes of an ACTIVE plugin revision that has no index: one that
// became ACTIVE before Fjord indexed plugins. Its state does not change; a failure is logged
// and retried after indexRetry.
func (s *Server) indexPlugin(ctx context.Context, u store.Use) error {
	r, err := s.st.CustomPlugins.ByARN(ctx, u.ARN)
	if err != nil {
		return err
	}
	rev, err := s.st.CustomPlugins.Revision(ctx, u.ARN, u.Revision)
	if err != nil {
		return err
	}
	desc := &kc.CustomPluginRevisionSummary{}
	if err := workload.DecodeDoc(rev.Doc, desc); err != nil {
		return err
	}
	loc := desc.GetLocation().GetS3Location()
	fctx, cancel := context.WithTimeout(ctx, pluginFetchTimeout)
	_, index, err := artifact.InspectIndex(fctx, s.cfg.Artifacts, artifact.Location{
		BucketARN: loc.GetBucketArn(), Key: loc.GetFileKey(), Version: loc.GetObjectVersion(),
	}, desc.GetContentType())
	cancel()
	if err != nil {
		return err
	}
	if err := s.putPluginClasses(ctx, r.ARN, u.Revision, index); err != nil {
		return err
	}
	s.log.Info("custom plugin indexed", "custom_plugin_arn", r.ARN, "revision", u.Revision, "classes", len(index.Classes))
	return nil
}
