package convert_test

import (
	"slices"
	"testing"

	"github.com/fjord-io/fjord/workers/catalog"
	"github.com/fjord-io/fjord/workers/connect/convert"
)

// The catalog accepts exactly the converters this package applies.
func TestCatalogConverters(t *testing.T) {
	mine := []string{convert.ByteArrayClass, convert.JSONClass, convert.SimpleHeaderClass, convert.StringClass}
	got := slices.Clone(catalog.Converters)
	slices.Sort(got)
	slices.Sort(mine)
	if !slices.Equal(got, mine) {
		t.Fatalf("catalog.Converters = %v, convert applies %v", got, mine)
	}
}
