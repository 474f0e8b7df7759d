DROP TABLE IF EXISTS encryption_check;
