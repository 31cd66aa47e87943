//! `DatabaseBase`: one API over PostgreSQL, MySQL/MariaDB, SQLite and MongoDB,
//! chosen at run time from configuration.

pub use core_error::{Error, ErrorKind, Result};
