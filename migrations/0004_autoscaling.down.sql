DROP TABLE autoscale_state;
DROP TABLE worker_samples;
ALTER TABLE workers DROP COLUMN task_count;
