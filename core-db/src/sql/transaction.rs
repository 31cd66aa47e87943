//! Transactions: explicit, nested through savepoints, and the retrying
//! closure helper.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use core_error::{Error, ErrorKind, Result};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use sqlx::Connection as _;

use super::error::{self, Site};
use super::query::{Bound, Exec};
use super::{Query, Shared, SqlPool};
use crate::Backend;

/// How strictly a transaction is isolated from concurrent ones.
///
/// SQLite always runs serializable transactions; asking it for any level
/// takes the write lock at `BEGIN` (`BEGIN IMMEDIATE`), which avoids the
/// lock-upgrade failures of deferred transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// May see other transactions' uncommitted changes (MySQL only;
    /// PostgreSQL treats it as read committed).
    ReadUncommitted,
    /// Each statement sees what was committed before it started.
    ReadCommitted,
    /// Every statement sees the snapshot taken at the first one.
    RepeatableRead,
    /// As if the transactions ran one after another; conflicts fail with a
    /// temporary [`Conflict`](ErrorKind::Conflict) that the closure helper retries.
    Serializable,
}

impl IsolationLevel {
    fn sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

/// How to run a transaction.
///
/// ```
/// use core_db::sql::{IsolationLevel, TxOptions};
///
/// let options = TxOptions::default().isolation(IsolationLevel::Serializable).attempts(5);
/// assert_eq!(options.isolation, Some(IsolationLevel::Serializable));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxOptions {
    /// The isolation level; `None` keeps the server's default.
    pub isolation: Option<IsolationLevel>,
    /// Attempts in all for the closure helpers; `None` takes
    /// `transaction_attempts` from the settings.
    pub attempts: Option<u32>,
}

impl TxOptions {
    /// Sets the isolation level.
    pub fn isolation(mut self, level: IsolationLevel) -> TxOptions {
        self.isolation = Some(level);
        self
    }

    /// Sets the attempts in all (at least 1).
    pub fn attempts(mut self, attempts: u32) -> TxOptions {
        self.attempts = Some(attempts.max(1));
        self
    }
}

/// The native sqlx transaction under a [`Transaction`].
#[derive(Debug)]
#[non_exhaustive]
pub enum NativeTransaction<'c> {
    /// A PostgreSQL transaction.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::Transaction<'c, sqlx::Postgres>),
    /// A MySQL or MariaDB transaction.
    #[cfg(feature = "mysql")]
    MySql(sqlx::Transaction<'c, sqlx::MySql>),
    /// An SQLite transaction.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::Transaction<'c, sqlx::Sqlite>),
}

macro_rules! with_tx {
    ($value:expr, $tx:ident => $body:expr) => {
        match $value {
            #[cfg(feature = "postgres")]
            NativeTransaction::Postgres($tx) => $body,
            #[cfg(feature = "mysql")]
            NativeTransaction::MySql($tx) => $body,
            #[cfg(feature = "sqlite")]
            NativeTransaction::Sqlite($tx) => $body,
        }
    };
}

/// A transaction (or, nested, a savepoint) on one connection.
///
/// Dropped without [`commit`](Self::commit) it rolls back, so an early `?`
/// return never leaves half a change behind.
#[derive(Debug)]
#[must_use = "a transaction rolls back unless committed"]
pub struct Transaction<'c> {
    shared: Arc<Shared>,
    native: NativeTransaction<'c>,
}

impl<'c> Transaction<'c> {
    /// A statement run inside this transaction; see [`Query`].
    pub fn query<'q>(&'q mut self, sql: &'q str) -> Query<'q> {
        let bound = match &mut self.native {
            #[cfg(feature = "postgres")]
            NativeTransaction::Postgres(tx) => {
                Bound::Postgres(Default::default(), Exec::Conn(&mut **tx))
            }
            #[cfg(feature = "mysql")]
            NativeTransaction::MySql(tx) => Bound::MySql(Default::default(), Exec::Conn(&mut **tx)),
            #[cfg(feature = "sqlite")]
            NativeTransaction::Sqlite(tx) => {
                Bound::Sqlite(Default::default(), Exec::Conn(&mut **tx))
            }
        };
        Query::new(&self.shared, sql, bound, None, None)
    }

    /// Makes the changes permanent (or, for a savepoint, part of the
    /// enclosing transaction).
    ///
    /// # Errors
    ///
    /// A serializable transaction may fail here with a temporary
    /// [`Conflict`](ErrorKind::Conflict); the connection's errors otherwise.
    pub async fn commit(self) -> Result<()> {
        let shared = self.shared;
        let outcome = with_tx!(self.native, tx => tx.commit().await);
        outcome.map_err(|err| map(&shared, err, "db.commit"))
    }

    /// Undoes the changes (of the savepoint only, when nested).
    ///
    /// # Errors
    ///
    /// The connection's errors; the server rolls back a transaction whose
    /// connection is lost anyway.
    pub async fn rollback(self) -> Result<()> {
        let shared = self.shared;
        let outcome = with_tx!(self.native, tx => tx.rollback().await);
        outcome.map_err(|err| map(&shared, err, "db.rollback"))
    }

