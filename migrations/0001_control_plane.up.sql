-- Control plane: credentials, MSK Connect resources, MSK Replicator resources, tags and the
-- cluster registry. Every public resource row keeps its public description as `doc` (the JSON
-- the API returns, minus the sensitive members and the mutable state), and its sensitive members
-- sealed with AES-256-GCM in `secret` (store/seal.go). Names are unique per account and region,
-- as in AWS; a row stays (state DELETING) until its workload has stopped.

CREATE TABLE credentials (
    access_key_id  text PRIMARY KEY,
    secret_sealed  bytea NOT NULL,
    account_id     text NOT NULL CHECK (account_id ~ '^[0-9]{12}$'),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE custom_plugins (
    arn             text PRIMARY KEY,
    account_id      text NOT NULL,
    region          text NOT NULL,
    name            text NOT NULL,
    state           text NOT NULL,
    state_code      text NOT NULL DEFAULT '',
    state_message   text NOT NULL DEFAULT '',
    current_version text NOT NULL,
    doc             bytea NOT NULL,
    secret          bytea,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (account_id, region, name)
);

CREATE TABLE custom_plugin_revisions (
    arn         text NOT NULL REFERENCES custom_plugins (arn) ON DELETE CASCADE,
    revision    bigint NOT NULL CHECK (revision >= 1),
    doc         bytea NOT NULL,
    secret      bytea,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (arn, revision)
);

CREATE TABLE worker_configurations (LIKE custom_plugins INCLUDING ALL);
CREATE TABLE worker_configuration_revisions (
    arn         text NOT NULL REFERENCES worker_configurations (arn) ON DELETE CASCADE,
    revision    bigint NOT NULL CHECK (revision >= 1),
    doc         bytea NOT NULL,
    secret      bytea,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (arn, revision)
);

CREATE TABLE connectors (LIKE custom_plugins INCLUDING ALL);
CREATE TABLE replicators (LIKE custom_plugins INCLUDING ALL);

-- Connector operations (UpdateConnector); doc is the DescribeConnectorOperation output minus
-- secrets, secret holds the sealed origin/target connector configurations.
CREATE TABLE connector_operations (
    arn            text PRIMARY KEY,
    connector_arn  text NOT NULL REFERENCES connectors (arn) ON DELETE CASCADE,
    account_id     text NOT NULL,
    state          text NOT NULL,
    doc            bytea NOT NULL,
    secret         bytea,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX connector_operations_by_connector ON connector_operations (connector_arn, created_at, arn);

-- Tags of any resource of either service. No foreign key: the resource may live in any table;
-- the store deletes a resource's tags with the resource.
CREATE TABLE tags (
    resource_arn  text NOT NULL,
    key           text NOT NULL,
    value         text NOT NULL,
    PRIMARY KEY (resource_arn, key)
);

-- The cluster registry: Kafka clusters that `amazonMskCluster` ARNs resolve to.
CREATE TABLE clusters (
    arn                text PRIMARY KEY,
    account_id         text NOT NULL,
    region             text NOT NULL,
    name               text NOT NULL,
    bootstrap_servers  text NOT NULL,
    kafka_version      text NOT NULL,
    created_at         timestamptz NOT NULL,
    UNIQUE (account_id, region, name)
);
