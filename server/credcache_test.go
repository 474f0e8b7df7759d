package server

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fjord-io/fjord/migrations"
	"github.com/fjord-io/fjord/server/sigv4"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func cacheStore(t *testing.T) *store.Store {
	t.Helper()
	url := pgtest.URL(t)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), store.Config{DatabaseURL: url, Key: make([]byte, store.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// TestCredentialCache: unknown keys are remembered for negTTL, at most negMax of them (least
// recently used evicted); concurrent requests for one key make one lookup; known keys are
// remembered until invalidate, which forgets known and unknown keys alike.
func TestCredentialCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := cacheStore(t)
	c := newCredentialCache(st, time.Hour, 300*time.Millisecond, 3, prometheus.NewRegistry())
	count := func(result string) int {
		var m dto.Metric
		if err := c.lookups.WithLabelValues(result).Write(&m); err != nil {
			t.Fatal(err)
		}
		return int(m.GetCounter().GetValue())
	}
	unknown := func(keys ...string) {
		t.Helper()
		for _, k := range keys {
			if _, err := c.Credential(ctx, k); !errors.Is(err, sigv4.ErrUnknownKey) {
				t.Fatalf("%s: %v, want ErrUnknownKey", k, err)
			}
		}
	}

	unknown("k1", "k2", "k3", "k1", "k2", "k3")
	if got := count("unknown"); got != 3 {
		t.Fatalf("3 unknown keys asked twice: %d lookups, want 3", got)
	}
	unknown("k4") // evicts k1, the least recently used
	unknown("k2", "k3", "k4")
	if got := count("unknown"); got != 4 {
		t.Fatalf("after k4: %d lookups, want 4", got)
	}
	unknown("k1")
	if got := count("unknown"); got != 5 {
		t.Fatalf("k1 after its eviction: %d lookups, want 5", got)
	}
	c.mu.Lock()
	size := len(c.neg)
	c.mu.Unlock()
	if size != 3 {
		t.Fatalf("%d unknown keys remembered, want the bound 3", size)
	}
	time.Sleep(400 * time.Millisecond) // past negTTL
	unknown("k1")
	if got := count("unknown"); got != 6 {
		t.Fatalf("k1 after negTTL: %d lookups, want 6", got)
	}

	// Fifty requests for one new unknown key at once: one lookup.
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); unknown("k-flood") }()
	}
	wg.Wait()
	if got := count("unknown"); got != 7 {
		t.Fatalf("50 concurrent requests for one key: %d lookups in all, want 7", got)
	}

	// A key added to the store is refused while remembered as unknown, and known after
	// invalidate; removed, it stays cached until invalidate.
	unknown("AKNEW")
	if _, err := st.CredentialsSync(ctx, []store.Credential{{AccessKeyID: "AKNEW", SecretAccessKey: "s", AccountID: "000000000000"}}); err != nil {
		t.Fatal(err)
	}
	unknown("AKNEW")
	c.invalidate()
	for range 3 {
		if cred, err := c.Credential(ctx, "AKNEW"); err != nil || cred.SecretAccessKey != "s" {
			t.Fatalf("AKNEW after invalidate: %+v, %v", cred, err)
		}
	}
	if got := count("found"); got != 1 {
		t.Fatalf("a known key asked 3 times: %d lookups, want 1", got)
	}
	if _, err := st.CredentialsSync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Credential(ctx, "AKNEW"); err != nil {
		t.Fatalf("AKNEW removed but cached: %v", err)
	}
	c.invalidate()
	unknown("AKNEW")
	if got := count("error"); got != 0 {
		t.Fatalf("%d failed lookups", got)
	}
}
