package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server"
	"github.com/fjord-io/fjord/server/replica"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
)

func runServer(ctx context.Context, args []string) error {
	// SIGHUP reloads --credentials-file; catch it from the start so that it never ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	f := newFlags("server", "Runs one replica of Fjord's API server. Replicas share one Postgres database.")
	var (
		httpAddr, grpcAddr, databaseURL, keyHex, keyFile, credsFile, logLevel string
		agentToken, agentTokenFile, leaseTTL                                  string
		plugins                                                               pluginSource
	)
	f.str(&httpAddr, "http-addr", "", "127.0.0.1:8080", "REST (AWS API), /healthz and /metrics listen address")
	f.str(&grpcAddr, "grpc-addr", "", "127.0.0.1:9090", "gRPC listen address")
	f.str(&databaseURL, "database-url", "DATABASE_URL", "", "Postgres URL, postgres://… (required)")
	f.str(&keyHex, "encryption-key", "", "", "at-rest encryption key: 32 bytes as 64 hex digits or base64")
	f.str(&keyFile, "encryption-key-file", "", "", "file holding the at-rest encryption key (alternative to --encryption-key)")
	f.str(&credsFile, "credentials-file", "", "", `JSON list of {"accessKeyId","secretAccessKey","accountId"} allowed to sign requests (required): the database's credentials become exactly these at start and on SIGHUP`)
	f.str(&logLevel, "log-level", "", "info", "debug, info, warn or error")
	f.str(&agentToken, "agent-token", "", "", "join token agents must present (alternative: --agent-token-file); none = no agents")
	f.str(&agentTokenFile, "agent-token-file", "", "", "file holding the agents' join token")
	f.str(&leaseTTL, "lease-ttl", "", "10s", "how long an agent may stay silent before its workers move elsewhere")
	var tlsFlags serverTLS
	tlsFlags.register(f)
	plugins.register(f)
	var sched scheduling
	sched.register(f)
	var connectREST connectRESTFlags
	connectREST.register(f, "")
	var secretsEndpoint, secretsDir string
	f.str(&secretsEndpoint, "secrets-endpoint", "FJORD_SECRETS_ENDPOINT", "", "Secrets Manager endpoint for replicators' SASL/SCRAM secrets (default: the AWS SDK's resolution; region from the secret ARN)")
	f.str(&secretsDir, "secrets-dir", "", "", "folder of local secrets <name>.json ({\"username\",\"password\"}) read before Secrets Manager")
	if err := f.Parse(args); err != nil {
		return err
	}
	log := newLogger(logLevel)
	if err := sched.apply(&workload.Config{}, &scheduler.LeaderConfig{}); err != nil { // refused before anything starts
		return err
	}
	if databaseURL == "" {
		return errors.New("--database-url (or $DATABASE_URL) is required")
	}
	var key []byte
	var err error
	switch {
	case keyHex != "":
		key, err = store.ParseKey(keyHex)
	case keyFile != "":
		key, err = store.LoadKeyFile(keyFile)
	default:
		err = errors.New("an encryption key is required: --encryption-key or --encryption-key-file")
	}
	if err != nil {
		return err
	}
	if credsFile == "" {
		return errors.New("--credentials-file is required: it lists the access keys allowed to sign requests")
	}
	creds, err := loadCredentials(credsFile)
	if err != nil {
		return err
	}
	if agentToken == "" && agentTokenFile != "" {
		raw, err := os.ReadFile(agentTokenFile)
		if err != nil {
			return fmt.Errorf("read agent token: %w", err)
		}
		agentToken = strings.TrimSpace(string(raw))
	}
	ttl, err := time.ParseDuration(leaseTTL)
	if err != nil || ttl <= 0 {
		return fmt.Errorf("--lease-ttl must be a positive duration, got %q", leaseTTL)
	}
	st, err := openStore(ctx, log, databaseURL, key, creds)
	if err != nil {
		return err
	}
	defer st.Close()
	fetcher, err := plugins.fetcher(ctx)
	if err != nil {
		return fmt.Errorf("plugin source: %w", err)
	}
	cfg := server.Config{HTTPAddr: httpAddr, GRPCAddr: grpcAddr, Store: st, Secret: key, Artifacts: fetcher, Logger: log,
		AgentToken: agentToken, LeaseTTL: ttl}
	if err := tlsFlags.apply(&cfg); err != nil {
		return err
	}
	wl := workload.Config{SecretsEndpoint: secretsEndpoint, SecretsDir: secretsDir}
	var lc scheduler.LeaderConfig
	if err := sched.apply(&wl, &lc); err != nil {
		return err
	}
	cfg.EventWebhook, cfg.EventWebhookAttempts = sched.eventWebhook, sched.eventWebhookAttemptsN
	cfg.PluginIngestConcurrency = sched.pluginIngestN
	srv, err := replica.New(cfg, wl, lc)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	log.Info("agent gateway ready: agents enroll with the join token and this CA fingerprint", "grpc_addr", srv.GRPCAddr(),
		"ca_fingerprint", srv.CA().Fingerprint())
	rest, err := connectREST.start(srv, log, "", "")
	if err != nil {
		srv.Stop()
		return err
	}
	reloadCredentialsOnHUP(ctx, log, st, credsFile, hup)
	log.Info("shutting down")
	if rest != nil {
		rest.Stop()
	}
	srv.Stop()
	return nil
}
