-- Portable across PostgreSQL, MySQL/MariaDB and SQLite.
CREATE TABLE widgets (
    id BIGINT PRIMARY KEY,
    name VARCHAR(100) NOT NULL
);
