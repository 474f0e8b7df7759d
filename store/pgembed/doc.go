// Package pgembed owns throwaway PostgreSQL clusters: it runs initdb, starts
// a postgres server on 127.0.0.1 for `fjord dev` and for tests, and stops it
// again without leaving a process behind.
//
// # Layout
//
// A cluster lives in one directory, Options.Dir:
//
//	Dir/data          the data directory (PGDATA), created by initdb
//	Dir/postgres.log  everything initdb, pg_ctl and the server print
//	Dir/pgembed.lock  held (flock) by the process that runs the cluster
//	Dir/.s.PGSQL.N    the unix socket, unless Dir's path is too long for one
//
// A Dir that already holds a cluster is reused, so `fjord dev` keeps its data
// across restarts.
//
// # Running as root
//
// initdb, pg_ctl and postgres refuse to run as root. When the effective user
// is root (as in CI containers), Start gives Dir to the `postgres` system user
// and runs every PostgreSQL program through `runuser -u postgres --`, which
// needs no password and no terminal, unlike su or sudo. Otherwise the
// programs run directly as the current user. As root, the postgres user must
// be able to enter every parent of Dir; Start checks this and says which
// directory is in the way instead of letting initdb fail obscurely.
//
// # Leaving no process behind
//
// Three mechanisms, from common to rare:
//   - Cluster.Stop asks for a fast shutdown (as `pg_ctl stop -m fast`) and
//     waits until the server process has exited.
//   - On Linux the server is started with a parent-death signal, so if the Go
//     process dies without calling Stop (SIGKILL, panic) the kernel tells the
//     server to shut down.
//   - If a server still survives (another OS, or runuser killed first), the
//     next Start on the same Dir finds its postmaster.pid, checks that the
//     process really is a server for that data directory, and stops it with
//     pg_ctl before starting a new one. Two live processes never share a Dir:
//     the lock file makes the second Start fail with ErrDirInUse.
//
// The package needs a Unix system; the parent-death signal and the
// /proc-based process checks are Linux only.
package pgembed
