//! [`Query`]: a parameterised statement, bound and run in one chain.

use std::borrow::Cow;

use std::future::Future;
use std::time::Instant;

use core_error::{Error, Result};
use futures::stream::BoxStream;
use futures::{FutureExt as _, SinkExt as _, Stream, StreamExt as _};
use tracing::Instrument as _;

use super::error::{self, Site};
use super::serde_row::{RowToJson, Undecodable};
use super::{FromSqlRow, Param, Shared, SqlPool};
use crate::layers::{Call, Operation};

/// Where a statement runs: a pool, or the connection of a transaction.
pub(crate) enum Exec<'q, DB: sqlx::Database> {
    Pool(&'q sqlx::Pool<DB>),
    Conn(&'q mut DB::Connection),
}

/// The arguments bound so far and where they will run, per engine.
pub(crate) enum Bound<'q> {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::postgres::PgArguments, Exec<'q, sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::mysql::MySqlArguments, Exec<'q, sqlx::MySql>),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::sqlite::SqliteArguments<'q>, Exec<'q, sqlx::Sqlite>),
}

/// Evaluates `$body` with `$args` and `$exec` bound to the concrete sqlx
/// arguments and executor (a pool or a connection).
macro_rules! run {
    ($bound:expr, |$args:ident, $exec:ident| $body:expr) => {
        match $bound {
            #[cfg(feature = "postgres")]
            Bound::Postgres($args, Exec::Pool($exec)) => $body,
            #[cfg(feature = "postgres")]
            Bound::Postgres($args, Exec::Conn($exec)) => $body,
            #[cfg(feature = "mysql")]
            Bound::MySql($args, Exec::Pool($exec)) => $body,
            #[cfg(feature = "mysql")]
            Bound::MySql($args, Exec::Conn($exec)) => $body,
            #[cfg(feature = "sqlite")]
            Bound::Sqlite($args, Exec::Pool($exec)) => $body,
            #[cfg(feature = "sqlite")]
            Bound::Sqlite($args, Exec::Conn($exec)) => $body,
        }
    };
}

impl<'q> Bound<'q> {
    pub(crate) fn on_pool(pool: &'q SqlPool) -> Bound<'q> {
        match pool {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => Bound::Postgres(Default::default(), Exec::Pool(pool)),
            #[cfg(feature = "mysql")]
            SqlPool::MySql(pool) => Bound::MySql(Default::default(), Exec::Pool(pool)),
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(pool) => Bound::Sqlite(Default::default(), Exec::Pool(pool)),
        }
    }

    /// A copy for another attempt of a statement on a pool; `None` inside
    /// a transaction, whose connection cannot be shared.
    fn duplicate(&self) -> Option<Bound<'q>> {
        match self {
            #[cfg(feature = "postgres")]
            Bound::Postgres(args, Exec::Pool(pool)) => {
                Some(Bound::Postgres(args.clone(), Exec::Pool(pool)))
            }
            #[cfg(feature = "mysql")]
            Bound::MySql(args, Exec::Pool(pool)) => {
                Some(Bound::MySql(args.clone(), Exec::Pool(pool)))
            }
            #[cfg(feature = "sqlite")]
            Bound::Sqlite(args, Exec::Pool(pool)) => {
                Some(Bound::Sqlite(args.clone(), Exec::Pool(pool)))
            }
            #[allow(unreachable_patterns, reason = "a connection arm per enabled engine")]
            _ => None,
        }
    }

    /// Sends the statement to `pool` instead, keeping the arguments.
    fn repoint(&mut self, pool: &'q SqlPool) {
        #[allow(unreachable_patterns, reason = "one arm per enabled engine pair")]
        match (self, pool) {
            #[cfg(feature = "postgres")]
            (Bound::Postgres(_, exec @ Exec::Pool(_)), SqlPool::Postgres(pool)) => {
                *exec = Exec::Pool(pool);
            }
            #[cfg(feature = "mysql")]
            (Bound::MySql(_, exec @ Exec::Pool(_)), SqlPool::MySql(pool)) => {
                *exec = Exec::Pool(pool);
            }
            #[cfg(feature = "sqlite")]
            (Bound::Sqlite(_, exec @ Exec::Pool(_)), SqlPool::Sqlite(pool)) => {
                *exec = Exec::Pool(pool);
            }
            _ => {}
        }
    }

