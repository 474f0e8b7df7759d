-- The cluster registry knows authentication as MSK publishes it: one bootstrap string per
-- client authentication (bootstrap_servers stays the plaintext one), and the root CA of the
-- brokers' TLS certificates when it is not a public one (PEM; '' for the system's roots).
ALTER TABLE clusters ADD COLUMN bootstrap_servers_tls text NOT NULL DEFAULT '',
    ADD COLUMN bootstrap_servers_sasl_scram text NOT NULL DEFAULT '',
    ADD COLUMN bootstrap_servers_sasl_iam text NOT NULL DEFAULT '',
    ADD COLUMN tls_root_ca text NOT NULL DEFAULT '';
