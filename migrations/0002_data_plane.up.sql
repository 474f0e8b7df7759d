-- Data plane: the agent fleet, the placement of workload workers on agents, and what agents
-- report. The scheduler (leader) writes workers; agent streams (any server replica) write the
-- reported_* columns and agents' heartbeats.

CREATE TABLE agents (
    id                 text PRIMARY KEY,
    mcu_capacity       integer NOT NULL CHECK (mcu_capacity >= 0),
    version            text NOT NULL DEFAULT '',
    labels             jsonb NOT NULL DEFAULT '{}',
    -- ALIVE: holds a lease; DRAINING: said Goodbye, its workers move; DEAD: lease expired.
    state              text NOT NULL DEFAULT 'ALIVE',
    -- generation increases whenever the agent's desired worker set changes.
    generation         bigint NOT NULL DEFAULT 0,
    applied_generation bigint NOT NULL DEFAULT 0,
    server_id          text NOT NULL DEFAULT '',
    connected_at       timestamptz NOT NULL,
    last_heartbeat     timestamptz NOT NULL
);

-- One row per worker of a workload (connector or replicator). A worker with agent_id NULL is
-- not placed; a worker with stopping = true is no longer desired and disappears once its agent
-- reported it stopped (or died).
CREATE TABLE workers (
    id              text PRIMARY KEY,
    workload_arn    text NOT NULL,
    workload_kind   text NOT NULL,
    ordinal         integer NOT NULL,
    agent_id        text REFERENCES agents (id),
    epoch           bigint NOT NULL DEFAULT 1,
    mcu             integer NOT NULL,
    tasks           integer[] NOT NULL DEFAULT '{}',
    stopping        boolean NOT NULL DEFAULT false,
    reported_agent  text NOT NULL DEFAULT '',
    reported_state  text NOT NULL DEFAULT '',
    reported_epoch  bigint NOT NULL DEFAULT 0,
    reported_tasks  jsonb NOT NULL DEFAULT '[]',
    reported_error  text NOT NULL DEFAULT '',
    restarts        integer NOT NULL DEFAULT 0,
    reported_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workers_by_agent ON workers (agent_id);
CREATE INDEX workers_by_workload ON workers (workload_arn, ordinal);

-- Decisions of the scheduler and lifecycle events, per workload (issue: decisions are visible).
CREATE TABLE workload_events (
    id            bigserial PRIMARY KEY,
    workload_arn  text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    kind          text NOT NULL,
    reason        text NOT NULL,
    agent_id      text NOT NULL DEFAULT '',
    worker_id     text NOT NULL DEFAULT ''
);
CREATE INDEX workload_events_by_workload ON workload_events (workload_arn, id);

-- The latest metrics of each worker, as its agent reported them.
CREATE TABLE worker_metrics (
    worker_id      text PRIMARY KEY,
    workload_arn   text NOT NULL,
    agent_id       text NOT NULL,
    at             timestamptz NOT NULL,
    metrics        bytea NOT NULL
);

-- The scheduler's leadership term. The leader holds a Postgres advisory lock and bumped the
-- term when it took over; every plan it applies re-checks the term in the same transaction, so
-- a deposed leader (its lock connection lost) can no longer write.
CREATE TABLE scheduler_leader (
    id      integer PRIMARY KEY CHECK (id = 1),
    term    bigint NOT NULL,
    holder  text NOT NULL,
    since   timestamptz NOT NULL
);
INSERT INTO scheduler_leader (id, term, holder, since) VALUES (1, 0, '', now());
