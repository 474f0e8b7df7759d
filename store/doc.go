// Package store is the only code in Fjord that speaks SQL. It keeps the control plane's state
// in Postgres through a pgx v5 pool: credentials, custom plugins, worker configurations,
// connectors and their operations, replicators, tags and the cluster registry. It knows nothing
// of the API's shapes: resources carry their public description as an opaque document, and their
// sensitive members as plaintext that the store seals with AES-256-GCM before writing
// (Sealer) and opens after reading. Errors are the store's sentinels (ErrNotFound, ErrConflict,
// ErrStale), never pgx errors.
package store
