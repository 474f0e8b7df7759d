package connectrest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/workers/catalog"
)

// A source connector's offsets are the records of its Connect offsets topic on its
// kafkaCluster (workload.Compiler.ConnectOffsetsTopic): key ["<connector>",{partition}], value
// {offset} or null (a tombstone), as Kafka Connect keeps them. The workers read them when their
// tasks start, so the offsets routes read and write that topic.

// offsetTimeout bounds a read or write of the offsets topic.
const offsetTimeout = 20 * time.Second

// offsetRecord is one live offset: its key as stored (the bytes a tombstone must repeat) and
// the partition it is in.
type offsetRecord struct {
	key       []byte
	partition int32
	part      json.RawMessage
	offset    json.RawMessage
}

type offsetEntry struct {
	Partition json.RawMessage `json:"partition"`
	Offset    json.RawMessage `json:"offset"`
}

type offsetsBody struct {
	Offsets []offsetEntry `json:"offsets"`
}

// offsetsClient opens a client of connector v's kafkaCluster and names its offsets topic.
func (a *API) offsetsClient(r *request, v *view) (*kgo.Client, string, error) {
	topic, err := a.srv.Workload().ConnectOffsetsTopic(r.ctx, v.d)
	if err != nil {
		return nil, "", connectError(http.StatusBadRequest, "the offsets topic of connector %s cannot be named: %v", v.r.Name, err)
	}
	if strings.EqualFold(v.d.GetKafkaClusterClientAuthentication().GetAuthenticationType(), "IAM") {
		return nil, "", connectError(http.StatusBadRequest, "connector %s uses IAM authentication to its Kafka cluster, which Fjord does not support", v.r.Name)
	}
	var seeds []string
	for _, s := range strings.Split(v.d.GetKafkaCluster().GetApacheKafkaCluster().GetBootstrapServers(), ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.RequestRetries(3),
		kgo.DialTimeout(5 * time.Second)}
	if strings.EqualFold(v.d.GetKafkaClusterEncryptionInTransit().GetEncryptionType(), "TLS") {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, "", connectError(http.StatusBadRequest, "connector %s's Kafka cluster: %v", v.r.Name, err)
	}
	return cl, topic, nil
}

// readOffsets reads every live offset of the connector from its offsets topic, and the
// topic's partition count (0 when it does not exist).
func (a *API) readOffsets(ctx context.Context, cl *kgo.Client, topic, connector string) (map[string]*offsetRecord, int, error) {
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return map[string]*offsetRecord{}, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, 0, err
	}
	assign := map[int32]kgo.Offset{}
	remaining := map[int32]int64{}
	parts := 0
	ends.Each(func(o kadm.ListedOffset) {
		parts++
		if s, ok := starts.Lookup(topic, o.Partition); ok && o.Offset > s.Offset {
			assign[o.Partition] = kgo.NewOffset().At(s.Offset)
			remaining[o.Partition] = o.Offset - 1
		}
	})
	out := map[string]*offsetRecord{}
	if len(assign) == 0 {
		return out, parts, nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign})
	defer cl.RemoveConsumePartitions(map[string][]int32{topic: keysOf32(assign)})
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if ferr == nil && !kerr.IsRetriable(err) {
				ferr = err
			}
		})
		if ferr != nil {
			return nil, 0, ferr
		}
		fs.EachRecord(func(rec *kgo.Record) {
			if last, ok := remaining[rec.Partition]; ok && rec.Offset >= last {
				delete(remaining, rec.Partition)
			}
			if rec.Attrs.IsControl() {
				return
			}
			var key []json.RawMessage
			var name string
			if json.Unmarshal(rec.Key, &key) != nil || len(key) != 2 || json.Unmarshal(key[0], &name) != nil || name != connector {
				return // another connector's record in a shared topic
			}
			if rec.Value == nil {
				delete(out, string(rec.Key))
				return
			}
			out[string(rec.Key)] = &offsetRecord{key: rec.Key, partition: rec.Partition, part: key[1], offset: json.RawMessage(rec.Value)}
		})
	}
	return out, parts, nil
}

