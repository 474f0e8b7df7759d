//go:build unix

package agent

import (
	"errors"
	"testing"
)

// TestClaimDefaultID: two agents started alike on one host get different ids; a released id
// is claimed again by the next start (a restarted agent keeps its id); an explicit id already
// held is refused.
func TestClaimDefaultID(t *testing.T) {
	dir := t.TempDir()
	id1, release1, err := ClaimDefaultID(dir, "host")
	if err != nil || id1 != "host-1" {
		t.Fatalf("first: %q, %v", id1, err)
	}
	id2, release2, err := ClaimDefaultID(dir, "host")
	if err != nil || id2 != "host-2" {
		t.Fatalf("second: %q, %v", id2, err)
	}
	defer release2()
	if _, err := ClaimID(dir, "host-2"); !errors.Is(err, ErrIDInUse) {
		t.Fatalf("explicit id held by another agent: %v", err)
	}
	release1()
	again, release3, err := ClaimDefaultID(dir, "host")
	if err != nil || again != "host-1" {
		t.Fatalf("after the first stopped: %q, %v", again, err)
	}
	release3()
	release4, err := ClaimID(dir, "a/b c")
	if err != nil {
		t.Fatalf("id with a slash: %v", err)
	}
	release4()
}
