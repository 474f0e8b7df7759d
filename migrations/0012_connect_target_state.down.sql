DROP TABLE IF EXISTS connector_task_restarts;
ALTER TABLE replicators DROP COLUMN target_state;
ALTER TABLE connectors DROP COLUMN target_state;
ALTER TABLE worker_configurations DROP COLUMN target_state;
ALTER TABLE custom_plugins DROP COLUMN target_state;
