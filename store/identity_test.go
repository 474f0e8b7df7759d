package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fjord-io/fjord/store"
)

// TestCAOnce: the first caller creates the CA, every later one (another replica) reads the
// same; the key is stored sealed, not in clear.
func TestCAOnce(t *testing.T) {
	t.Parallel()
	st, _, _ := open(t)
	ctx := context.Background()
	created := 0
	create := func() ([]byte, []byte, error) {
		created++
		return []byte("CERT"), []byte("KEY-DER"), nil
	}
	c1, k1, err := st.CA(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	c2, k2, err := st.CA(ctx, func() ([]byte, []byte, error) { return nil, nil, errors.New("must not be called") })
	if err != nil {
		t.Fatal(err)
	}
	if created != 1 || string(c1) != "CERT" || string(k1) != "KEY-DER" || !bytes.Equal(c1, c2) || !bytes.Equal(k1, k2) {
		t.Fatalf("CA: created %d, %q %q / %q %q", created, c1, k1, c2, k2)
	}
	var raw []byte
	if err := st.Pool().QueryRow(ctx, `SELECT private_key FROM fjord_ca`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("KEY-DER")) {
		t.Fatal("the CA key is stored in clear")
	}
}

// TestEnrollRevokeClaim: an enrolled id cannot enroll again until revoked; a revoke is kept
// (its first time) and wakes the id's stream; a live stream of one instance refuses another
// instance and lets the same instance reconnect.
func TestEnrollRevokeClaim(t *testing.T) {
	t.Parallel()
	st, _, _ := open(t)
	ctx := context.Background()
	e := store.Enrollment{AgentID: "a", Serial: "01", Fingerprint: "sha256:aa", NotAfter: time.Now().Add(time.Hour)}
	if err := st.AgentEnroll(ctx, e); err != nil {
		t.Fatal(err)
	}
	e.Serial = "02"
	if err := st.AgentEnroll(ctx, e); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second enrollment: %v, want ErrConflict", err)
	}
	if _, err := st.AgentRevoke(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	r1, err := st.AgentRevoke(ctx, "a")
	if err != nil || !r1.Revoked() || r1.Serial != "01" {
		t.Fatalf("revoke: %+v %v", r1, err)
	}
	r2, err := st.AgentRevoke(ctx, "a")
	if err != nil || !r2.RevokedAt.Equal(r1.RevokedAt) {
		t.Fatalf("second revoke: %+v %v (first at %v)", r2, err, r1.RevokedAt)
	}
	if err := st.AgentEnroll(ctx, e); err != nil {
		t.Fatalf("enroll after revoke: %v", err)
	}
	if got, err := st.AgentEnrollment(ctx, "a"); err != nil || got.Serial != "02" || got.Revoked() {
		t.Fatalf("enrollment after re-enrolling: %+v %v", got, err)
	}
	all, err := st.AgentEnrollments(ctx)
	if err != nil || len(all) != 1 || all["a"].Serial != "02" {
		t.Fatalf("AgentEnrollments: %v %v", all, err)
	}

	// Claims.
	if _, err := st.AgentClaim(ctx, "a", "i1", time.Minute); err != nil {
		t.Fatalf("claim of a new id: %v", err)
	}
	if _, err := st.AgentClaim(ctx, "a", "i-racing", time.Minute); !errors.Is(err, store.ErrAgentLive) {
		t.Fatalf("a second instance claiming a new id before its Hello: %v, want ErrAgentLive", err)
	}
	if err := st.AgentHello(ctx, store.Agent{ID: "a", MCUCapacity: 1, Address: "10.0.0.1:1", Session: "s1", ServerID: "srv"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AgentSetInstance(ctx, "a", "i1"); err != nil {
		t.Fatal(err)
	}
	live, err := st.AgentClaim(ctx, "a", "i2", time.Minute)
	if !errors.Is(err, store.ErrAgentLive) || live.Address != "10.0.0.1:1" || live.ServerID != "srv" {
		t.Fatalf("claim by another instance: %+v %v", live, err)
	}
	if _, err := st.AgentClaim(ctx, "a", "i1", time.Minute); err != nil {
		t.Fatalf("reconnect of the same instance: %v", err)
	}
	if err := st.AgentDisconnected(ctx, "a", "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AgentClaim(ctx, "a", "i2", time.Minute); err != nil {
		t.Fatalf("claim after the stream ended: %v", err)
	}
}
