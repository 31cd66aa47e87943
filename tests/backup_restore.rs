//! `scripts/backup-db.sh` and `scripts/restore-db.sh` against the real
//! PostgreSQL server: a database is backed up, dropped and restored, and
//! must come back row for row; old backups are pruned; a corrupted backup,
//! or one without its checksum, is refused before the server is touched;
//! an existing database is replaced only with `--force`.
//!
//! The scripts are run as a user runs them (`bash scripts/...`), and the
//! data is written and compared through core-db, a client independent of
//! the `pg_dump`/`pg_restore` pair under test.

#![cfg(all(feature = "db", feature = "postgres"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use core_sdk::db::sql::SqlDatabase;
use core_sdk::db::{DatabaseBase as _, DatabaseSettings};
use core_testkit::{Service, require_service, unique_name};

/// The tables the fixture fills, each with an `id` primary key.
const TABLES: [&str; 2] = ["customers", "orders"];

/// A database of its own on the test server, and a backup folder; both are
/// removed when the test ends, however it ends.
struct Fixture {
    /// The server's own URL (its `test` database), for CREATE/DROP DATABASE.
    server_url: String,
    name: String,
    backups: PathBuf,
}

impl Fixture {
    async fn seeded(server_url: String, prefix: &str) -> Fixture {
        let name = unique_name(prefix);
        let backups = std::env::temp_dir().join(&name);
        let fixture = Fixture {
            server_url,
            name,
            backups,
        };
        let server = connect(&fixture.server_url).await;
        server
            .query(&format!("CREATE DATABASE {}", fixture.name))
            .execute()
            .await
            .expect("create the test database");
        server.close().await;
        let db = fixture.connect().await;
        seed(&db).await;
        db.close().await;
        fixture
    }

    /// The URL of this fixture's database.
    fn url(&self) -> String {
        url_of_database(&self.server_url, &self.name)
    }

    async fn connect(&self) -> SqlDatabase {
        connect(&self.url()).await
    }

    async fn exists(&self, database: &str) -> bool {
        let server = connect(&self.server_url).await;
        let found: Option<(i32,)> = server
            .query("SELECT 1 FROM pg_database WHERE datname = ?")
            .bind(database)
            .fetch_optional()
            .await
            .expect("look the database up");
        server.close().await;
        found.is_some()
    }

    async fn drop_database(&self) {
        let server = connect(&self.server_url).await;
        server
            .query(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute()
            .await
            .expect("drop the test database");
        server.close().await;
    }

    /// Runs backup-db.sh on this database with `extra` options; returns the
    /// path of the dump it wrote.
    fn backup(&self, extra: &[&str]) -> PathBuf {
        let url = self.url();
        let dir = self.backups.to_string_lossy().into_owned();
        let mut args = vec!["--url", url.as_str(), "--dir", dir.as_str()];
        args.extend_from_slice(extra);
        let output = script("backup-db.sh", &args);
        assert_success("backup-db.sh", &output);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let path = PathBuf::from(stdout.lines().last().expect("the dump's path").trim());
        assert!(path.is_file(), "backup-db.sh printed {path:?}, not a file");
        path
    }

    /// Runs restore-db.sh of `backup` into `target` with `extra` options.
    fn restore(&self, backup: &Path, target: &str, extra: &[&str]) -> Output {
        let backup = backup.to_string_lossy().into_owned();
        let mut args = vec!["--url", self.server_url.as_str(), "--target-db", target];
        args.extend_from_slice(extra);
        args.push(backup.as_str());
        script("restore-db.sh", &args)
    }

    /// Every dump file in the backup folder, by name.
    fn dumps(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.backups)
            .expect("read the backup folder")
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".dump") || name.ends_with(".dump.sha256"))
            .collect();
        names.sort();
        names
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Synchronous on purpose: Drop cannot await, and a failed test must
        // not leave its database behind.
        let _ = Command::new("psql")
            .args(["-X", "-q", "--dbname", &self.server_url, "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
        let _ = std::fs::remove_dir_all(&self.backups);
    }
}

async fn connect(url: &str) -> SqlDatabase {
    let mut settings = DatabaseSettings::from_url(url);
    settings.max_connections = 2;
    SqlDatabase::connect(&settings)
        .await
        .expect("connect to PostgreSQL")
}

