-- Run once by the postgres image on an empty data volume
-- (/docker-entrypoint-initdb.d): one database per service, so that each
-- service's migrations and tables stay its own.
CREATE DATABASE users OWNER app;
CREATE DATABASE orders OWNER app;
CREATE DATABASE notifications OWNER app;
