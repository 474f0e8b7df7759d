-- Autoscaling and rebalancing (issue: MCU autoscaling, connector operations, fleet view).

-- task_count is the task count a worker's task ids refer to (a MirrorSource task's partitions
-- depend on it). While a workload's workers disagree with the desired count, the scheduler
-- first stops every task, then assigns the new set: no two tasks ever copy one partition.
ALTER TABLE workers ADD COLUMN task_count integer NOT NULL DEFAULT 0;

-- CPU and memory utilization samples per worker, as agents report them; the autoscaler
-- averages them over a window. Any leader reads them, so a leader change keeps the window.
CREATE TABLE worker_samples (
    worker_id     text NOT NULL,
    workload_arn  text NOT NULL,
    at            timestamptz NOT NULL,
    cpu           double precision NOT NULL,
    memory        double precision NOT NULL
);
CREATE INDEX worker_samples_by_workload ON worker_samples (workload_arn, at);
CREATE INDEX worker_samples_by_at ON worker_samples (at);

-- The autoscaler's decision per autoscaled workload: its current worker count and when it
-- last changed (the cooldown runs from there).
CREATE TABLE autoscale_state (
    workload_arn  text PRIMARY KEY,
    workers       integer NOT NULL CHECK (workers >= 0),
    changed_at    timestamptz NOT NULL,
    reason        text NOT NULL DEFAULT ''
);
