package artifact

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"slices"
	"testing"
)

// TestClassName: entries to class names, and the entries that are no class a configuration
// could name.
func TestClassName(t *testing.T) {
	t.Parallel()
	for entry, want := range map[string]string{
		"io/debezium/connector/mysql/MySqlConnector.class": "io.debezium.connector.mysql.MySqlConnector",
		"Top.class":                             "Top",
		"com/x/Outer$Inner.class":               "com.x.Outer$Inner",
		"com/x/Outer$Inner$Deeper.class":        "com.x.Outer$Inner$Deeper",
		"META-INF/versions/11/com/x/A.class":    "com.x.A",
		"BOOT-INF/classes/com/x/B.class":        "com.x.B",
		"com/ünï/Côde.class":                    "com.ünï.Côde",
		"com/x/Outer$1.class":                   "",
		"com/x/Outer$1Local.class":              "",
		"com/x/Trailing$.class":                 "",
		"module-info.class":                     "",
		"com/x/package-info.class":              "",
		"META-INF/versions/9/module-info.class": "",
		"META-INF/MANIFEST.MF":                  "",
		"META-INF/x/Y.class":                    "",
		"my-plugin/com/x/A.class":               "",
		"com/x/A.class/":                        "",
		"com/9x/A.class":                        "",
		"com//A.class":                          "",
		"com/x/A.java":                          "",
	} {
		got, ok := ClassName(entry)
		if ok != (want != "") || got != want {
			t.Errorf("ClassName(%q) = %q, %v; want %q", entry, got, ok, want)
		}
	}
}

// TestInspectIndex: a ZIP holding a JAR that holds a JAR with the connector class is indexed
// through both levels, with the ZIP's own classes, and an unreadable .jar is recorded, not
// fatal; the same classes as a JAR plugin.
func TestInspectIndex(t *testing.T) {
	t.Parallel()
	inner := zipOf(t,
		entry{"META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n"},
		entry{"io/debezium/connector/mysql/MySqlConnector.class", "\xca\xfe\xba\xbe"},
		entry{"io/debezium/connector/mysql/MySqlConnector$1.class", "\xca\xfe\xba\xbe"},
		entry{"io/debezium/connector/mysql/package-info.class", "\xca\xfe\xba\xbe"},
	)
	middle := zipOf(t,
		entry{"io/debezium/embedded/Runner.class", "\xca\xfe\xba\xbe"},
		entry{"META-INF/versions/11/io/debezium/embedded/Runner.class", "\xca\xfe\xba\xbe"},
		entry{"module-info.class", "\xca\xfe\xba\xbe"},
		entry{"lib/debezium-connector-mysql.jar", string(inner)},
	)
	plugin := zipOf(t,
		entry{"debezium/", ""},
		entry{"debezium/lib/", ""},
		entry{"debezium/lib/debezium-embedded.jar", string(middle)},
		entry{"debezium/lib/broken.jar", "not a jar"},
		entry{"com/example/Loose.class", "\xca\xfe\xba\xbe"},
		entry{"debezium/README.md", "# debezium\n"},
	)
	root, f := dirStore(t)
	writeFile(t, root, "my-bucket/debezium.zip", plugin)
	writeFile(t, root, "my-bucket/middle.jar", middle)
	for _, fetcher := range []Fetcher{f, streaming{f}} {
		info, idx, err := InspectIndex(t.Context(), fetcher, loc("debezium.zip"), "ZIP")
		if err != nil {
			t.Fatalf("%T: %v", fetcher, err)
		}
		if want := infoOf(plugin); info != want {
			t.Errorf("%T: info %+v, want %+v", fetcher, info, want)
		}
		want := []string{"com.example.Loose", "io.debezium.connector.mysql.MySqlConnector", "io.debezium.embedded.Runner"}
		if !slices.Equal(idx.Classes, want) {
			t.Errorf("%T: classes %q, want %q", fetcher, idx.Classes, want)
		}
		if idx.Archives != 3 {
			t.Errorf("%T: %d archives read, want 3 (the ZIP and two JARs)", fetcher, idx.Archives)
		}
		if !slices.Equal(idx.Unreadable, []string{"debezium/lib/broken.jar"}) {
			t.Errorf("%T: unreadable %q", fetcher, idx.Unreadable)
		}
	}
	_, idx, err := InspectIndex(t.Context(), f, loc("middle.jar"), "JAR")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"io.debezium.connector.mysql.MySqlConnector", "io.debezium.embedded.Runner"}; !slices.Equal(idx.Classes, want) {
		t.Errorf("JAR plugin classes %q, want %q", idx.Classes, want)
	}
}

// TestInspectIndexBounds: beyond MaxIndexEntries entries (counted through nested archives)
// or MaxNestingDepth levels the plugin is refused with ErrTooLarge, as documented; exactly at
// the bounds it is indexed. No temporary file is left behind.
func TestInspectIndexBounds(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // not parallel: owns TMPDIR
	root, f := dirStore(t)

	// The ZIP counts 1 entry and its JAR n, so n = MaxIndexEntries-1 fits and one more does not.
	many := func(n int) []byte {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		for i := range n {
			if _, err := w.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("c/C%d.class", i), Method: zip.Store}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return zipOf(t, entry{"lib/many.jar", buf.String()})
	}
	writeFile(t, root, "my-bucket/fits.zip", many(MaxIndexEntries-1))
	writeFile(t, root, "my-bucket/too-many.zip", many(MaxIndexEntries))

	nest := func(levels int) []byte {
		data := zipOf(t, entry{"io/x/Deep.class", "\xca\xfe\xba\xbe"})
		for i := 1; i < levels; i++ {
			data = zipOf(t, entry{fmt.Sprintf("level%d.jar", levels-i), string(data)})
		}
		return data
	}
	writeFile(t, root, "my-bucket/deep-ok.zip", nest(MaxNestingDepth))
	writeFile(t, root, "my-bucket/too-deep.zip", nest(MaxNestingDepth+1))

	_, idx, err := InspectIndex(t.Context(), f, loc("fits.zip"), "ZIP")
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Classes) != MaxIndexEntries-1 {
		t.Errorf("%d classes indexed, want %d", len(idx.Classes), MaxIndexEntries-1)
	}
	_, idx, err = InspectIndex(t.Context(), f, loc("too-many.zip"), "ZIP")
	wantError(t, err, ErrTooLarge, fmt.Sprintf("object too-many.zip has more than %d entries in it and the archives inside it; Fjord indexes at most %d", MaxIndexEntries, MaxIndexEntries))
	if idx != nil {
		t.Errorf("an index with the error: %+v", idx)
	}

	_, idx, err = InspectIndex(t.Context(), streaming{f}, loc("deep-ok.zip"), "ZIP")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(idx.Classes, []string{"io.x.Deep"}) {
		t.Errorf("classes %q at depth %d", idx.Classes, MaxNestingDepth)
	}
	_, _, err = InspectIndex(t.Context(), streaming{f}, loc("too-deep.zip"), "ZIP")
	wantError(t, err, ErrTooLarge, fmt.Sprintf("object too-deep.zip holds level1.jar!/level2.jar!/level3.jar, an archive nested deeper than Fjord indexes (%d levels)", MaxNestingDepth))

	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("temporary file left behind: %s", e.Name())
	}
}
