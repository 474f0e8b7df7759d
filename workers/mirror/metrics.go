package mirror

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// MetricsSink receives a SourceTask's metrics. Calls come from the task's ticker goroutine
// about once a second (and once more on stop), one call per owned source partition that had
// something to report, plus Error calls from any goroutine; implementations must be safe for
// concurrent use and must not block. Topic and partition are the source's.
type MetricsSink interface {
	// Replicated reports the records, and their bytes (key + value + header keys and values),
	// the target acknowledged since the previous call (MSK: ReplicatorThroughput,
	// ReplicatorBytesInPerSec). In transactional mode they become visible at the next commit.
	Replicated(topic string, partition int32, records, bytes int64)
	// Latency reports the replication latency of the records acknowledged since the previous
	// call: mean and max of (target acknowledgement time − the record's timestamp). That is
	// MSK's ReplicationLatency: produce to the source until written to the target; for
	// records with LogAppendTime it starts at the source broker's append, and for records
	// replayed long after they were produced it includes their age.
	Latency(topic string, partition int32, mean, max time.Duration)
	// Lag reports how many records of the partition are not yet replicated: the source's high
	// watermark at the latest fetch minus the next offset to acknowledge (MSK: MessageLag).
	// It is called when that number changed since the partition's previous Lag call (at
	// 12,000 partitions, reporting each one every second was most of an idle task's metrics
	// work).
	Lag(topic string, partition int32, records int64)
	// Polled reports the records fetched from the source partition since the previous call,
	// whether copied or skipped (MSK: SourceRecordPollRate; Replicated is the write rate).
	Polled(topic string, partition int32, records int64)
	// Topics reports the source topics the task replicates (owns a partition of), sorted,
	// once per report (MSK: TopicCount). The sink may keep the slice.
	Topics(topics []string)
	// Error counts a failure; op says what failed: fetch, produce, offset_sync, progress,
	// refresh, fatal.
	Error(op string, err error)
}

func (t *SourceTask) metricsError(op string, err error) {
	if t.opts.Metrics != nil {
		t.opts.Metrics.Error(op, err)
	}
}

func (t *SourceTask) reportMetrics() {
	m := t.opts.Metrics
	if m == nil {
		return
	}
	t.mu.RLock()
	parts := make([]*partState, 0, len(t.bySource))
	for _, ps := range t.bySource {
		parts = append(parts, ps)
	}
	gen := t.ownedGen
	t.mu.RUnlock()
	for _, ps := range parts {
		hwm := ps.hwm.Load()
		ps.mu.Lock()
		n, b, sum, mx, acked, polled := ps.nRecords, ps.nBytes, ps.latSum, ps.latMax, ps.acked, ps.nPolled
		ps.nRecords, ps.nBytes, ps.latSum, ps.latMax, ps.nPolled = 0, 0, 0, 0, 0
		lag := int64(-1)
		if hwm >= 0 {
			if lag = max(0, hwm-(acked+1)); lag == ps.lagReported {
				lag = -1 // unchanged: not reported again
			} else {
				ps.lagReported = lag
			}
		}
		ps.mu.Unlock()
		if polled > 0 {
			m.Polled(ps.src.topic, ps.src.partition, polled)
		}
		if n > 0 {
			m.Replicated(ps.src.topic, ps.src.partition, n, b)
			m.Latency(ps.src.topic, ps.src.partition, sum/time.Duration(n), mx)
		}
		if lag >= 0 {
			m.Lag(ps.src.topic, ps.src.partition, lag)
		}
	}
	// The owned topics change only when partitions are added or dropped: recomputed then.
	if t.reportedTopics == nil || gen != t.reportedGen {
		t.reportedTopics, t.reportedGen = slices.Sorted(slices.Values(t.ownedTopics())), gen
	}
	m.Topics(t.reportedTopics)
}

// kgoLogger sends franz-go's warnings and errors to slog.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelInfo
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	case kgo.LogLevelDebug:
		lv = slog.LevelDebug
	}
	k.l.Log(context.Background(), lv, "kgo: "+msg, keyvals...)
}
