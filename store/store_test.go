package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/fjord-io/fjord/migrations"
	"github.com/fjord-io/fjord/store"
	"github.com/fjord-io/fjord/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T) (*store.Store, string, []byte) {
	t.Helper()
	url := pgtest.URL(t)
	if err := migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, store.KeySize)
	_, _ = rand.Read(key)
	st, err := store.Open(context.Background(), store.Config{DatabaseURL: url, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, url, key
}

func TestResourcesLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, url, key := open(t)
	r := &store.Resource{ARN: "arn:c1", AccountID: "000000000000", Region: "us-east-1", Name: "c1", State: "CREATING",
		Doc: []byte("public"), Secret: []byte(`{"password":"hunter2"}`)}
	if err := st.Connectors.Create(ctx, r, map[string]string{"team": "a"}, nil); err != nil {
		t.Fatal(err)
	}
	// Same name, same account: conflict. Same name, other account: fine.
	dup := *r
	dup.ARN = "arn:c1-dup"
	if err := st.Connectors.Create(ctx, &dup, nil, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: got %v, want ErrConflict", err)
	}
	dup.AccountID = "111111111111"
	if err := st.Connectors.Create(ctx, &dup, nil, nil); err != nil {
		t.Fatalf("same name in another account: %v", err)
	}

	got, err := st.Connectors.Get(ctx, "000000000000", "us-east-1", "arn:c1")
	if err != nil || string(got.Secret) != `{"password":"hunter2"}` || string(got.Doc) != "public" || got.CurrentVersion != r.CurrentVersion {
		t.Fatalf("Get: %+v %v", got, err)
	}
	if _, err := st.Connectors.Get(ctx, "111111111111", "us-east-1", "arn:c1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other account's Get: %v", err)
	}

	// The secret is sealed at rest: the plaintext is nowhere in the row.
	var sealed []byte
	if err := st.Pool().QueryRow(ctx, `SELECT secret FROM connectors WHERE arn = 'arn:c1'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("secret stored in plaintext")
	}

	// Stale version: refused, nothing changes.
	_, err = st.Connectors.Update(ctx, "000000000000", "us-east-1", "arn:c1", store.UpdateOptions{ExpectVersion: "KSTALE"},
		func(r *store.Resource) error { r.State = "RUNNING"; return nil })
	if !errors.Is(err, store.ErrStale) {
		t.Fatalf("stale update: %v", err)
	}
	after, _ := st.Connectors.Get(ctx, "000000000000", "us-east-1", "arn:c1")
	if after.State != "CREATING" || after.CurrentVersion != r.CurrentVersion {
		t.Fatalf("stale update changed the row: %+v", after)
	}
	// A mutate error aborts too.
	_, err = st.Connectors.Update(ctx, "000000000000", "us-east-1", "arn:c1", store.UpdateOptions{},
		func(r *store.Resource) error { r.State = "X"; return errors.New("no") })
	if err == nil || err.Error() != "no" {
		t.Fatalf("mutate error: %v", err)
	}
	upd, err := st.Connectors.Update(ctx, "000000000000", "us-east-1", "arn:c1", store.UpdateOptions{ExpectVersion: r.CurrentVersion},
		func(r *store.Resource) error { r.State = "RUNNING"; return nil })
	if err != nil || upd.State != "RUNNING" || upd.CurrentVersion == r.CurrentVersion {
		t.Fatalf("update: %+v %v", upd, err)
	}

	// A wrong key is refused when the store opens, before it can seal anything with it.
	wrong := make([]byte, store.KeySize)
	if st2, err := store.Open(ctx, store.Config{DatabaseURL: url, Key: wrong}); !errors.Is(err, store.ErrWrongKey) {
		if st2 != nil {
			st2.Close()
		}
		t.Fatalf("open with a wrong key: %v, want ErrWrongKey", err)
	}
	st3, err := store.Open(ctx, store.Config{DatabaseURL: url, Key: key})
	if err != nil {
		t.Fatalf("reopen with the right key: %v", err)
	}
	st3.Close()

	if err := st.Connectors.Remove(ctx, "000000000000", "us-east-1", "arn:c1", "KSTALE"); !errors.Is(err, store.ErrStale) {
		t.Fatalf("stale remove: %v", err)
	}
	if err := st.Connectors.Remove(ctx, "000000000000", "us-east-1", "arn:c1", ""); err != nil {
		t.Fatal(err)
	}
	tags, _ := st.Tags(ctx, "arn:c1")
	if len(tags) != 0 {
		t.Fatalf("tags survived their resource: %v", tags)
	}
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := open(t)
	for i := 0; i < 25; i++ {
		name := fmt.Sprintf("conn-%02d", i)
		if i%5 == 0 {
			name = fmt.Sprintf("other_%02d", i) // "_" must not act as a LIKE wildcard
		}
		r := &store.Resource{ARN: "arn:" + name, AccountID: "000000000000", Region: "us-east-1", Name: name, State: "CREATING", Doc: []byte("d")}
		if err := st.Connectors.Create(ctx, r, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	p := store.ListParams{AccountID: "000000000000", Region: "us-east-1", NamePrefix: "conn-", Limit: 7}
	for {
		page, err := st.Connectors.List(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			seen = append(seen, r.Name)
		}
		if len(page) < p.Limit {
			break
		}
		p.AfterName, p.AfterARN = page[len(page)-1].Name, page[len(page)-1].ARN
	}
	if len(seen) != 20 || seen[0] != "conn-01" || seen[19] != "conn-24" {
		t.Fatalf("paged list: %v", seen)
	}
	page, _ := st.Connectors.List(ctx, store.ListParams{AccountID: "000000000000", Region: "us-east-1", NamePrefix: "other_", Limit: 100})
	if len(page) != 5 {
		t.Fatalf("prefix with _: got %d", len(page))
	}
}

func TestTagsLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := open(t)
	tags := map[string]string{}
	for i := 0; i < store.MaxTags; i++ {
		tags[fmt.Sprint("k", i)] = "v"
	}
	if err := st.TagsSet(ctx, "arn:x", tags); err != nil {
		t.Fatal(err)
	}
	if err := st.TagsSet(ctx, "arn:x", map[string]string{"one-more": "v"}); !errors.Is(err, store.ErrTooManyTags) {
		t.Fatalf("tag %d: %v", store.MaxTags+1, err)
	}
	got, _ := st.Tags(ctx, "arn:x")
	if len(got) != store.MaxTags {
		t.Fatalf("a refused tag change was partly applied: %d tags", len(got))
	}
}

// TestTagsLimitConcurrent: concurrent tag changes of one resource cannot together exceed
// MaxTags, though each alone would fit: a resource with MaxTags-10 tags, 40 writers adding one
// tag each over 16 connections; exactly 10 succeed.
func TestTagsLimitConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url, key := open(t)
	st, err := store.Open(ctx, store.Config{DatabaseURL: url, Key: key, MaxConns: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := map[string]string{}
	for i := range store.MaxTags - 10 {
		base[fmt.Sprint("base-", i)] = "v"
	}
	if err := st.TagsSet(ctx, "arn:y", base); err != nil {
		t.Fatal(err)
	}
	const writers = 40
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			<-start
			errs[w] = st.TagsSet(ctx, "arn:y", map[string]string{fmt.Sprint("w-", w): "v"})
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrTooManyTags):
			t.Fatal(err)
		}
	}
	got, err := st.Tags(ctx, "arn:y")
	if err != nil {
		t.Fatal(err)
	}
	if ok != 10 || len(got) != store.MaxTags {
		t.Fatalf("%d of %d writers succeeded, %d tags; want 10 writers and %d tags", ok, writers, len(got), store.MaxTags)
	}
}

func TestMigrationsDownUp(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	for i := 0; i < 2; i++ {
		if err := migrations.Up(url); err != nil {
			t.Fatal(err)
		}
		v, dirty, err := migrations.Version(url)
		if err != nil || dirty || v == 0 {
			t.Fatalf("version after up: %d %v %v", v, dirty, err)
		}
		if err := migrations.Down(url); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSealer(t *testing.T) {
	t.Parallel()
	s, err := store.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Seal([]byte("secret"), "row-1")
	b, _ := s.Seal([]byte("secret"), "row-1")
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one value are equal: nonce reuse")
	}
	if pt, err := s.Open(a, "row-1"); err != nil || string(pt) != "secret" {
		t.Fatalf("open: %q %v", pt, err)
	}
	if _, err := s.Open(a, "row-2"); err == nil {
		t.Fatal("a sealed value opened under another row's identity")
	}
	if _, err := store.NewSealer([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
	if _, err := store.ParseKey("zz"); err == nil {
		t.Fatal("bad key text accepted")
	}
	if k, err := store.ParseKey(string(bytes.Repeat([]byte("ab"), 32))); err != nil || len(k) != 32 {
		t.Fatalf("hex key: %v", err)
	}
}
