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
	"os"
	"os/exec"
	"path/filepath"
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

// Start starts a server and registers its stop with t.Cleanup (Launch).
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s, stop, err := Launch(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
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
