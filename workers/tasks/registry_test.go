package tasks

import (
	"slices"
	"testing"

	"github.com/fjord-io/fjord/workers/catalog"
)

// TestEnginesMatchCatalog proves that the workers run exactly the classes the control plane
// accepts: every class of the catalog has an engine here, every engine here serves a class,
// and the registry answers every name and alias the catalog's Lookup answers.
func TestEnginesMatchCatalog(t *testing.T) {
	engines := Engines()
	used := map[catalog.Engine]bool{}
	for _, c := range catalog.Classes() {
		if _, ok := engines[c.Engine]; !ok {
			t.Errorf("class %s: engine %q has no task factory in workers/tasks", c.Name, c.Engine)
		}
		used[c.Engine] = true
	}
	for e := range engines {
		if !used[e] {
			t.Errorf("engine %q serves no class of the catalog", e)
		}
	}
	reg := Registry()
	var names []string
	for _, c := range catalog.Classes() {
		names = append(names, c.Name)
		for _, n := range append([]string{c.Name}, c.Aliases...) {
			if _, ok := reg[n]; !ok {
				t.Errorf("registry lacks %s (class %s)", n, c.Name)
			}
			if got, ok := catalog.Lookup(n); !ok || got.Name != c.Name {
				t.Errorf("catalog.Lookup(%s) = %v, %v; want %s", n, got, ok, c.Name)
			}
		}
	}
	if !slices.Equal(names, catalog.Names()) {
		t.Errorf("catalog.Names() = %v; classes %v", catalog.Names(), names)
	}
	if len(names) == 0 {
		t.Fatal("the catalog is empty")
	}
}
