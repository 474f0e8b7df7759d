package sdktest

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	kct "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"

	"github.com/fjord-io/fjord/server/artifact"
	"github.com/fjord-io/fjord/server/servertest"
)

// fetchSpy wraps the real fetcher and counts the objects open at once; each Open takes delay,
// so that unbounded fetches would overlap.
type fetchSpy struct {
	artifact.Fetcher
	delay     time.Duration
	open, max atomic.Int64
	total     atomic.Int64
}

func (s *fetchSpy) Open(ctx context.Context, loc artifact.Location) (io.ReadCloser, error) {
	n := s.open.Add(1)
	s.total.Add(1)
	for {
		m := s.max.Load()
		if n <= m || s.max.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
	}
	rc, err := s.Fetcher.Open(ctx, loc)
	if err != nil {
		s.open.Add(-1)
		return nil, err
	}
	return &spiedReader{ReadCloser: rc, s: s}, nil
}

type spiedReader struct {
	io.ReadCloser
	s    *fetchSpy
	once sync.Once
}

func (r *spiedReader) Close() error {
	r.once.Do(func() { r.s.open.Add(-1) })
	return r.ReadCloser.Close()
}

// TestPluginIngestConcurrency: 12 custom plugins created at once are fetched at most
// PluginIngestConcurrency at a time by the replica; the others wait CREATING, and all end
// ACTIVE. With a higher limit the same spy sees more at once (it can tell).
func TestPluginIngestConcurrency(t *testing.T) {
	t.Parallel()
	const plugins = 12
	for _, tc := range []struct {
		limit     int
		wantLeast int64
	}{{2, 2}, {8, 3}} {
		t.Run(fmt.Sprint("limit ", tc.limit), func(t *testing.T) {
			t.Parallel()
			spy := &fetchSpy{delay: 300 * time.Millisecond}
			env := servertest.Start(t, servertest.Options{PluginIngestConcurrency: tc.limit,
				WrapArtifacts: func(f artifact.Fetcher) artifact.Fetcher { spy.Fetcher = f; return spy }})
			kc := env.KafkaConnect()
			ctx := t.Context()
			env.PutObject(t, pluginBucket, "p.zip", zipBytes(t, map[string]string{"lib/x.jar": "x"}))
			arns := make([]string, plugins)
			var wg sync.WaitGroup
			errs := make([]error, plugins)
			for i := range plugins {
				wg.Go(func() {
					out, err := kc.CreateCustomPlugin(ctx, pluginInput(fmt.Sprint("p", i), "p.zip", kct.CustomPluginContentTypeZip))
					if err == nil {
						arns[i] = aws.ToString(out.CustomPluginArn)
					}
					errs[i] = err
				})
			}
			wg.Wait()
			for _, err := range errs {
				check(t, err)
			}
			// While the first fetches run, the rest wait CREATING.
			creating := 0
			l := must(kc.ListCustomPlugins(ctx, &kafkaconnect.ListCustomPluginsInput{})).get(t)
			for _, p := range l.CustomPlugins {
				if p.CustomPluginState == kct.CustomPluginStateCreating {
					creating++
				}
			}
			if creating <= tc.limit {
				t.Fatalf("%d plugins CREATING right after the creates; want more than the limit %d", creating, tc.limit)
			}
			for _, arn := range arns {
				eq(t, "state of "+arn, waitPlugin(t, kc, arn).CustomPluginState, kct.CustomPluginStateActive)
			}
			t.Logf("limit %d: %d fetches, at most %d at once", tc.limit, spy.total.Load(), spy.max.Load())
			if got := spy.max.Load(); got > int64(tc.limit) || got < tc.wantLeast {
				t.Fatalf("at most %d fetches at once, want %d to %d", got, tc.wantLeast, tc.limit)
			}
		})
	}
}
