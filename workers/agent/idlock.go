//go:build unix

package agent

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// maxDefaultIDs bounds the agents ClaimDefaultID numbers on one host.
const maxDefaultIDs = 1000

// ClaimID makes id this host's agent id for as long as the process lives (or release is
// called): it takes an exclusive lock on <dir>/<id>.lock, so that a second agent on the same
// host with the same id is refused at start instead of displacing the first at the server. The
// kernel drops the lock when the process dies, so a restarted agent claims its id again.
func ClaimID(dir, id string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("agent id lock folder: %w", err)
	}
	path := filepath.Join(dir, url.PathEscape(id)+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("agent id lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: another fjord agent on this host runs as %q (lock %s); give this one another --id", ErrIDInUse, id, path)
		}
		return nil, fmt.Errorf("agent id lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	return func() { f.Close() }, nil
}

// ErrIDInUse says another agent process on this host holds the id.
var ErrIDInUse = errors.New("agent id in use")

// ClaimDefaultID picks the default agent id of a process on this host: <host>-1, or the next
// free <host>-N when other agents run here, claimed with ClaimID. An agent restarted on its
// own takes its old id again (the lowest free number), and two agents started with the same
// command on one host get different ids.
func ClaimDefaultID(dir, host string) (id string, release func(), err error) {
	for n := 1; n <= maxDefaultIDs; n++ {
		id = host + "-" + strconv.Itoa(n)
		release, err = ClaimID(dir, id)
		if err == nil {
			return id, release, nil
		}
		if !errors.Is(err, ErrIDInUse) {
			return "", nil, err
		}
	}
	return "", nil, fmt.Errorf("more than %d fjord agents run on this host; give this one an --id", maxDefaultIDs)
}
