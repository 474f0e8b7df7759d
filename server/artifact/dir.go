package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// DirFetcher serves buckets from a local folder, as `fjord dev` does: the
// bucket "my-bucket" is the folder <root>/my-bucket/ and a key is a
// slash-separated path inside it.
//
// It never reads outside the bucket's folder: keys that are absolute or hold
// ".." are refused, and every path is resolved through [os.Root], so symbolic
// links may point anywhere inside the bucket but not out of it (nor be
// absolute). The bucket's folder itself may be a link, since the operator
// made it. Buckets have no versions: a location with a Version is refused.
type DirFetcher struct {
	root string
}

// NewDirFetcher returns a DirFetcher for the folder root. The folder is read
// on every Open, so buckets and objects may be added while Fjord runs.
func NewDirFetcher(root string) *DirFetcher {
	return &DirFetcher{root: root}
}

// Open opens the object's file. The returned reader is an *os.File.
func (d *DirFetcher) Open(ctx context.Context, loc Location) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bucket, err := loc.bucket()
	if err != nil {
		return nil, err
	}
	if loc.Version != "" {
		return nil, newError(ErrInvalidLocation, nil, fmt.Sprintf(
			"bucket %s: objectVersion is not supported by Fjord's local folder store; leave it out", loc.BucketARN))
	}
	name := filepath.FromSlash(loc.Key)
	if !filepath.IsLocal(name) {
		return nil, newError(ErrInvalidLocation, nil, fmt.Sprintf(
			"bucket %s: fileKey %q must be a relative path inside the bucket", loc.BucketARN, loc.Key))
	}

	// The bucket's folder may itself be a symbolic link: the operator made
	// it. Inside it, os.Root keeps every path (and link) within the bucket.
	broot, err := os.OpenRoot(filepath.Join(d.root, bucket))
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return nil, newError(ErrNotFound, err, fmt.Sprintf("bucket %s not found", loc.BucketARN))
	case err != nil:
		return nil, newError(ErrUnavailable, err, fmt.Sprintf("bucket %s is not readable", loc.BucketARN))
	}
	defer broot.Close()

	notFound := func(cause error) error {
		return newError(ErrNotFound, cause, fmt.Sprintf("bucket %s: %s not found", loc.BucketARN, loc.object()))
	}
	// Stat first so that a directory or a FIFO is "not found" rather than
	// opened (opening a FIFO would block).
	st, err := broot.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return nil, notFound(err)
	case errors.Is(err, fs.ErrPermission):
		return nil, newError(ErrAccessDenied, err, fmt.Sprintf(
			"bucket %s: access to %s denied", loc.BucketARN, loc.object()))
	case err != nil:
		// What is left is os.Root refusing a symbolic link that leads out
		// of the bucket or is absolute, or a link loop.
		return nil, newError(ErrInvalidLocation, err, fmt.Sprintf(
			"bucket %s: fileKey %q cannot be opened inside the bucket "+
				"(symbolic links must be relative and stay inside the bucket)", loc.BucketARN, loc.Key))
	case !st.Mode().IsRegular():
		return nil, notFound(nil)
	}
	f, err := broot.Open(name)
	if err != nil {
		return nil, notFound(err)
	}
	return f, nil
}
