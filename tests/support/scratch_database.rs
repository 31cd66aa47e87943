//! A PostgreSQL or MySQL/MariaDB database of its own for one test run, so
//! runs never see each other's rows.

use core_sdk::db::sql::SqlDatabase;
use core_sdk::db::{DatabaseBase as _, DatabaseSettings};

/// A database created on the server for one run; dropped by
/// [`drop`](ScratchDatabase::drop) (async, so not on `Drop`).
pub(crate) struct ScratchDatabase {
    server: SqlDatabase,
    name: String,
    /// Its URL: the server's, with the database name replaced.
    pub(crate) url: String,
}

impl ScratchDatabase {
    /// Creates a database named after `prefix` and a unique suffix on the
    /// server at `server_url`.
    pub(crate) async fn create(server_url: &str, prefix: &str) -> ScratchDatabase {
        let server = SqlDatabase::connect(&DatabaseSettings::from_url(server_url))
            .await
            .expect("connect to the database server");
        let name = core_testkit::unique_name(prefix);
        server
            .query(&format!("CREATE DATABASE {name}"))
            .execute()
            .await
            .expect("create the run's database");
        let (base, query) = server_url
            .split_once('?')
            .map_or((server_url, None), |(base, query)| (base, Some(query)));
        let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
        let url = match query {
            Some(query) => format!("{root}/{name}?{query}"),
            None => format!("{root}/{name}"),
        };
        ScratchDatabase { server, name, url }
    }

    /// Drops the database, closing the connections still open to it.
    pub(crate) async fn drop(self) {
        // PostgreSQL refuses to drop a database with open connections
        // unless forced; MySQL has no such clause.
        let force = if self.url.starts_with("postgres") {
            " WITH (FORCE)"
        } else {
            ""
        };
        self.server
            .query(&format!("DROP DATABASE IF EXISTS {}{force}", self.name))
            .execute()
            .await
            .expect("drop the run's database");
        self.server.close().await;
    }
}
