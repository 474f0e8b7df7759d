ALTER TABLE agents DROP COLUMN instance;
DROP TABLE agent_enrollments;
DROP TABLE fjord_ca;
