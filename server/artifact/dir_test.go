package artifact

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testBucket = "arn:aws:s3:::my-bucket"

// dirStore is a folder store with one bucket, "my-bucket", a second bucket
// "other-bucket" that keys of my-bucket must never reach, and a file outside
// every bucket.
func dirStore(t *testing.T) (root string, f *DirFetcher) {
	t.Helper()
	root = t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "my-bucket"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "other-bucket/secret.zip", pluginZip(t))
	writeFile(t, filepath.Dir(root), filepath.Base(root)+"-outside.zip", pluginZip(t))
	t.Cleanup(func() { os.Remove(root + "-outside.zip") })
	return root, NewDirFetcher(root)
}

func TestInspectDirAccepts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, key, contentType string
		data                   []byte
	}{
		{"zip of jars", "plugins/my-connector.zip", "ZIP", pluginZip(t)},
		{"jar with manifest", "connector.jar", "JAR", jarOf(t, true)},
		{"jar without manifest", "bare.jar", "JAR", jarOf(t, false)},
		{"jar sent as ZIP", "connector.jar", "ZIP", jarOf(t, true)},
		{"single stored entry", "a/b/c/one.zip", "ZIP", storedZip(t, "only.txt", "hello")},
		{"key with spaces and dots", "v1.2.3/my plugin.zip", "ZIP", pluginZip(t)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root, f := dirStore(t)
			writeFile(t, root, "my-bucket/"+tc.key, tc.data)
			loc := Location{BucketARN: testBucket, Key: tc.key}
			for _, fetcher := range []Fetcher{f, streaming{f}} {
				got, err := Inspect(t.Context(), fetcher, loc, tc.contentType)
				if err != nil {
					t.Fatalf("%T: %v", fetcher, err)
				}
				if want := infoOf(tc.data); got != want {
					t.Fatalf("%T: got %+v, want %+v", fetcher, got, want)
				}
			}
		})
	}
}

