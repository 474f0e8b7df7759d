package fjord

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/fjord-io/fjord/"

// allowed lists, for each top-level folder, the other top-level folders its packages may
// import: the dependency direction of the architecture (api-docs/architecture.md). Test-only
// packages are exempt.
var allowed = map[string][]string{
	"proto":      {},
	"migrations": {},
	"store":      {"migrations"},
	"scheduler":  {"store", "proto"},
	"server":     {"store", "scheduler", "proto", "migrations"},
	"workers":    {"proto"},
	"api-docs":   {"proto", "workers"},
	"bench":      {"server", "store", "scheduler", "workers", "migrations", "proto"},
	"cmd":        {"server", "store", "scheduler", "workers", "migrations", "proto"},
	"deploy":     {},
}

// leaves are the packages under workers/ that the control plane may import too: the one
// registry of connector classes (workers/catalog), the MirrorMaker 2 configuration parser it
// validates with, the Kafka Connect data model and converters that parser checks converter
// options with, the single message transforms and the Debezium connectors' configuration
// (validated at creation). A leaf imports no Fjord package but other leaves and generated proto code.
var leaves = []string{"workers/catalog", "workers/mm2", "workers/connect/convert", "workers/connect/data", "workers/connect/transforms", "workers/cdc/debezium"}

// leafImporters are the folders allowed to import a leaf besides workers/ itself.
var leafImporters = []string{"server", "scheduler", "cmd", "bench", "api-docs", "deploy"}

// TestLayout enforces the dependency direction between Fjord's folders, e.g. that workers/
// never imports store/ or server/.
func TestLayout(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		top := topFolder(p.ImportPath)
		if top == "" {
			continue
		}
		rules, ok := allowed[top]
		if !ok {
			t.Errorf("package %s is in folder %s, which has no layout rule", p.ImportPath, top)
			continue
		}
		n++
		isLeaf := contains(leaves, strings.TrimPrefix(p.ImportPath, module))
		for _, imp := range p.Imports {
			dep := topFolder(imp)
			if dep == "" {
				continue
			}
			rel := strings.TrimPrefix(imp, module)
			if isLeaf && !contains(leaves, rel) && !strings.HasPrefix(rel, "proto/gen/") {
				t.Errorf("%s imports %s: a leaf package imports no Fjord package but the leaves %v", p.ImportPath, imp, leaves)
			}
			if dep == top {
				continue
			}
			if contains(leaves, rel) && contains(leafImporters, top) {
				continue
			}
			if !contains(rules, dep) {
				t.Errorf("%s imports %s: %s/ may not depend on %s/", p.ImportPath, imp, top, dep)
			}
		}
	}
	if n < 10 {
		t.Fatalf("checked only %d packages; go list output looks wrong", n)
	}
}

func topFolder(importPath string) string {
	rest, ok := strings.CutPrefix(importPath, module)
	if !ok {
		return ""
	}
	top, _, _ := strings.Cut(rest, "/")
	return top
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestNoReferenceOutsideRepo keeps the repository self-contained: no tracked file points a
// reader at design notes or models outside it (they live in api-docs/ and proto/awsmodel).
func TestNoReferenceOutsideRepo(t *testing.T) {
	files, err := exec.Command("git", "ls-files").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	// The names are assembled so that this file does not itself point outside the repository.
	outside := "shared"
	banned := []string{"../" + outside, outside + "/aws-models", "DESIGN" + ".md", "WIRE" + ".md", "STYLE" + ".md", "TOOLCHAIN" + ".md"}
	for _, f := range strings.Fields(string(files)) {
		if strings.HasPrefix(f, "proto/gen/") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil || strings.IndexByte(string(b), 0) >= 0 {
			continue
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, s := range banned {
				if strings.Contains(line, s) {
					t.Errorf("%s:%d refers to %s, outside the repository", f, i+1, s)
				}
			}
		}
	}
}

// TestDependenciesListed keeps api-docs/dependencies.md current: every module go.mod requires
// directly is listed there with the reason it is needed.
func TestDependenciesListed(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("api-docs/dependencies.md")
	if err != nil {
		t.Fatal(err)
	}
	direct, inBlock := 0, false
	for _, line := range strings.Split(string(mod), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "require (":
			inBlock = true
			continue
		case line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || strings.Contains(line, "// indirect") {
			continue
		}
		direct++
		if !strings.Contains(string(doc), "| `"+f[0]+"` |") {
			t.Errorf("go.mod requires %s directly; say why in api-docs/dependencies.md", f[0])
		}
	}
	if direct < 10 {
		t.Fatalf("found only %d direct requirements in go.mod", direct)
	}
}
