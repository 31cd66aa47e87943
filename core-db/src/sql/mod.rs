//! One SQL API over PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! [`SqlDatabase`] is the front door: parameterised [`Query`]s, typed
//! fetches, streaming, [`Transaction`]s with savepoints and a retrying
//! closure helper, read replicas, migrations, and the native sqlx pool for
//! everything else. Portable SQL uses `?` placeholders on every engine
//! (numbered `$1, $2, …` for PostgreSQL automatically).

mod bounds;
mod database;
mod embedded_migrations;
pub(crate) mod error;
mod placeholders;
mod pool;
mod query;
mod serde_row;
mod transaction;

pub use bounds::{
    FromSqlRow, MySqlParam, MySqlRow, Param, PostgresParam, PostgresRow, SqliteParam, SqliteRow,
};
pub use database::SqlDatabase;
pub use embedded_migrations::EmbeddedMigration;
pub use pool::SqlPool;
pub(crate) use pool::with_pool;
pub use query::Query;
/// A serde value stored in a JSON column (PostgreSQL `JSONB`, MySQL
/// `JSON`, SQLite `TEXT`): bind `Json(&value)`, fetch `(Json<T>,)` or a
/// `#[sqlx(json)]` field.
pub use sqlx::types::Json;
pub use transaction::{IsolationLevel, NativeTransaction, Transaction, TxOptions};

use crate::Backend;
use crate::layers::Layers;

/// What every query and transaction of one database shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) backend: Backend,
    /// The primary's URL without credentials.
    pub(crate) endpoint: String,
    pub(crate) layers: Layers,
    pub(crate) transaction_attempts: u32,
}
