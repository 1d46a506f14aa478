-- Run once by the mariadb image (as root) on an empty data directory, for the `mysql` profile:
-- the same split as on PostgreSQL, a database of its own for log-ingest-service.
CREATE DATABASE IF NOT EXISTS feedline_logs;
GRANT ALL PRIVILEGES ON feedline_logs.* TO 'feedline'@'%';
