DROP TABLE IF EXISTS scheduler_leader;
DROP TABLE IF EXISTS worker_metrics;
DROP TABLE IF EXISTS workload_events;
DROP TABLE IF EXISTS workers;
DROP TABLE IF EXISTS agents;
