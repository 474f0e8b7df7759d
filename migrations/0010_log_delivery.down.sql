ALTER TABLE workers DROP COLUMN IF EXISTS log_delivery_error;
