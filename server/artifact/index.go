package artifact

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode"
)

// Bounds of the class index. A plugin whose archives go beyond any of them is refused
// (CREATE_FAILED with the bound in the message) rather than indexed in part: a partial index
// would refuse connectors whose class is in the part left out, with a misleading message.
const (
	// MaxNestingDepth is how deep archives are opened: the object is depth 1, a JAR in the
	// ZIP depth 2, a JAR inside that JAR depth 3. An archive deeper than this is refused.
	MaxNestingDepth = 3
	// MaxIndexEntries bounds the entries of the object and every nested archive together
	// (a Debezium connector ZIP has about 15,000).
	MaxIndexEntries = 200_000
	// MaxNestedBytes bounds the bytes of nested archives (JARs and ZIPs inside the object,
	// and inside those) that indexing decompresses to a temporary file, in total. The
	// object's own entries are bounded by its size limit × expansionFactor.
	MaxNestedBytes int64 = 2 << 30
)

// Index is what a plugin archive holds: the Java classes a Kafka Connect worker could load
// from it.
type Index struct {
	// Classes are the dotted names of the .class entries (io.debezium.connector.mysql.MySqlConnector),
	// sorted and distinct: those of the object itself and of every JAR or ZIP inside it, down
	// to MaxNestingDepth. Anonymous and local classes (Outer$1, Outer$1Local), module-info
	// and package-info are left out; a multi-release JAR's META-INF/versions/N/ prefix and a
	// BOOT-INF/classes/ or WEB-INF/classes/ prefix are removed.
	Classes []string
	// Archives counts the archives read: the object and the nested ones.
	Archives int
	// Unreadable are nested entries named .jar or .zip that are not readable archives
	// ("lib/x.jar", or "lib/outer.jar!/inner.jar" when nested deeper); their classes are not
	// indexed. A Kafka Connect worker cannot load them either.
	Unreadable []string
}

// indexer walks an archive and the archives inside it.
type indexer struct {
	ctx        context.Context //nolint:containedctx // lives for one call
	entries    int
	nested     int64
	classes    map[string]struct{}
	archives   int
	unreadable []string
}

func newIndexer(ctx context.Context) *indexer {
	return &indexer{ctx: ctx, classes: map[string]struct{}{}}
}

func (x *indexer) index() *Index {
	out := &Index{Archives: x.archives, Unreadable: x.unreadable, Classes: make([]string, 0, len(x.classes))}
	for c := range x.classes {
		out.Classes = append(out.Classes, c)
	}
	slices.Sort(out.Classes)
	return out
}

// count adds an archive's entries to the total; beyond MaxIndexEntries is ErrTooLarge.
func (x *indexer) count(n int) error {
	x.archives++
	x.entries += n
	if x.entries > MaxIndexEntries {
		return newError(ErrTooLarge, nil, fmt.Sprintf(
			"has more than %d entries in it and the archives inside it; Fjord indexes at most %d", MaxIndexEntries, MaxIndexEntries))
	}
	return nil
}

// entry records one entry of an archive at depth (1: the object) whose path from the object
// is where (e.g. "lib/a.jar!/"). Class entries are recorded by name; nested archives are
// spooled and walked.
func (x *indexer) entry(f *zip.File, depth int, where string) error {
	if c, ok := ClassName(f.Name); ok {
		x.classes[c] = struct{}{}
		return nil
	}
	if !isArchiveName(f.Name) || f.FileInfo().IsDir() {
		return nil
	}
	if err := x.deeper(depth, where+f.Name); err != nil {
		return err
	}
	r, err := f.Open()
	if err != nil {
		x.unreadable = append(x.unreadable, where+f.Name)
		return nil //nolint:nilerr // recorded as unreadable
	}
	defer r.Close()
	tmp, n, err := x.spool(r)
	if tmp != nil {
		defer removeTemp(tmp)
	}
	var e *Error
	switch {
	case errors.As(err, &e) || x.ctx.Err() != nil:
		return err
	case err != nil: // a checksum or format error of the nested archive's data
		x.unreadable = append(x.unreadable, where+f.Name)
		return nil
	}
	return x.walk(tmp, n, depth+1, where+f.Name+"!/")
}

