-- The plugin matters (issue: Connector runtime): the classes of each custom plugin revision,
-- and the plugin and worker configuration revisions each connector uses.

-- classes are the dotted Java class names the revision's object holds (its own .class entries
-- and those of the JARs nested in it; server/artifact.Index), sorted and distinct, written
-- when the plugin becomes ACTIVE. One text[] per revision: a 20,000-class plugin is one row of
-- about 1 MB before TOAST compresses it (class names share long package prefixes), read
-- whole by CreateConnector. unreadable lists nested .jar/.zip entries that are not archives.
CREATE TABLE custom_plugin_classes (
    arn         text NOT NULL,
    revision    bigint NOT NULL,
    classes     text[] NOT NULL,
    archives    integer NOT NULL,
    unreadable  text[] NOT NULL DEFAULT '{}',
    indexed_at  timestamptz NOT NULL,
    PRIMARY KEY (arn, revision),
    FOREIGN KEY (arn, revision) REFERENCES custom_plugin_revisions (arn, revision) ON DELETE CASCADE
);

-- What a connector uses. Rows go with the connector (ON DELETE CASCADE: when the scheduler
-- removes a DELETING connector once its workers stopped). The revisions they name cannot be
-- deleted while a row names them: the foreign keys to the revisions are NO ACTION, so deleting
-- the plugin or worker configuration (which cascades to its revisions) fails, and a
-- CreateConnector racing a delete either waits for it and fails its own foreign key check, or
-- commits first and makes the delete fail.
CREATE TABLE connector_plugins (
    connector_arn  text NOT NULL REFERENCES connectors (arn) ON DELETE CASCADE,
    arn            text NOT NULL,
    revision       bigint NOT NULL,
    PRIMARY KEY (connector_arn, arn),
    FOREIGN KEY (arn, revision) REFERENCES custom_plugin_revisions (arn, revision)
);
CREATE INDEX connector_plugins_by_plugin ON connector_plugins (arn, revision);

CREATE TABLE connector_worker_configurations (
    connector_arn  text NOT NULL REFERENCES connectors (arn) ON DELETE CASCADE,
    arn            text NOT NULL,
    revision       bigint NOT NULL,
    PRIMARY KEY (connector_arn, arn),
    FOREIGN KEY (arn, revision) REFERENCES worker_configuration_revisions (arn, revision)
);
CREATE INDEX connector_worker_configurations_by_configuration ON connector_worker_configurations (arn, revision);
