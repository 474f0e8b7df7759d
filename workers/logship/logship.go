// Package logship delivers a worker's log lines to the destinations of its workload's log
// delivery — CloudWatch Logs (one stream per worker), Amazon S3 (gzipped batches under the
// layout AWS's vended logs use) and Amazon Data Firehose (one record per line) — as MSK
// Connect's workerLogDelivery and MSK Replicator's replicatorLogDelivery do.
//
// The Shipper is an io.Writer the worker's slog JSON handler writes to besides stderr: Write
// copies the line into every destination's queue and never blocks, so delivery never slows
// replication. Each destination has its own goroutine that sends batches (every
// FlushInterval, or sooner when a batch is full), retries a refused batch with backoff while
// keeping its lines, and bounds its queue (MaxQueueBytes): past it the oldest lines are
// dropped and counted. A destination that refuses writes is reported by Problem (the worker
// puts it in its status, and the server records it as a workload event) and in the
// fjord_log_delivery_* metrics. Close sends what is queued, within a bound.
//
// The AWS clients use the SDK's usual configuration: credentials from the environment or the
// instance role, endpoints from AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> (buckets are
// then addressed path-style), the region of the workload's ARN.
package logship

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
)

// Options configure a Shipper.
type Options struct {
	// WorkerID names the worker: its CloudWatch Logs stream and its S3 objects.
	WorkerID string
	// Delivery is the workload's log delivery.
	Delivery *agentv1.LogDelivery
	// FlushInterval is how often CloudWatch Logs and Firehose batches are sent (default 1 s);
	// S3 objects are written every S3Interval (default 5 s).
	FlushInterval, S3Interval time.Duration
	// MaxQueueBytes bounds each destination's queue (default 16 MiB).
	MaxQueueBytes int
	// Registerer receives the fjord_log_delivery_* metrics (nil: none).
	Registerer prometheus.Registerer
	// Logger reports the shipper's own trouble; it must not write to the Shipper.
	Logger *slog.Logger
	// AWS overrides the AWS configuration (tests); nil loads the SDK's default one.
	AWS *aws.Config
}

// line is one log line and its time.
type line struct {
	at   time.Time
	text []byte
	seq  uint64 // per queue, increasing
}

// sender delivers a batch to one destination.
type sender interface {
	name() string
	// limits are the most lines and bytes one call takes.
	limits() (lines, bytes int)
	send(ctx context.Context, batch []line) error
}

// Shipper delivers log lines; see the package documentation.
type Shipper struct {
	queues []*queue
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
	m      *metrics
}

