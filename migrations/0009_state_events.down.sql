DROP TABLE IF EXISTS event_webhook;
DROP TRIGGER IF EXISTS replicators_state_event ON replicators;
DROP TRIGGER IF EXISTS connectors_state_event ON connectors;
DROP FUNCTION IF EXISTS workload_state_event();
ALTER TABLE workload_events DROP COLUMN state, DROP COLUMN previous_state, DROP COLUMN state_code, DROP COLUMN workload_name;
