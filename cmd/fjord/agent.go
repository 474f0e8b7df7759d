package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fjord-io/fjord/workers/agent"
)

func runAgent(ctx context.Context, args []string) error {
	f := newFlags("agent", `Runs a data-plane agent: offers --mcu of capacity to the fleet, keeps one stream to a
server, and runs each assigned worker as a child process "fjord worker".`)
	var serverAddr, tokenFile, token, id, httpAddr, logLevel, mcu, drain, metricsEvery, stateDir, caFingerprint, serverCA string
	f.str(&serverAddr, "server", "", "127.0.0.1:9090", "gRPC address of any Fjord server")
	f.str(&tokenFile, "token-file", "", "", "file holding the join token (fjord dev writes <data-dir>/agent.token)")
	f.str(&token, "token", "", "", "the join token itself (alternative to --token-file)")
	f.str(&id, "id", "", "", "agent id, stable across restarts, unique on this host (default: <hostname>-N, the lowest N no other agent here holds)")
	f.str(&mcu, "mcu", "", "4", "capacity offered, in MCU (1 MCU = 1 vCPU + 4 GiB)")
	f.str(&httpAddr, "http-addr", "", "127.0.0.1:0", "/healthz and /metrics listen address")
	f.str(&drain, "drain-timeout", "", "30s", "how long workers may take to finish in-flight batches on SIGTERM")
	f.str(&metricsEvery, "metrics-interval", "", "5s", "how often each worker's CPU and memory are measured and reported (the autoscaler's samples); a server whose --autoscale-window needs samples more often lowers it")
	f.str(&stateDir, "state-dir", "", "", "where the agent keeps its enrolled key, certificate and the Fjord CA (default: <user config dir>/fjord/agents/<server>/<id>)")
	f.str(&caFingerprint, "ca-fingerprint", "", "", "SHA-256 fingerprint of the Fjord CA (sha256:<hex>, printed by fjord server and fjord dev): trust anchor of the first enrollment")
	f.str(&serverCA, "server-ca", "", "", "PEM file of the Fjord CA (fjord dev writes <data-dir>/ca.pem): trust anchor of the first enrollment (alternative to --ca-fingerprint)")
	f.str(&logLevel, "log-level", "", "info", "debug, info, warn or error")
	if err := f.Parse(args); err != nil {
		return err
	}
	log := newLogger(logLevel)
	if token == "" && tokenFile != "" {
		raw, err := os.ReadFile(tokenFile)
		if err != nil {
			return fmt.Errorf("read token: %w", err)
		}
		token = strings.TrimSpace(string(raw))
	}
	if token == "" {
		return errors.New("a join token is required: --token-file or --token")
	}
	n, err := strconv.Atoi(mcu)
	if err != nil || n < 1 {
		return fmt.Errorf("--mcu must be a positive integer, got %q", mcu)
	}
	drainTimeout, err := time.ParseDuration(drain)
	if err != nil {
		return fmt.Errorf("--drain-timeout: %w", err)
	}
	metricsInterval, err := time.ParseDuration(metricsEvery)
	if err != nil || metricsInterval <= 0 {
		return fmt.Errorf("--metrics-interval must be a positive duration, got %q", metricsEvery)
	}
	// One id, one agent on this host per server: a second process with the same id is refused
	// here instead of displacing the first at the server; the default id is numbered per host.
	lockDir := filepath.Join(os.TempDir(), "fjord-agents", url.PathEscape(serverAddr))
	var release func()
	if id == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("default --id: %w", err)
		}
		if id, release, err = agent.ClaimDefaultID(lockDir, host); err != nil {
			return err
		}
	} else if release, err = agent.ClaimID(lockDir, id); err != nil {
		return err
	}
	defer release()
	if stateDir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return fmt.Errorf("default --state-dir: %w (give --state-dir)", err)
		}
		stateDir = filepath.Join(base, "fjord", "agents", url.PathEscape(serverAddr), url.PathEscape(id))
	}
	var caPEM []byte
	if serverCA != "" {
		if caPEM, err = os.ReadFile(serverCA); err != nil {
			return fmt.Errorf("--server-ca: %w", err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	a, err := agent.New(agent.Config{ServerAddr: serverAddr, Token: token, AgentID: id, MCU: n, Version: version,
		StateDir: stateDir, CAFingerprint: caFingerprint, ServerCA: caPEM,
		WorkerCommand: []string{exe, "worker"}, DrainTimeout: drainTimeout, MetricsInterval: metricsInterval, Logger: log, Registry: reg})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", httpAddr, err)
	}
	hs := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(lis) }()
	log.Info("agent listening", "http_addr", lis.Addr().String(), "server", serverAddr, "mcu", n)
	err = a.Run(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return err
}
