-- The fleet view (issue: MCU autoscaling, connector operations and the fleet view): where an
-- agent connects from, and whether its stream is still open.

-- address is the agent's host:port as the server saw it when its stream opened; session names
-- that stream, so that a closing stream only marks the agent disconnected if no newer stream
-- replaced it; disconnected_at is when that stream closed (NULL while it is open).
ALTER TABLE agents
    ADD COLUMN address text NOT NULL DEFAULT '',
    ADD COLUMN session text NOT NULL DEFAULT '',
    ADD COLUMN disconnected_at timestamptz;