func keysOf32(m map[int32]kgo.Offset) []int32 {
	out := make([]int32, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	return out
}

func (a *API) offsets(r *request) (int, any, error) {
	v, err := a.view(r, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	cl, topic, err := a.offsetsClient(r, v)
	if err != nil {
		return 0, nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(r.ctx, offsetTimeout)
	defer cancel()
	recs, _, err := a.readOffsets(ctx, cl, topic, v.r.Name)
	if err != nil {
		return 0, nil, kafkaError(v, err)
	}
	out := offsetsBody{Offsets: []offsetEntry{}}
	keys := make([]string, 0, len(recs))
	for k := range recs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Offsets = append(out.Offsets, offsetEntry{Partition: recs[k].part, Offset: recs[k].offset})
	}
	return http.StatusOK, out, nil
}

func kafkaError(v *view, err error) *Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return connectError(http.StatusInternalServerError, "timed out reading the offsets of connector %s from its Kafka cluster %s",
			v.r.Name, v.d.GetKafkaCluster().GetApacheKafkaCluster().GetBootstrapServers())
	}
	return connectError(http.StatusInternalServerError, "the offsets of connector %s on its Kafka cluster: %v", v.r.Name, err)
}

// stoppedView is the connector of an offsets change: it must be STOPPED (KIP-875) and its
// workers gone (their tasks recorded their last offsets).
func (a *API) stoppedView(r *request) (*view, error) {
	v, err := a.view(r, r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	if v.r.TargetState != store.TargetStopped {
		return nil, connectError(http.StatusBadRequest, "Connectors must be in the STOPPED state before their offsets can be modified. "+
			"This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", v.r.Name)
	}
	ws, err := a.st.WorkloadWorkers(r.ctx, v.r.ARN)
	if err != nil {
		return nil, storeError(err)
	}
	running := 0
	for _, w := range ws {
		if w.AgentID != "" { // an unplaced worker runs nothing
			running++
		}
	}
	if running > 0 {
		return nil, connectError(http.StatusConflict, "Connector %s is stopping: %d of its workers still run; try again in a moment", v.r.Name, running)
	}
	if connectorType(v.d.ConnectorConfiguration) != string(catalog.KindSource) {
		return nil, connectError(http.StatusBadRequest, "Connector %s is not a source connector; Fjord keeps offsets for source connectors only", v.r.Name)
	}
	return v, nil
}

const (
	resetMessage = "The Connect framework-managed offsets for this connector have been reset successfully. " +
		"However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses."
	alterMessage = "The Connect framework-managed offsets for this connector have been altered successfully. " +
		"However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses."
)

func (a *API) resetOffsets(r *request) (int, any, error) {
	v, err := a.stoppedView(r)
	if err != nil {
		return 0, nil, err
	}
	cl, topic, err := a.offsetsClient(r, v)
	if err != nil {
		return 0, nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(r.ctx, offsetTimeout)
	defer cancel()
	recs, _, err := a.readOffsets(ctx, cl, topic, v.r.Name)
	if err != nil {
		return 0, nil, kafkaError(v, err)
	}
	var tombstones []*kgo.Record
	for _, rec := range recs {
		tombstones = append(tombstones, &kgo.Record{Topic: topic, Partition: rec.partition, Key: rec.key})
	}
	if len(tombstones) > 0 {
		if err := cl.ProduceSync(ctx, tombstones...).FirstErr(); err != nil {
			return 0, nil, kafkaError(v, err)
		}
	}
	a.log.Info("connector offsets reset", "connector_arn", v.r.ARN, "offsets", len(tombstones))
	return http.StatusOK, map[string]string{"message": resetMessage}, nil
}

// mirrorPartition is a MirrorSource partition as its tasks write it (the key's field order).
type mirrorPartition struct {
	Cluster   string `json:"cluster"`
	Partition int32  `json:"partition"`
	Topic     string `json:"topic"`
}

// encodeJSON encodes as the workers do: no HTML escaping, no trailing newline.
func encodeJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func (a *API) alterOffsets(r *request) (int, any, error) {
	v, err := a.stoppedView(r)
	if err != nil {
		return 0, nil, err
	}
	var body offsetsBody
	if err := decode(r, &body); err != nil {
		return 0, nil, err
	}
	if len(body.Offsets) == 0 {
		return 0, nil, connectError(http.StatusBadRequest, "The offsets to be altered must not be null or empty")
	}
	// MirrorSourceConnector.alterOffsets's rules: a partition names cluster, topic and
	// partition; an offset is null (reset) or {"offset": N ≥ 0}.
	type change struct {
		key   []byte
		value []byte // nil: tombstone
	}
	var changes []change
	for i, e := range body.Offsets {
		var p struct {
			Cluster   *string `json:"cluster"`
			Topic     *string `json:"topic"`
			Partition *int32  `json:"partition"`
		}
		if err := json.Unmarshal(e.Partition, &p); err != nil || p.Cluster == nil || p.Topic == nil || p.Partition == nil || *p.Partition < 0 {
			return 0, nil, connectError(http.StatusBadRequest,
				"offsets[%d]: the partition must be an object with the string keys \"cluster\" and \"topic\" and a non-negative integer \"partition\"", i)
		}
		ch := change{key: encodeJSON([]any{v.r.Name, mirrorPartition{Cluster: *p.Cluster, Partition: *p.Partition, Topic: *p.Topic}})}
		if len(e.Offset) > 0 && string(e.Offset) != "null" {
			var o struct {
				Offset *int64 `json:"offset"`
			}
			if err := json.Unmarshal(e.Offset, &o); err != nil || o.Offset == nil || *o.Offset < 0 {
				return 0, nil, connectError(http.StatusBadRequest, "offsets[%d]: the offset must be null or an object with a non-negative integer \"offset\"", i)
			}
			ch.value = encodeJSON(map[string]int64{"offset": *o.Offset})
		}
		changes = append(changes, ch)
	}
	cl, topic, err := a.offsetsClient(r, v)
	if err != nil {
		return 0, nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(r.ctx, offsetTimeout)
	defer cancel()
	recs, parts, err := a.readOffsets(ctx, cl, topic, v.r.Name)
	if err != nil {
		return 0, nil, kafkaError(v, err)
	}
	if parts == 0 {
		return 0, nil, connectError(http.StatusBadRequest, "connector %s has no offsets topic %s yet: start it once first", v.r.Name, topic)
	}
	var out []*kgo.Record
	for _, ch := range changes {
		rec := &kgo.Record{Topic: topic, Key: ch.key, Value: ch.value}
		if old, ok := recs[string(ch.key)]; ok {
			rec.Partition = old.partition
		} else {
			// Where the workers would write it: Kafka's murmur2 partitioning of the key.
			rec.Partition = int32(kgo.StickyKeyPartitioner(nil).ForTopic(topic).Partition(rec, parts))
		}
		out = append(out, rec)
	}
	if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
		return 0, nil, kafkaError(v, err)
	}
	a.log.Info("connector offsets altered", "connector_arn", v.r.ARN, "offsets", len(out))
	return http.StatusOK, map[string]string{"message": alterMessage}, nil
}

// topics are the topics a connector writes: for MirrorMaker 2's source connector, the copies of
// the source topics its offsets name (the replication policy's names); Fjord keeps no other
// record of a connector's active topics.
func (a *API) topics(r *request) (int, any, error) {
	v, err := a.view(r, r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	names := []string{}
	if c, ok := catalog.Lookup(v.d.ConnectorConfiguration["connector.class"]); ok && c.Name == catalog.MirrorSource {
		cl, topic, err := a.offsetsClient(r, v)
		if err != nil {
			return 0, nil, err
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(r.ctx, offsetTimeout)
		defer cancel()
		recs, _, err := a.readOffsets(ctx, cl, topic, v.r.Name)
		if err != nil {
			return 0, nil, kafkaError(v, err)
		}
		conf := v.d.ConnectorConfiguration
		identity := strings.Contains(conf["replication.policy.class"], "IdentityReplicationPolicy")
		sep := conf["replication.policy.separator"]
		if sep == "" {
			sep = "."
		}
		seen := map[string]bool{}
		for _, rec := range recs {
			var p mirrorPartition
			if json.Unmarshal(rec.part, &p) != nil {
				continue
			}
			name := p.Topic
			if !identity {
				name = p.Cluster + sep + p.Topic
			}
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
		sort.Strings(names)
	}
	return http.StatusOK, map[string]map[string][]string{v.r.Name: {"topics": names}}, nil
}

// resetTopics answers as Connect does; the set is derived from the connector's offsets (see
// topics), so there is nothing else to clear.
func (a *API) resetTopics(r *request) (int, any, error) {
	if _, err := a.view(r, r.PathValue("name")); err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, nil, nil
}
