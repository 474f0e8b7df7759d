// Package connectrest serves the Kafka Connect REST API (Apache Kafka 3.7's routes, response
// shapes and {"error_code","message"} errors) on its own listener, as a view of the same
// connectors as the AWS API: mutations go through the replica's MSK Connect operations
// (server.Server.KafkaConnect) with the same validation, reads come from the same store, and the
// Connect-only operations (pause, resume, stop, restarts, offsets) change what the scheduler and
// the workers already honor (store.Resource.TargetState, store.RestartConnectorTasks, the
// connector's Connect offsets topic). See api-docs/connect-rest.md.
package connectrest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/fjord-io/fjord/server"
	"github.com/fjord-io/fjord/server/apierr"
	"github.com/fjord-io/fjord/store"
)

// Config configures the Connect REST API. Zero values take the defaults documented on each
// field.
type Config struct {
	// Addr is the listen address, e.g. 127.0.0.1:8083. Required.
	Addr string
	// TLSCert and TLSKey, when set (PEM files), serve the API over TLS only (HTTP/2 and
	// HTTP/1.1), as fjord server's --tls-cert/--tls-key do for the AWS API.
	TLSCert, TLSKey string
	// Server is the started replica whose connectors this API shows. Required.
	Server *server.Server
	// Region is the region of the connectors this API shows and creates (basic authentication
	// carries no region); default us-east-1.
	Region string
	// AnonymousAccount, when set, is the account of requests without credentials (fjord dev);
	// empty: every request needs HTTP basic authentication.
	AnonymousAccount string
	// DefaultBootstrapServers is the kafkaCluster of connectors created here whose
	// configuration names no cluster (target.cluster.bootstrap.servers, bootstrap.servers).
	DefaultBootstrapServers string
	// KafkaClusterID is what GET / reports as kafka_cluster_id; default "fjord".
	KafkaClusterID string
	// Version and Commit are what GET / reports; default the Kafka Connect version Fjord's
	// runtime follows (3.7.1) and the binary's VCS revision.
	Version, Commit string
	// Logger receives structured logs; default slog.Default().
	Logger *slog.Logger
}

// API is a running Connect REST API.
type API struct {
	cfg  Config
	srv  *server.Server
	st   *store.Store
	log  *slog.Logger
	http *http.Server
	lis  net.Listener
	done chan struct{}
}

// New checks cfg and builds the API; Start listens.
func New(cfg Config) (*API, error) {
	if cfg.Addr == "" || cfg.Server == nil {
		return nil, errors.New("connectrest: Addr and Server are required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.KafkaClusterID == "" {
		cfg.KafkaClusterID = "fjord"
	}
	if cfg.Version == "" {
		cfg.Version = "3.7.1"
	}
	if cfg.Commit == "" {
		cfg.Commit = vcsRevision()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &API{cfg: cfg, srv: cfg.Server, st: cfg.Server.Store(), log: cfg.Logger.With("component", "connect-rest")}, nil
}

func vcsRevision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// Start opens the listener and serves until Stop.
func (a *API) Start() error {
	lis, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen Kafka Connect REST on %s: %w", a.cfg.Addr, err)
	}
	a.lis = lis
	a.http = &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.done = make(chan struct{})
	if a.cfg.TLSCert != "" {
		go func() { defer close(a.done); _ = a.http.ServeTLS(lis, a.cfg.TLSCert, a.cfg.TLSKey) }()
	} else {
		go func() { defer close(a.done); _ = a.http.Serve(lis) }()
	}
	a.log.Info("Kafka Connect REST API listening", "addr", lis.Addr().String(), "region", a.cfg.Region,
		"unauthenticated_account", a.cfg.AnonymousAccount)
	return nil
}

// Addr is the listener's address (useful with port 0).
func (a *API) Addr() string { return a.lis.Addr().String() }

// Stop stops serving; in-flight requests get up to 10 s.
func (a *API) Stop() {
	if a.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = a.http.Shutdown(ctx)
	<-a.done
}

// Handler is the API's HTTP handler (authentication, routes, errors).
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, f func(*request) (int, any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, f) })
	}
	h("GET /{$}", a.root)
	h("GET /connector-plugins", a.plugins)
	h("GET /connector-plugins/{class}/config", a.pluginConfig)
	h("PUT /connector-plugins/{class}/config/validate", a.validate)
	h("GET /connectors", a.list)
	h("POST /connectors", a.create)
	h("GET /connectors/{name}", a.info)
	h("DELETE /connectors/{name}", a.remove)
	h("GET /connectors/{name}/config", a.config)
	h("PUT /connectors/{name}/config", a.putConfig)
	h("GET /connectors/{name}/status", a.status)
	h("GET /connectors/{name}/tasks", a.tasks)
	h("GET /connectors/{name}/tasks-config", a.tasksConfig)
	h("GET /connectors/{name}/tasks/{task}/status", a.taskStatus)
	h("POST /connectors/{name}/tasks/{task}/restart", a.restartTask)
	h("GET /connectors/{name}/topics", a.topics)
	h("PUT /connectors/{name}/topics/reset", a.resetTopics)
	h("POST /connectors/{name}/restart", a.restart)
	h("PUT /connectors/{name}/pause", a.pause)
	h("PUT /connectors/{name}/resume", a.resume)
	h("PUT /connectors/{name}/stop", a.stop)
	h("GET /connectors/{name}/offsets", a.offsets)
	h("DELETE /connectors/{name}/offsets", a.resetOffsets)
	h("PATCH /connectors/{name}/offsets", a.alterOffsets)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, func(*request) (int, any, error) {
			return 0, nil, connectError(http.StatusNotFound, "HTTP 404 Not Found")
		})
	})
	return mux
}

