package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fjord-io/fjord/workers/runtime"
	"github.com/fjord-io/fjord/workers/tasks"
)

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
	code := runtime.Main(ctx, tasks.Registry(), os.Stdin, os.Stdout, log, runtime.MetricsRegisterer(reg))
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}
	os.Exit(code)
	return nil
}
