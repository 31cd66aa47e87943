//! The SQL `DatabaseBase` behaviour suite, run against every SQL engine on
//! its real server (SQLite on a temporary file).
//!
//! Each case in [`cases`] is written once against [`SqlDatabase`];
//! `sql_suite!` instantiates all of them for one engine. `cargo test -p
//! core-db --all-features --test conformance postgres::` runs the
//! PostgreSQL ones.

mod cases;

use std::sync::Mutex;

use core_db::sql::SqlDatabase;
use core_db::{Backend, DatabaseBase as _, DatabaseSettings};
use core_testkit::{Service, require_service, unique_name};

/// What a case gets: a database, the settings that made it, and a table of
/// its own (`people`), dropped with every other table it registers when
/// the case ends, even by panic.
pub(crate) struct Target {
    pub(crate) db: SqlDatabase,
    pub(crate) settings: DatabaseSettings,
    pub(crate) people: String,
    tables: Mutex<Vec<String>>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    async fn new(settings: DatabaseSettings, dir: Option<tempfile::TempDir>) -> Option<Target> {
        let db = SqlDatabase::connect(&settings)
            .await
            .expect("connect the database under test");
        Target::on(db, settings, dir).await
    }

    /// A target on a database already connected (`settings` make the
    /// other handles some cases need).
    async fn on(
        db: SqlDatabase,
        settings: DatabaseSettings,
        dir: Option<tempfile::TempDir>,
    ) -> Option<Target> {
        let target = Target {
            db,
            settings,
            people: unique_name("people"),
            tables: Mutex::new(Vec::new()),
            _dir: dir,
        };
        let backend = target.backend();
        let ddl = format!(
            "CREATE TABLE {} (
                id BIGINT PRIMARY KEY,
                email VARCHAR(191) NOT NULL UNIQUE,
                name {text} NOT NULL,
                nickname {text} NULL,
                score DOUBLE PRECISION NOT NULL,
                active BOOLEAN NOT NULL,
                avatar {blob} NULL
            ){suffix}",
            target.people,
            text = text_type(backend),
            blob = blob_type(backend),
            suffix = table_suffix(backend),
        );
        target.create_table(&target.people, &ddl).await;
        Some(target)
    }

    pub(crate) fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// Runs `ddl` (a `CREATE TABLE name …`) and drops `name` when the case ends.
    pub(crate) async fn create_table(&self, name: &str, ddl: &str) {
        self.tables.lock().unwrap().push(name.to_string());
        self.db.query(ddl).execute().await.expect("create table");
    }

    /// Another handle on the same database with other settings.
    pub(crate) async fn connect_with(
        &self,
        change: impl FnOnce(&mut DatabaseSettings),
    ) -> SqlDatabase {
        let mut settings = self.settings.clone();
        change(&mut settings);
        SqlDatabase::connect(&settings)
            .await
            .expect("connect another handle")
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let tables = std::mem::take(&mut *self.tables.lock().unwrap_or_else(|p| p.into_inner()));
        let db = self.db.clone();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                // Newest first: a table that references another goes before it.
                for table in tables.into_iter().rev() {
                    let _ = db
                        .query(&format!("DROP TABLE IF EXISTS {table}"))
                        .execute()
                        .await;
                }
                db.close().await;
            })
        });
    }
}

pub(crate) fn text_type(backend: Backend) -> &'static str {
    match backend {
        Backend::MySql => "LONGTEXT",
        _ => "TEXT",
    }
}

pub(crate) fn blob_type(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "BYTEA",
        Backend::MySql => "LONGBLOB",
        _ => "BLOB",
    }
}

pub(crate) fn json_type(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "JSONB",
        Backend::MySql => "JSON",
        _ => "TEXT",
    }
}

/// MariaDB's default character set cannot hold every Unicode character.
pub(crate) fn table_suffix(backend: Backend) -> &'static str {
    match backend {
        Backend::MySql => " DEFAULT CHARSET=utf8mb4",
        _ => "",
    }
}

macro_rules! sql_suite {
    ($backend:ident, $setup:path) => {
        core_testkit::conformance_suite! {
            suite: crate::cases,
            backend: $backend,
            setup: $setup,
            cases: [
                health_version_and_pool_stats_answer,
                rows_are_created_read_updated_and_deleted,
                rows_decode_into_typed_structs,
                serde_values_round_trip_through_json_columns,
                rows_decode_into_serde_types_by_column_name,
                nulls_round_trip,
                unicode_and_large_values_survive,
                a_missing_row_is_not_found,
                a_duplicate_key_is_a_conflict,
                a_row_of_the_wrong_type_is_invalid_input,
                constraint_violations_say_which_kind,
                injection_strings_are_stored_verbatim,
                streaming_yields_every_row_in_order,
                a_committed_transaction_is_visible,
                an_error_in_the_closure_rolls_back,
                a_panic_in_the_closure_rolls_back,
                a_dropped_transaction_rolls_back,
                savepoints_undo_only_their_own_changes,
                serialization_failures_are_retried_until_every_increment_lands,
                an_exhausted_pool_times_out_instead_of_hanging,
            ],
        }
    };
}

async fn postgres() -> Option<Target> {
    let url = require_service!(Service::Postgres, None);
    Target::new(DatabaseSettings::from_url(url), None).await
}

async fn mysql() -> Option<Target> {
    let url = require_service!(Service::MySql, None);
    Target::new(DatabaseSettings::from_url(url), None).await
}

/// MariaDB over TLS, verified against the project CA (VERIFY_IDENTITY).
async fn mysql_tls() -> Option<Target> {
    let url = require_service!(Service::MySqlTls, None);
    let ca = Service::tls_dir().join("ca.pem");
    let url = format!("{url}?ssl-mode=VERIFY_IDENTITY&ssl-ca={}", ca.display());
    Target::new(DatabaseSettings::from_url(url), None).await
}

/// PostgreSQL accepting TLS only, verified against the project CA (verify-full).
async fn postgres_tls() -> Option<Target> {
    let url = require_service!(Service::PostgresTls, None);
    let ca = Service::tls_dir().join("ca.pem");
    let url = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
    Target::new(DatabaseSettings::from_url(url), None).await
}

async fn sqlite() -> Option<Target> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    Target::new(DatabaseSettings::from_url(url), Some(dir)).await
}

/// SQLite through a pool the service built itself with sqlx (WAL journal,
/// its own busy timeout), handed to `SqlDatabase::from_pools`: the public
/// way to use pool options the settings do not cover.
async fn sqlite_own_pool() -> Option<Target> {
    use std::str::FromStr as _;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .expect("a SQLite URL")
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .busy_timeout(std::time::Duration::from_secs(2));
    let settings = DatabaseSettings::from_url(url);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout())
        .connect_with(options)
        .await
        .expect("the service's own pool");
    let db = SqlDatabase::from_pools(core_db::sql::SqlPool::Sqlite(pool), Vec::new(), &settings);
    Target::on(db, settings, Some(dir)).await
}

sql_suite!(postgres, crate::postgres);
sql_suite!(sqlite_own_pool, crate::sqlite_own_pool);
sql_suite!(mysql, crate::mysql);
sql_suite!(sqlite, crate::sqlite);
sql_suite!(mysql_tls, crate::mysql_tls);
sql_suite!(postgres_tls, crate::postgres_tls);
