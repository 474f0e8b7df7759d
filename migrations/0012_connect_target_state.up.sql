-- Kafka Connect REST API (server/connectrest): a connector's target state, as Kafka Connect's
-- PUT /connectors/{name}/pause|resume|stop set it: '' (running), 'PAUSED' (its workers keep
-- their task assignment and run no task) or 'STOPPED' (no worker, no task; KIP-875). The
-- column is on every resource table because they share one column list (store/resources.go);
-- only connectors use it.
ALTER TABLE custom_plugins ADD COLUMN target_state text NOT NULL DEFAULT '';
ALTER TABLE worker_configurations ADD COLUMN target_state text NOT NULL DEFAULT '';
ALTER TABLE connectors ADD COLUMN target_state text NOT NULL DEFAULT '';
ALTER TABLE replicators ADD COLUMN target_state text NOT NULL DEFAULT '';

-- Restarts asked for through the Connect REST API (POST …/restart, …/tasks/{id}/restart): a
-- counter per connector task that the task's specification carries (fjord.connect.restart),
-- so that the agent running it restarts its worker.
CREATE TABLE connector_task_restarts (
    connector_arn text NOT NULL REFERENCES connectors (arn) ON DELETE CASCADE,
    task_id       integer NOT NULL,
    restarts      bigint NOT NULL,
    PRIMARY KEY (connector_arn, task_id)
);
