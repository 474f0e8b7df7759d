-- A worker's latest log delivery problem, as its agent reports it ('' while delivery works):
-- a change is recorded as a workload event (log_delivery_failing / log_delivery_recovered).
ALTER TABLE workers ADD COLUMN log_delivery_error text NOT NULL DEFAULT '';