// New starts a Shipper for the enabled destinations of o.Delivery (nil, nil when none is).
func New(ctx context.Context, o Options) (*Shipper, error) {
	d := o.Delivery
	if d == nil || (d.CloudwatchLogGroup == "" && d.FirehoseDeliveryStream == "" && d.S3Bucket == "") {
		return nil, nil
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.S3Interval <= 0 {
		o.S3Interval = 5 * time.Second
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = 16 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var cfg aws.Config
	if o.AWS != nil {
		cfg = o.AWS.Copy()
	} else {
		var err error
		cfg, err = config.LoadDefaultConfig(ctx, config.WithRegion(d.Region))
		if err != nil {
			return nil, fmt.Errorf("log delivery: AWS configuration: %w", err)
		}
	}
	if d.Region != "" {
		cfg.Region = d.Region
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Shipper{log: o.Logger.With("component", "log_delivery"), cancel: cancel, m: m}
	if d.CloudwatchLogGroup != "" {
		s.add(ctx, &cloudWatch{c: cloudwatchlogs.NewFromConfig(cfg), group: d.CloudwatchLogGroup, stream: o.WorkerID}, o.FlushInterval, o.MaxQueueBytes)
	}
	if d.S3Bucket != "" {
		pathStyle := os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
		c := s3.NewFromConfig(cfg, func(so *s3.Options) { so.UsePathStyle = pathStyle })
		s.add(ctx, &s3Sender{c: c, bucket: d.S3Bucket, d: d, worker: o.WorkerID}, o.S3Interval, o.MaxQueueBytes)
	}
	if d.FirehoseDeliveryStream != "" {
		s.add(ctx, &firehoseSender{c: firehose.NewFromConfig(cfg), stream: d.FirehoseDeliveryStream}, o.FlushInterval, o.MaxQueueBytes)
	}
	return s, nil
}

func (s *Shipper) add(ctx context.Context, snd sender, every time.Duration, maxBytes int) {
	q := &queue{snd: snd, every: every, maxBytes: maxBytes, wake: make(chan struct{}, 1), m: s.m, log: s.log.With("destination", snd.name())}
	s.queues = append(s.queues, q)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		q.run(ctx)
	}()
}

// Write queues one log line (slog's JSON handler writes a record per call) for every
// destination. It never blocks and never fails.
func (s *Shipper) Write(p []byte) (int, error) {
	if s == nil || s.closed.Load() {
		return len(p), nil
	}
	text := bytes.TrimRight(p, "\n")
	if len(text) == 0 {
		return len(p), nil
	}
	l := line{at: lineTime(text), text: bytes.Clone(text)}
	for _, q := range s.queues {
		q.push(l)
	}
	return len(p), nil
}

// lineTime is the time of a slog JSON line (its "time" field), or now.
func lineTime(p []byte) time.Time {
	var v struct {
		Time time.Time `json:"time"`
	}
	if i := bytes.Index(p, []byte(`"time":"`)); i >= 0 {
		if j := bytes.IndexByte(p[i+8:], '"'); j > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(p[i+8:i+8+j])); err == nil {
				return t
			}
		}
	}
	if json.Unmarshal(p, &v) == nil && !v.Time.IsZero() {
		return v.Time
	}
	return time.Now()
}

// Problem says why a destination refuses lines right now ("" when every one accepts them).
func (s *Shipper) Problem() string {
	if s == nil {
		return ""
	}
	for _, q := range s.queues {
		if p := q.problem(); p != "" {
			return p
		}
	}
	return ""
}

// Close stops accepting lines and sends what is queued, giving up after timeout.
func (s *Shipper) Close(timeout time.Duration) {
	if s == nil || s.closed.Swap(true) {
		return
	}
	for _, q := range s.queues {
		q.close()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		s.cancel()
		<-done
	}
	s.cancel()
	s.m.unregister()
}

// queue is one destination's lines and its sending goroutine.
type queue struct {
	snd      sender
	every    time.Duration
	maxBytes int
	wake     chan struct{}
	m        *metrics
	log      *slog.Logger

	mu      sync.Mutex
	lines   []line
	bytes   int
	seq     uint64
	closing bool
	err     string
}

func (q *queue) push(l line) {
	q.mu.Lock()
	q.seq++
	l.seq = q.seq
	q.lines = append(q.lines, l)
	q.bytes += len(l.text)
	dropped := 0
	for q.bytes > q.maxBytes && len(q.lines) > 1 {
		q.bytes -= len(q.lines[0].text)
		q.lines[0] = line{}
		q.lines = q.lines[1:]
		dropped++
	}
	maxLines, maxBytes := q.snd.limits()
	full := len(q.lines) >= maxLines || q.bytes >= maxBytes
	q.mu.Unlock()
	if dropped > 0 {
		q.m.dropped.WithLabelValues(q.snd.name()).Add(float64(dropped))
	}
	if full {
		q.poke()
	}
}

func (q *queue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closing = true
	q.mu.Unlock()
	q.poke()
}

func (q *queue) problem() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

