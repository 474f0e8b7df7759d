package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fjord-io/fjord/store"
)

const acct, region = "000000000000", "us-east-1"

// resource creates a plugin, worker configuration or connector (with uses) named name.
func resource(t *testing.T, st *store.Store, r *store.Resources, arn string, uses *store.ConnectorUses) {
	t.Helper()
	res := &store.Resource{ARN: arn, AccountID: acct, Region: region, Name: arn, State: "ACTIVE", Doc: []byte("d")}
	var err error
	if uses != nil {
		err = r.CreateUsing(context.Background(), res, nil, *uses)
	} else {
		err = r.Create(context.Background(), res, nil, &store.Revision{Revision: 1, Doc: []byte("r")})
	}
	if err != nil {
		t.Fatalf("create %s: %v", arn, err)
	}
}

// TestPluginClasses: an index of 20,000 classes is stored and read back whole, compressed
// well below its text size; it goes with its plugin.
func TestPluginClasses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := open(t)
	resource(t, st, st.CustomPlugins, "arn:p", nil)
	if _, err := st.PluginClassesOf(ctx, "arn:p", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("index before indexing: %v, want ErrNotFound", err)
	}
	if got, err := st.PluginsUnindexed(ctx); err != nil || len(got) != 1 || got[0] != (store.Use{ARN: "arn:p", Revision: 1}) {
		t.Fatalf("unindexed = %v, %v", got, err)
	}
	var classes []string
	raw := 0
	for i := range 20000 {
		c := fmt.Sprintf("io.debezium.connector.mysql.internal.pkg%03d.SomeFairlyLongClassName%05d", i%300, i)
		classes = append(classes, c)
		raw += len(c)
	}
	slices.Sort(classes)
	if err := st.PluginClassesPut(ctx, &store.PluginClasses{ARN: "arn:p", Revision: 1, Classes: classes, Archives: 12, Unreadable: []string{"lib/x.jar"}}); err != nil {
		t.Fatal(err)
	}
	// Idempotent: a second ingestion replaces the first.
	if err := st.PluginClassesPut(ctx, &store.PluginClasses{ARN: "arn:p", Revision: 1, Classes: classes, Archives: 12, Unreadable: []string{"lib/x.jar"}}); err != nil {
		t.Fatal(err)
	}
	got, err := st.PluginClassesOf(ctx, "arn:p", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Classes, classes) || got.Archives != 12 || !slices.Equal(got.Unreadable, []string{"lib/x.jar"}) || got.IndexedAt.IsZero() {
		t.Fatalf("index read back: %d classes, %d archives, %v", len(got.Classes), got.Archives, got.Unreadable)
	}
	var stored int
	if err := st.Pool().QueryRow(ctx, `SELECT pg_column_size(classes) FROM custom_plugin_classes WHERE arn = 'arn:p'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	t.Logf("20,000 class names: %d bytes of text, %d bytes stored", raw, stored)
	if stored >= raw/2 {
		t.Errorf("index stored in %d bytes for %d bytes of names: not compressed", stored, raw)
	}
	if got, err := st.PluginsUnindexed(ctx); err != nil || len(got) != 0 {
		t.Fatalf("unindexed after indexing = %v, %v", got, err)
	}
	if err := st.CustomPlugins.Remove(ctx, acct, region, "arn:p", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PluginClassesOf(ctx, "arn:p", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("index of a deleted plugin: %v", err)
	}
	if err := st.PluginClassesPut(ctx, &store.PluginClasses{ARN: "arn:p", Revision: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("indexing a deleted plugin: %v, want ErrNotFound", err)
	}
}

// TestRemoveInUse: a plugin or worker configuration a connector uses cannot be removed
// (InUseError naming the connector and revision, nothing removed) until the connector is
// gone; a connector cannot be created on a revision that does not exist.
func TestRemoveInUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := open(t)
	resource(t, st, st.CustomPlugins, "arn:p", nil)
	resource(t, st, st.WorkerConfigurations, "arn:w", nil)
	uses := store.ConnectorUses{Plugins: []store.Use{{ARN: "arn:p", Revision: 1}}, WorkerConfiguration: &store.Use{ARN: "arn:w", Revision: 1}}
	resource(t, st, st.Connectors, "arn:c", &uses)
	resource(t, st, st.Connectors, "arn:c2", &store.ConnectorUses{Plugins: []store.Use{{ARN: "arn:p", Revision: 1}}})

	got, err := st.ConnectorUsesOf(ctx, "arn:c")
	if err != nil || !slices.Equal(got.Plugins, uses.Plugins) || got.WorkerConfiguration == nil || *got.WorkerConfiguration != *uses.WorkerConfiguration {
		t.Fatalf("uses of arn:c = %+v, %v", got, err)
	}
	err = st.CustomPlugins.Remove(ctx, acct, region, "arn:p", "")
	var inUse *store.InUseError
	if !errors.As(err, &inUse) || !errors.Is(err, store.ErrInUse) {
		t.Fatalf("remove a used plugin: %v, want InUseError", err)
	}
	if want := []store.Use{{ARN: "arn:c", Revision: 1}, {ARN: "arn:c2", Revision: 1}}; !slices.Equal(inUse.Users, want) || inUse.More {
		t.Errorf("users %+v, want %+v", inUse.Users, want)
	}
	t.Log(err)
	if err := st.WorkerConfigurations.Remove(ctx, acct, region, "arn:w", ""); !errors.Is(err, store.ErrInUse) {
		t.Fatalf("remove a used worker configuration: %v, want ErrInUse", err)
	}
	if _, err := st.CustomPlugins.Revision(ctx, "arn:p", 1); err != nil {
		t.Fatalf("plugin revision after a refused remove: %v", err)
	}
	if _, err := st.WorkerConfigurations.Revision(ctx, "arn:w", 1); err != nil {
		t.Fatalf("worker configuration revision after a refused remove: %v", err)
	}

	// A connector from before uses were recorded: listed, then recorded (idempotently).
	res := &store.Resource{ARN: "arn:old", AccountID: acct, Region: region, Name: "old", State: "RUNNING", Doc: []byte("old-doc")}
	if err := st.Connectors.Create(ctx, res, nil, nil); err != nil {
		t.Fatal(err)
	}
	if docs, err := st.ConnectorsWithoutUses(ctx); err != nil || len(docs) != 1 || docs[0].ARN != "arn:old" || string(docs[0].Doc) != "old-doc" {
		t.Fatalf("connectors without uses = %+v, %v", docs, err)
	}
	for range 2 {
		if err := st.ConnectorUsesPut(ctx, "arn:old", store.ConnectorUses{Plugins: []store.Use{{ARN: "arn:p", Revision: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	if docs, err := st.ConnectorsWithoutUses(ctx); err != nil || len(docs) != 0 {
		t.Fatalf("connectors without uses after recording = %+v, %v", docs, err)
	}
	if err := st.ConnectorUsesPut(ctx, "arn:nothing", store.ConnectorUses{Plugins: []store.Use{{ARN: "arn:p", Revision: 1}}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("uses of a missing connector: %v", err)
	}
	if err := st.ConnectorUsesPut(ctx, "arn:old", store.ConnectorUses{Plugins: []store.Use{{ARN: "arn:none", Revision: 1}}}); !errors.As(err, new(*store.GoneError)) {
		t.Fatalf("uses of a missing revision: %v", err)
	}

	// Revisions that do not exist.
	err = st.Connectors.CreateUsing(ctx, &store.Resource{ARN: "arn:c3", AccountID: acct, Region: region, Name: "c3", State: "CREATING", Doc: []byte("d")},
		nil, store.ConnectorUses{Plugins: []store.Use{{ARN: "arn:p", Revision: 2}}})
	var gone *store.GoneError
	if !errors.As(err, &gone) || !errors.Is(err, store.ErrNotFound) || gone.Kind != "custom plugin" || gone.Use.Revision != 2 {
		t.Fatalf("connector on a missing revision: %v, want GoneError", err)
	}
	if _, err := st.Connectors.Get(ctx, acct, region, "arn:c3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("connector created although its plugin revision is missing: %v", err)
	}

	// Once no connector uses them (a connector's row goes when it is gone), they can go.
	for _, c := range []string{"arn:c", "arn:c2", "arn:old"} {
		if err := st.Connectors.Remove(ctx, acct, region, c, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CustomPlugins.Remove(ctx, acct, region, "arn:p", ""); err != nil {
		t.Fatalf("remove an unused plugin: %v", err)
	}
	if err := st.WorkerConfigurations.Remove(ctx, acct, region, "arn:w", ""); err != nil {
		t.Fatalf("remove an unused worker configuration: %v", err)
	}
}

// TestRemoveInUseRace: the two interleavings that the in-use check alone cannot see. (1) A
// connector's creation holds its use uncommitted while the plugin is removed: the remove waits
// for it and then refuses. (2) A removal holds the plugin's deletion uncommitted while a
// connector is created on it: the creation waits and then fails with GoneError.
func TestRemoveInUseRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := open(t)
	resource(t, st, st.CustomPlugins, "arn:p", nil)

	// waitBlocked waits until some other session waits for a lock.
	waitBlocked := func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no session blocked on a lock")
	}

	// (1) An uncommitted use, then Remove.
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO connectors (arn, account_id, region, name, state, current_version, doc, created_at, updated_at)
		VALUES ('arn:c', $1, $2, 'c', 'CREATING', 'K1', 'd', now(), now())`, acct, region); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO connector_plugins (connector_arn, arn, revision) VALUES ('arn:c', 'arn:p', 1)`); err != nil {
		t.Fatal(err)
	}
	removed := make(chan error, 1)
	go func() { removed <- st.CustomPlugins.Remove(ctx, acct, region, "arn:p", "") }()
	waitBlocked()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	err = <-removed
	var inUse *store.InUseError
	if !errors.As(err, &inUse) || len(inUse.Users) != 1 || inUse.Users[0].ARN != "arn:c" {
		t.Fatalf("remove racing a connector's creation: %v, want InUseError naming arn:c", err)
	}
	if _, err := st.CustomPlugins.Revision(ctx, "arn:p", 1); err != nil {
		t.Fatalf("plugin revision after the refused remove: %v", err)
	}

	// (2) An uncommitted removal, then CreateUsing.
	resource(t, st, st.CustomPlugins, "arn:q", nil)
	tx, err = st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM custom_plugins WHERE arn = 'arn:q'`); err != nil {
		t.Fatal(err)
	}
	created := make(chan error, 1)
	go func() {
		created <- st.Connectors.CreateUsing(ctx, &store.Resource{ARN: "arn:d", AccountID: acct, Region: region, Name: "d", State: "CREATING", Doc: []byte("d")},
			nil, store.ConnectorUses{Plugins: []store.Use{{ARN: "arn:q", Revision: 1}}})
	}()
	waitBlocked()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var gone *store.GoneError
	if err := <-created; !errors.As(err, &gone) || gone.Use.ARN != "arn:q" {
		t.Fatalf("create racing the plugin's removal: %v, want GoneError", err)
	}
	if _, err := st.Connectors.Get(ctx, acct, region, "arn:d"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("connector created on a removed plugin: %v", err)
	}
}
