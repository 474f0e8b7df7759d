package cdc

import (
	"context"
	"testing"
	"time"
)

// BenchmarkRuntime: records/s of one task through the runtime (default converters, one round
// per max.batch.size records) into kfake, from an engine that emits as fast as it can.
func BenchmarkRuntime(b *testing.B) {
	for _, mode := range []struct{ name, txn string }{{"at-least-once", ""}, {"exactly-once", "bench-txn"}} {
		b.Run(mode.name, func(b *testing.B) {
			addrs := newClusterB(b)
			conf := testConf(addrs, "max.batch.size", "2048", "max.queue.size", "8192")
			if mode.txn != "" {
				conf["exactly.once.support"] = "required"
			}
			n := int64(b.N)
			e := newEngine(func(ctx context.Context, _ map[string]any, out Emitter) error {
				if err := emitRange(ctx, out, 1, n); err != nil {
					return nil
				}
				<-ctx.Done()
				return nil
			})
			task := newTaskB(b, conf, e, mode.txn)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			b.ResetTimer()
			start := time.Now()
			go func() { done <- task.Run(ctx) }()
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Minute)
			err := e.waitDurable(wctx, n)
			wcancel()
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			if rerr := <-done; rerr != nil || err != nil {
				b.Fatal(rerr, err)
			}
			b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
		})
	}
}