// batch takes the queue's first lines up to the sender's limits (without removing them).
func (q *queue) batch() []line {
	q.mu.Lock()
	defer q.mu.Unlock()
	maxLines, maxBytes := q.snd.limits()
	n, size := 0, 0
	for n < len(q.lines) && n < maxLines {
		if size+len(q.lines[n].text) > maxBytes && n > 0 {
			break
		}
		size += len(q.lines[n].text)
		n++
	}
	return slices.Clone(q.lines[:n])
}

// done removes the lines sent (those push did not drop meanwhile).
func (q *queue) done(sent []line) {
	q.mu.Lock()
	defer q.mu.Unlock()
	last := sent[len(sent)-1].seq
	n := 0
	for n < len(q.lines) && q.lines[n].seq <= last {
		n++
	}
	for i := range n {
		q.bytes -= len(q.lines[i].text)
		q.lines[i] = line{}
	}
	q.lines = q.lines[n:]
}

func (q *queue) run(ctx context.Context) {
	tick := time.NewTicker(q.every)
	defer tick.Stop()
	backoff := time.Duration(0)
	for {
		q.mu.Lock()
		closing, empty := q.closing, len(q.lines) == 0
		q.mu.Unlock()
		if closing && empty {
			return
		}
		if !closing || backoff > 0 {
			wait := tick.C
			var retry <-chan time.Time
			if backoff > 0 {
				wait = nil
				retry = time.After(backoff)
			}
			select {
			case <-ctx.Done():
				return
			case <-wait:
			case <-retry:
			case <-q.wake:
				if backoff > 0 {
					q.mu.Lock()
					c := q.closing
					q.mu.Unlock()
					if !c {
						continue // a full queue waits for the retry like the rest
					}
				}
			}
		}
		for {
			b := q.batch()
			if len(b) == 0 {
				break
			}
			sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := q.snd.send(sctx, b)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				q.m.failures.WithLabelValues(q.snd.name()).Inc()
				msg := fmt.Sprintf("log delivery to %s: %v", q.snd.name(), err)
				q.mu.Lock()
				changed := q.err != msg
				q.err = msg
				q.mu.Unlock()
				if changed {
					q.log.Warn("log delivery failed; retrying", "error", err)
				}
				backoff = min(max(2*backoff, time.Second), 30*time.Second)
				break
			}
			q.m.lines.WithLabelValues(q.snd.name()).Add(float64(len(b)))
			q.done(b)
			backoff = 0
			q.mu.Lock()
			recovered := q.err != ""
			q.err = ""
			q.mu.Unlock()
			if recovered {
				q.log.Info("log delivery recovered")
			}
		}
	}
}

// ---- CloudWatch Logs ----

type cloudWatch struct {
	c             *cloudwatchlogs.Client
	group, stream string
	created       bool
}

func (c *cloudWatch) name() string { return "cloudwatch_logs" }

// PutLogEvents takes at most 10,000 events and 1,048,576 bytes, counting 26 bytes per event.
func (c *cloudWatch) limits() (int, int) { return 10_000, 1_048_576 - 10_000*26 }

func (c *cloudWatch) send(ctx context.Context, batch []line) error {
	events := make([]cwtypes.InputLogEvent, len(batch))
	for i, l := range batch {
		events[i] = cwtypes.InputLogEvent{Message: aws.String(string(l.text)), Timestamp: aws.Int64(l.at.UnixMilli())}
	}
	// The events of a call must be in chronological order.
	sort.SliceStable(events, func(i, j int) bool { return *events[i].Timestamp < *events[j].Timestamp })
	for attempt := 0; ; attempt++ {
		if !c.created {
			_, err := c.c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &c.group, LogStreamName: &c.stream})
			var exists *cwtypes.ResourceAlreadyExistsException
			if err != nil && !errors.As(err, &exists) {
				return fmt.Errorf("log group %s, stream %s: %w", c.group, c.stream, err)
			}
			c.created = true
		}
		_, err := c.c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: &c.group, LogStreamName: &c.stream, LogEvents: events})
		var missing *cwtypes.ResourceNotFoundException
		if errors.As(err, &missing) {
			c.created = false // the stream (or its group) went away: create it again
			if attempt == 0 {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("log group %s, stream %s: %w", c.group, c.stream, err)
		}
		return nil
	}
}

