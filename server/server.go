package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/fjord-io/fjord/proto/awsmodel"
	adminv1 "github.com/fjord-io/fjord/proto/gen/fjord/admin/v1"
	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
	kafkav1 "github.com/fjord-io/fjord/proto/gen/fjord/kafka/v1"
	kafkaconnectv1 "github.com/fjord-io/fjord/proto/gen/fjord/kafkaconnect/v1"
	"github.com/fjord-io/fjord/scheduler"
	"github.com/fjord-io/fjord/server/agentgw"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/server/artifact"
	"github.com/fjord-io/fjord/server/sigv4"
	"github.com/fjord-io/fjord/server/validate"
	"github.com/fjord-io/fjord/server/workload"
	"github.com/fjord-io/fjord/store"
)

// Config configures a Server. Zero values take the defaults documented on each field.
type Config struct {
	// HTTPAddr is the REST (AWS API), /healthz and /metrics listener; default 127.0.0.1:8080.
	HTTPAddr string
	// GRPCAddr is the gRPC listener; default 127.0.0.1:9090.
	GRPCAddr string
	// Store holds the control plane's state. Required.
	Store *store.Store
	// Secret derives the page-token key; every replica must use the same (the encryption key).
	// Required.
	Secret []byte
	// Artifacts fetches custom plugin objects from their S3 location. Required.
	Artifacts artifact.Fetcher
	// MaxSkew is the SigV4 clock-skew limit; default 15 minutes.
	MaxSkew time.Duration
	// CredentialTTL is how long a replica trusts a credential it looked up; default 1 minute.
	// A change to the credentials table (store.CredentialsSync, store.CredentialPut) clears every
	// replica's cache at once through store.NotifyCredentials; the TTL bounds the staleness only
	// if that notification were lost.
	CredentialTTL time.Duration
	// UnknownCredentialTTL is how long an access key the store does not know is refused without
	// asking the store again; default 30s (cleared on store.NotifyCredentials like CredentialTTL).
	UnknownCredentialTTL time.Duration
	// UnknownCredentialCacheSize bounds the unknown keys remembered (least recently used
	// evicted); default 10000.
	UnknownCredentialCacheSize int
	// LifecycleInterval is how often lifecycles (plugin ingestion, deletion) are advanced
	// without a trigger; default 1s.
	LifecycleInterval time.Duration
	// PluginIngestConcurrency is how many custom plugin objects this replica fetches and
	// indexes at once; the other CREATING plugins wait (still CREATING) for a free slot.
	// Default 2.
	PluginIngestConcurrency int
	// Logger receives structured logs; default slog.Default().
	Logger *slog.Logger
	// Registry receives the server's metrics; default a new registry.
	Registry *prometheus.Registry
	// AgentToken is the join token agents present ("authorization: Bearer <token>"); empty
	// refuses every agent.
	AgentToken string
	// TLSCert and TLSKey, when set (PEM files), serve the REST listener (HTTP/2 and HTTP/1.1)
	// and the gRPC API over TLS with this certificate; unset, both are plaintext. The agent
	// gateway on the gRPC port is TLS in any case, under the Fjord CA (tlsmux.go).
	TLSCert, TLSKey string
	// AgentCACert and AgentCAKey (PEM), when set, are the Fjord CA to use (an operator's CA,
	// e.g. the Helm chart's agentCA): stored in the database on the first start; a database that
	// holds another CA refuses to start. Unset, the first server creates one.
	AgentCACert, AgentCAKey []byte
	// AgentHosts are extra names and IP addresses (host or host:port) for the agent gateway's
	// certificate (--agent-advertise), besides agentgw.ServerName, localhost, the host name and
	// the loopback addresses.
	AgentHosts []string
	// LeaseTTL is how long an agent may stay silent before its workers move; default 10s.
	LeaseTTL time.Duration
	// HeartbeatInterval is how often agents heartbeat; default LeaseTTL / 5.
	HeartbeatInterval time.Duration
	// ID names this replica (leadership, logs); default hostname-pid-random.
	ID string
	// Workload compiles stored workloads into shapes and task specifications: the agent
	// gateway's task specs and the admin API's desired shapes. Required.
	Workload *workload.Compiler
	// Leader is the scheduler's leader the server runs (built by the caller with the same Store,
	// ID and LeaseTTL, and Workload's Shape and AdvanceOperation; its OnReconcile is typically
	// ReconcileMetric(Registry)). Required.
	Leader *scheduler.Leader
	// EventWebhook, when set, is the URL every workload state change is POSTed to as JSON
	// (webhook.go).
	EventWebhook string
	// EventWebhookAttempts is how many times an event is sent before it is dropped; default 6.
	EventWebhookAttempts int
	// EventWebhookBackoff is the wait before the first retry, doubled for each next one (at
	// most 30s); default 500ms.
	EventWebhookBackoff time.Duration
}

