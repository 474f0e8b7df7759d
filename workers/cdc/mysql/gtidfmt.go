package mysql

import (
	"slices"
	"strconv"

	"vitess.io/vitess/go/mysql/replication"
)

// gtidString is g.String() without fmt for MariaDB's GTIDs (domain-server-sequence): it is
// formatted for every transaction streamed.
func gtidString(g replication.GTID) string {
	m, ok := g.(replication.MariadbGTID)
	if !ok {
		return g.String()
	}
	return string(appendMariadbGTID(make([]byte, 0, 32), m))
}

// gtidSetString is s.String() without fmt for MariaDB's GTID sets (domains in order, comma
// separated).
func gtidSetString(s replication.GTIDSet) string {
	m, ok := s.(replication.MariadbGTIDSet)
	if !ok {
		return s.String()
	}
	if len(m) == 1 {
		for _, g := range m {
			return string(appendMariadbGTID(make([]byte, 0, 32), g))
		}
	}
	domains := make([]uint32, 0, len(m))
	for d := range m {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	b := make([]byte, 0, 32*len(domains))
	for i, d := range domains {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMariadbGTID(b, m[d])
	}
	return string(b)
}

func appendMariadbGTID(b []byte, g replication.MariadbGTID) []byte {
	b = strconv.AppendUint(b, uint64(g.Domain), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(g.Server), 10)
	b = append(b, '-')
	return strconv.AppendUint(b, g.Sequence, 10)
}
