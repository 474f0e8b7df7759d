-- Agent identity (api-docs/agent-identity.md): the Fjord CA that issues agents' client
-- certificates and the servers' agent-gateway certificates, and each agent's enrollment.

-- The one Fjord CA, created by the first server that starts and shared by every replica. The
-- private key (PKCS #8 DER) is sealed with the server's encryption key (store.Sealer, row
-- identity "fjord_ca").
CREATE TABLE fjord_ca (
    id          smallint PRIMARY KEY CHECK (id = 1),
    certificate text NOT NULL,
    private_key bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The certificate each agent id holds. Only this serial speaks for the id, until revoked_at;
-- a revoked id may enroll again, which replaces the row.
CREATE TABLE agent_enrollments (
    agent_id    text PRIMARY KEY,
    serial      text NOT NULL,
    fingerprint text NOT NULL,
    not_after   timestamptz NOT NULL,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- instance names the agent process that holds the id's stream (Hello.instance): a stream of
-- another instance is refused while this one is live.
ALTER TABLE agents ADD COLUMN instance text NOT NULL DEFAULT '';