// ---- Amazon S3 ----

type s3Sender struct {
	c      *s3.Client
	bucket string
	d      *agentv1.LogDelivery
	worker string
	seq    int
}

func (s *s3Sender) name() string { return "s3" }

func (s *s3Sender) limits() (int, int) { return 100_000, 8 << 20 }

// Key is the object key of a batch that starts at first: the layout of AWS's vended logs,
// <prefix>/AWSLogs/<account>/<log type>/<region>/<resource>/<yyyy-mm-dd-HH>/<worker>_<ms>_<seq>.log.gz.
func Key(d *agentv1.LogDelivery, worker string, first time.Time, seq int) string {
	first = first.UTC()
	name := worker + "_" + strconv.FormatInt(first.UnixMilli(), 10) + "_" + strconv.Itoa(seq) + ".log.gz"
	return path.Join(d.S3Prefix, "AWSLogs", d.AccountId, d.LogType, d.Region, d.Resource, first.Format("2006-01-02-15"), name)
}

func (s *s3Sender) send(ctx context.Context, batch []line) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, l := range batch {
		_, _ = zw.Write(l.text)
		_, _ = zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return err
	}
	key := Key(s.d, s.worker, batch[0].at, s.seq)
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(buf.Bytes()),
		ContentType: aws.String("text/plain"), ContentEncoding: aws.String("gzip")})
	if err != nil {
		return fmt.Errorf("bucket %s: %w", s.bucket, err)
	}
	s.seq++
	return nil
}

// ---- Amazon Data Firehose ----

type firehoseSender struct {
	c      *firehose.Client
	stream string
}

func (f *firehoseSender) name() string { return "firehose" }

// PutRecordBatch takes at most 500 records and 4 MiB.
func (f *firehoseSender) limits() (int, int) { return 500, 4<<20 - 500 }

func (f *firehoseSender) send(ctx context.Context, batch []line) error {
	records := make([]fhtypes.Record, len(batch))
	for i, l := range batch {
		records[i] = fhtypes.Record{Data: append(slices.Clip(l.text), '\n')}
	}
	out, err := f.c.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: &f.stream, Records: records})
	if err != nil {
		return fmt.Errorf("delivery stream %s: %w", f.stream, err)
	}
	if n := aws.ToInt32(out.FailedPutCount); n > 0 {
		// Nothing is removed from the queue: the whole batch is sent again (a consumer may see
		// the accepted lines twice, as with Firehose's own retries).
		for _, r := range out.RequestResponses {
			if r.ErrorCode != nil {
				return fmt.Errorf("delivery stream %s refused %d of %d records: %s: %s", f.stream, n, len(records), aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
			}
		}
		return fmt.Errorf("delivery stream %s refused %d of %d records", f.stream, n, len(records))
	}
	return nil
}

// ---- metrics ----

type metrics struct {
	reg                      prometheus.Registerer
	lines, failures, dropped *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reg: reg,
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fjord_log_delivery_lines_total",
			Help: "Log lines the worker delivered, per destination (cloudwatch_logs, s3, firehose)."}, []string{"destination"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fjord_log_delivery_failures_total",
			Help: "Log delivery attempts a destination refused or that failed (the lines are kept and sent again)."}, []string{"destination"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fjord_log_delivery_dropped_lines_total",
			Help: "Log lines dropped because a destination's queue was full (the destination refused writes for too long)."}, []string{"destination"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.lines, m.failures, m.dropped} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register log delivery metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) unregister() {
	if m.reg != nil {
		m.reg.Unregister(m.lines)
		m.reg.Unregister(m.failures)
		m.reg.Unregister(m.dropped)
	}
}
