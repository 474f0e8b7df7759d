package artifact

import (
	"archive/zip"
	"context"
	"crypto/md5" //nolint:gosec // MSK Connect's fileMd5 is an MD5; it identifies, it does not protect.
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// DefaultMaxSize is the largest object Inspect accepts, in bytes, unless the
// Fetcher says otherwise (see [SizeLimiter]): 512 MiB. Plugins are typically
// tens of MB; the bound keeps one bad request from filling the server's
// temporary disk.
const DefaultMaxSize int64 = 512 << 20

// expansionFactor bounds the bytes Inspect decompresses while it checks an
// archive: at most expansionFactor × the size limit. It stops zip bombs
// (a few KB that claim to expand to terabytes) from tying up a server.
const expansionFactor = 8

// Content types of a custom plugin, as in MSK Connect's CustomPluginContentType.
const (
	ContentTypeZIP = "ZIP"
	ContentTypeJAR = "JAR"
)

// Fetcher opens objects. Implementations return [*Error] for problems with
// the location, the object or the store, and the context's error when ctx
// ends.
type Fetcher interface {
	// Open returns the object's bytes. The caller closes the reader.
	Open(ctx context.Context, loc Location) (io.ReadCloser, error)
}

// SizeLimiter is implemented by Fetchers that set their own bound on object
// size. Inspect refuses objects larger than MaxSize bytes; Fetchers that do
// not implement it get [DefaultMaxSize].
type SizeLimiter interface {
	MaxSize() int64
}

// Info is what Fjord records about a fetched object: MSK Connect's
// fileDescription.
type Info struct {
	// Size is the object's size in bytes (fileSize).
	Size int64
	// MD5 is the MD5 of the object's bytes in lower case hex (fileMd5).
	MD5 string
}

// Inspect fetches the object at loc through f, reads it once to compute its
// size and MD5, and checks that it is a readable archive of contentType
// ("ZIP" or "JAR"; a JAR is a ZIP archive, with or without
// META-INF/MANIFEST.MF).
//
// The object is streamed to a temporary file (in os.TempDir, removed before
// Inspect returns) unless the Fetcher's reader is itself random-access, such
// as the *os.File of [DirFetcher]. The check opens the archive's central
// directory, requires at least one entry, refuses entry names that would
// escape an extraction folder, and reads every entry's local header and data
// to verify its CRC-32, so an archive that Inspect accepts can be unpacked.
//
// Errors are [*Error]s whose message can be shown to the API caller, or the
// context's error when ctx ends.
func Inspect(ctx context.Context, f Fetcher, loc Location, contentType string) (Info, error) {
	info, _, err := InspectIndex(ctx, f, loc, contentType)
	return info, err
}

// InspectIndex is Inspect that also indexes the classes the archive holds, in the same
// pass: its own .class entries and those of every JAR or ZIP inside it, down to
// MaxNestingDepth (see [Index]). Beyond MaxIndexEntries entries, MaxNestedBytes bytes of
// nested archives or MaxNestingDepth levels, the object is refused with ErrTooLarge and a
// message naming the bound. Nested archives are spooled to temporary files (in os.TempDir,
// removed before InspectIndex returns).
func InspectIndex(ctx context.Context, f Fetcher, loc Location, contentType string) (Info, *Index, error) {
	if contentType != ContentTypeZIP && contentType != ContentTypeJAR {
		return Info{}, nil, newError(ErrContentType, nil,
			fmt.Sprintf("contentType %q is not supported; use ZIP or JAR", contentType))
	}
	if _, err := loc.bucket(); err != nil {
		return Info{}, nil, err
	}
	limit := DefaultMaxSize
	if l, ok := f.(SizeLimiter); ok && l.MaxSize() > 0 {
		limit = l.MaxSize()
	}

	rc, err := f.Open(ctx, loc)
	if err != nil {
		return Info{}, nil, err
	}
	defer rc.Close()

	// A random-access reader (a local file) is hashed in place; anything else
	// is spooled to a temporary file because archive/zip needs io.ReaderAt.
	var (
		ra  io.ReaderAt
		dst io.Writer = io.Discard
	)
	if r, ok := rc.(io.ReaderAt); ok {
		ra = r
	} else {
		tmp, err := os.CreateTemp("", "fjord-plugin-*")
		if err != nil {
			return Info{}, nil, newError(ErrUnavailable, err, "could not create a temporary file to inspect the object")
		}
		defer func() {
			tmp.Close()
			os.Remove(tmp.Name())
		}()
		ra, dst = tmp, tmp
	}

	h := md5.New() //nolint:gosec // see import
	n, err := io.Copy(io.MultiWriter(dst, h), io.LimitReader(ctxReader{ctx, rc}, limit+1))
	switch {
	case ctx.Err() != nil:
		return Info{}, nil, ctx.Err()
	case err != nil:
		var e *Error
		if errors.As(err, &e) {
			return Info{}, nil, e
		}
		return Info{}, nil, newError(ErrUnavailable, err,
			fmt.Sprintf("bucket %s: reading %s failed", loc.BucketARN, loc.object()))
	case n > limit:
		return Info{}, nil, tooLarge(loc, limit)
	}

	x := newIndexer(ctx)
	if err := x.checkArchive(ra, n, contentType, limit*expansionFactor); err != nil {
		if ctx.Err() != nil {
			return Info{}, nil, ctx.Err()
		}
		var e *Error
		if errors.As(err, &e) {
			e.Message = fmt.Sprintf("object %s %s", loc.Key, e.Message)
			return Info{}, nil, e
		}
		return Info{}, nil, err
	}
	return Info{Size: n, MD5: hex.EncodeToString(h.Sum(nil))}, x.index(), nil
}

func tooLarge(loc Location, limit int64) *Error {
	return newError(ErrTooLarge, nil,
		fmt.Sprintf("bucket %s: %s is larger than the limit of %d bytes", loc.BucketARN, loc.object(), limit))
}

// checkArchive checks that the size bytes of ra are a readable ZIP archive
// with at least one entry whose entries decompress to at most maxExpanded
// bytes in total. Its *Error messages start with a verb phrase ("is not a
// readable ZIP archive: …") for the caller to prefix with the object's name.
func checkArchive(ctx context.Context, ra io.ReaderAt, size int64, contentType string, maxExpanded int64) error {
	return newIndexer(ctx).checkArchive(ra, size, contentType, maxExpanded)
}

// checkArchive is checkArchive that indexes the classes on the way: the object's own
// entries are read once, both to verify them and to index the archives among them.
func (x *indexer) checkArchive(ra io.ReaderAt, size int64, contentType string, maxExpanded int64) error {
	ctx := x.ctx
	bad := func(cause error, format string, args ...any) error {
		return newError(ErrInvalidArchive, cause,
			fmt.Sprintf("is not a readable %s archive: ", contentType)+fmt.Sprintf(format, args...))
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return bad(err, "%v", err)
	}
	if len(zr.File) == 0 {
		return newError(ErrInvalidArchive, nil, fmt.Sprintf("is an empty %s archive: it has no entries", contentType))
	}

	var expanded uint64
	for _, f := range zr.File {
		if !safeEntryName(f.Name) {
			return bad(nil, "entry %q has an unsafe path", f.Name)
		}
		expanded += f.UncompressedSize64
		if expanded > uint64(maxExpanded) {
			return newError(ErrTooLarge, nil,
				fmt.Sprintf("expands to more than the limit of %d bytes", maxExpanded))
		}
	}
	if err := x.count(len(zr.File)); err != nil {
		return err
	}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		// DataOffset reads the local file header; Open checks the
		// compression method; reading to the end checks size and CRC-32.
		if _, err := f.DataOffset(); err != nil {
			return bad(err, "entry %q: %v", f.Name, err)
		}
		if c, ok := ClassName(f.Name); ok {
			x.classes[c] = struct{}{}
		}
		nested := isArchiveName(f.Name) && !f.FileInfo().IsDir()
		if nested {
			if err := x.deeper(1, f.Name); err != nil {
				return err
			}
		}
		r, err := f.Open()
		if err != nil {
			return bad(err, "entry %q: %v", f.Name, err)
		}
		var tmp *os.File
		var n int64
		if nested {
			tmp, n, err = x.spool(r)
		} else {
			_, err = io.Copy(io.Discard, ctxReader{ctx, r})
		}
		r.Close()
		if err != nil {
			if tmp != nil {
				removeTemp(tmp)
			}
			var e *Error
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.As(err, &e):
				return e
			}
			return bad(err, "entry %q: %v", f.Name, err)
		}
		if nested {
			err = x.walk(tmp, n, 2, f.Name+"!/")
			removeTemp(tmp)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// safeEntryName reports whether a ZIP entry name stays inside the folder it is
// extracted to: relative, no ".." element, no backslash (Windows separators),
// no NUL. archive/zip leaves this check to its callers unless
// GODEBUG=zipinsecurepath=0.
func safeEntryName(name string) bool {
	if name == "" || strings.ContainsAny(name, "\\\x00") || path.IsAbs(name) {
		return false
	}
	for elem := range strings.SplitSeq(name, "/") {
		if elem == ".." {
			return false
		}
	}
	return true
}

// ctxReader stops reading once ctx ends, so that Inspect gives up on a slow
// object or a long decompression when the caller does.
type ctxReader struct {
	ctx context.Context //nolint:containedctx // lives for one call
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
