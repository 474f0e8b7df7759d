-- A worker's cluster health as it reports it: '' while every cluster its tasks use answers,
-- else "CODE: message" and since when (the scheduler fails the workload once it outlasts the
-- bound, and lets it run again when the worker reports '' again).
ALTER TABLE workers ADD COLUMN reported_health text NOT NULL DEFAULT '',
    ADD COLUMN reported_health_since timestamptz;
