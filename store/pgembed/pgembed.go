package pgembed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrDirInUse is returned by Start when another live Cluster, in this process
// or another, already runs on the same Dir.
var ErrDirInUse = errors.New("pgembed: cluster directory is in use by another process")

// Options configure Start.
type Options struct {
	// Dir is the directory the cluster lives in; required. The data directory
	// is Dir/data and the server log Dir/postgres.log (see the package
	// documentation). Dir is created if missing; if it already holds a
	// cluster, that cluster and its data are reused.
	Dir string
	// Port is the TCP port the server listens on, on 127.0.0.1 only; 0 picks
	// a free port.
	Port int
	// Fast trades durability for speed, for tests: initdb skips its final
	// sync, and the server runs with fsync, synchronous_commit and
	// full_page_writes off. A crash of the machine (not of the server) can
	// then corrupt the cluster. Default false: PostgreSQL's durable defaults.
	Fast bool
	// BinDir is the directory holding initdb, pg_ctl and postgres. Default:
	// the directory of the initdb found on PATH (symlinks resolved), else
	// /usr/lib/postgresql/15/bin.
	BinDir string
	// Settings are server configuration parameters passed as -c name=value flags, after
	// Fjord's own (so they override Fast's), in name order; e.g. {"wal_level": "logical"}
	// for logical replication. Default: none.
	Settings map[string]string
	// Logger receives start and stop events (not the server's own log, which
	// goes to Dir/postgres.log). Default: discard.
	Logger *slog.Logger
}

// Cluster is a running PostgreSQL server started by Start. Its methods are
// safe for concurrent use.
type Cluster struct {
	port    int
	dir     string // Options.Dir, absolute, symlinks resolved
	dataDir string
	sockDir string
	ownSock bool // sockDir is a temporary directory to remove on Stop
	bin     binaries
	run     runner
	log     *slog.Logger
	logFile *os.File
	lock    *os.File
	srv     *server

	stopOnce sync.Once
	stopErr  error
}

// Timeouts for shutting a server down before escalating to a harsher signal.
const (
	fastShutdownTimeout      = 60 * time.Second // SIGINT: roll back, checkpoint, exit
	immediateShutdownTimeout = 10 * time.Second // SIGQUIT: exit without checkpoint
	// pollInterval is how often start-up and shutdown waits check the server.
	// Readiness shows up in postmaster.pid; reading it costs microseconds.
	pollInterval = 5 * time.Millisecond
	// startAttempts bounds retries when a port picked by Port 0 is taken by
	// someone else between the check and the server's bind.
	startAttempts = 3
)

// Start creates the cluster in opts.Dir unless it already holds one, stops a
// server left running there by a process that died, and starts a server. It
// returns when the server accepts connections. ctx bounds the start only;
// the server runs until Stop.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgembed: Options.Dir is required")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("pgembed: invalid port %d", opts.Port)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "pgembed")

	bin, err := findBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	run, err := newRunner()
	if err != nil {
		return nil, err
	}
	dir, err := prepareDir(opts.Dir, run)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		dir:     dir,
		dataDir: filepath.Join(dir, "data"),
		bin:     bin,
		run:     run,
		log:     log.With("data_dir", filepath.Join(dir, "data")),
	}
	if err := c.start(ctx, opts); err != nil {
		c.release()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, opts Options) error {
	lock, err := lockDir(c.dir)
	if err != nil {
		return err
	}
	c.lock = lock
	c.logFile, err = os.OpenFile(c.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgembed: open server log: %w", err)
	}

	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		if err := c.run.own(c.dataDir); err != nil {
			return err
		}
		if err := c.stopLeftover(ctx); err != nil {
			return err
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(c.dataDir); err == nil {
			return fmt.Errorf("pgembed: %s exists but holds no cluster (no PG_VERSION); remove it or choose another Dir", c.dataDir)
		}
		if err := c.initdb(ctx, opts.Fast); err != nil {
			return err
		}
	} else {
		return fmt.Errorf("pgembed: inspect data directory: %w", err)
	}

	if err := c.pickSocketDir(); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return err
			}
		}
		err = c.launch(ctx, port, opts.Fast, opts.Settings)
		if err == nil {
			c.port = port
			return nil
		}
		// A server that exited on its own may have lost a race for the port
		// we picked; anything else (ctx, bad binaries) would only repeat.
		var exited *exitedError
		if opts.Port != 0 || attempt == startAttempts || !errors.As(err, &exited) {
			return err
		}
		c.log.Warn("server exited during start-up, retrying on another port", "port", port, "error", err)
	}
}

