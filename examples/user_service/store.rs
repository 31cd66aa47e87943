//! Users in SQL, with statements every supported engine runs unchanged.

use core_sdk::auth::tokens::{SubjectDirectory, SubjectRights};
use core_sdk::db::DatabaseBase as _;
use core_sdk::db::sql::{EmbeddedMigration, SqlDatabase};
use core_sdk::error::{ErrorKind, Result};
use serde::Deserialize;

use crate::model::User;

/// The migrations, embedded in the binary. One script serves every engine:
/// the schema uses only types SQLite, PostgreSQL and MySQL share.
const MIGRATIONS: &[EmbeddedMigration] = &[EmbeddedMigration::portable(
    1,
    "users",
    include_str!("migrations/0001_users.sql"),
)];

const COLUMNS: &str = "id, username, email, password_hash, roles, created_at, updated_at";

/// A `users` row, the password hash included (so no Debug: a hash in a log
/// is an offline guessing target).
#[derive(Clone, Deserialize)]
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) password_hash: String,
    pub(crate) roles: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

impl UserRow {
    /// The row's roles as a list.
    pub(crate) fn role_list(&self) -> Vec<String> {
        self.roles
            .split(',')
            .filter(|role| !role.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The row as the API shows it.
    pub(crate) fn to_user(&self) -> User {
        User {
            id: self.id.clone(),
            username: self.username.clone(),
            email: self.email.clone(),
            roles: self.role_list(),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The `users` table.
#[derive(Debug, Clone)]
pub(crate) struct UserStore {
    sql: SqlDatabase,
}

impl UserStore {
    /// Applies the migrations the database has not seen yet.
    pub(crate) async fn open(sql: SqlDatabase) -> Result<UserStore> {
        sql.migrate_embedded(MIGRATIONS).await?;
        Ok(UserStore { sql })
    }

    /// Stores a new user; `Conflict` when the name or e-mail is taken.
    pub(crate) async fn insert(
        &self,
        username: &str,
        email: &str,
        password_hash: &str,
        roles: &[String],
    ) -> Result<UserRow> {
        let now = chrono::Utc::now().timestamp_millis();
        let row = UserRow {
            id: uuid::Uuid::now_v7().to_string(),
            username: username.to_owned(),
            email: email.to_owned(),
            password_hash: password_hash.to_owned(),
            roles: roles.join(","),
            created_at: now,
            updated_at: now,
        };
        self.sql
            .query(&format!(
                "INSERT INTO users ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(row.id.as_str())
            .bind(row.username.as_str())
            .bind(row.email.as_str())
            .bind(row.password_hash.as_str())
            .bind(row.roles.as_str())
            .bind(row.created_at)
            .bind(row.updated_at)
            .execute()
            .await
            .map_err(taken)?;
        Ok(row)
    }

    /// The user with `id`, if any.
    pub(crate) async fn find(&self, id: &str) -> Result<Option<UserRow>> {
        self.sql
            .query(&format!("SELECT {COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .on_primary()
            .fetch_optional_as()
            .await
    }

    /// The user named `username`, if any.
    pub(crate) async fn find_by_username(&self, username: &str) -> Result<Option<UserRow>> {
        self.sql
            .query(&format!("SELECT {COLUMNS} FROM users WHERE username = ?"))
            .bind(username)
            .on_primary()
            .fetch_optional_as()
            .await
    }

    /// Writes back `row`'s e-mail, hash and roles; `false` when the user is gone.
    pub(crate) async fn update(&self, row: &UserRow) -> Result<bool> {
        let changed = self
            .sql
            .query(
                "UPDATE users SET email = ?, password_hash = ?, roles = ?, updated_at = ? \
                 WHERE id = ?",
            )
            .bind(row.email.as_str())
            .bind(row.password_hash.as_str())
            .bind(row.roles.as_str())
            .bind(row.updated_at)
            .bind(row.id.as_str())
            .execute()
            .await
            .map_err(taken)?;
        Ok(changed > 0)
    }

    /// Removes the user; `false` when there was none.
    pub(crate) async fn delete(&self, id: &str) -> Result<bool> {
        let removed = self
            .sql
            .query("DELETE FROM users WHERE id = ?")
            .bind(id)
            .execute()
            .await?;
        Ok(removed > 0)
    }

    /// Page `page` (from 1) of `size` users in creation order, and the total.
    pub(crate) async fn list(&self, page: u32, size: u32) -> Result<(Vec<UserRow>, u64)> {
        let offset = i64::from(page - 1) * i64::from(size);
        let rows = self
            .sql
            .query(&format!(
                "SELECT {COLUMNS} FROM users ORDER BY created_at, id LIMIT ? OFFSET ?"
            ))
            .bind(i64::from(size))
            .bind(offset)
            .fetch_all_as()
            .await?;
        let (total,): (i64,) = self
            .sql
            .query("SELECT COUNT(*) FROM users")
            .fetch_one()
            .await?;
        Ok((rows, u64::try_from(total).unwrap_or_default()))
    }

    /// Closes the pool.
    pub(crate) async fn close(&self) {
        self.sql.close().await;
    }
}

/// A unique violation says which column only in engine-specific words.
fn taken(error: core_sdk::error::Error) -> core_sdk::error::Error {
    if error.kind() == ErrorKind::Conflict {
        core_sdk::error::Error::conflict("the user name or e-mail is taken")
            .with_operation("users.write")
            .with_source(error)
    } else {
        error
    }
}

/// A refresh asks the table for the user's roles now: a demoted user's
/// next token carries the new roles, a deleted user's refresh is refused.
#[async_trait::async_trait]
impl SubjectDirectory for UserStore {
    async fn current_rights(&self, subject: &str) -> Result<Option<SubjectRights>> {
        Ok(self.find(subject).await?.map(|row| SubjectRights {
            roles: row.role_list(),
            scopes: Vec::new(),
        }))
    }
}
