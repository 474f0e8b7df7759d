package mysqltest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"time"
)

// Launch starts a server as Start does, outside of a test (the bench's cdc suite): stop stops
// it and removes its directory.
func Launch(o Options) (s *Server, stop func(), err error) {
	if _, err := os.Stat(Mariadbd); err != nil {
		return nil, nil, fmt.Errorf("mysqltest: %s is missing: install Debian's mariadb-server: %w", Mariadbd, err)
	}
	dir, err := os.MkdirTemp("", "mariadb-")
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		return nil, nil, err
	}
	var userArg []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("mysql")
		if err != nil {
			return nil, nil, fmt.Errorf("mysqltest: running as root needs the mysql user (Debian's mariadb-server creates it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, d := range []string{dir, data} {
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, nil, err
			}
		}
		userArg = []string{"--user=mysql"}
	}
	install := exec.Command("mariadb-install-db", append([]string{"--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-test-db"}, userArg...)...)
	if out, err := install.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("mysqltest: mariadb-install-db: %w\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
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
		cmd = exec.Command("runuser", append([]string{"-u", "mysql", "--", Mariadbd}, args...)...)
	}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("mysqltest: starting mariadbd: %w", err)
	}
	s = &Server{Host: "127.0.0.1", Port: port, Dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	stop = func() {
		s.stop()
		os.RemoveAll(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		c, cerr := s.Connect(ctx, "root", "")
		if cerr == nil {
			c.Close()
			return s, stop, nil
		}
		select {
		case <-s.done:
			err = errors.New("mysqltest: mariadbd exited: " + s.ErrorLog())
		case <-ctx.Done():
			err = fmt.Errorf("mysqltest: mariadbd did not accept connections: %w\n%s", cerr, s.ErrorLog())
			s.stop()
		case <-time.After(50 * time.Millisecond):
			continue
		}
		return nil, nil, err
	}
}