// initdb creates the data directory. It runs into Dir/data.init and renames
// that to Dir/data when done, so that an initdb interrupted by a crash never
// leaves a half-made cluster that would later be mistaken for a real one.
func (c *Cluster) initdb(ctx context.Context, fast bool) error {
	tmp := c.dataDir + ".init"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("pgembed: remove interrupted initdb: %w", err)
	}
	args := []string{
		"-D", tmp,
		"-U", "postgres",
		"-A", "trust",
		"-E", "UTF8",
		"--locale=C",
		"--no-instructions",
	}
	if fast {
		args = append(args, "--no-sync")
	}
	t0 := time.Now()
	if err := c.runTool(ctx, c.bin.initdb, args...); err != nil {
		return fmt.Errorf("pgembed: initdb: %w%s", err, c.logTail())
	}
	if err := os.Rename(tmp, c.dataDir); err != nil {
		return fmt.Errorf("pgembed: move new cluster into place: %w", err)
	}
	c.log.Info("initialized cluster", "duration", time.Since(t0))
	return nil
}

// stopLeftover deals with a postmaster.pid found in a reused data directory.
// The file stays behind when a server was killed hard, and it names a live
// server when the process that started it died without stopping it. A live
// server is stopped; a stale file is removed so that the start-up wait cannot
// mistake its "ready" line for the new server's. The process named in the
// file is only signalled after checking it really serves this data directory:
// after a reboot its PID may belong to anything.
func (c *Cluster) stopLeftover(ctx context.Context) error {
	pidPath := filepath.Join(c.dataDir, "postmaster.pid")
	pf, err := readPIDFile(pidPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || !alive(pf.pid) {
		return removeStale(pidPath)
	}
	serves, known := runsIn(pf.pid, c.dataDir)
	if !known {
		// No /proc: ask pg_ctl, which checks the PID the same way postgres does.
		serves = c.runTool(ctx, c.bin.pgCtl, "status", "-D", c.dataDir) == nil
	}
	if !serves {
		return removeStale(pidPath)
	}

	c.log.Warn("stopping server left running by a previous process", "pid", pf.pid)
	for _, mode := range []string{"fast", "immediate"} {
		err = c.runTool(ctx, c.bin.pgCtl, "stop", "-D", c.dataDir, "-m", mode, "-w", "-t", "30")
		if err == nil {
			break
		}
	}
	if alive(pf.pid) {
		_ = syscall.Kill(pf.pid, syscall.SIGKILL)
		if !waitGone(ctx, pf.pid, immediateShutdownTimeout) {
			return fmt.Errorf("pgembed: leftover server %d in %s does not stop: %w", pf.pid, c.dataDir, err)
		}
	}
	return removeStale(pidPath)
}

func removeStale(pidPath string) error {
	if err := os.Remove(pidPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pgembed: remove stale postmaster.pid: %w", err)
	}
	return nil
}

// pickSocketDir puts the unix socket in Dir unless the socket's path would
// exceed the 107 bytes a sockaddr_un holds; then it uses a new short
// directory under the system temporary directory.
func (c *Cluster) pickSocketDir() error {
	const maxSocketPath = 107
	if len(c.dir)+len("/.s.PGSQL.65535") <= maxSocketPath {
		c.sockDir = c.dir
		return nil
	}
	d, err := os.MkdirTemp("", "pgembed-")
	if err != nil {
		return fmt.Errorf("pgembed: create socket directory: %w", err)
	}
	c.sockDir, c.ownSock = d, true
	if len(d)+len("/.s.PGSQL.65535") > maxSocketPath {
		return fmt.Errorf("pgembed: no directory short enough for a unix socket (tried %s)", d)
	}
	return c.run.own(d)
}

// exitedError reports a server that exited before it accepted connections.
type exitedError struct{ err error }

func (e *exitedError) Error() string { return fmt.Sprintf("server exited during start-up: %v", e.err) }
func (e *exitedError) Unwrap() error { return e.err }

// launch starts the server on port and waits until it accepts connections.
func (c *Cluster) launch(ctx context.Context, port int, fast bool, settings map[string]string) error {
	args := []string{
		"-D", c.dataDir,
		"-c", "port=" + strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		// A list setting: quoted, a path may hold commas and spaces.
		"-c", `unix_socket_directories="` + strings.ReplaceAll(c.sockDir, `"`, `""`) + `"`,
		"-c", "logging_collector=off",
	}
	if fast {
		args = append(args,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
		)
	}
	for _, name := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", name+"="+settings[name])
	}
	launched := time.Now()
	srv, err := startServer(c.run, c.bin.postgres, args, c.dir, c.logFile)
	if err != nil {
		return fmt.Errorf("pgembed: start postgres: %w", err)
	}
	pidPath := filepath.Join(c.dataDir, "postmaster.pid")
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		// postgres rewrites the last line of postmaster.pid to "ready" once it
		// accepts connections; pg_ctl -w waits for the same line, but polls
		// only every 100 ms. A leftover file was removed before launch, and
		// the start time guards against one appearing anyway.
		if pf, err := readPIDFile(pidPath); err == nil && pf.status == "ready" && pf.start >= launched.Unix()-1 {
			srv.pid = pf.pid
			c.srv = srv
			c.log.Info("server ready", "port", port, "pid", pf.pid, "duration", time.Since(launched))
			return nil
		}
		select {
		case <-srv.done:
			return fmt.Errorf("pgembed: %w%s", &exitedError{srv.err}, c.logTail())
		case <-ctx.Done():
			c.srv = srv
			if err := c.shutdown(); err != nil {
				c.log.Error("stop server after cancelled start", "error", err)
			}
			c.srv = nil
			return fmt.Errorf("pgembed: wait for server start: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// URL returns a URL for connecting to database on this cluster as the
// postgres superuser over TCP, e.g.
// postgres://postgres@127.0.0.1:5432/app?sslmode=disable.
func (c *Cluster) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// CreateDatabase creates an empty database named name, owned by postgres,
// from template0.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgembed: create database %s: connect: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		return fmt.Errorf("pgembed: create database %s: %w", name, err)
	}
	return nil
}

// EnsureDatabase creates the database unless it exists (a reused data directory).
func (c *Cluster) EnsureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgembed: ensure database %s: connect: %w", name, err)
	}
	var exists bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("pgembed: ensure database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	return c.CreateDatabase(ctx, name)
}

