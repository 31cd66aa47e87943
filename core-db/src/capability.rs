//! What an engine can do, so callers can ask before they rely on it.

/// The features and guarantees that differ between engines.
///
/// Every SQL engine runs the portable API (parameterised queries, typed and
/// streaming fetches, transactions, migrations); what differs is declared
/// here, by each engine's module in `backends/`. A setting an engine cannot
/// honour is refused when the settings are checked, naming the key, never
/// silently ignored.
///
/// ```
/// use core_db::Backend;
///
/// let sqlite = Backend::Sqlite.capabilities();
/// assert!(sqlite.sql && sqlite.savepoints);
/// assert!(!sqlite.statement_timeout && !sqlite.concurrent_writes);
/// assert!(Backend::Postgres.capabilities().statement_timeout);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Speaks SQL, through [`SqlDatabase`](crate::sql::SqlDatabase); false
    /// for a document database, reached through `DocumentStore`.
    pub sql: bool,
    /// Transactions over several statements (MongoDB: on a replica set or
    /// sharded cluster only).
    pub transactions: bool,
    /// Savepoints: a nested transaction rolls back alone.
    pub savepoints: bool,
    /// Each isolation level runs as asked; SQLite runs every transaction
    /// serializable (one writer takes the whole database).
    pub isolation_levels: bool,
    /// The server cancels statements running past `statement_timeout_ms`.
    pub statement_timeout: bool,
    /// More than one transaction writes at a time; SQLite has one writer
    /// per database file.
    pub concurrent_writes: bool,
    /// Reads go to `replica_urls` in turn. MongoDB finds its replicas
    /// itself, from the hosts in its URL.
    pub read_replicas: bool,
}

impl Capabilities {
    /// Every capability on: what PostgreSQL and MySQL/MariaDB offer, and
    /// the base the other engines take theirs from.
    pub const ALL: Capabilities = Capabilities {
        sql: true,
        transactions: true,
        savepoints: true,
        isolation_levels: true,
        statement_timeout: true,
        concurrent_writes: true,
        read_replicas: true,
    };
}