func (c *Config) fill() error {
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8080"
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = "127.0.0.1:9090"
	}
	if c.MaxSkew == 0 {
		c.MaxSkew = 15 * time.Minute
	}
	if c.CredentialTTL == 0 {
		c.CredentialTTL = time.Minute
	}
	if c.UnknownCredentialTTL == 0 {
		c.UnknownCredentialTTL = 30 * time.Second
	}
	if c.UnknownCredentialCacheSize == 0 {
		c.UnknownCredentialCacheSize = 10000
	}
	if c.LifecycleInterval == 0 {
		c.LifecycleInterval = time.Second
	}
	if c.PluginIngestConcurrency <= 0 {
		c.PluginIngestConcurrency = 2
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 10 * time.Second
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = c.LeaseTTL / 5
	}
	if c.ID == "" {
		c.ID = NewReplicaID()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.EventWebhookAttempts <= 0 {
		c.EventWebhookAttempts = 6
	}
	if c.EventWebhookBackoff <= 0 {
		c.EventWebhookBackoff = 500 * time.Millisecond
	}
	switch {
	case c.Store == nil:
		return errors.New("server: Store is required")
	case len(c.Secret) == 0:
		return errors.New("server: Secret is required")
	case c.Artifacts == nil:
		return errors.New("server: Artifacts is required")
	case c.Workload == nil:
		return errors.New("server: Workload is required")
	case c.Leader == nil:
		return errors.New("server: Leader is required")
	}
	return nil
}

// NewReplicaID is a replica name unique to this process: hostname-pid-random. The server and
// its scheduler leader must be given the same one.
func NewReplicaID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
}

// Server is one replica of Fjord's API.
type Server struct {
	cfg        Config
	id         string
	log        *slog.Logger
	st         *store.Store
	verifier   *sigv4.Verifier
	creds      *credentialCache
	tokens     *pageTokens
	gatewayKey string
	noAuth     map[string]bool

	kcValid *validate.Validator
	kValid  *validate.Validator

	bodyQueries []bodyQuery
	routes      []modelRoute
	metrics     *apiMetrics
	agents      *agentgw.Gateway
	leader      *scheduler.Leader
	workload    *workload.Compiler

	local      *localConn // the in-process connection to the services (gateway, KafkaConnect)
	grpcServer *grpc.Server
	// agentServer serves the agent gateway (TLS, on the gRPC port: grpcMux).
	agentServer *grpc.Server
	mux         *grpcMux
	ca          *agentgw.CA
	httpServer  *http.Server
	grpcLis     net.Listener
	httpLis     net.Listener

	kick   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ready  chan struct{}
}

