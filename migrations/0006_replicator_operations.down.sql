DROP TABLE IF EXISTS replicator_operations;
