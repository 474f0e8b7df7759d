ALTER TABLE workers DROP COLUMN IF EXISTS reported_health, DROP COLUMN IF EXISTS reported_health_since;