// request is one authenticated request.
type request struct {
	*http.Request
	ctx    context.Context // carries the caller for the MSK Connect operations
	caller server.Caller
}

// Error is an error in Kafka Connect's shape.
type Error struct {
	Code    int    `json:"error_code"`
	Message string `json:"message"`
	cause   error  // logged, never answered
}

func (e *Error) Error() string { return e.Message }

func connectError(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// fromAPI converts an MSK Connect error to Connect's shape with the same status (a 5xx stays
// a 5xx: it is the server's fault).
func fromAPI(err error) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	e := apierr.From(err)
	code := e.Status
	if e.Type == "NotFoundException" {
		code = http.StatusNotFound
	}
	if code == 0 {
		code = http.StatusInternalServerError
	}
	return &Error{Code: code, Message: e.Message}
}

// maxBody bounds a request body (Connect configurations are small).
const maxBody = 1 << 20

func (a *API) serve(w http.ResponseWriter, r *http.Request, f func(*request) (int, any, error)) {
	start := time.Now()
	code, body, err := func() (code int, body any, err error) {
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("handler panic", "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				code, body, err = 0, nil, connectError(http.StatusInternalServerError, "internal error")
			}
		}()
		req, err := a.authenticate(r)
		if err != nil {
			return 0, nil, err
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		return f(req)
	}()
	if err != nil {
		ce := fromAPI(err)
		if ce.Code >= 500 {
			cause := ""
			if ce.cause != nil {
				cause = ce.cause.Error()
			}
			a.log.Error("request failed", "method", r.Method, "path", r.URL.EscapedPath(), "status", ce.Code, "error", ce.Message, "cause", cause)
		}
		if ce.Code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="fjord"`)
		}
		code, body = ce.Code, ce
	}
	level := slog.LevelDebug
	if code >= 400 {
		level = slog.LevelInfo
	}
	a.log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.EscapedPath(), "status", code,
		"duration_ms", float64(time.Since(start).Microseconds())/1000)
	if body == nil {
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// authenticate maps HTTP basic authentication (access key id and secret) to its account, or an
// unauthenticated request to Config.AnonymousAccount.
func (a *API) authenticate(r *http.Request) (*request, error) {
	key, secret, ok := r.BasicAuth()
	var account string
	switch {
	case ok:
		acct, err := a.srv.CheckSecret(r.Context(), key, secret)
		if errors.Is(err, server.ErrBadCredentials) {
			return nil, connectError(http.StatusUnauthorized, "Invalid credentials: unknown access key id or wrong secret")
		}
		if err != nil {
			return nil, connectError(http.StatusServiceUnavailable, "credentials could not be checked; try again")
		}
		account = acct
	case r.Header.Get("Authorization") != "":
		return nil, connectError(http.StatusUnauthorized, "Invalid credentials: use HTTP basic authentication with an access key id and its secret")
	case a.cfg.AnonymousAccount != "":
		account = a.cfg.AnonymousAccount
	default:
		return nil, connectError(http.StatusUnauthorized, "Authentication required: use HTTP basic authentication with an access key id and its secret")
	}
	c := server.Caller{AccessKeyID: key, AccountID: account, Region: a.cfg.Region}
	return &request{Request: r, ctx: a.srv.AsCaller(r.Context(), c), caller: c}, nil
}

// decode reads a JSON body into v: a body that is not JSON is a 400 as in Connect.
func decode(r *request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return connectError(http.StatusRequestEntityTooLarge, "Request body is larger than %d bytes", maxBody)
		}
		return connectError(http.StatusBadRequest, "Cannot deserialize the request body: %v", trimJSONError(err))
	}
	return nil
}

func trimJSONError(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

func (a *API) root(*request) (int, any, error) {
	return http.StatusOK, map[string]string{"version": a.cfg.Version, "commit": a.cfg.Commit, "kafka_cluster_id": a.cfg.KafkaClusterID}, nil
}
