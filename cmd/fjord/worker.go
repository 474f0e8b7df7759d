package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	"github.com/fjord-io/fjord/workers/logship"
	"github.com/fjord-io/fjord/workers/runtime"
	"github.com/fjord-io/fjord/workers/tasks"
)

// logDelivery delivers the worker's log lines to its workload's log delivery destinations
// (workers/logship) as well as to stderr; the shipper's own trouble is logged to stderr only.
func logDelivery(level string) runtime.LogDelivery {
	return func(ctx context.Context, spec *agentv1.WorkerSpec, log *slog.Logger, reg prometheus.Registerer) (*slog.Logger, func() string, func(), error) {
		s, err := logship.New(ctx, logship.Options{WorkerID: spec.WorkerId, Delivery: spec.LogDelivery, Registerer: reg,
			Logger: log.With("workload_arn", spec.WorkloadArn, "worker_id", spec.WorkerId)})
		if err != nil || s == nil {
			return log, func() string { return "" }, func() {}, err
		}
		var l slog.Level
		if err := l.UnmarshalText([]byte(level)); err != nil {
			l = slog.LevelInfo
		}
		shipped := slog.New(slog.NewJSONHandler(io.MultiWriter(os.Stderr, s), &slog.HandlerOptions{Level: l})).With("component", "worker")
		return shipped, s.Problem, func() { s.Close(5 * time.Second) }, nil
	}
}

// runWorker is `fjord worker`, started by an agent: the WorkerSpec arrives on stdin, status
// and metrics lines go to stdout, logs to stderr. It exits with runtime.ExitCode.
func runWorker(ctx context.Context, args []string) error {
	f := newFlags("worker", "Runs one worker (started by fjord agent; the WorkerSpec is read from stdin).")
	var httpAddr, logLevel string
	f.str(&httpAddr, "http-addr", "FJORD_WORKER_HTTP_ADDR", "127.0.0.1:0", "/healthz and /metrics listen address")
	f.str(&logLevel, "log-level", "FJORD_LOG_LEVEL", "info", "debug, info, warn or error")
	if err := f.Parse(args); err != nil {
		return err
	}
	log := newLogger(logLevel).With("component", "worker")
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	var hs *http.Server
	if lis, err := net.Listen("tcp", httpAddr); err == nil {
		hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(lis) }()
		log.Info("worker listening", "http_addr", lis.Addr().String())
	} else {
		log.Warn("no /metrics listener", "error", err)
	}
	code := runtime.Main(ctx, tasks.Registry(), os.Stdin, os.Stdout, log, runtime.MetricsRegisterer(reg),
		runtime.WithLogDelivery(logDelivery(logLevel)))
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}
	os.Exit(code)
	return nil
}
