package artifact

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // test oracle for fileMd5
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// entry is one file of a test archive.
type entry struct {
	name string
	data string
}

// zipOf builds a ZIP archive in memory with archive/zip's writer.
func zipOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		f, err := w.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pluginZip is a typical connector plugin: a folder of JARs.
func pluginZip(t testing.TB) []byte {
	return zipOf(t,
		entry{"my-connector/", ""},
		entry{"my-connector/lib/connector.jar", string(jarOf(t, true))},
		entry{"my-connector/doc/README.md", "# my connector\n"},
	)
}

// jarOf builds a JAR with or without META-INF/MANIFEST.MF.
func jarOf(t testing.TB, manifest bool) []byte {
	var es []entry
	if manifest {
		es = append(es, entry{"META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: fjord-test\r\n\r\n"})
	}
	es = append(es, entry{"com/example/Connector.class", "\xca\xfe\xba\xbe\x00\x00\x00\x34 not really bytecode"})
	return zipOf(t, es...)
}

// infoOf computes the expected Info independently of Inspect.
func infoOf(data []byte) Info {
	sum := md5.Sum(data) //nolint:gosec // see import
	return Info{Size: int64(len(data)), MD5: hex.EncodeToString(sum[:])}
}

// writeFile writes data to root/rel, creating folders.
func writeFile(t testing.TB, root, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantError checks that err is an *Error of kind and, if msg is not "", that
// its message is exactly msg.
func wantError(t testing.TB, err error, kind error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v, want an *Error", err, err)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("got kind %v (%q), want %v", e.Kind, e.Message, kind)
	}
	if msg != "" && e.Message != msg {
		t.Fatalf("message:\n got %q\nwant %q", e.Message, msg)
	}
	t.Logf("%v: %s", kind, e.Message)
}

// limited wraps a real Fetcher with a smaller size limit.
type limited struct {
	Fetcher
	max int64
}

func (l limited) MaxSize() int64 { return l.max }

// streaming wraps a real Fetcher and hides io.ReaderAt from Inspect, so that
// Inspect takes the path it takes for network bodies.
type streaming struct{ Fetcher }

func (s streaming) Open(ctx context.Context, loc Location) (io.ReadCloser, error) {
	rc, err := s.Fetcher.Open(ctx, loc)
	if err != nil {
		return nil, err
	}
	return struct{ io.ReadCloser }{rc}, nil
}
