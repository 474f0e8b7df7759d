package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/fjord-io/fjord/store/pgembed"
)

// EnvURL names the environment variable that points pgtest at an existing
// server instead of a throwaway cluster.
const EnvURL = "DATABASE_URL"

const (
	startTimeout = 2 * time.Minute // to create and start the cluster
	opTimeout    = time.Minute     // for one CREATE or DROP DATABASE
	// shmMinFree is the free space /dev/shm must have to hold the cluster.
	// Docker gives containers a 64 MiB /dev/shm by default, too small.
	shmMinFree = 1 << 30
)

var (
	inMain atomic.Bool // Main is running the tests

	mu  sync.Mutex
	srv *server // started by the first URL call
	// srvErr is the first start's error, repeated to every later URL call.
	srvErr error
)

// server is where the test databases are created.
type server struct {
	base    *url.URL      // server URL; the path is replaced by the database
	admin   *pgxpool.Pool // connected to base's database, for CREATE/DROP
	cluster *pgembed.Cluster
	tmp     string // the cluster's directory, removed after Stop
	// create is the CREATE DATABASE statement after the name.
	create string
}

// Main wraps testing.M for the test binary's TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// It runs the tests (the first URL call starts the binary's one shared
// throwaway cluster, unless DATABASE_URL is set), stops the cluster, checks
// with goleak that the tests left no goroutine running (opts as for
// goleak.Find, e.g. goleak.IgnoreTopFunction), and exits with the tests'
// code, or 1 when stopping or the leak check fails. It never returns.
func Main(m *testing.M, opts ...goleak.Option) {
	os.Exit(run(m, append(opts, IgnoreInitDaemons)...))
}

// IgnoreInitDaemons is the goleak option for the goroutines a dependency starts at init and
// that no test owns: glog's flush daemon (glog comes with vitess's MySQL client, which the
// MySQL CDC connector uses). Main always applies it.
var IgnoreInitDaemons = goleak.IgnoreTopFunction("github.com/golang/glog.(*fileSink).flushDaemon")

func run(m *testing.M, opts ...goleak.Option) int {
	inMain.Store(true)
	code := m.Run()
	if err := shutdown(); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: goroutines leaked by the tests: %v\n", err)
			code = 1
		}
	}
	return code
}

// URL returns the URL of a new, empty database for t, owned by the server's
// superuser (or DATABASE_URL's user). The database has a unique name that
// contains t's name, and is dropped when t and its subtests have finished,
// after t's own Cleanup functions (register those after calling URL), even
// if connections to it are still open.
func URL(t testing.TB) string {
	t.Helper()
	s, err := get()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return s.newDatabase(t)
}

func (s *server) newDatabase(t testing.TB) string {
	t.Helper()
	name := dbName(t.Name())
	ident := pgx.Identifier{name}.Sanitize()

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+ident+s.create); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		// FORCE ends connections the test left open rather than failing.
		if _, err := s.admin.Exec(ctx, "DROP DATABASE "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u := *s.base
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// get returns the shared server, starting it on first use.
func get() (*server, error) {
	if !inMain.Load() {
		return nil, errors.New("URL needs pgtest.Main: add func TestMain(m *testing.M) { pgtest.Main(m) }")
	}
	mu.Lock()
	defer mu.Unlock()
	if srv == nil && srvErr == nil {
		srv, srvErr = start()
	}
	return srv, srvErr
}

func start() (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s := &server{create: " TEMPLATE template0"}
	raw := os.Getenv(EnvURL)
	if raw == "" {
		dir, err := os.MkdirTemp(tempRoot(), "fjord-pgtest-")
		if err != nil {
			return nil, fmt.Errorf("create cluster directory: %w", err)
		}
		c, err := pgembed.Start(ctx, pgembed.Options{Dir: dir, Fast: true})
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("start cluster: %w", err)
		}
		s.cluster, s.tmp = c, dir
		raw = c.URL("postgres")
		// Copying files and checkpointing is cheaper than PostgreSQL 15's
		// default of writing the template into the WAL when fsync is off:
		// 17-21 ms against 23-24 ms in sequence, 34-39 ms against 53-59 ms
		// four at a time (tmpfs, 2 cores). Other servers keep their default,
		// which older versions would not even parse.
		s.create += " STRATEGY FILE_COPY"
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s must be a postgres:// URL (got %q): %v", EnvURL, raw, err)
	}
	s.base = base
	if s.admin, err = pgxpool.New(ctx, raw); err == nil {
		err = s.admin.Ping(ctx)
	}
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("connect to %s: %w", base.Redacted(), err)
	}
	return s, nil
}

func shutdown() error {
	mu.Lock()
	defer mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.stop()
	srv, srvErr = nil, errors.New("pgtest: Main has stopped the server")
	return err
}

func (s *server) stop() error {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.cluster == nil {
		return nil
	}
	err := s.cluster.Stop()
	if err == nil {
		err = os.RemoveAll(s.tmp)
	}
	return err
}

// tempRoot picks where the cluster lives: /dev/shm if it is big enough, as
// creating a database writes some 300 files, which takes a few milliseconds
// in memory and 100 ms or more on a slow disk; else the temporary directory.
func tempRoot() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil && st.Bavail*uint64(st.Bsize) >= shmMinFree {
		if err := syscall.Access("/dev/shm", 0o2|0o1); err == nil {
			return "/dev/shm"
		}
	}
	return os.TempDir()
}

// dbName makes a database name from a test name: "test_", up to 40
// characters of the name lower-cased with anything but letters and digits
// turned into "_", and 8 random hex digits against collisions with other
// test binaries on a shared DATABASE_URL server. Names stay under
// PostgreSQL's 63-byte limit.
func dbName(testName string) string {
	var b strings.Builder
	b.WriteString("test_")
	under := true
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= len("test_")+40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	if !under {
		b.WriteByte('_')
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	b.WriteString(hex.EncodeToString(rnd[:]))
	return b.String()
}

// ClusterDir returns a directory for a test's own pgembed cluster (one it stops and starts
// itself): under t.TempDir, opened up so that the postgres user can enter it when the tests run
// as root.
func ClusterDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	tmp := filepath.Clean(os.TempDir())
	for p := d; p != tmp && p != filepath.Dir(p); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(d, "pg")
}

// Restartable is a test's own PostgreSQL cluster that the test can stop and start again on the
// same port and data (database outage tests). Stop it again in t.Cleanup is done for you.
type Restartable struct {
	t    testing.TB
	dir  string
	port int
	c    *pgembed.Cluster
}

// StartRestartable starts a cluster in ClusterDir(t) with a database "fjord".
func StartRestartable(t testing.TB) *Restartable {
	t.Helper()
	r := &Restartable{t: t, dir: ClusterDir(t)}
	r.Start()
	r.port = r.c.Port()
	if err := r.c.CreateDatabase(context.Background(), "fjord"); err != nil {
		t.Fatal(err)
	}
	return r
}

// URL is the URL of the cluster's database "fjord".
func (r *Restartable) URL() string { return r.c.URL("fjord") }

// Stop stops the cluster (an outage).
func (r *Restartable) Stop() {
	r.t.Helper()
	if err := r.c.Stop(); err != nil {
		r.t.Fatal(err)
	}
}

// Start starts the cluster (again, on the same port and data).
func (r *Restartable) Start() {
	r.t.Helper()
	c, err := pgembed.Start(context.Background(), pgembed.Options{Dir: r.dir, Fast: true, Port: r.port})
	if err != nil {
		r.t.Fatal(err)
	}
	r.c = c
	r.t.Cleanup(func() { _ = c.Stop() })
}