/// `server_url` with its database replaced by `database`.
fn url_of_database(server_url: &str, database: &str) -> String {
    let (scheme, rest) = server_url.split_once("://").expect("a URL with a scheme");
    let (authority, path_and_query) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let query = path_and_query
        .find('?')
        .map_or("", |at| &path_and_query[at..]);
    format!("{scheme}://{authority}/{database}{query}")
}

/// Tables with unicode text, NULLs in every nullable column, numerics,
/// arrays, JSON, timestamps and a sequence.
async fn seed(db: &SqlDatabase) {
    for statement in [
        "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text, \
         note text, born date)",
        "INSERT INTO customers (name, email, note, born) \
         SELECT 'customer ' || i, \
                CASE WHEN i % 3 = 0 THEN NULL ELSE 'c' || i || '@example.com' END, \
                CASE WHEN i % 5 = 0 THEN NULL ELSE 'Grüße, 東京, ☕ n°' || i END, \
                CASE WHEN i % 7 = 0 THEN NULL ELSE date '2000-01-01' + i END \
         FROM generate_series(1, 500) AS i",
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL \
         REFERENCES customers (id), total numeric(12, 2), tags text[], data jsonb, \
         placed timestamptz)",
        "INSERT INTO orders \
         SELECT i, 1 + i % 500, \
                CASE WHEN i % 11 = 0 THEN NULL ELSE i * 1.25 END, \
                CASE WHEN i % 13 = 0 THEN NULL ELSE ARRAY['ü', 'a,b', 'x\"y'] END, \
                CASE WHEN i % 17 = 0 THEN NULL \
                     ELSE jsonb_build_object('n', i, 'emoji', '🚀', 'nested', jsonb_build_array(i, NULL)) END, \
                timestamptz '2026-01-01 00:00:00+00' + i * interval '1 minute' \
         FROM generate_series(1, 2000) AS i",
    ] {
        db.query(statement).execute().await.expect(statement);
    }
    // Text the driver binds rather than SQL spells: emoji with a zero-width
    // joiner, combining marks, right-to-left script, control characters.
    for (name, email, note) in [
        (
            "Zoë Ñúñez 👩‍💻",
            None,
            Some("tab\there\nnewline, quote ' and \\ backslash"),
        ),
        ("e\u{301}te\u{301} (combining)", Some("zoe@例え.jp"), None),
        ("مرحبا שלום", None, Some("")),
    ] {
        db.query("INSERT INTO customers (name, email, note) VALUES (?, ?, ?)")
            .bind(name)
            .bind(email)
            .bind(note)
            .execute()
            .await
            .expect("insert a unicode row");
    }
}

/// Per table: the row count and an MD5 of every row's text, in id order.
async fn fingerprint(db: &SqlDatabase) -> Vec<(String, i64, String)> {
    let mut tables = Vec::new();
    for table in TABLES {
        let sql = format!(
            "SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM {table} AS t"
        );
        let (rows, digest): (i64, String) = db.query(&sql).fetch_one().await.expect(&sql);
        tables.push((table.to_string(), rows, digest));
    }
    tables
}

fn script(name: &str, args: &[&str]) -> Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name);
    Command::new("bash")
        .arg(&path)
        .args(args)
        // The flags above say everything; the caller's defaults must not leak in.
        .env_remove("DATABASE_URL")
        .env_remove("BACKUP_DIR")
        .env_remove("BACKUP_LABEL")
        .env_remove("BACKUP_KEEP")
        .env_remove("BACKUP_MAX_AGE_DAYS")
        .output()
        .unwrap_or_else(|err| panic!("run {}: {err}", path.display()))
}

fn assert_success(name: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{name} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_refused(name: &str, output: &Output, reason: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "{name} should have failed, but succeeded:\n{stderr}"
    );
    assert!(
        stderr.contains(reason),
        "{name} failed without saying {reason:?}:\n{stderr}"
    );
}

