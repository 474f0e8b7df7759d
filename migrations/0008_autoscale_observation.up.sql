-- What the autoscaler last saw of a workload (issue: health you can trust, "the autoscaler's
-- own signal"): the CPU means of each third of its window against the thresholds, and its
-- decision or why it made none. JSON (store.AutoscaleObservation), rewritten by the leader
-- when its decision changes and every few seconds while it stands.
ALTER TABLE autoscale_state ADD COLUMN observation jsonb;