// New builds a server; Start opens its listeners.
func New(cfg Config) (*Server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		id:          cfg.ID,
		log:         cfg.Logger.With("component", "server"),
		st:          cfg.Store,
		tokens:      newPageTokens(cfg.Secret),
		gatewayKey:  hex.EncodeToString(key),
		noAuth:      map[string]bool{},
		kcValid:     validate.New(awsmodel.MustLoad(awsmodel.KafkaConnect)),
		kValid:      validate.New(awsmodel.MustLoad(awsmodel.Kafka)),
		bodyQueries: bodyQueries(),
		routes:      modelRoutes(),
		kick:        make(chan struct{}, 1),
		ready:       make(chan struct{}),
		leader:      cfg.Leader,
		workload:    cfg.Workload,
	}
	s.creds = newCredentialCache(cfg.Store, cfg.CredentialTTL, cfg.UnknownCredentialTTL, cfg.UnknownCredentialCacheSize, cfg.Registry)
	s.verifier = sigv4.NewVerifier(sigv4.Config{
		Store:    s.creds,
		Services: []string{awsmodel.KafkaConnect, awsmodel.Kafka},
		MaxSkew:  cfg.MaxSkew,
	})
	s.metrics = newAPIMetrics(cfg.Registry)
	s.agents = agentgw.New(agentgw.Config{
		Store: cfg.Store, ServerID: cfg.ID, Token: cfg.AgentToken, HeartbeatInterval: cfg.HeartbeatInterval, LeaseTTL: cfg.LeaseTTL,
		MaxMetricsInterval: cfg.Leader.MaxSampleInterval(),
		TaskSpecsFunc:      cfg.Workload.TaskSpecs, Metrics: agentgw.NewMetrics(cfg.Registry, agentgw.MetricSources{Workers: cfg.Store.Workers, Workloads: s.workloadInfo,
			Agents: cfg.Store.Agents}, s.log), Logger: s.log,
	})
	return s, nil
}

// workloadInfo lists the connectors and replicators for the workload metrics.
func (s *Server) workloadInfo(ctx context.Context) ([]agentgw.WorkloadInfo, error) {
	var out []agentgw.WorkloadInfo
	for _, t := range []struct {
		kind  string
		table *store.Resources
	}{{workload.KindConnector, s.st.Connectors}, {workload.KindReplicator, s.st.Replicators}} {
		rs, err := t.table.All(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			w := agentgw.WorkloadInfo{ARN: r.ARN, Name: r.Name, Kind: t.kind, State: r.State}
			if sh, err := workload.BaseShape(t.kind, r); err == nil && sh.Autoscale != nil {
				w.MaxWorkers, w.ScaleOutCPU = max(sh.Autoscale.MaxWorkers, sh.Autoscale.MinWorkers, 1), sh.Autoscale.ScaleOutCPU
			}
			out = append(out, w)
		}
	}
	return out, nil
}

