-- Replicator updates (UpdateReplicationInfo): the leader carries a replicator from UPDATING to
-- RUNNING once every worker runs the new replication info, as it carries connector operations.
-- Not an API resource (MSK has no replicator operations): doc is the leader's private progress.
CREATE TABLE replicator_operations (
    arn             text PRIMARY KEY,
    replicator_arn  text NOT NULL REFERENCES replicators (arn) ON DELETE CASCADE,
    account_id      text NOT NULL,
    state           text NOT NULL,
    doc             bytea NOT NULL,
    secret          bytea,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX replicator_operations_active ON replicator_operations (created_at, arn)
    WHERE state IN ('PENDING', 'UPDATE_IN_PROGRESS', 'ROLLBACK_IN_PROGRESS');
