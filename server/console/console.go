// Package console is Fjord's web console: static HTML, CSS and JavaScript embedded in the
// binary and served at /console/ on the REST port. The files are public (they hold no data);
// the browser signs every API call itself with SigV4 (static/sigv4.js) using the access key
// the user signed in with, against the same REST endpoints the aws CLI calls, and the admin
// API's REST face (POST /admin/v1/{Operation}) for the fleet and workload events. See
// api-docs/console.md.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// Prefix is the console's path on the REST listener.
const Prefix = "/console/"

// Files are the console's files, rooted at static/.
func Files() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	return sub
}

// Handler serves the console's files below Prefix (GET and HEAD only). Every answer forbids
// other origins' scripts, styles, frames and connections (Content-Security-Policy), so the
// page can reach only the server that served it.
func Handler() http.Handler {
	fsrv := http.StripPrefix(Prefix, http.FileServerFS(Files()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		fsrv.ServeHTTP(w, r)
	})
}

// Register adds the console to mux: its files below Prefix and a redirect from /console.
func Register(mux *http.ServeMux) {
	mux.Handle(Prefix, Handler())
	mux.Handle("GET /console", http.RedirectHandler(Prefix, http.StatusMovedPermanently))
}
