package store_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fjord-io/fjord/store"
)

// TestCredentialsSync: the table becomes exactly the given set (removed keys are gone, changed
// secrets and accounts replaced, unchanged rows reported as nothing), and a change is
// announced on NotifyCredentials while a sync that changes nothing is silent.
func TestCredentialsSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := open(t)

	var mu sync.Mutex
	notes := 0
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = st.Listen(lctx, func(channel, _ string) {
			if channel == store.NotifyCredentials {
				mu.Lock()
				notes++
				mu.Unlock()
			}
		}, store.NotifyCredentials)
	}()
	t.Cleanup(func() { cancel(); <-done })
	count := func() int { mu.Lock(); defer mu.Unlock(); return notes }
	// Wait until the listener is in place: a put announces itself.
	deadline := time.Now().Add(10 * time.Second)
	for count() == 0 {
		if err := st.CredentialPut(ctx, store.Credential{AccessKeyID: "stray", SecretAccessKey: "s", AccountID: "999999999999"}); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no notification on fjord_credentials after CredentialPut")
		}
		time.Sleep(50 * time.Millisecond)
	}

	a := store.Credential{AccessKeyID: "AKA", SecretAccessKey: "secret-a", AccountID: "111111111111"}
	b := store.Credential{AccessKeyID: "AKB", SecretAccessKey: "secret-b", AccountID: "222222222222"}
	ch, err := st.CredentialsSync(ctx, []store.Credential{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.CredentialChanges{Added: []string{"AKA", "AKB"}, Removed: []string{"stray"}}); !reflect.DeepEqual(ch, want) {
		t.Fatalf("first sync: %+v, want %+v", ch, want)
	}
	if _, err := st.Credential(ctx, "stray"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a key the sync did not list: %v, want ErrNotFound", err)
	}
	waitCount := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for count() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%d notifications, want %d", count(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond) // let the notifications so far arrive
	before := count()
	ch, err = st.CredentialsSync(ctx, []store.Credential{a, b})
	if err != nil || !ch.Empty() {
		t.Fatalf("same set again: %+v, %v; want no change", ch, err)
	}

	b2 := store.Credential{AccessKeyID: "AKB", SecretAccessKey: "rotated", AccountID: "222222222222"}
	c := store.Credential{AccessKeyID: "AKC", SecretAccessKey: "secret-c", AccountID: "333333333333"}
	ch, err = st.CredentialsSync(ctx, []store.Credential{b2, c})
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.CredentialChanges{Added: []string{"AKC"}, Removed: []string{"AKA"}, Updated: []string{"AKB"}}); !reflect.DeepEqual(ch, want) {
		t.Fatalf("second sync: %+v, want %+v", ch, want)
	}
	waitCount(before + 1)
	time.Sleep(200 * time.Millisecond)
	if got := count(); got != before+1 {
		t.Fatalf("notifications after an empty and a real sync: %d, want %d (the empty one is silent)", got, before+1)
	}
	if got, err := st.Credential(ctx, "AKB"); err != nil || got != b2 {
		t.Fatalf("rotated key: %+v, %v", got, err)
	}
	if _, err := st.Credential(ctx, "AKA"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removed key: %v, want ErrNotFound", err)
	}
	ch, err = st.CredentialsSync(ctx, []store.Credential{{AccessKeyID: "AKC", SecretAccessKey: "secret-c", AccountID: "444444444444"}})
	if err != nil || !reflect.DeepEqual(ch, store.CredentialChanges{Removed: []string{"AKB"}, Updated: []string{"AKC"}}) {
		t.Fatalf("account change: %+v, %v", ch, err)
	}
}
