// Package pgtest gives each test its own empty PostgreSQL database.
//
// A test binary that uses it declares
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and calls URL in each test that needs a database. The first URL call
// starts one throwaway cluster (store/pgembed, with durability off) for the
// whole binary, so binaries whose selected tests need no database start
// none; Main stops it when the tests are done. Each URL call creates a new
// database from template0 and drops it when the test ends, so tests are
// isolated from each other and may run in parallel.
//
// With DATABASE_URL set (a postgres:// URL, e.g. a CI service container), no
// cluster is started: the databases are created on that server, as the user
// in DATABASE_URL, which needs the CREATEDB privilege.
package pgtest