// deeper refuses a nested archive below MaxNestingDepth; depth is its container's.
func (x *indexer) deeper(depth int, name string) error {
	if depth >= MaxNestingDepth {
		return newError(ErrTooLarge, nil, fmt.Sprintf(
			"holds %s, an archive nested deeper than Fjord indexes (%d levels)", name, MaxNestingDepth))
	}
	return nil
}

// spool copies a nested archive's bytes to a temporary file (the caller removes it with
// removeTemp), counting them against MaxNestedBytes. An error reading r is returned as is;
// the bound, the context and the temporary file's own failures are *Errors or the context's.
func (x *indexer) spool(r io.Reader) (*os.File, int64, error) {
	tmp, err := os.CreateTemp("", "fjord-plugin-nested-*")
	if err != nil {
		return nil, 0, newError(ErrUnavailable, err, "could not create a temporary file to index the object")
	}
	left := MaxNestedBytes - x.nested
	n, err := io.Copy(writerOnly{tmp}, io.LimitReader(ctxReader{x.ctx, r}, left+1))
	x.nested += n
	switch {
	case x.ctx.Err() != nil:
		return tmp, 0, x.ctx.Err()
	case n > left:
		return tmp, 0, newError(ErrTooLarge, nil, fmt.Sprintf(
			"holds nested archives that expand to more than the limit of %d bytes", MaxNestedBytes))
	case errors.Is(err, errWrite):
		return tmp, 0, newError(ErrUnavailable, err, "could not write a temporary file to index the object")
	}
	return tmp, n, err
}

// walk reads a nested archive's entries; one that is not a readable archive is recorded as
// unreadable.
func (x *indexer) walk(ra io.ReaderAt, size int64, depth int, where string) error {
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		x.unreadable = append(x.unreadable, strings.TrimSuffix(where, "!/"))
		return nil //nolint:nilerr // recorded as unreadable
	}
	if err := x.count(len(zr.File)); err != nil {
		return err
	}
	for _, f := range zr.File {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		if err := x.entry(f, depth, where); err != nil {
			return err
		}
	}
	return nil
}

var errWrite = errors.New("write temporary file")

// writerOnly marks write failures, so that spool tells them from read failures, and hides
// ReadFrom so that io.Copy reads through the limit.
type writerOnly struct{ f *os.File }

func (w writerOnly) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		return n, fmt.Errorf("%w: %w", errWrite, err)
	}
	return n, nil
}

func removeTemp(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

func isArchiveName(name string) bool {
	l := strings.ToLower(name)
	return strings.HasSuffix(l, ".jar") || strings.HasSuffix(l, ".zip")
}

// ClassName is the dotted Java class name of an archive entry, when the entry is a class a
// class loader could load by name: "io/x/Foo.class" → "io.x.Foo", "io/x/Foo$Bar.class" →
// "io.x.Foo$Bar". Entries that are not classes, module-info, package-info, anonymous and
// local classes, and paths that are not Java package names (META-INF/…) are not.
func ClassName(entry string) (string, bool) {
	name, ok := strings.CutSuffix(entry, ".class")
	if !ok {
		return "", false
	}
	if rest, ok := strings.CutPrefix(name, "META-INF/versions/"); ok {
		if _, name, ok = strings.Cut(rest, "/"); !ok {
			return "", false
		}
	}
	for _, p := range []string{"BOOT-INF/classes/", "WEB-INF/classes/"} {
		name = strings.TrimPrefix(name, p)
	}
	segs := strings.Split(name, "/")
	last := segs[len(segs)-1]
	if last == "module-info" || last == "package-info" {
		return "", false
	}
	for _, s := range segs {
		if !javaIdentifier(s) {
			return "", false
		}
	}
	// Outer$1 and Outer$1Local are anonymous and local classes: never named in a configuration.
	for i, part := range strings.Split(last, "$") {
		if i > 0 && (part == "" || unicode.IsDigit(rune(part[0]))) {
			return "", false
		}
	}
	return strings.Join(segs, "."), true
}

func javaIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '$' || unicode.IsLetter(r):
		case i > 0 && unicode.IsDigit(r):
		default:
			return false
		}
	}
	return true
}