// Stop shuts the server down as `pg_ctl stop -m fast` does (active
// transactions are rolled back, a checkpoint is written), waits until the
// server process has exited, and releases Dir. If the server does not exit
// within a minute, it is stopped immediately and then killed. Stop is
// idempotent: later calls return the first call's result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		err := c.shutdown()
		c.srv = nil
		c.release()
		if err == nil {
			c.log.Info("server stopped")
		}
		c.stopErr = err
	})
	return c.stopErr
}

// shutdown stops c.srv and waits for its process to exit.
func (c *Cluster) shutdown() error {
	s := c.srv
	if s == nil {
		return nil
	}
	select {
	case <-s.done:
		if s.err != nil {
			return fmt.Errorf("pgembed: server had exited: %w%s", s.err, c.logTail())
		}
		return errors.New("pgembed: server had exited" + c.logTail())
	default:
	}
	// Signal the postmaster itself, not our child: as root the child is
	// runuser, which would turn any signal into a smart shutdown that waits
	// for clients to disconnect. Before the server is ready its PID is not
	// known yet; then the child it is, which is fine as nobody is connected.
	pid := s.pid
	if pid <= 0 {
		pid = s.cmd.Process.Pid
	}
	steps := []struct {
		sig     syscall.Signal
		timeout time.Duration
	}{
		{syscall.SIGINT, fastShutdownTimeout},
		{syscall.SIGQUIT, immediateShutdownTimeout},
		{syscall.SIGKILL, immediateShutdownTimeout},
	}
	for i, step := range steps {
		if err := syscall.Kill(pid, step.sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("pgembed: signal server %d: %w", pid, err)
		}
		if step.sig == syscall.SIGKILL {
			_ = s.cmd.Process.Kill() // runuser, if any
		}
		select {
		case <-s.done:
			if i == 0 {
				return nil
			}
			return fmt.Errorf("pgembed: server %d ignored fast shutdown; stopped with %v%s", pid, step.sig, c.logTail())
		case <-time.After(step.timeout):
			c.log.Warn("server does not stop", "pid", pid, "signal", step.sig.String())
		}
	}
	return fmt.Errorf("pgembed: server %d does not exit", pid)
}

