package mysql

import (
	"testing"

	"vitess.io/vitess/go/mysql/replication"
)

// TestGTIDStrings: the fast formatting of GTIDs and GTID sets is vitess's String.
func TestGTIDStrings(t *testing.T) {
	g := replication.MariadbGTID{Domain: 0, Server: 1, Sequence: 1005}
	set := replication.MariadbGTIDSet{0: g, 7: {Domain: 7, Server: 4294967295, Sequence: 18446744073709551615}, 3: {Domain: 3, Server: 2, Sequence: 9}}
	mysqlSet, err := replication.ParseMysql56GTIDSet("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ got, want string }{
		{gtidString(g), g.String()},
		{gtidSetString(g.GTIDSet()), g.GTIDSet().String()},
		{gtidSetString(set), set.String()},
		{gtidSetString(mysqlSet), mysqlSet.String()},
		{gtidSetString(set), "0-1-1005,3-2-9,7-4294967295-18446744073709551615"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
