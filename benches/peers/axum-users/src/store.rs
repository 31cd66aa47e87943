//! The `users` table on SQLite or PostgreSQL, the same schema as the SDK's
//! service.

use sqlx::{PgPool, SqlitePool};

/// A `users` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) password_hash: String,
    pub(crate) roles: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

/// The database the service was started on.
#[derive(Clone)]
pub(crate) enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS users (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    username VARCHAR(32) NOT NULL UNIQUE,
    email VARCHAR(254) NOT NULL UNIQUE,
    password_hash VARCHAR(255) NOT NULL,
    roles VARCHAR(255) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
)";
const INSERT: &str = "INSERT INTO users (id, username, email, password_hash, roles, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const BY_ID: &str = "SELECT * FROM users WHERE id = $1";
const BY_NAME: &str = "SELECT * FROM users WHERE username = $1";

impl Store {
    /// Opens a pool on `url` and creates the table.
    pub(crate) async fn connect(url: &str) -> Result<Store, sqlx::Error> {
        let store = if url.starts_with("sqlite:") {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
            let options = options
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
            Store::Sqlite(SqlitePool::connect_with(options).await?)
        } else {
            Store::Postgres(PgPool::connect(url).await?)
        };
        match &store {
            Store::Sqlite(pool) => sqlx::query(SCHEMA).execute(pool).await.map(drop)?,
            Store::Postgres(pool) => sqlx::query(SCHEMA).execute(pool).await.map(drop)?,
        };
        Ok(store)
    }

    /// Inserts `row`; false when its user name or e-mail is taken.
    pub(crate) async fn insert(&self, row: &UserRow) -> Result<bool, sqlx::Error> {
        macro_rules! insert {
            ($pool:expr) => {
                sqlx::query(INSERT)
                    .bind(&row.id)
                    .bind(&row.username)
                    .bind(&row.email)
                    .bind(&row.password_hash)
                    .bind(&row.roles)
                    .bind(row.created_at)
                    .bind(row.updated_at)
                    .execute($pool)
                    .await
            };
        }
        let done = match self {
            Store::Sqlite(pool) => insert!(pool).map(drop),
            Store::Postgres(pool) => insert!(pool).map(drop),
        };
        match done {
            Ok(()) => Ok(true),
            Err(sqlx::Error::Database(err)) if err.is_unique_violation() => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The user with id `id`.
    pub(crate) async fn find(&self, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
        self.find_by(BY_ID, id).await
    }

    /// The user named `username`.
    pub(crate) async fn find_by_username(
        &self,
        username: &str,
    ) -> Result<Option<UserRow>, sqlx::Error> {
        self.find_by(BY_NAME, username).await
    }

    async fn find_by(
        &self,
        sql: &'static str,
        value: &str,
    ) -> Result<Option<UserRow>, sqlx::Error> {
        match self {
            Store::Sqlite(pool) => sqlx::query_as(sql).bind(value).fetch_optional(pool).await,
            Store::Postgres(pool) => sqlx::query_as(sql).bind(value).fetch_optional(pool).await,
        }
    }
}
