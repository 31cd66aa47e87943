//! The outbox table, per engine: created by [`Outbox::install`](super::Outbox::install).

use core_error::{Error, Result};

use crate::Backend;

/// Longest table name accepted: PostgreSQL truncates identifiers at 63 bytes,
/// and the index name adds `_pending`.
const MAX_TABLE_NAME: usize = 55;

/// Checks that `table` can be spliced into SQL as it is: a letter or `_`
/// first, then letters, digits and `_`, optionally behind one schema name
/// (`events.outbox`).
pub(crate) fn validate_table(table: &str) -> Result<()> {
    let identifier = |part: &str| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let parts: Vec<&str> = table.split('.').collect();
    if table.len() <= MAX_TABLE_NAME
        && parts.len() <= 2
        && parts.iter().all(|part| identifier(part))
    {
        return Ok(());
    }
    Err(Error::invalid_input(format!(
        "the outbox table name must be letters, digits and '_' (at most {MAX_TABLE_NAME}, \
         optionally behind a schema name and '.'), starting with a letter or '_'"
    ))
    .with_key("outbox.table")
    .with_context("value", table))
}

/// The statements creating the table and its index if they are missing.
pub(crate) fn create(backend: Backend, table: &str) -> Vec<String> {
    // The index serves both the relay's search for pending rows and the
    // per-key "nothing older pending" check.
    let index = index_name(table);
    match backend {
        Backend::Postgres => vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {table} (\
                   seq BIGSERIAL PRIMARY KEY, \
                   id VARCHAR(36) NOT NULL, \
                   topic VARCHAR(255) NOT NULL, \
                   message_key VARCHAR(255), \
                   headers TEXT NOT NULL, \
                   content_type VARCHAR(255), \
                   correlation_id VARCHAR(255), \
                   causation_id VARCHAR(255), \
                   body BYTEA NOT NULL, \
                   created_at_ms BIGINT NOT NULL, \
                   published_at_ms BIGINT, \
                   lease_until_ms BIGINT)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {index} ON {table} (published_at_ms, message_key, seq)"
            ),
        ],
        // MySQL has no CREATE INDEX IF NOT EXISTS: the index goes with the table.
        Backend::MySql => vec![format!(
            "CREATE TABLE IF NOT EXISTS {table} (\
               seq BIGINT AUTO_INCREMENT PRIMARY KEY, \
               id VARCHAR(36) NOT NULL, \
               topic VARCHAR(255) NOT NULL, \
               message_key VARCHAR(255), \
               headers TEXT NOT NULL, \
               content_type VARCHAR(255), \
               correlation_id VARCHAR(255), \
               causation_id VARCHAR(255), \
               body LONGBLOB NOT NULL, \
               created_at_ms BIGINT NOT NULL, \
               published_at_ms BIGINT, \
               lease_until_ms BIGINT, \
               INDEX {index} (published_at_ms, message_key, seq))"
        )],
        // AUTOINCREMENT: a sequence number is never handed out twice, even
        // after the newest rows were deleted.
        Backend::Sqlite | Backend::MongoDb => vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {table} (\
                   seq INTEGER PRIMARY KEY AUTOINCREMENT, \
                   id TEXT NOT NULL, \
                   topic TEXT NOT NULL, \
                   message_key TEXT, \
                   headers TEXT NOT NULL, \
                   content_type TEXT, \
                   correlation_id TEXT, \
                   causation_id TEXT, \
                   body BLOB NOT NULL, \
                   created_at_ms INTEGER NOT NULL, \
                   published_at_ms INTEGER, \
                   lease_until_ms INTEGER)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS {schema}{index} ON {name} (published_at_ms, message_key, seq)",
                // SQLite puts the schema on the index's name, never on its table's.
                schema = table
                    .rsplit_once('.')
                    .map_or(String::new(), |(schema, _)| format!("{schema}.")),
                name = table.rsplit('.').next().unwrap_or(table),
            ),
        ],
    }
}

/// `outbox_pending` for `outbox` and for `events.outbox`: an index lives in
/// its table's schema.
fn index_name(table: &str) -> String {
    let name = table.rsplit('.').next().unwrap_or(table);
    format!("{name}_pending")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_that_could_change_the_statement_are_refused() {
        for good in ["outbox", "core_outbox", "_o2", "events.outbox"] {
            assert!(validate_table(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1outbox",
            "out box",
            "outbox;drop",
            "a.b.c",
            "o\"x",
            &"x".repeat(56),
        ] {
            let err = validate_table(bad).expect_err(bad);
            assert_eq!(err.context_value("key"), Some("outbox.table"), "{bad}");
        }
    }

    #[test]
    fn the_index_is_named_after_the_table_without_its_schema() {
        assert_eq!(index_name("events.outbox"), "outbox_pending");
        assert_eq!(index_name("outbox"), "outbox_pending");
    }
}
