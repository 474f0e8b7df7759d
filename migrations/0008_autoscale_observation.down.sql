ALTER TABLE autoscale_state DROP COLUMN observation;