// Start listens on the configured addresses and serves until Stop. It returns once both
// listeners are open.
func (s *Server) Start(ctx context.Context) error {
	var err error
	if s.grpcLis, err = net.Listen("tcp", s.cfg.GRPCAddr); err != nil {
		return fmt.Errorf("listen gRPC on %s: %w", s.cfg.GRPCAddr, err)
	}
	if s.httpLis, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
		s.grpcLis.Close()
		return fmt.Errorf("listen HTTP on %s: %w", s.cfg.HTTPAddr, err)
	}
	if err := s.setupTLS(ctx); err != nil {
		s.grpcLis.Close()
		s.httpLis.Close()
		return err
	}

	chain := chainUnary(s.unaryRecover, s.unaryObserve, s.unaryAuth)
	s.grpcServer = grpc.NewServer(grpc.UnaryInterceptor(chain), grpc.Creds(handshaken{}))
	s.agentServer = grpc.NewServer(grpc.Creds(handshaken{}))
	connect, kafka := &connectService{s: s}, &kafkaService{s: s}
	kafkaconnectv1.RegisterKafkaConnectServer(s.grpcServer, connect)
	kafkav1.RegisterKafkaServer(s.grpcServer, kafka)
	adminv1.RegisterAdminServer(s.grpcServer, &adminService{s: s})
	agentv1.RegisterAgentGatewayServer(s.agentServer, s.agents)

	// The gateway calls the services in-process through the same interceptor chain (localConn).
	local := newLocalConn(chain)
	s.local = local
	local.register(&kafkaconnectv1.KafkaConnect_ServiceDesc, connect)
	local.register(&kafkav1.Kafka_ServiceDesc, kafka)
	// grpc-gateway keeps the query parser in a package variable that its option writes: set it
	// once per process, as servers may start concurrently (tests) while others serve requests.
	setQueryParser.Do(func() { runtime.SetQueryParameterParser(queryParser{})(nil) })
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, awsMarshaler{}),
		runtime.WithErrorHandler(s.gatewayError),
		runtime.WithRoutingErrorHandler(s.routingError),
		runtime.WithMetadata(s.gatewayMetadata),
		runtime.WithUnescapingMode(runtime.UnescapingModeAllCharacters),
		runtime.WithIncomingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
	)
	if err := kafkaconnectv1.RegisterKafkaConnectHandlerClient(ctx, gw, kafkaconnectv1.NewKafkaConnectClient(local)); err != nil {
		return err
	}
	if err := kafkav1.RegisterKafkaHandlerClient(ctx, gw, kafkav1.NewKafkaClient(local)); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	mux.Handle("/", s.restAuth(gw))
	s.httpServer = &http.Server{
		Handler:           s.accessLog(mux),
		ReadHeaderTimeout: 10 * time.Second,
		// A client gets 30 s to send a request (bodies are at most awsjson.MaxBodyBytes) and 60 s
		// to read the answer; an idle keep-alive connection is closed after 2 minutes.
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 60 * time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}

	loopCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(7)
	go func() { defer s.wg.Done(); s.mux.serve() }()
	go func() { defer s.wg.Done(); _ = s.agentServer.Serve(s.mux.agent) }()
	go func() { defer s.wg.Done(); s.leader.Run(loopCtx) }()
	go func() {
		defer s.wg.Done()
		_ = s.st.Listen(loopCtx, func(channel, payload string) {
			switch channel {
			case store.NotifyAgents:
				s.agents.Wake(payload)
			case store.NotifyCredentials:
				s.creds.invalidate()
			case "": // reconnected: anything may have been missed
				s.agents.Wake("")
				s.creds.invalidate()
			}
		}, store.NotifyAgents, store.NotifyCredentials)
	}()
	go func() { defer s.wg.Done(); _ = s.grpcServer.Serve(s.mux.api) }()
	go func() {
		defer s.wg.Done()
		if s.cfg.TLSCert != "" {
			_ = s.httpServer.ServeTLS(s.httpLis, s.cfg.TLSCert, s.cfg.TLSKey)
			return
		}
		_ = s.httpServer.Serve(s.httpLis)
	}()
	go func() { defer s.wg.Done(); s.lifecycleLoop(loopCtx) }()
	if s.cfg.EventWebhook != "" {
		wh := newWebhook(s)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); wh.run(loopCtx) }()
	}
	close(s.ready)
	s.log.Info("server listening", "http_addr", s.httpLis.Addr().String(), "grpc_addr", s.grpcLis.Addr().String())
	return nil
}

// setupTLS loads the Fjord CA (created on the first start), issues this replica's agent
// gateway certificate and loads --tls-cert/--tls-key.
func (s *Server) setupTLS(ctx context.Context) error {
	ca, err := agentgw.LoadCA(ctx, s.st, s.cfg.AgentCACert, s.cfg.AgentCAKey)
	if err != nil {
		return err
	}
	hosts := append([]string{s.grpcLis.Addr().String()}, s.cfg.AgentHosts...)
	if h, _, err := net.SplitHostPort(s.cfg.GRPCAddr); err == nil {
		hosts = append(hosts, h)
	}
	cert, err := ca.ServerCertificate(hosts)
	if err != nil {
		return fmt.Errorf("agent gateway certificate: %w", err)
	}
	s.ca = ca
	s.agents.SetCA(ca)
	var apiTLS *tls.Config
	if s.cfg.TLSCert != "" || s.cfg.TLSKey != "" {
		if s.cfg.TLSCert == "" || s.cfg.TLSKey == "" {
			return errors.New("--tls-cert and --tls-key go together")
		}
		pair, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load --tls-cert/--tls-key: %w", err)
		}
		apiTLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}
	}
	s.mux = newGRPCMux(s.grpcLis, ca.ServerTLS(cert), apiTLS, s.log)
	return nil
}