    fn add<T: Param<'q>>(&mut self, value: T) -> std::result::Result<(), sqlx::error::BoxDynError> {
        use sqlx::Arguments as _;
        match self {
            #[cfg(feature = "postgres")]
            Bound::Postgres(args, _) => args.add(value),
            #[cfg(feature = "mysql")]
            Bound::MySql(args, _) => args.add(value),
            #[cfg(feature = "sqlite")]
            Bound::Sqlite(args, _) => args.add(value),
        }
    }
}

/// A statement with `?` placeholders, its parameters, and where it runs.
///
/// Built by [`SqlDatabase::query`](super::SqlDatabase::query) or
/// [`Transaction::query`](super::Transaction::query); values are sent to
/// the server separately from the statement text, so no value can change
/// what the statement does.
///
/// ```
/// # use core_db::{DatabaseSettings, sql::SqlDatabase};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
/// # let db = SqlDatabase::connect(&DatabaseSettings::default()).await?;
/// db.query("CREATE TABLE notes (id INT PRIMARY KEY, body TEXT)").execute().await?;
/// let hostile = "x'); DROP TABLE notes; --";
/// db.query("INSERT INTO notes VALUES (?, ?)").bind(1).bind(hostile).execute().await?;
/// let (body,): (String,) = db.query("SELECT body FROM notes WHERE id = ?").bind(1).fetch_one().await?;
/// assert_eq!(body, hostile);
/// # Ok(()) }
/// ```
#[must_use = "a query does nothing until it is executed or fetched"]
pub struct Query<'q> {
    shared: &'q Shared,
    sql: Cow<'q, str>,
    bound: Bound<'q>,
    /// The pool the statement runs on; `None` inside a transaction.
    pool: Option<&'q SqlPool>,
    primary: Option<&'q SqlPool>,
    params: usize,
    /// Whether another attempt may follow a lost connection.
    idempotent: bool,
    bind_error: Option<(usize, sqlx::error::BoxDynError)>,
}

