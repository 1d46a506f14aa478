-- Run once by the postgres image on an empty data directory (docker-compose.yml mounts it into
-- /docker-entrypoint-initdb.d). log-ingest-service gets a database of its own, so its bulk
-- writes can later move to another server without touching post-service's tables.
CREATE DATABASE feedline_logs OWNER feedline;