// release closes files and removes what Start created besides the cluster.
// The lock goes last: once it is released another process may take Dir.
func (c *Cluster) release() {
	if c.ownSock {
		_ = os.RemoveAll(c.sockDir)
	}
	if c.logFile != nil {
		_ = c.logFile.Close()
	}
	if c.lock != nil {
		_ = c.lock.Close() // closing the descriptor drops the flock
	}
}

func (c *Cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }

// logTail returns the end of the server log, formatted to be appended to an
// error message, so that a failed start says why.
func (c *Cluster) logTail() string {
	const maxTail = 2048
	f, err := os.Open(c.logPath())
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-maxTail, 0)
	buf := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(buf, off)
	tail := strings.TrimSpace(string(buf[:n]))
	if off > 0 {
		if i := strings.IndexByte(tail, '\n'); i >= 0 {
			tail = tail[i+1:]
		}
	}
	if tail == "" {
		return ""
	}
	return fmt.Sprintf("\n--- end of %s ---\n%s", c.logPath(), tail)
}

// runTool runs initdb or pg_ctl to completion, its output appended to the
// server log.
func (c *Cluster) runTool(ctx context.Context, name string, args ...string) error {
	cmd := c.run.command(ctx, name, args...)
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = c.logFile, c.logFile
	// Own process group, but no parent-death signal: the kernel sends that when the OS thread
	// that forked the child exits, not the process, and a short-lived tool finishes on its own
	// anyway (CI saw initdb killed mid-run by it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// On cancellation ask politely: runuser passes SIGTERM on to its child,
	// whereas a SIGKILLed runuser would leave the child running.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd.Run()
}

// lockDir takes an exclusive flock on Dir/pgembed.lock. flock locks belong
// to the open file, which Go opens close-on-exec: the server does not
// inherit it, so the lock dies with the process that took it even when the
// server survives, and Start can tell a leftover server from a live one.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "pgembed.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgembed: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrDirInUse, dir)
		}
		return nil, fmt.Errorf("pgembed: lock %s: %w", dir, err)
	}
	return f, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgembed: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// pidFile is the part of postmaster.pid that pgembed reads.
type pidFile struct {
	pid    int
	start  int64 // Unix seconds
	status string
}

// readPIDFile parses postmaster.pid: PID, data directory, start time, port,
// socket directory, listen address, shared memory key, status, one a line.
// The file is written in steps, so a partial file is an error, not a panic.
func readPIDFile(path string) (pidFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return pidFile{}, err
	}
	lines := strings.Split(string(b), "\n")
	var pf pidFile
	if pf.pid, err = strconv.Atoi(strings.TrimSpace(lines[0])); err != nil || pf.pid <= 0 {
		return pidFile{}, fmt.Errorf("pgembed: bad PID in %s", path)
	}
	if len(lines) > 2 {
		pf.start, _ = strconv.ParseInt(strings.TrimSpace(lines[2]), 10, 64)
	}
	if len(lines) > 7 {
		pf.status = strings.TrimSpace(lines[7])
	}
	return pf, nil
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return !zombie(pid)
}

// waitGone polls until process pid is gone, for at most timeout.
func waitGone(ctx context.Context, pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for alive(pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(pollInterval)
	}
	return true
}

// server is a postgres process started by launch; as root, cmd is the
// runuser that runs it.
type server struct {
	cmd  *exec.Cmd
	pid  int           // the postmaster's PID, from postmaster.pid; 0 until ready
	done chan struct{} // closed when cmd has exited; err is then set
	err  error
}

// startServer starts postgres with args and returns once the process exists.
//
// The process is started from a goroutine locked to its OS thread that then
// waits for it: Linux delivers the parent-death signal when the thread that
// forked the child exits, not when the process does, and a Go thread exits
// whenever a goroutine locked to it ends. Locking keeps the forking thread
// alive for exactly as long as the server runs.
func startServer(run runner, name string, args []string, dir string, logFile *os.File) (*server, error) {
	cmd := run.command(context.Background(), name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr(run.asRoot)
	s := &server{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.err = cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return s, nil
}
