ALTER TABLE agents
    DROP COLUMN disconnected_at,
    DROP COLUMN session,
    DROP COLUMN address;
