// Package mysqltest starts throwaway MariaDB servers for tests: a fresh data directory
// (mariadb-install-db), a mariadbd on a free 127.0.0.1 port with its socket, pid file and log
// in a temporary directory, binlog in ROW format unless asked otherwise, stopped and removed
// when the test ends. When the process runs as root, the server runs as the mysql user.
//
// The binaries come from Debian's mariadb-server package, which .ci/run installs; a machine
// without them fails the test (it is not skipped).
package mysqltest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/sqltypes"
)

// Mariadbd is where Debian's mariadb-server installs the server.
const Mariadbd = "/usr/sbin/mariadbd"

// Options change how the server starts.
type Options struct {
	// NoBinlog starts the server without --log-bin.
	NoBinlog bool
	// BinlogFormat is --binlog-format (default ROW).
	BinlogFormat string
	// Args are extra mariadbd arguments.
	Args []string
}

// Server is a running throwaway MariaDB; root has no password on 127.0.0.1.
type Server struct {
	Host string
	Port int
	Dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a server and registers its stop with t.Cleanup.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if _, err := os.Stat(Mariadbd); err != nil {
		t.Fatalf("mysqltest: %s is missing: install Debian's mariadb-server (.ci/run installs it): %v", Mariadbd, err)
	}
	dir, err := os.MkdirTemp("", "mariadb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	var userArg []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("mysql")
		if err != nil {
			t.Fatalf("mysqltest: running as root needs the mysql user (Debian's mariadb-server creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{dir, data} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		userArg = []string{"--user=mysql"}
	}
	install := exec.Command("mariadb-install-db", append([]string{"--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-test-db"}, userArg...)...)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mysqltest: mariadb-install-db: %v\n%s", err, out)
	}
	port := freePort(t)
	args := []string{"--no-defaults", "--datadir=" + data, "--socket=" + filepath.Join(dir, "sock"),
		"--port=" + strconv.Itoa(port), "--bind-address=127.0.0.1", "--skip-name-resolve",
		"--pid-file=" + filepath.Join(dir, "pid"), "--log-error=" + filepath.Join(dir, "error.log"),
		"--innodb-buffer-pool-size=32M", "--server-id=1", "--max-connections=50",
		"--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0"}
	if o.NoBinlog {
		args = append(args, "--skip-log-bin")
	} else {
		f := o.BinlogFormat
		if f == "" {
			f = "ROW"
		}
		args = append(args, "--log-bin="+filepath.Join(data, "binlog"), "--binlog-format="+f)
	}
	args = append(args, o.Args...)
	cmd := exec.Command(Mariadbd, args...)
	if userArg != nil {
		// runuser drops to the mysql user and passes the SIGTERM the kernel sends when the
		// test process dies (mariadbd's own --user would clear the parent-death signal).
		cmd = exec.Command("runuser", append([]string{"-u", "mysql", "--", Mariadbd}, args...)...)
	}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("mysqltest: starting mariadbd: %v", err)
	}
	s := &Server{Host: "127.0.0.1", Port: port, Dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(s.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		c, err := s.Connect(ctx, "root", "")
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("mysqltest: mariadbd exited: %s", log)
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("mysqltest: mariadbd did not accept connections: %v\n%s", err, log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return s
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Kill stops the server at once (a database that went down).
func (s *Server) Kill() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) // the process group: runuser and mariadbd
	<-s.done
}

// Connect opens a connection as user.
func (s *Server) Connect(ctx context.Context, user, password string) (*mysql.Conn, error) {
	return mysql.Connect(ctx, &mysql.ConnParams{Host: s.Host, Port: s.Port, Uname: user, Pass: password})
}

// Exec runs statements as root, failing the test on an error.
func (s *Server) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := s.Connect(ctx, "root", "")
	if err != nil {
		t.Fatalf("mysqltest: connect: %v", err)
	}
	defer c.Close()
	for _, q := range stmts {
		if _, err := c.ExecuteFetch(q, 0, false); err != nil {
			t.Fatalf("mysqltest: %s: %v", q, err)
		}
	}
}

// Query runs a query as root and returns its rows as strings (NULL as "NULL").
func (s *Server) Query(t testing.TB, q string) [][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := s.Connect(ctx, "root", "")
	if err != nil {
		t.Fatalf("mysqltest: connect: %v", err)
	}
	defer c.Close()
	r, err := c.ExecuteFetch(q, 1<<20, false)
	if err != nil {
		t.Fatalf("mysqltest: %s: %v", q, err)
	}
	return Strings(r)
}

// Strings is a result's rows as strings (NULL as "NULL").
func Strings(r *sqltypes.Result) [][]string {
	var out [][]string
	for _, row := range r.Rows {
		var l []string
		for _, v := range row {
			if v.IsNull() {
				l = append(l, "NULL")
			} else {
				l = append(l, v.ToString())
			}
		}
		out = append(out, l)
	}
	return out
}

// ErrorLog is the server's error log.
func (s *Server) ErrorLog() string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "error.log"))
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// String names the server.
func (s *Server) String() string { return fmt.Sprintf("mariadbd on %s:%d", s.Host, s.Port) }
