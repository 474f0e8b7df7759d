package pgembed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"
)

// helperDirEnv makes the test binary a helper process that starts a cluster
// in the named directory, prints the PIDs, and waits to be killed.
const helperDirEnv = "PGEMBED_TEST_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDirEnv); dir != "" {
		helperMain(dir)
		return
	}
	goleak.VerifyTestMain(m)
}

func helperMain(dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Dir: dir, Fast: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(c.srv.pid, c.srv.cmd.Process.Pid)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the test kills us
	os.Exit(2)
}

// testDir returns a cluster directory under t.TempDir. The temporary
// directories are 0700; when the tests run as root, the postgres user must
// be able to enter them, so they are opened up to 0755.
func testDir(t *testing.T) string {
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

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

func startCluster(t *testing.T, ctx context.Context, opts Options) *Cluster {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	t0 := time.Now()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start took %v", time.Since(t0))
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

// serverProcs returns the live processes working in dataDir: every postgres
// process of a cluster changes into its data directory.
func serverProcs(t *testing.T, dataDir string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if yes, _ := runsIn(pid, dataDir); yes && !zombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitGoneT polls until none of pids is alive and no process works in
// dataDir.
func waitGoneT(t *testing.T, dataDir string, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []int
		for _, pid := range pids {
			if alive(pid) {
				left = append(left, pid)
			}
		}
		left = append(left, serverProcs(t, dataDir)...)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still running: %v", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func query(t *testing.T, ctx context.Context, url, sql string, args ...any) string {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func exec1(t *testing.T, ctx context.Context, url string, sqls ...string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	for _, sql := range sqls {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := testDir(t)
	dataDir := filepath.Join(dir, "data")

	c := startCluster(t, ctx, Options{Dir: dir, Fast: true})
	want := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/app?sslmode=disable", c.Port())
	if got := c.URL("app"); got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	t0 := time.Now()
	if err := c.CreateDatabase(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	t.Logf("CreateDatabase took %v", time.Since(t0))
	exec1(t, ctx, c.URL("app"),
		"CREATE TABLE kv (k text PRIMARY KEY, v text NOT NULL)",
		"INSERT INTO kv VALUES ('a', 'kept')")
	if got := query(t, ctx, c.URL("app"), "SHOW fsync"); got != "off" {
		t.Errorf("fsync = %s with Fast, want off", got)
	}
	if err := c.CreateDatabase(ctx, "app"); err == nil {
		t.Error("CreateDatabase of an existing database succeeded")
	}

	pid := c.srv.pid
	if len(serverProcs(t, dataDir)) == 0 {
		t.Fatal("no process works in the data directory; the process check is broken")
	}
	t0 = time.Now()
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("Stop took %v", time.Since(t0))
	// Stop waits for the server: nothing may be left, right away.
	if alive(pid) {
		t.Errorf("postmaster %d alive after Stop", pid)
	}
	if left := serverProcs(t, dataDir); len(left) > 0 {
		t.Errorf("processes %v still work in %s after Stop", left, dataDir)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("postmaster.pid after Stop: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	// Same Dir, a caller-given port, durable settings, server settings: the data is still there.
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c2 := startCluster(t, ctx, Options{Dir: dir, Port: port, Settings: map[string]string{"wal_level": "logical", "max_replication_slots": "7"}})
	if c2.Port() != port {
		t.Errorf("Port = %d, want %d", c2.Port(), port)
	}
	if got := query(t, ctx, c2.URL("app"), "SELECT v FROM kv WHERE k = 'a'"); got != "kept" {
		t.Errorf("after restart v = %q, want kept", got)
	}
	if got := query(t, ctx, c2.URL("app"), "SHOW fsync"); got != "on" {
		t.Errorf("fsync = %s without Fast, want on", got)
	}
	if got := query(t, ctx, c2.URL("app"), "SHOW wal_level"); got != "logical" {
		t.Errorf("wal_level = %s with Settings, want logical", got)
	}
	if got := query(t, ctx, c2.URL("app"), "SHOW max_replication_slots"); got != "7" {
		t.Errorf("max_replication_slots = %s with Settings, want 7", got)
	}
	log, err := os.ReadFile(filepath.Join(dir, "postgres.log"))
	if err != nil || !strings.Contains(string(log), "database system is ready to accept connections") {
		t.Errorf("server log lacks the start-up message (err %v)", err)
	}
}

func TestDirInUse(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// Odd characters, which must survive the socket directory setting.
	dir := testDir(t) + ` with "odd", chars`
	c := startCluster(t, ctx, Options{Dir: dir, Fast: true})
	if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf(".s.PGSQL.%d", c.Port()))); err != nil {
		t.Errorf("socket not in Dir: %v", err)
	}

	if _, err := Start(ctx, Options{Dir: dir, Fast: true}); !errors.Is(err, ErrDirInUse) {
		t.Fatalf("second Start on the same Dir: err = %v, want ErrDirInUse", err)
	}
	// The failed Start must not have disturbed the running cluster.
	if got := query(t, ctx, c.URL("postgres"), "SELECT 'ok'"); got != "ok" {
		t.Errorf("query = %q", got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	// Stop released Dir.
	startCluster(t, ctx, Options{Dir: dir, Fast: true})
}

// TestLeftoverServer starts a server outside pgembed's control, as a
// process that died without stopping its cluster leaves one, and checks
// that Start stops it and takes over.
func TestLeftoverServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := testDir(t)
	dataDir := filepath.Join(dir, "data")
	c := startCluster(t, ctx, Options{Dir: dir, Fast: true})
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := c.run.command(ctx, c.bin.pgCtl, "start", "-w", "-D", dataDir, "-l", filepath.Join(dir, "orphan.log"),
		"-o", fmt.Sprintf("-c port=%d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s", port, dir))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	pf, err := readPIDFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil || !alive(pf.pid) {
		t.Fatalf("orphan server not running: %v", err)
	}
	t.Cleanup(func() { // only if Start failed to stop it
		if yes, _ := runsIn(pf.pid, dataDir); yes {
			_ = syscall.Kill(pf.pid, syscall.SIGQUIT)
		}
	})

	c2 := startCluster(t, ctx, Options{Dir: dir, Fast: true})
	if alive(pf.pid) {
		t.Errorf("leftover server %d still running after Start", pf.pid)
	}
	if c2.srv.pid == pf.pid {
		t.Errorf("Start reused the leftover server")
	}
	if got := query(t, ctx, c2.URL("postgres"), "SELECT 'ok'"); got != "ok" {
		t.Errorf("query = %q", got)
	}
	if err := c2.Stop(); err != nil {
		t.Fatal(err)
	}
	waitGoneT(t, dataDir)
}

// TestKilledOwner kills the process that started a cluster with SIGKILL, so
// that it cannot run Stop, and checks that the server goes away by itself
// and that the next Start on the Dir works.
func TestKilledOwner(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dir := testDir(t)
	dataDir := filepath.Join(dir, "data")

	helper := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), helperDirEnv+"="+dir)
	helper.Stderr = t.Output()
	stdin, err := helper.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	var postmaster, child int
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if _, scanErr := fmt.Sscan(line, &postmaster, &child); err != nil || scanErr != nil {
		_ = helper.Process.Kill()
		_ = helper.Wait()
		t.Fatalf("helper did not report its cluster: %q, %v, %v", line, err, scanErr)
	}
	if !alive(postmaster) {
		t.Fatalf("postmaster %d not running", postmaster)
	}
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	t0 := time.Now()
	waitGoneT(t, dataDir, postmaster, child)
	t.Logf("server gone %v after its owner was killed", time.Since(t0))

	c := startCluster(t, ctx, Options{Dir: dir, Fast: true})
	if got := query(t, ctx, c.URL("postgres"), "SELECT 'ok'"); got != "ok" {
		t.Errorf("query = %q", got)
	}
}

func TestCheckReachable(t *testing.T) {
	t.Parallel()
	d := t.TempDir()
	dir := filepath.Join(d, "pg")
	// A user that owns nothing here, as postgres owns nothing in t.TempDir.
	r := runner{asRoot: true, uid: 54321, gid: 54321, gids: []int{54321}}
	if err := r.checkReachable(dir); !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), d) {
		t.Errorf("checkReachable under a 0700 directory: err = %v, want ErrPermission naming %s", err, d)
	}
	tmp := filepath.Clean(os.TempDir())
	for p := d; p != tmp; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.checkReachable(dir); err != nil {
		t.Errorf("checkReachable after chmod: %v", err)
	}
}

func TestSocketDirForLongPaths(t *testing.T) {
	t.Parallel()
	run, err := newRunner()
	if err != nil {
		t.Fatal(err)
	}
	short := &Cluster{dir: "/tmp/short", run: run}
	if err := short.pickSocketDir(); err != nil || short.sockDir != short.dir || short.ownSock {
		t.Errorf("short Dir: sockDir %q, own %v, err %v; want Dir itself", short.sockDir, short.ownSock, err)
	}
	long := &Cluster{dir: "/tmp/" + strings.Repeat("d", 100), run: run}
	if err := long.pickSocketDir(); err != nil {
		t.Fatal(err)
	}
	if !long.ownSock || len(long.sockDir)+len("/.s.PGSQL.65535") > 107 {
		t.Errorf("long Dir: sockDir %q, own %v", long.sockDir, long.ownSock)
	}
	long.release()
	if _, err := os.Stat(long.sockDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket directory left after release: %v", err)
	}
}

func TestReadPIDFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          pidFile
		wantErr       bool
	}{
		{"complete", "123\n/data\n1700000000\n5432\n/tmp\n127.0.0.1\n  1234  5\nready   \n", pidFile{123, 1700000000, "ready"}, false},
		{"starting", "123\n/data\n1700000000\n5432\n/tmp\n127.0.0.1\n  1234  5\nstarting\n", pidFile{123, 1700000000, "starting"}, false},
		{"partial", "123\n/data\n", pidFile{123, 0, ""}, false},
		{"empty", "", pidFile{}, true},
		{"garbage", "x\n", pidFile{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readPIDFile(p)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("readPIDFile = %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestWithoutRoot covers the path without runuser when the suite runs as
// root (as in CI): it runs the main tests again as the postgres user. Run
// by another user, the whole suite already takes that path.
func TestWithoutRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Log("not root: the other tests already run PostgreSQL directly")
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	run, err := newRunner()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary lives in a directory only root can enter: copy it to
	// one the postgres user owns, which also serves as its TMPDIR.
	dir := filepath.Dir(testDir(t))
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "pgembed.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, run.uid, run.gid); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, run.runuser, "-u", "postgres", "--",
		bin, "-test.run=^(TestStartStopRestart|TestKilledOwner)$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	out, err := cmd.CombinedOutput()
	for _, name := range []string{"TestStartStopRestart", "TestKilledOwner"} {
		if !strings.Contains(string(out), "--- PASS: "+name) {
			err = errors.Join(err, fmt.Errorf("%s did not pass", name))
		}
	}
	if err != nil {
		t.Fatalf("tests as user postgres: %v\n%s", err, out)
	}
}
