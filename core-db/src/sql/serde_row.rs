//! Rows as serde values: each column becomes a field of a JSON object,
//! which any `Deserialize` type can be read from.
//!
//! Columns are decoded by their type: booleans, integers, floats, text,
//! JSON and bytes (as an array of numbers). A column of another type
//! (dates, decimals, engine-specific types) is reported as
//! [`InvalidInput`](core_error::ErrorKind::InvalidInput) naming it; cast it
//! to text in SQL, or fetch through `sqlx::FromRow` instead.

use serde_json::{Map, Value};
use sqlx::{Column as _, Row as _, TypeInfo as _, ValueRef as _};

/// Why a column could not become a serde value: its name and type.
pub(crate) struct Undecodable {
    pub(crate) column: String,
    pub(crate) type_name: String,
}

/// Turns one native row into a JSON object keyed by column name.
pub(crate) trait RowToJson {
    fn to_json(&self) -> Result<Value, Undecodable>;
}

/// Tries each listed type in turn; `sqlx` checks the column's type before
/// decoding, so a mismatch is a cheap `Err`.
macro_rules! row_to_json {
    ($row:ty, $db:ty, [$($int:ty),+], [$($float:ty),+]) => {
        impl RowToJson for $row {
            fn to_json(&self) -> Result<Value, Undecodable> {
                let mut object = Map::with_capacity(self.len());
                for (index, column) in self.columns().iter().enumerate() {
                    let undecodable = || Undecodable {
                        column: column.name().to_string(),
                        type_name: column.type_info().name().to_string(),
                    };
                    let raw = self.try_get_raw(index).map_err(|_| undecodable())?;
                    if raw.is_null() {
                        object.insert(column.name().to_string(), Value::Null);
                        continue;
                    }
                    // The declared type first: SQLite stores a BOOLEAN as an
                    // INTEGER value, and only the column says it is a boolean.
                    let declared = column.type_info();
                    let type_name = if declared.is_null() {
                        raw.type_info().name().to_ascii_uppercase()
                    } else {
                        declared.name().to_ascii_uppercase()
                    };
                    let value = if matches!(type_name.as_str(), "BOOL" | "BOOLEAN") {
                        self.try_get::<bool, _>(index).ok().map(Value::from)
                    } else if matches!(type_name.as_str(), "JSON" | "JSONB") {
                        self.try_get::<sqlx::types::Json<Value>, _>(index)
                            .ok()
                            .map(|json| json.0)
                    } else {
                        None
                    };
                    let value = value
                        $(.or_else(|| self.try_get::<$int, _>(index).ok().map(Value::from)))+
                        $(.or_else(|| self.try_get::<$float, _>(index).ok().map(Value::from)))+
                        .or_else(|| self.try_get::<String, _>(index).ok().map(Value::from))
                        .or_else(|| self.try_get::<Vec<u8>, _>(index).ok().map(Value::from))
                        .ok_or_else(undecodable)?;
                    object.insert(column.name().to_string(), value);
                }
                Ok(Value::Object(object))
            }
        }
    };
}

#[cfg(feature = "postgres")]
row_to_json!(
    sqlx::postgres::PgRow,
    sqlx::Postgres,
    [i64, i32, i16],
    [f64, f32]
);
#[cfg(feature = "mysql")]
row_to_json!(sqlx::mysql::MySqlRow, sqlx::MySql, [i64, u64], [f64, f32]);
#[cfg(feature = "sqlite")]
row_to_json!(sqlx::sqlite::SqliteRow, sqlx::Sqlite, [i64], [f64]);