func TestInspectDirRefuses(t *testing.T) {
	t.Parallel()
	// Objects in my-bucket, by key.
	objects := map[string][]byte{
		"garbage.zip":      []byte("this is not a zip file, just text\n"),
		"zero.zip":         {},
		"empty.zip":        zipOf(t),
		"empty.jar":        zipOf(t),
		"corrupt.zip":      corruptZip(t),
		"unsafe.zip":       zipOf(t, entry{"ok.txt", "x"}, entry{"../../etc/cron.d/evil", "x"}),
		"absolute.zip":     zipOf(t, entry{"/etc/passwd", "x"}),
		"method.zip":       unknownMethodZip(t),
		"truncated.zip":    pluginZip(t)[:200],
		"folder/real.zip":  pluginZip(t),
		"garbage-jar.jar":  []byte("PK\x03\x04 but nothing else"),
		"plugin-ok.zip":    pluginZip(t),
		"dir/inner/x.zip":  pluginZip(t),
		"big.zip":          pluginZip(t),
		"bomb.zip":         zipOf(t, entry{"zeros", strings.Repeat("\x00", 10000)}),
		"ok-for-links.zip": pluginZip(t),
	}
	cases := []struct {
		name        string
		fetcher     func(*DirFetcher) Fetcher
		loc         Location
		contentType string
		kind        error
		msg         string // exact message, or "" to only check the kind
	}{
		{name: "not a zip", loc: loc("garbage.zip"), kind: ErrInvalidArchive,
			msg: "object garbage.zip is not a readable ZIP archive: zip: not a valid zip file"},
		{name: "not a jar", loc: loc("garbage-jar.jar"), contentType: "JAR", kind: ErrInvalidArchive,
			msg: "object garbage-jar.jar is not a readable JAR archive: zip: not a valid zip file"},
		{name: "zero bytes", loc: loc("zero.zip"), kind: ErrInvalidArchive,
			msg: "object zero.zip is not a readable ZIP archive: zip: not a valid zip file"},
		{name: "empty zip", loc: loc("empty.zip"), kind: ErrInvalidArchive,
			msg: "object empty.zip is an empty ZIP archive: it has no entries"},
		{name: "empty jar", loc: loc("empty.jar"), contentType: "JAR", kind: ErrInvalidArchive,
			msg: "object empty.jar is an empty JAR archive: it has no entries"},
		{name: "checksum error", loc: loc("corrupt.zip"), kind: ErrInvalidArchive,
			msg: `object corrupt.zip is not a readable ZIP archive: entry "data.txt": zip: checksum error`},
		{name: "unsafe entry", loc: loc("unsafe.zip"), kind: ErrInvalidArchive,
			msg: `object unsafe.zip is not a readable ZIP archive: entry "../../etc/cron.d/evil" has an unsafe path`},
		{name: "absolute entry", loc: loc("absolute.zip"), kind: ErrInvalidArchive},
		{name: "unknown compression", loc: loc("method.zip"), kind: ErrInvalidArchive,
			msg: `object method.zip is not a readable ZIP archive: entry "x.bin": zip: unsupported compression algorithm`},
		{name: "truncated", loc: loc("truncated.zip"), kind: ErrInvalidArchive},
		{name: "missing object", loc: loc("nope.zip"), kind: ErrNotFound,
			msg: "bucket arn:aws:s3:::my-bucket: object nope.zip not found"},
		{name: "missing folder", loc: loc("no/such/folder.zip"), kind: ErrNotFound},
		{name: "key below a file", loc: loc("plugin-ok.zip/x"), kind: ErrNotFound},
		{name: "key is a folder", loc: loc("folder"), kind: ErrNotFound,
			msg: "bucket arn:aws:s3:::my-bucket: object folder not found"},
		{name: "missing bucket", loc: Location{BucketARN: "arn:aws:s3:::no-such-bucket", Key: "plugin-ok.zip"},
			kind: ErrNotFound, msg: "bucket arn:aws:s3:::no-such-bucket not found"},
		{name: "version", loc: Location{BucketARN: testBucket, Key: "plugin-ok.zip", Version: "v1"},
			kind: ErrInvalidLocation},
		{name: "bad arn", loc: Location{BucketARN: "my-bucket", Key: "plugin-ok.zip"}, kind: ErrInvalidLocation,
			msg: `bucketArn "my-bucket" is not an S3 bucket ARN (want arn:aws:s3:::bucket-name): ` +
				`it does not have the form "arn:partition:s3:::bucket"`},
		{name: "object arn", loc: Location{BucketARN: "arn:aws:s3:::my-bucket/plugin-ok.zip", Key: "plugin-ok.zip"},
			kind: ErrInvalidLocation},
		{name: "empty key", loc: loc(""), kind: ErrInvalidLocation, msg: "fileKey is empty"},
		{name: "long key", loc: loc(strings.Repeat("k", 1025)), kind: ErrInvalidLocation},
		{name: "dot dot", loc: loc("../other-bucket/secret.zip"), kind: ErrInvalidLocation,
			msg: `bucket arn:aws:s3:::my-bucket: fileKey "../other-bucket/secret.zip" must be a relative path inside the bucket`},
		{name: "dot dot inside", loc: loc("dir/../../other-bucket/secret.zip"), kind: ErrInvalidLocation},
		{name: "absolute key", loc: loc("/etc/passwd"), kind: ErrInvalidLocation},
		{name: "dot", loc: loc("."), kind: ErrNotFound},
		{name: "link out of the bucket", loc: loc("links/escape.zip"), kind: ErrInvalidLocation},
		{name: "link to another bucket", loc: loc("links/other.zip"), kind: ErrInvalidLocation},
		{name: "absolute link", loc: loc("links/absolute.zip"), kind: ErrInvalidLocation},
		{name: "folder link out", loc: loc("links/up/other-bucket/secret.zip"), kind: ErrInvalidLocation},
		{name: "link loop", loc: loc("links/loop.zip"), kind: ErrInvalidLocation},
		{name: "content type", loc: loc("plugin-ok.zip"), contentType: "TAR", kind: ErrContentType,
			msg: `contentType "TAR" is not supported; use ZIP or JAR`},
		{name: "content type case", loc: loc("plugin-ok.zip"), contentType: "zip", kind: ErrContentType},
		{name: "too large", loc: loc("big.zip"), kind: ErrTooLarge,
			fetcher: func(d *DirFetcher) Fetcher { return limited{d, 100} },
			msg:     "bucket arn:aws:s3:::my-bucket: object big.zip is larger than the limit of 100 bytes"},
		{name: "too large streamed", loc: loc("big.zip"), kind: ErrTooLarge,
			fetcher: func(d *DirFetcher) Fetcher { return limited{streaming{d}, 100} }},
		{name: "expands too much", loc: loc("bomb.zip"), kind: ErrTooLarge,
			fetcher: func(d *DirFetcher) Fetcher { return limited{d, 1000} },
			msg:     "object bomb.zip expands to more than the limit of 8000 bytes"},
	}

	root, f := dirStore(t)
	for key, data := range objects {
		writeFile(t, root, "my-bucket/"+key, data)
	}
	links := filepath.Join(root, "my-bucket", "links")
	if err := os.MkdirAll(links, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"escape.zip":   "../../../" + filepath.Base(root) + "-outside.zip",
		"other.zip":    "../../other-bucket/secret.zip",
		"absolute.zip": filepath.Join(root, "my-bucket", "ok-for-links.zip"),
		"up":           "../..",
		"loop.zip":     "loop.zip",
		"fine.zip":     "../ok-for-links.zip",
	} {
		if err := os.Symlink(target, filepath.Join(links, name)); err != nil {
			t.Fatal(err)
		}
	}
	// Make sure the targets of the refused keys exist, so that a refusal
	// is not a lucky "not found".
	for _, p := range []string{"other-bucket/secret.zip", "my-bucket/links/escape.zip", "my-bucket/links/other.zip"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Fatalf("test setup: %v", err)
		}
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var fetcher Fetcher = f
			if tc.fetcher != nil {
				fetcher = tc.fetcher(f)
			}
			ct := tc.contentType
			if ct == "" {
				ct = "ZIP"
			}
			info, err := Inspect(t.Context(), fetcher, tc.loc, ct)
			if err == nil {
				t.Fatalf("got %+v, want %v", info, tc.kind)
			}
			wantError(t, err, tc.kind, tc.msg)
			if info != (Info{}) {
				t.Fatalf("got Info %+v with an error", info)
			}
		})
	}

	t.Run("link inside the bucket", func(t *testing.T) {
		t.Parallel()
		got, err := Inspect(t.Context(), f, loc("links/fine.zip"), "ZIP")
		if err != nil {
			t.Fatal(err)
		}
		if want := infoOf(objects["ok-for-links.zip"]); got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
	t.Run("exactly the limit", func(t *testing.T) {
		t.Parallel()
		data := objects["big.zip"]
		for _, fetcher := range []Fetcher{limited{f, int64(len(data))}, limited{streaming{f}, int64(len(data))}} {
			if _, err := Inspect(t.Context(), fetcher, loc("big.zip"), "ZIP"); err != nil {
				t.Fatalf("%T: %v", fetcher, err)
			}
		}
	})
	t.Run("canceled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, fetcher := range []Fetcher{f, streaming{f}} {
			_, err := Inspect(ctx, fetcher, loc("plugin-ok.zip"), "ZIP")
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%T: got %v, want context.Canceled", fetcher, err)
			}
		}
	})
}