    /// A nested transaction through a savepoint: committing it keeps its
    /// changes in this transaction, rolling it back (or dropping it) undoes
    /// only them.
    ///
    /// # Errors
    ///
    /// The connection's errors.
    pub async fn savepoint(&mut self) -> Result<Transaction<'_>> {
        let native = match &mut self.native {
            #[cfg(feature = "postgres")]
            NativeTransaction::Postgres(tx) => tx.begin().await.map(NativeTransaction::Postgres),
            #[cfg(feature = "mysql")]
            NativeTransaction::MySql(tx) => tx.begin().await.map(NativeTransaction::MySql),
            #[cfg(feature = "sqlite")]
            NativeTransaction::Sqlite(tx) => tx.begin().await.map(NativeTransaction::Sqlite),
        };
        match native {
            Ok(native) => Ok(Transaction {
                shared: Arc::clone(&self.shared),
                native,
            }),
            Err(err) => Err(map(&self.shared, err, "db.savepoint")),
        }
    }

    /// The engine this transaction runs on.
    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    /// The native sqlx transaction, for what the portable API lacks.
    pub fn native(&mut self) -> &mut NativeTransaction<'c> {
        &mut self.native
    }
}

fn map(shared: &Shared, err: sqlx::Error, operation: &'static str) -> Error {
    let site = Site {
        backend: shared.backend,
        operation,
        statement: None,
        pool: None,
    };
    error::map(err, &site).with_endpoint(&shared.endpoint)
}

/// Starts a transaction on `pool` at the isolation level asked for.
pub(crate) async fn begin(
    pool: &SqlPool,
    shared: &Arc<Shared>,
    options: &TxOptions,
) -> Result<Transaction<'static>> {
    let level = options.isolation.map(IsolationLevel::sql);
    let native = match pool {
        #[cfg(feature = "postgres")]
        SqlPool::Postgres(pool) => match level {
            None => pool.begin().await,
            Some(level) => {
                pool.begin_with(format!("BEGIN ISOLATION LEVEL {level}"))
                    .await
            }
        }
        .map(NativeTransaction::Postgres),
        #[cfg(feature = "mysql")]
        SqlPool::MySql(pool) => match level {
            None => pool.begin().await,
            // MySQL sets the level for the next transaction, before it starts.
            Some(level) => {
                pool.begin_with(format!(
                    "SET TRANSACTION ISOLATION LEVEL {level}; START TRANSACTION"
                ))
                .await
            }
        }
        .map(NativeTransaction::MySql),
        #[cfg(feature = "sqlite")]
        SqlPool::Sqlite(pool) => match level {
            None => pool.begin().await,
            Some(_) => pool.begin_with("BEGIN IMMEDIATE").await,
        }
        .map(NativeTransaction::Sqlite),
    };
    match native {
        Ok(native) => Ok(Transaction {
            shared: Arc::clone(shared),
            native,
        }),
        Err(err) => {
            let site = Site {
                backend: shared.backend,
                operation: "db.begin",
                statement: None,
                pool: Some(pool),
            };
            Err(error::map(err, &site).with_endpoint(&shared.endpoint))
        }
    }
}

/// Whether running the whole transaction again may succeed: another
/// transaction won a race (serialization failure, deadlock, busy lock).
fn lost_a_race(err: &Error) -> bool {
    err.kind() == ErrorKind::Conflict && err.is_temporary()
}

/// The closure helper behind `SqlDatabase::transaction_with`.
pub(crate) async fn run<T, F>(
    pool: &SqlPool,
    shared: &Arc<Shared>,
    options: &TxOptions,
    mut work: F,
) -> Result<T>
where
    T: Send,
    F: for<'t> FnMut(&'t mut Transaction<'static>) -> BoxFuture<'t, Result<T>> + Send,
{
    let attempts = options
        .attempts
        .unwrap_or(shared.transaction_attempts)
        .max(1);
    let mut attempt = 1;
    loop {
        let mut tx = begin(pool, shared, options).await?;
        let outcome = AssertUnwindSafe(work(&mut tx)).catch_unwind().await;
        let err = match outcome {
            Ok(Ok(value)) => match tx.commit().await {
                Ok(()) => return Ok(value),
                Err(err) => err,
            },
            Ok(Err(err)) => {
                // The error that ended the work matters, not a failed rollback
                // (the server discards the transaction with its connection).
                let _ = tx.rollback().await;
                err
            }
            Err(panic) => {
                let _ = tx.rollback().await;
                std::panic::resume_unwind(panic);
            }
        };
        if attempt >= attempts || !lost_a_race(&err) {
            return Err(if attempt > 1 {
                err.with_context("attempts", attempt)
            } else {
                err
            });
        }
        tokio::time::sleep(backoff(attempt)).await;
        attempt += 1;
    }
}

/// A randomised, growing pause, so racing transactions do not collide again.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 10_u64 << attempt.min(6);
    Duration::from_millis(fastrand::u64(ceiling / 2..=ceiling))
}
