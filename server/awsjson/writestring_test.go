package awsjson

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"testing"
)

func TestWriteStringMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	alphabet := []string{"a", "Z", " ", "\"", "\\", "\n", "\r", "\t", "\x00", "\x1f", "<", ">", "&", "é", "€", "\u2028", "\u2029", "😀", "\xff", "\xc3"}
	for n := 0; n < 20000; n++ {
		var s string
		for k := r.Intn(12); k > 0; k-- {
			s += alphabet[r.Intn(len(alphabet))]
		}
		var b bytes.Buffer
		writeString(&b, s)
		var back string
		if err := json.Unmarshal(b.Bytes(), &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, b.String(), err)
		}
		want := string([]rune(s)) // invalid bytes → U+FFFD
		if back != want {
			t.Fatalf("%q round-trips to %q, want %q", s, back, want)
		}
	}
}
