-- Run once by the postgres image on an empty data directory
-- (mounted into /docker-entrypoint-initdb.d by docker-compose.yml).
-- One database per service.
CREATE DATABASE scheduler;
CREATE DATABASE transport;
CREATE DATABASE notifications;