impl std::fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Parameters stay out: they may be secrets or personal data.
        f.debug_struct("Query")
            .field("backend", &self.shared.backend)
            .field("sql", &self.sql)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl<'q> Query<'q> {
    pub(crate) fn on_pool(
        shared: &'q Shared,
        sql: &'q str,
        pool: &'q SqlPool,
        primary: &'q SqlPool,
        read: bool,
    ) -> Query<'q> {
        let mut query = Query::new(shared, sql, Bound::on_pool(pool), Some(pool), Some(primary));
        query.idempotent = read;
        query
    }

    pub(crate) fn new(
        shared: &'q Shared,
        sql: &'q str,
        bound: Bound<'q>,
        pool: Option<&'q SqlPool>,
        primary: Option<&'q SqlPool>,
    ) -> Query<'q> {
        let sql = match shared.backend {
            #[cfg(feature = "postgres")]
            crate::Backend::Postgres => super::placeholders::number_for_postgres(sql),
            _ => Cow::Borrowed(sql),
        };
        Query {
            shared,
            sql,
            bound,
            pool,
            primary,
            params: 0,
            idempotent: false,
            bind_error: None,
        }
    }

    /// Binds the value of the next `?`.
    ///
    /// A value the engine cannot encode is reported when the query runs, as
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming its position.
    pub fn bind<T: Param<'q>>(mut self, value: T) -> Query<'q> {
        self.params += 1;
        if let Err(err) = self.bound.add(value)
            && self.bind_error.is_none()
        {
            self.bind_error = Some((self.params, err));
        }
        self
    }

    /// Runs on the primary even though the statement is a read, for reads
    /// that must see the caller's own latest writes.
    pub fn on_primary(mut self) -> Query<'q> {
        if let Some(primary) = self.primary {
            self.bound.repoint(primary);
            self.pool = Some(primary);
        }
        self
    }

    /// Whether running this statement twice has the same effect as once,
    /// so it is run again after a lost connection (up to
    /// `read_attempts` in all). Statements starting with `SELECT` are taken
    /// as idempotent: say `false` for one with side effects (`SELECT
    /// nextval(…)`, a function that writes); say `true` for a write that may
    /// be repeated (an upsert to fixed values, a delete by key). Statements
    /// in a [`Transaction`](super::Transaction) are never retried alone:
    /// the transaction helpers run the whole transaction again.
    ///
    /// ```
    /// # use core_db::{DatabaseSettings, sql::SqlDatabase};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
    /// # let db = SqlDatabase::connect(&DatabaseSettings::default()).await?;
    /// db.query("CREATE TABLE seen (id INT PRIMARY KEY)").execute().await?;
    /// db.query("DELETE FROM seen WHERE id = ?").bind(7).idempotent(true).execute().await?;
    /// # Ok(()) }
    /// ```
    pub fn idempotent(mut self, idempotent: bool) -> Query<'q> {
        self.idempotent = idempotent && self.pool.is_some();
        self
    }

    /// Runs the statement; returns how many rows it changed.
    ///
    /// # Errors
    ///
    /// The driver's error mapped into the shared kinds: a unique violation
    /// is [`Conflict`](core_error::ErrorKind::Conflict), an exhausted pool
    /// [`Timeout`](core_error::ErrorKind::Timeout), a lost server
    /// [`Unavailable`](core_error::ErrorKind::Unavailable).
    pub async fn execute(self) -> Result<u64> {
        let (run, bound) = self.start(Operation::Execute)?;
        let run = &run;
        run.around(bound, move |bound| async move {
            run!(bound, |args, exec| sqlx::query_with(&run.sql, args)
                .execute(exec)
                .await
                .map(|done| done.rows_affected()))
        })
        .await
    }

    /// The first row, decoded into `T`.
    ///
    /// # Errors
    ///
    /// [`NotFound`](core_error::ErrorKind::NotFound) when there is no row;
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) when the row
    /// does not decode into `T`; otherwise as for [`execute`](Self::execute).
    pub async fn fetch_one<T: FromSqlRow>(self) -> Result<T> {
        let (run, bound) = self.start(Operation::FetchOne)?;
        let run = &run;
        run.around(bound, move |bound| async move {
            run!(bound, |args, exec| sqlx::query_as_with::<_, T, _>(
                &run.sql, args
            )
            .fetch_one(exec)
            .await)
        })
        .await
    }

    /// The first row decoded into `T`, or `None` when there is none.
    ///
    /// # Errors
    ///
    /// As for [`fetch_one`](Self::fetch_one), without `NotFound`.
    pub async fn fetch_optional<T: FromSqlRow>(self) -> Result<Option<T>> {
        let (run, bound) = self.start(Operation::FetchOptional)?;
        let run = &run;
        run.around(bound, move |bound| async move {
            run!(bound, |args, exec| sqlx::query_as_with::<_, T, _>(
                &run.sql, args
            )
            .fetch_optional(exec)
            .await)
        })
        .await
    }

    /// Every row, decoded into `T`.
    ///
    /// # Errors
    ///
    /// As for [`fetch_one`](Self::fetch_one), without `NotFound`.
    pub async fn fetch_all<T: FromSqlRow>(self) -> Result<Vec<T>> {
        let (run, bound) = self.start(Operation::FetchAll)?;
        let run = &run;
        run.around(bound, move |bound| async move {
            run!(bound, |args, exec| sqlx::query_as_with::<_, T, _>(
                &run.sql, args
            )
            .fetch_all(exec)
            .await)
        })
        .await
    }

    /// The first row as a serde type, its columns as fields by name.
    ///
    /// For types that do not derive `sqlx::FromRow`; booleans, integers,
    /// floats, text, JSON and bytes columns decode, other column types are
    /// [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming the column.
    ///
    /// ```
    /// # use core_db::{DatabaseSettings, sql::SqlDatabase};
    /// #[derive(serde::Deserialize)]
    /// struct Total { customer: String, orders: i64 }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
    /// # let db = SqlDatabase::connect(&DatabaseSettings::default()).await?;
    /// let total: Total = db.query("SELECT ? AS customer, 3 AS orders").bind("ann").fetch_one_as().await?;
    /// assert_eq!((total.customer.as_str(), total.orders), ("ann", 3));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`fetch_one`](Self::fetch_one).
    pub async fn fetch_one_as<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        let (run, bound) = self.start(Operation::FetchOne)?;
        let run = &run;
        let row = run
            .around(bound, move |bound| async move {
                run!(bound, |args, exec| sqlx::query_with(&run.sql, args)
                    .fetch_one(exec)
                    .await
                    .map(|row| row.to_json()))
            })
            .await?;
        run.deserialize(row)
    }

    /// The first row as a serde type, or `None` when there is none.
    ///
    /// # Errors
    ///
    /// As for [`fetch_one_as`](Self::fetch_one_as), without `NotFound`.
    pub async fn fetch_optional_as<T: serde::de::DeserializeOwned>(self) -> Result<Option<T>> {
        let (run, bound) = self.start(Operation::FetchOptional)?;
        let run = &run;
        let row = run
            .around(bound, move |bound| async move {
                run!(bound, |args, exec| sqlx::query_with(&run.sql, args)
                    .fetch_optional(exec)
                    .await
                    .map(|row| row.map(|row| row.to_json())))
            })
            .await?;
        match row {
            Some(row) => run.deserialize(row).map(Some),
            None => Ok(None),
        }
    }

    /// Every row as a serde type.
    ///
    /// # Errors
    ///
    /// As for [`fetch_one_as`](Self::fetch_one_as), without `NotFound`.
    pub async fn fetch_all_as<T: serde::de::DeserializeOwned>(self) -> Result<Vec<T>> {
        let (run, bound) = self.start(Operation::FetchAll)?;
        let run = &run;
        let rows = run
            .around(bound, move |bound| async move {
                run!(bound, |args, exec| sqlx::query_with(&run.sql, args)
                    .fetch_all(exec)
                    .await
                    .map(|rows| rows
                        .iter()
                        .map(RowToJson::to_json)
                        .collect::<Vec<_>>()))
            })
            .await?;
        rows.into_iter().map(|row| run.deserialize(row)).collect()
    }

    /// The rows one at a time as the server sends them, for results too
    /// large to hold in memory.
    ///
    /// ```
    /// # use core_db::{DatabaseSettings, sql::SqlDatabase};
    /// use futures::TryStreamExt as _;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> core_db::Result<()> {
    /// # let db = SqlDatabase::connect(&DatabaseSettings::default()).await?;
    /// let mut rows = db.query("SELECT 1 UNION ALL SELECT 2").fetch::<(i64,)>();
    /// let mut total = 0;
    /// while let Some((n,)) = rows.try_next().await? {
    ///     total += n;
    /// }
    /// assert_eq!(total, 3);
    /// # Ok(()) }
    /// ```
    pub fn fetch<T: FromSqlRow + 'q>(self) -> BoxStream<'q, Result<T>> {
        let (run, bound) = match self.start(Operation::Fetch) {
            Ok(started) => started,
            Err(err) => return futures::stream::once(async { Err(err) }).boxed(),
        };
        // The driver's stream borrows the statement text, which this query
        // owns; the producer future keeps both together and hands rows over
        // through a small bounded channel, so nothing is buffered beyond it.
        let (mut sender, receiver) = futures::channel::mpsc::channel::<Result<T>>(16);
        // Streamed rows are timed, counted and traced as one statement;
        // they are neither retried (rows may have reached the caller) nor
        // given a deadline (the caller reads at its own pace).
        let span = run.shared.layers.stream_span(&run.call());
        let producer = async move {
            let started = Instant::now();
            run!(bound, |args, exec| {
                let rows = sqlx::query_as_with::<_, T, _>(&run.sql, args).fetch(exec);
                forward(rows, &mut sender, &run, started).await;
            });
        }
        .instrument(span);
        let drive = producer
            .into_stream()
            .filter_map(|()| futures::future::ready(None));
        futures::stream::select(receiver, drive).boxed()
    }

    fn start(self, operation: Operation) -> Result<(Run<'q>, Bound<'q>)> {
        let run = Run {
            shared: self.shared,
            sql: self.sql,
            pool: self.pool,
            params: self.params,
            idempotent: self.idempotent,
            operation,
        };
        if let Some((position, err)) = self.bind_error {
            return Err(Error::invalid_input(format!(
                "parameter {position} could not be encoded for {}",
                run.shared.backend
            ))
            .with_operation(operation.name())
            .with_backend(run.shared.backend.name())
            .with_key(crate::layers::statement_context(&run.sql))
            .with_source(err));
        }
        Ok((run, self.bound))
    }
}

