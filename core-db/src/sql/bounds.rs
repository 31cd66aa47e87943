//! What a value must implement to be bound or fetched on every SQL engine
//! compiled in.
//!
//! A query is built before it is known which engine runs it, so a bound
//! value must encode for each enabled engine and a fetched type must decode
//! from each one's rows. Primitive types, `String`, `&str`, `Vec<u8>`,
//! `Option<T>` of those and `#[derive(sqlx::FromRow)]` structs satisfy these
//! on every engine; engine-specific types are reached through the native
//! pool instead.

/// A value that can be bound as a parameter on every enabled SQL engine.
pub trait Param<'q>: Send + 'q + PostgresParam<'q> + MySqlParam<'q> + SqliteParam<'q> {}

impl<'q, T> Param<'q> for T where T: Send + 'q + PostgresParam<'q> + MySqlParam<'q> + SqliteParam<'q>
{}

/// A type every enabled SQL engine's rows decode into.
pub trait FromSqlRow: Send + Unpin + PostgresRow + MySqlRow + SqliteRow {}

impl<T> FromSqlRow for T where T: Send + Unpin + PostgresRow + MySqlRow + SqliteRow {}

macro_rules! engine_bounds {
    ($feature:literal, $param:ident, $row:ident, $db:ty, $db_row:ty, $name:literal) => {
        #[doc = concat!("Encodes as a ", $name, " parameter (any type when the feature `", $feature, "` is off).")]
        #[cfg(feature = $feature)]
        pub trait $param<'q>: sqlx::Encode<'q, $db> + sqlx::Type<$db> {}
        #[cfg(feature = $feature)]
        impl<'q, T: sqlx::Encode<'q, $db> + sqlx::Type<$db>> $param<'q> for T {}

        #[doc = concat!("Encodes as a ", $name, " parameter (any type when the feature `", $feature, "` is off).")]
        #[cfg(not(feature = $feature))]
        pub trait $param<'q> {}
        #[cfg(not(feature = $feature))]
        impl<T> $param<'_> for T {}

        #[doc = concat!("Decodes from a ", $name, " row (any type when the feature `", $feature, "` is off).")]
        #[cfg(feature = $feature)]
        pub trait $row: for<'r> sqlx::FromRow<'r, $db_row> {}
        #[cfg(feature = $feature)]
        impl<T: for<'r> sqlx::FromRow<'r, $db_row>> $row for T {}

        #[doc = concat!("Decodes from a ", $name, " row (any type when the feature `", $feature, "` is off).")]
        #[cfg(not(feature = $feature))]
        pub trait $row {}
        #[cfg(not(feature = $feature))]
        impl<T> $row for T {}
    };
}

engine_bounds!(
    "postgres",
    PostgresParam,
    PostgresRow,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    "PostgreSQL"
);
engine_bounds!(
    "mysql",
    MySqlParam,
    MySqlRow,
    sqlx::MySql,
    sqlx::mysql::MySqlRow,
    "MySQL"
);
engine_bounds!(
    "sqlite",
    SqliteParam,
    SqliteRow,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    "SQLite"
);
