-- A value sealed with the database's encryption key when the first server opened it. A server
-- started with another key cannot open it and refuses to start, instead of answering 500s or
-- re-sealing credentials with the wrong key.
CREATE TABLE encryption_check (
    id      integer PRIMARY KEY CHECK (id = 1),
    sealed  bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
