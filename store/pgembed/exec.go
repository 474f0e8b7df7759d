package pgembed

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// defaultBinDir is where Debian and Ubuntu install PostgreSQL 15.
const defaultBinDir = "/usr/lib/postgresql/15/bin"

// binaries are the absolute paths of the PostgreSQL programs pgembed runs.
// They come from one directory so that their versions match.
type binaries struct {
	initdb, pgCtl, postgres string
}

func findBinaries(binDir string) (binaries, error) {
	if binDir == "" {
		binDir = defaultBinDir
		if p, err := exec.LookPath("initdb"); err == nil {
			if p, err = filepath.EvalSymlinks(p); err == nil {
				binDir = filepath.Dir(p)
			}
		}
	}
	b := binaries{
		initdb:   filepath.Join(binDir, "initdb"),
		pgCtl:    filepath.Join(binDir, "pg_ctl"),
		postgres: filepath.Join(binDir, "postgres"),
	}
	for _, p := range []string{b.initdb, b.pgCtl, b.postgres} {
		if _, err := os.Stat(p); err != nil {
			return binaries{}, fmt.Errorf("pgembed: find PostgreSQL programs (set Options.BinDir): %w", err)
		}
	}
	return b, nil
}

// runner runs PostgreSQL programs, through runuser as the postgres user
// when this process is root (see the package documentation).
type runner struct {
	asRoot  bool
	runuser string // path of runuser; set when asRoot
	uid     int    // owner given to directories the server writes; -1 = leave
	gid     int
	gids    []int // the postgres user's groups, for the traversal check
}

func newRunner() (runner, error) {
	if os.Geteuid() != 0 {
		return runner{uid: -1, gid: -1}, nil
	}
	ru, err := exec.LookPath("runuser")
	if err != nil {
		return runner{}, fmt.Errorf("pgembed: running as root needs runuser (util-linux): %w", err)
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return runner{}, fmt.Errorf("pgembed: running as root needs a postgres user: %w", err)
	}
	r := runner{asRoot: true, runuser: ru}
	if r.uid, err = strconv.Atoi(u.Uid); err != nil {
		return runner{}, fmt.Errorf("pgembed: postgres uid %q: %w", u.Uid, err)
	}
	if r.gid, err = strconv.Atoi(u.Gid); err != nil {
		return runner{}, fmt.Errorf("pgembed: postgres gid %q: %w", u.Gid, err)
	}
	r.gids = []int{r.gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.Atoi(id); err == nil {
				r.gids = append(r.gids, g)
			}
		}
	}
	return r, nil
}

// command returns a command that runs the program at path with args. The
// environment loses the PG* variables, which would otherwise steer initdb,
// pg_ctl and postgres away from the cluster named on the command line.
func (r runner) command(ctx context.Context, path string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if r.asRoot {
		// runuser keeps the environment (but HOME, USER, LOGNAME, SHELL) and
		// takes no password; the path is absolute because runuser may reset
		// PATH.
		cmd = exec.CommandContext(ctx, r.runuser, append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
	return cmd
}

// own gives path, and everything under it, to the postgres user when
// running as root. It only walks the tree when path's owner is wrong, which
// happens for a cluster made by another user; a cluster initdb made is
// already right.
func (r runner) own(path string) error {
	if !r.asRoot {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("pgembed: give %s to postgres: %w", path, err)
	}
	if uid, _ := fileOwner(fi); uid == r.uid {
		return nil
	}
	err = filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, r.uid, r.gid)
	})
	if err != nil {
		return fmt.Errorf("pgembed: give %s to postgres: %w", path, err)
	}
	return nil
}

// prepareDir creates dir if needed and returns its absolute path with
// symlinks resolved, which is what /proc reports as a server's working
// directory. As root it gives dir to postgres, which must create its socket
// and the data directory there, and checks that postgres can reach it.
func prepareDir(dir string, r runner) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("pgembed: cluster directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("pgembed: create cluster directory: %w", err)
	}
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return "", fmt.Errorf("pgembed: cluster directory: %w", err)
	}
	if !r.asRoot {
		return dir, nil
	}
	if err := r.checkReachable(dir); err != nil {
		return "", err
	}
	if err := os.Chown(dir, r.uid, r.gid); err != nil {
		return "", fmt.Errorf("pgembed: give %s to postgres: %w", dir, err)
	}
	return dir, nil
}

// checkReachable reports the first parent of dir that the postgres user may
// not search. A common case is t.TempDir, whose directories are 0700 root.
func (r runner) checkReachable(dir string) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgembed: cluster directory: %w", err)
		}
		uid, gid := fileOwner(fi)
		var bit fs.FileMode
		switch {
		case uid == r.uid:
			bit = 0o100
		case slices.Contains(r.gids, gid):
			bit = 0o010
		default:
			bit = 0o001
		}
		if fi.Mode().Perm()&bit == 0 {
			return fmt.Errorf("pgembed: user postgres cannot enter %s (mode %v), a parent of cluster directory %s: %w",
				p, fi.Mode().Perm(), dir, fs.ErrPermission)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func fileOwner(fi fs.FileInfo) (uid, gid int) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1
	}
	return int(st.Uid), int(st.Gid)
}