// TestInspectRemovesTempFiles is not parallel: it points TMPDIR at its own
// folder.
func TestInspectRemovesTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	root, f := dirStore(t)
	writeFile(t, root, "my-bucket/ok.zip", pluginZip(t))
	writeFile(t, root, "my-bucket/bad.zip", []byte("nope"))
	if _, err := Inspect(t.Context(), streaming{f}, loc("ok.zip"), "ZIP"); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(t.Context(), streaming{f}, loc("bad.zip"), "ZIP"); !errors.Is(err, ErrInvalidArchive) {
		t.Fatalf("got %v, want ErrInvalidArchive", err)
	}
	if _, err := Inspect(t.Context(), limited{streaming{f}, 10}, loc("ok.zip"), "ZIP"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("temporary file left behind: %s", e.Name())
	}
}

// FuzzCheckArchive feeds arbitrary bytes to the archive check: it must never
// panic, and must fail only with an *Error.
func FuzzCheckArchive(f *testing.F) {
	f.Add(pluginZip(f))
	f.Add(jarOf(f, false))
	f.Add(zipOf(f))
	f.Add(corruptZip(f))
	f.Add(unknownMethodZip(f))
	f.Add([]byte("PK\x05\x06"))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkArchive(t.Context(), bytes.NewReader(data), int64(len(data)), "ZIP", 1<<20)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Message == "" {
			t.Fatalf("got %T %v, want an *Error with a message", err, err)
		}
	})
}

func loc(key string) Location { return Location{BucketARN: testBucket, Key: key} }

// storedZip is an archive with one uncompressed entry.
func storedZip(t testing.TB, name, data string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	fw, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// corruptZip is a well-formed archive whose entry data no longer matches its
// CRC-32.
func corruptZip(t testing.TB) []byte {
	t.Helper()
	const data = "the quick brown fox jumps over the lazy dog"
	b := storedZip(t, "data.txt", data)
	i := bytes.Index(b, []byte(data))
	if i < 0 {
		t.Fatal("stored data not found")
	}
	b[i] ^= 0xff
	return b
}

// unknownMethodZip has an entry compressed with a method archive/zip (and
// Java) cannot read.
func unknownMethodZip(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	data := []byte("abc")
	fw, err := w.CreateRaw(&zip.FileHeader{
		Name: "x.bin", Method: 99, CRC32: crc32.ChecksumIEEE(data),
		CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