#[tokio::test]
async fn a_dropped_database_comes_back_identical_from_its_backup() {
    let server_url = require_service!(Service::Postgres);
    let fixture = Fixture::seeded(server_url, "backup").await;
    let db = fixture.connect().await;
    let before = fingerprint(&db).await;
    db.close().await;
    assert_eq!(before[0].1, 503, "the fixture's customers");
    assert_eq!(before[1].1, 2000, "the fixture's orders");

    let backup = fixture.backup(&["--keep", "3"]);
    let checksum = std::fs::read_to_string(backup.with_extension("dump.sha256")).unwrap();
    assert!(
        checksum.ends_with(&format!(
            "  {}\n",
            backup.file_name().unwrap().to_string_lossy()
        )),
        "sha256sum format naming the dump: {checksum:?}"
    );
    fixture.drop_database().await;
    assert!(!fixture.exists(&fixture.name).await);

    let restored = fixture.restore(&backup, &fixture.name, &[]);
    assert_success("restore-db.sh", &restored);
    let db = fixture.connect().await;
    assert_eq!(fingerprint(&db).await, before);
    // Sequences come back too: the next serial id follows the restored rows.
    let (next,): (i32,) = db
        .query("INSERT INTO customers (name) VALUES (?) RETURNING id")
        .bind("after restore")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(next, 504);
    db.close().await;
}

#[tokio::test]
async fn backups_beyond_the_newest_n_or_older_than_d_days_are_pruned() {
    let server_url = require_service!(Service::Postgres);
    let fixture = Fixture::seeded(server_url, "retention").await;

    let made: Vec<PathBuf> = (0..4).map(|_| fixture.backup(&["--keep", "2"])).collect();
    let newest_two: Vec<String> = made[2..]
        .iter()
        .flat_map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            [name.clone(), format!("{name}.sha256")]
        })
        .collect();
    assert_eq!(fixture.dumps(), newest_two, "only the 2 newest are kept");

    // Age the older survivor past the limit; the count limit is off.
    let aged = made[2].to_string_lossy().into_owned();
    let touched = Command::new("touch")
        .args(["-d", "10 days ago", &aged])
        .status()
        .unwrap();
    assert!(touched.success());
    let newest = fixture.backup(&["--keep", "0", "--max-age-days", "7"]);
    let mut expected: Vec<String> = [&made[3], &newest]
        .iter()
        .flat_map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            [name.clone(), format!("{name}.sha256")]
        })
        .collect();
    expected.sort();
    assert_eq!(fixture.dumps(), expected, "the 10-day-old backup is gone");
}

#[tokio::test]
async fn a_corrupted_or_unchecked_backup_is_refused_and_nothing_is_created() {
    let server_url = require_service!(Service::Postgres);
    let fixture = Fixture::seeded(server_url, "corrupt").await;
    let backup = fixture.backup(&[]);
    let sums = backup.with_extension("dump.sha256");
    let target = format!("{}_copy", fixture.name);

    // One byte changed in the middle of the dump.
    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&backup, &bytes).unwrap();
    let output = fixture.restore(&backup, &target, &[]);
    assert_refused("restore of a corrupted dump", &output, "checksum mismatch");
    assert!(!fixture.exists(&target).await, "nothing was created");

    // A file whose checksum matches but which is no dump at all.
    std::fs::write(&backup, b"not a pg_dump archive").unwrap();
    let digest = Command::new("sha256sum").arg(&backup).output().unwrap();
    std::fs::write(&sums, &digest.stdout).unwrap();
    let output = fixture.restore(&backup, &target, &[]);
    assert_refused("restore of a non-dump", &output, "cannot read");
    assert!(!fixture.exists(&target).await, "nothing was created");

    // No checksum file at all.
    std::fs::remove_file(&sums).unwrap();
    let output = fixture.restore(&backup, &target, &[]);
    assert_refused("restore without a checksum", &output, "is missing");
    assert!(!fixture.exists(&target).await, "nothing was created");
}

#[tokio::test]
async fn an_existing_database_is_replaced_only_with_force() {
    let server_url = require_service!(Service::Postgres);
    let fixture = Fixture::seeded(server_url, "force").await;
    let db = fixture.connect().await;
    let at_backup = fingerprint(&db).await;
    let backup = fixture.backup(&[]);
    db.query("INSERT INTO customers (name) VALUES (?)")
        .bind("written after the backup")
        .execute()
        .await
        .unwrap();
    let changed = fingerprint(&db).await;
    db.close().await;

    let output = fixture.restore(&backup, &fixture.name, &[]);
    assert_refused("restore over an existing database", &output, "--force");
    let db = fixture.connect().await;
    assert_eq!(fingerprint(&db).await, changed, "left untouched");
    db.close().await;

    let output = fixture.restore(&backup, &fixture.name, &["--force"]);
    assert_success("restore-db.sh --force", &output);
    let db = fixture.connect().await;
    assert_eq!(fingerprint(&db).await, at_backup, "back to the backup");
    db.close().await;
}
