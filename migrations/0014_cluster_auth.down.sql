ALTER TABLE clusters DROP COLUMN bootstrap_servers_tls, DROP COLUMN bootstrap_servers_sasl_scram,
    DROP COLUMN bootstrap_servers_sasl_iam, DROP COLUMN tls_root_ca;
