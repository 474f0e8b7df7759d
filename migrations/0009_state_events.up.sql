-- Workload state changes as events (issue: notifications without CloudWatch): every change of
-- a connector's or replicator's state, whoever made it (a client's create, update or delete,
-- the scheduler's RUNNING or FAILED, the removal of a deleted workload), is a 'state' event,
-- recorded by a trigger in the transaction that made the change. `fjord workloads watch` follows
-- them and the event webhook delivers them.
ALTER TABLE workload_events
    ADD COLUMN state          text NOT NULL DEFAULT '',
    ADD COLUMN previous_state text NOT NULL DEFAULT '',
    ADD COLUMN state_code     text NOT NULL DEFAULT '',
    ADD COLUMN workload_name  text NOT NULL DEFAULT '';

CREATE FUNCTION workload_state_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO workload_events (workload_arn, kind, reason, state, previous_state, state_code, workload_name)
        VALUES (NEW.arn, 'state', NEW.state || CASE WHEN NEW.state_message <> '' THEN ': ' || NEW.state_message ELSE '' END,
                NEW.state, '', NEW.state_code, NEW.name);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF NEW.state IS DISTINCT FROM OLD.state THEN
            INSERT INTO workload_events (workload_arn, kind, reason, state, previous_state, state_code, workload_name)
            VALUES (NEW.arn, 'state', OLD.state || ' → ' || NEW.state ||
                    CASE WHEN NEW.state_message <> '' THEN ': ' || NEW.state_message ELSE '' END,
                    NEW.state, OLD.state, NEW.state_code, NEW.name);
        END IF;
        RETURN NEW;
    END IF;
    INSERT INTO workload_events (workload_arn, kind, reason, state, previous_state, state_code, workload_name)
    VALUES (OLD.arn, 'state', OLD.state || ' → DELETED', 'DELETED', OLD.state, '', OLD.name);
    RETURN OLD;
END $$;

CREATE TRIGGER connectors_state_event AFTER INSERT OR UPDATE OF state OR DELETE ON connectors
    FOR EACH ROW EXECUTE FUNCTION workload_state_event();
CREATE TRIGGER replicators_state_event AFTER INSERT OR UPDATE OF state OR DELETE ON replicators
    FOR EACH ROW EXECUTE FUNCTION workload_state_event();

-- Where the event webhook's delivery stands: the last event handled (delivered, or dropped
-- after its attempts) for the webhook URL (a new URL starts from the newest event), and the
-- replica that sends, holding a lease it renews; only the holder may move the cursor.
CREATE TABLE event_webhook (
    id             integer PRIMARY KEY CHECK (id = 1),
    url            text NOT NULL,
    last_event_id  bigint NOT NULL,
    holder         text NOT NULL,
    lease_until    timestamptz NOT NULL
);