// CA is the Fjord CA (agent enrollment; available once Start returned).
func (s *Server) CA() *agentgw.CA { return s.ca }

// ID is the replica's name (leadership holder, logs).
func (s *Server) ID() string { return s.id }

// HTTPAddr is the REST listener's address (useful with port 0).
func (s *Server) HTTPAddr() string { return s.httpLis.Addr().String() }

// GRPCAddr is the gRPC listener's address.
func (s *Server) GRPCAddr() string { return s.grpcLis.Addr().String() }

// Stop stops serving: in-flight requests get up to 10 s, then everything is closed. It waits
// for every goroutine the server started.
func (s *Server) Stop() {
	if s.httpServer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.httpServer.Shutdown(ctx)
	s.grpcLis.Close() // the mux stops accepting
	done := make(chan struct{})
	go func() { s.grpcServer.GracefulStop(); s.agentServer.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.grpcServer.Stop()
		s.agentServer.Stop()
		<-done
	}
	s.cancel()
	s.wg.Wait()
	s.log.Info("server stopped")
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
}

// unaryRecover turns a handler panic into an InternalServerErrorException and logs it.
func (s *Server) unaryRecover(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panic", "method", info.FullMethod, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = apierr.Internal("internal error")
		}
	}()
	return handler(ctx, req)
}

// unaryObserve counts and times calls, and logs server faults.
func (s *Server) unaryObserve(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	op := info.FullMethod[strings.LastIndexByte(info.FullMethod, '/')+1:]
	svc := serviceOfMethod(info.FullMethod)
	code := "OK"
	if err != nil {
		e := apierr.From(err)
		code = e.Type
		if e.Status >= 500 {
			s.log.Error("request failed", "method", info.FullMethod, "error_type", e.Type, "error", e.Message)
		}
		err = statusOf(e)
	}
	s.metrics.requests.WithLabelValues(svc, op, code).Inc()
	s.metrics.latency.WithLabelValues(svc, op).Observe(time.Since(start).Seconds())
	return resp, err
}

func statusOf(e *apierr.Error) error { return status.ErrorProto(e.GRPCStatus().Proto()) }

func serviceOfMethod(full string) string {
	switch {
	case strings.HasPrefix(full, "/fjord.kafkaconnect."):
		return awsmodel.KafkaConnect
	case strings.HasPrefix(full, "/fjord.kafka."):
		return awsmodel.Kafka
	}
	return "admin"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// accessLog logs each HTTP request at debug level (errors at info). Bodies are never logged:
// they carry connector configurations and worker properties.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.status >= 400 {
			level = slog.LevelInfo
		}
		s.log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.EscapedPath(),
			"status", rec.status, "error_type", rec.Header().Get("X-Amzn-ErrorType"),
			"duration_ms", float64(time.Since(start).Microseconds())/1000, "request_id", rec.Header().Get("x-amzn-RequestId"))
	})
}

// apiMetrics are the API's Prometheus metrics.
type apiMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fjord_api_requests_total",
			Help: "API calls by service, operation and outcome (OK or the AWS error type).",
		}, []string{"service", "operation", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fjord_api_request_duration_seconds",
			Help:    "API call handling time by service and operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"service", "operation"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// ReconcileMetric registers fjord_scheduler_reconcile_seconds in reg and returns the
// scheduler.LeaderConfig.OnReconcile that observes it.
func ReconcileMetric(reg prometheus.Registerer) func(time.Duration, error) {
	reconciles := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fjord_scheduler_reconcile_seconds",
		Help:    "Duration of the scheduler's reconciles on this replica (while it leads), by outcome.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	}, []string{"outcome"})
	reg.MustRegister(reconciles)
	return func(d time.Duration, err error) {
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		reconciles.WithLabelValues(outcome).Observe(d.Seconds())
	}
}