/// Hands the rows over to the caller until they end, the caller goes away
/// or one fails, then records the statement in the layers as one call.
async fn forward<T, S>(
    rows: S,
    sender: &mut futures::channel::mpsc::Sender<Result<T>>,
    run: &Run<'_>,
    started: Instant,
) where
    S: Stream<Item = std::result::Result<T, sqlx::Error>>,
{
    let layers = &run.shared.layers;
    let mut rows = std::pin::pin!(rows);
    while let Some(row) = rows.next().await {
        match row {
            Ok(row) => {
                if sender.send(Ok(row)).await.is_err() {
                    // The caller dropped the stream.
                    break;
                }
            }
            Err(err) => {
                let err = run.map(err);
                layers.finish(&run.call(), started.elapsed(), Some(&err));
                let _ = sender.send(Err(err)).await;
                return;
            }
        }
    }
    layers.finish(&run.call(), started.elapsed(), None);
}

/// A query whose parameters are bound, being run.
struct Run<'q> {
    shared: &'q Shared,
    sql: Cow<'q, str>,
    pool: Option<&'q SqlPool>,
    params: usize,
    idempotent: bool,
    operation: Operation,
}

impl<'q> Run<'q> {
    fn call(&self) -> Call<'_> {
        Call {
            operation: self.operation,
            statement: &self.sql,
            params: self.params,
            idempotent: self.idempotent,
        }
    }

    /// Runs `attempt` with the bound arguments under the database's layers
    /// (crate::layers): each attempt after the first gets a copy of them.
    async fn around<T, F, Fut>(&self, bound: Bound<'q>, attempt: F) -> Result<T>
    where
        F: Fn(Bound<'q>) -> Fut,
        Fut: Future<Output = std::result::Result<T, sqlx::Error>>,
    {
        let call = self.call();
        let layers = &self.shared.layers;
        let copies = layers.retries(&call);
        let mut kept = Some(bound);
        layers
            .around(call, |last| {
                let bound = if copies && !last {
                    kept.as_ref().and_then(Bound::duplicate)
                } else {
                    None
                }
                .or_else(|| kept.take());
                let attempt = bound.map(&attempt);
                async move {
                    match attempt {
                        Some(attempt) => attempt.await.map_err(|err| self.map(err)),
                        None => Err(Error::internal(
                            "a statement was attempted after its last attempt",
                        )
                        .with_operation(self.operation.name())),
                    }
                }
            })
            .await
    }

    /// Reads a row turned into JSON as `T`.
    fn deserialize<T: serde::de::DeserializeOwned>(
        &self,
        row: std::result::Result<serde_json::Value, Undecodable>,
    ) -> Result<T> {
        let backend = self.shared.backend.name();
        let row = row.map_err(|undecodable| {
            Error::invalid_input(format!(
                "column {:?} of type {} has no serde form; cast it in SQL or use sqlx::FromRow",
                undecodable.column, undecodable.type_name
            ))
            .with_operation(self.operation.name())
            .with_backend(backend)
            .with_key(self.sql.as_ref())
        })?;
        serde_json::from_value(row).map_err(|err| {
            Error::invalid_input("the row does not match the type it was fetched into")
                .with_operation(self.operation.name())
                .with_backend(backend)
                .with_key(self.sql.as_ref())
                .with_source(err)
        })
    }

    #[cold]
    fn map(&self, err: sqlx::Error) -> Error {
        let site = Site {
            backend: self.shared.backend,
            operation: self.operation.name(),
            statement: Some(&self.sql),
            pool: self.pool,
        };
        error::map(err, &site).with_endpoint(&self.shared.endpoint)
    }
}
