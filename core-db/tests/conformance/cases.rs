//! The behaviour every SQL engine must show. Written once, against
//! `SqlDatabase`; engine differences live only in the DDL of `main.rs`.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use core_db::sql::{IsolationLevel, Json, TxOptions};
use core_db::{DatabaseBase as _, ErrorKind};
use futures::{FutureExt as _, TryStreamExt as _};

use crate::Target;

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
struct Person {
    id: i64,
    email: String,
    name: String,
    nickname: Option<String>,
    score: f64,
    active: bool,
    avatar: Option<Vec<u8>>,
}

fn person(id: i64) -> Person {
    Person {
        id,
        email: format!("person{id}@example.com"),
        name: format!("Person {id}"),
        nickname: Some(format!("p{id}")),
        score: id as f64 + 0.5,
        active: id % 2 == 0,
        avatar: Some(vec![0, 1, 2, 255]),
    }
}

async fn insert(t: &Target, p: &Person) -> core_db::Result<u64> {
    t.db.query(&format!(
        "INSERT INTO {} (id, email, name, nickname, score, active, avatar) VALUES (?, ?, ?, ?, ?, ?, ?)",
        t.people
    ))
    .bind(p.id)
    .bind(p.email.clone())
    .bind(p.name.clone())
    .bind(p.nickname.clone())
    .bind(p.score)
    .bind(p.active)
    .bind(p.avatar.clone())
    .execute()
    .await
}

async fn load(t: &Target, id: i64) -> Option<Person> {
    t.db.query(&format!("SELECT * FROM {} WHERE id = ?", t.people))
        .bind(id)
        .on_primary()
        .fetch_optional()
        .await
        .unwrap()
}

async fn count(t: &Target) -> i64 {
    let (n,): (i64,) =
        t.db.query(&format!("SELECT COUNT(*) FROM {}", t.people))
            .fetch_one()
            .await
            .unwrap();
    n
}

fn expect_kind<T: std::fmt::Debug>(
    result: core_db::Result<T>,
    kind: ErrorKind,
    what: &str,
) -> core_db::Error {
    match result {
        Err(err) => {
            assert_eq!(err.kind(), kind, "{what}: {err}");
            err
        }
        Ok(value) => panic!("{what}: expected a {kind} error, got Ok({value:?})"),
    }
}

pub(crate) async fn health_version_and_pool_stats_answer(t: &Target) {
    let health = t.db.health(Duration::from_secs(5)).await.unwrap();
    assert!(health.latency < Duration::from_secs(5));
    let version = t.db.server_version().await.unwrap();
    assert!(version.chars().any(|c| c.is_ascii_digit()), "{version}");
    let stats = t.db.pool_stats();
    assert_eq!(stats.max, t.settings.max_connections);
    assert!(stats.size.unwrap() >= 1, "{stats:?}");
    assert!(stats.idle.unwrap() <= stats.size.unwrap(), "{stats:?}");
}

pub(crate) async fn rows_are_created_read_updated_and_deleted(t: &Target) {
    assert_eq!(insert(t, &person(1)).await.unwrap(), 1);
    assert_eq!(insert(t, &person(2)).await.unwrap(), 1);
    assert_eq!(load(t, 1).await, Some(person(1)));

    let changed =
        t.db.query(&format!("UPDATE {} SET name = ? WHERE id = ?", t.people))
            .bind("Renamed")
            .bind(1_i64)
            .execute()
            .await
            .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(load(t, 1).await.unwrap().name, "Renamed");

    let deleted =
        t.db.query(&format!("DELETE FROM {} WHERE id = ?", t.people))
            .bind(1_i64)
            .execute()
            .await
            .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(load(t, 1).await, None);
    assert_eq!(count(t).await, 1);
}

pub(crate) async fn rows_decode_into_typed_structs(t: &Target) {
    for id in 1..=3 {
        insert(t, &person(id)).await.unwrap();
    }
    let all: Vec<Person> =
        t.db.query(&format!("SELECT * FROM {} ORDER BY id", t.people))
            .fetch_all()
            .await
            .unwrap();
    assert_eq!(all, vec![person(1), person(2), person(3)]);
    let pairs: Vec<(i64, String)> =
        t.db.query(&format!(
            "SELECT id, email FROM {} WHERE score > ? ORDER BY id DESC",
            t.people
        ))
        .bind(2.0_f64)
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(
        pairs,
        vec![
            (3, "person3@example.com".to_string()),
            (2, "person2@example.com".to_string())
        ]
    );
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Settings {
    theme: String,
    tags: Vec<String>,
    limits: std::collections::BTreeMap<String, u32>,
    note: Option<String>,
}

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Profile {
    id: i64,
    #[sqlx(json)]
    settings: Settings,
}

pub(crate) async fn serde_values_round_trip_through_json_columns(t: &Target) {
    let profiles = core_testkit::unique_name("profiles");
    let json = crate::json_type(t.backend());
    t.create_table(
        &profiles,
        &format!(
            "CREATE TABLE {profiles} (id BIGINT PRIMARY KEY, settings {json} NOT NULL){}",
            crate::table_suffix(t.backend())
        ),
    )
    .await;
    let settings = Settings {
        theme: "dark 🌙".to_string(),
        tags: vec!["a".to_string(), "'; DROP TABLE x; --".to_string()],
        limits: [("daily".to_string(), 10), ("hourly".to_string(), 2)].into(),
        note: None,
    };
    t.db.query(&format!(
        "INSERT INTO {profiles} (id, settings) VALUES (?, ?)"
    ))
    .bind(1_i64)
    .bind(Json(&settings))
    .execute()
    .await
    .unwrap();
    let (Json(read),): (Json<Settings>,) =
        t.db.query(&format!("SELECT settings FROM {profiles} WHERE id = ?"))
            .bind(1_i64)
            .fetch_one()
            .await
            .unwrap();
    assert_eq!(read, settings);
    let profile: Profile =
        t.db.query(&format!("SELECT id, settings FROM {profiles}"))
            .fetch_one()
            .await
            .unwrap();
    assert_eq!(profile, Profile { id: 1, settings });
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct PersonView {
    id: i64,
    email: String,
    nickname: Option<String>,
    score: f64,
    active: bool,
    avatar: Option<Vec<u8>>,
}

pub(crate) async fn rows_decode_into_serde_types_by_column_name(t: &Target) {
    let mut quiet = person(2);
    quiet.nickname = None;
    quiet.avatar = None;
    insert(t, &person(1)).await.unwrap();
    insert(t, &quiet).await.unwrap();
    let views: Vec<PersonView> =
        t.db.query(&format!(
            "SELECT id, email, nickname, score, active, avatar FROM {} ORDER BY id",
            t.people
        ))
        .fetch_all_as()
        .await
        .unwrap();
    let expected: Vec<PersonView> = [person(1), quiet]
        .into_iter()
        .map(|p| PersonView {
            id: p.id,
            email: p.email,
            nickname: p.nickname,
            score: p.score,
            active: p.active,
            avatar: p.avatar,
        })
        .collect();
    assert_eq!(views, expected);
    let missing: Option<PersonView> =
        t.db.query(&format!("SELECT * FROM {} WHERE id = ?", t.people))
            .bind(404_i64)
            .fetch_optional_as()
            .await
            .unwrap();
    assert_eq!(missing, None);
    expect_kind(
        t.db.query(&format!("SELECT * FROM {} WHERE id = ?", t.people))
            .bind(404_i64)
            .fetch_one_as::<PersonView>()
            .await,
        ErrorKind::NotFound,
        "fetch_one_as of a missing row",
    );
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "only the error matters")]
    struct WrongShape {
        email: i64,
    }
    expect_kind(
        t.db.query(&format!("SELECT email FROM {}", t.people))
            .fetch_one_as::<WrongShape>()
            .await,
        ErrorKind::InvalidInput,
        "text read as a number",
    );
    if t.backend() == core_db::Backend::Postgres {
        let err = expect_kind(
            t.db.query("SELECT NOW() AS stamped")
                .fetch_one_as::<serde_json::Value>()
                .await,
            ErrorKind::InvalidInput,
            "a timestamp has no serde form",
        );
        assert!(err.to_string().contains("stamped"), "{err}");
    }
}

pub(crate) async fn nulls_round_trip(t: &Target) {
    let mut p = person(7);
    p.nickname = None;
    p.avatar = None;
    insert(t, &p).await.unwrap();
    assert_eq!(load(t, 7).await, Some(p));
    let (missing,): (Option<String>,) =
        t.db.query(&format!("SELECT nickname FROM {} WHERE id = ?", t.people))
            .bind(7_i64)
            .fetch_one()
            .await
            .unwrap();
    assert_eq!(missing, None);
    let found: Vec<(i64,)> =
        t.db.query(&format!(
            "SELECT id FROM {} WHERE nickname IS NULL",
            t.people
        ))
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(found, vec![(7,)]);
}

pub(crate) async fn unicode_and_large_values_survive(t: &Target) {
    let mut p = person(9);
    p.name = "Zoë Ångström 🚀 日本語 עברית \u{0}after-nul".replace('\u{0}', "");
    p.nickname = Some("x".repeat(1_000_000));
    p.avatar = Some((0..1_000_000_u32).map(|i| (i % 251) as u8).collect());
    insert(t, &p).await.unwrap();
    assert_eq!(load(t, 9).await, Some(p));
}

pub(crate) async fn a_missing_row_is_not_found(t: &Target) {
    let err = expect_kind(
        t.db.query(&format!("SELECT * FROM {} WHERE id = ?", t.people))
            .bind(404_i64)
            .fetch_one::<Person>()
            .await,
        ErrorKind::NotFound,
        "fetch_one of a missing row",
    );
    assert_eq!(err.context_value("backend"), Some(t.backend().name()));
    assert!(
        err.context_value("key").unwrap().contains(&t.people),
        "{err}"
    );
    assert_eq!(load(t, 404).await, None);
}

pub(crate) async fn a_duplicate_key_is_a_conflict(t: &Target) {
    insert(t, &person(1)).await.unwrap();
    let err = expect_kind(insert(t, &person(1)).await, ErrorKind::Conflict, "same id");
    assert!(!err.is_temporary(), "{err}");
    let mut same_email = person(2);
    same_email.email = person(1).email;
    expect_kind(
        insert(t, &same_email).await,
        ErrorKind::Conflict,
        "same email",
    );
    assert_eq!(count(t).await, 1);
}

pub(crate) async fn a_row_of_the_wrong_type_is_invalid_input(t: &Target) {
    insert(t, &person(1)).await.unwrap();
    expect_kind(
        t.db.query(&format!("SELECT email FROM {}", t.people))
            .fetch_one::<(i64,)>()
            .await,
        ErrorKind::InvalidInput,
        "text read as an integer",
    );
    expect_kind(
        t.db.query("SELEKT nonsense").execute().await,
        ErrorKind::InvalidInput,
        "a syntax error",
    );
}

pub(crate) async fn constraint_violations_say_which_kind(t: &Target) {
    let orders = core_testkit::unique_name("orders");
    t.create_table(
        &orders,
        &format!(
            "CREATE TABLE {orders} (
                id BIGINT PRIMARY KEY,
                person_id BIGINT NOT NULL,
                quantity INT NOT NULL CHECK (quantity > 0),
                code VARCHAR(4) NOT NULL,
                FOREIGN KEY (person_id) REFERENCES {people} (id)
            ){suffix}",
            people = t.people,
            suffix = crate::table_suffix(t.backend()),
        ),
    )
    .await;
    insert(t, &person(1)).await.unwrap();
    let insert_order =
        format!("INSERT INTO {orders} (id, person_id, quantity, code) VALUES (?, ?, ?, ?)");
    let add = |id: i64, person_id: Option<i64>, quantity: i32| {
        t.db.query(&insert_order)
            .bind(id)
            .bind(person_id)
            .bind(quantity)
            .bind("A1")
            .execute()
    };
    add(1, Some(1), 2).await.unwrap();

    let err = expect_kind(
        add(2, Some(404), 1).await,
        ErrorKind::Conflict,
        "no such person",
    );
    assert!(!err.is_temporary(), "{err}");
    expect_kind(
        t.db.query(&format!("DELETE FROM {} WHERE id = ?", t.people))
            .bind(1_i64)
            .execute()
            .await,
        ErrorKind::Conflict,
        "deleting a referenced person",
    );
    expect_kind(
        add(3, None, 1).await,
        ErrorKind::InvalidInput,
        "a NULL person",
    );
    expect_kind(
        add(4, Some(1), 0).await,
        ErrorKind::InvalidInput,
        "a CHECK violation",
    );
    expect_kind(
        t.db.query(&format!("SELECT * FROM {orders}_missing"))
            .execute()
            .await,
        ErrorKind::InvalidInput,
        "a table that does not exist",
    );
    // SQLite does not enforce VARCHAR lengths.
    if t.backend() != core_db::Backend::Sqlite {
        expect_kind(
            t.db.query(&format!(
                "INSERT INTO {orders} (id, person_id, quantity, code) VALUES (5, 1, 1, 'TOO-LONG')"
            ))
            .execute()
            .await,
            ErrorKind::InvalidInput,
            "a value longer than its column",
        );
    }
    let (left,): (i64,) =
        t.db.query(&format!("SELECT COUNT(*) FROM {orders}"))
            .fetch_one()
            .await
            .unwrap();
    assert_eq!(left, 1, "no refused statement stored a row");
    assert_eq!(count(t).await, 1);
}

pub(crate) async fn injection_strings_are_stored_verbatim(t: &Target) {
    let hostile = [
        "'; DROP TABLE people; --",
        "\" OR \"1\"=\"1",
        "1' OR '1'='1' /*",
        "?",
        "$1",
        "\\'; SELECT 1; --",
        "Robert'); DELETE FROM people WHERE ('1'='1",
        "%_\\%",
    ];
    for (index, value) in hostile.iter().enumerate() {
        let mut p = person(index as i64 + 1);
        p.name = (*value).to_string();
        p.nickname = Some(format!("{value}{value}"));
        insert(t, &p).await.unwrap();
        let (name, nickname): (String, String) =
            t.db.query(&format!(
                "SELECT name, nickname FROM {} WHERE name = ? AND id = ?",
                t.people
            ))
            .bind(*value)
            .bind(p.id)
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(name, *value);
        assert_eq!(nickname, format!("{value}{value}"));
    }
    // A literal question mark in SQL text is not a placeholder.
    let (mark,): (String,) = t.db.query("SELECT '?'").fetch_one().await.unwrap();
    assert_eq!(mark, "?");
    assert_eq!(count(t).await, hostile.len() as i64);
}

pub(crate) async fn streaming_yields_every_row_in_order(t: &Target) {
    let tx_db = t.db.clone();
    let table = t.people.clone();
    tx_db
        .transaction(move |tx| {
            let table = table.clone();
            Box::pin(async move {
                for id in 1..=250_i64 {
                    tx.query(&format!(
                        "INSERT INTO {table} (id, email, name, score, active) VALUES (?, ?, ?, ?, ?)"
                    ))
                    .bind(id)
                    .bind(format!("s{id}@example.com"))
                    .bind("streamed")
                    .bind(0.0_f64)
                    .bind(true)
                    .execute()
                    .await?;
                }
                Ok(())
            })
        })
        .await
        .unwrap();
    let sql = format!("SELECT id FROM {} ORDER BY id", t.people);
    let ids: Vec<i64> =
        t.db.query(&sql)
            .fetch::<(i64,)>()
            .map_ok(|(id,)| id)
            .try_collect()
            .await
            .unwrap();
    assert_eq!(ids, (1..=250).collect::<Vec<_>>());
    // Dropping a stream early leaves the pool usable.
    let mut partial = t.db.query(&sql).fetch::<(i64,)>();
    assert_eq!(partial.try_next().await.unwrap(), Some((1,)));
    drop(partial);
    assert_eq!(count(t).await, 250);
}

pub(crate) async fn a_committed_transaction_is_visible(t: &Target) {
    let mut tx = t.db.begin().await.unwrap();
    tx.query(&format!(
        "INSERT INTO {} (id, email, name, score, active) VALUES (?, ?, ?, ?, ?)",
        t.people
    ))
    .bind(1_i64)
    .bind("tx@example.com")
    .bind("in tx")
    .bind(1.0_f64)
    .bind(false)
    .execute()
    .await
    .unwrap();
    let (inside,): (i64,) = tx
        .query(&format!("SELECT COUNT(*) FROM {}", t.people))
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(inside, 1);
    tx.commit().await.unwrap();
    assert_eq!(load(t, 1).await.unwrap().name, "in tx");
}

pub(crate) async fn an_error_in_the_closure_rolls_back(t: &Target) {
    let table = t.people.clone();
    let outcome: core_db::Result<()> =
        t.db.transaction(move |tx| {
            let table = table.clone();
            Box::pin(async move {
                tx.query(&format!(
                    "INSERT INTO {table} (id, email, name, score, active) VALUES (?, ?, ?, ?, ?)"
                ))
                .bind(1_i64)
                .bind("a@example.com")
                .bind("first")
                .bind(1.0_f64)
                .bind(true)
                .execute()
                .await?;
                // The same id again: a unique violation ends the work.
                tx.query(&format!(
                    "INSERT INTO {table} (id, email, name, score, active) VALUES (?, ?, ?, ?, ?)"
                ))
                .bind(1_i64)
                .bind("b@example.com")
                .bind("second")
                .bind(1.0_f64)
                .bind(true)
                .execute()
                .await?;
                Ok(())
            })
        })
        .await;
    expect_kind(outcome, ErrorKind::Conflict, "the second insert");
    assert_eq!(count(t).await, 0, "the first insert was rolled back");
}

pub(crate) async fn a_panic_in_the_closure_rolls_back(t: &Target) {
    let table = t.people.clone();
    let outcome = AssertUnwindSafe(t.db.transaction(move |tx| {
        let table = table.clone();
        Box::pin(async move {
            tx.query(&format!(
                "INSERT INTO {table} (id, email, name, score, active) VALUES (?, ?, ?, ?, ?)"
            ))
            .bind(1_i64)
            .bind("a@example.com")
            .bind("doomed")
            .bind(1.0_f64)
            .bind(true)
            .execute()
            .await?;
            if table.starts_with("t_") {
                panic!("the work panics mid-transaction");
            }
            Ok(())
        })
    }))
    .catch_unwind()
    .await;
    assert!(outcome.is_err(), "the panic reaches the caller");
    assert_eq!(count(t).await, 0, "the insert was rolled back");
    // The connection went back to the pool in a clean state.
    insert(t, &person(2)).await.unwrap();
    assert_eq!(count(t).await, 1);
}

pub(crate) async fn a_dropped_transaction_rolls_back(t: &Target) {
    {
        let mut tx = t.db.begin().await.unwrap();
        tx.query(&format!(
            "INSERT INTO {} (id, email, name, score, active) VALUES (?, ?, ?, ?, ?)",
            t.people
        ))
        .bind(1_i64)
        .bind("a@example.com")
        .bind("dropped")
        .bind(1.0_f64)
        .bind(true)
        .execute()
        .await
        .unwrap();
    }
    let mut tx = t.db.begin().await.unwrap();
    tx.query(&format!("DELETE FROM {}", t.people))
        .execute()
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(t).await, 0);
}

pub(crate) async fn savepoints_undo_only_their_own_changes(t: &Target) {
    let insert_sql = format!(
        "INSERT INTO {} (id, email, name, score, active) VALUES (?, ?, ?, ?, ?)",
        t.people
    );
    let mut tx = t.db.begin().await.unwrap();
    for id in [1_i64, 2, 3] {
        let mut savepoint = tx.savepoint().await.unwrap();
        savepoint
            .query(&insert_sql)
            .bind(id)
            .bind(format!("{id}@example.com"))
            .bind("nested")
            .bind(1.0_f64)
            .bind(true)
            .execute()
            .await
            .unwrap();
        if id == 2 {
            savepoint.rollback().await.unwrap();
        } else {
            savepoint.commit().await.unwrap();
        }
    }
    // A failed statement inside a savepoint leaves the outer transaction usable.
    {
        let mut savepoint = tx.savepoint().await.unwrap();
        let err = savepoint
            .query(&insert_sql)
            .bind(1_i64)
            .bind("dup@example.com")
            .bind("dup")
            .bind(1.0_f64)
            .bind(true)
            .execute()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        savepoint.rollback().await.unwrap();
    }
    tx.commit().await.unwrap();
    let ids: Vec<(i64,)> =
        t.db.query(&format!("SELECT id FROM {} ORDER BY id", t.people))
            .fetch_all()
            .await
            .unwrap();
    assert_eq!(ids, vec![(1,), (3,)]);
}

pub(crate) async fn serialization_failures_are_retried_until_every_increment_lands(t: &Target) {
    let counters = core_testkit::unique_name("counters");
    t.create_table(
        &counters,
        &format!("CREATE TABLE {counters} (id INT PRIMARY KEY, n BIGINT NOT NULL)"),
    )
    .await;
    t.db.query(&format!("INSERT INTO {counters} (id, n) VALUES (1, 0)"))
        .execute()
        .await
        .unwrap();
    let workers = 6;
    let options = TxOptions::default()
        .isolation(IsolationLevel::Serializable)
        .attempts(30);
    let counters = Arc::new(counters);
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let db = t.db.clone();
        let counters = Arc::clone(&counters);
        tasks.push(tokio::spawn(async move {
            db.transaction_with(&options, move |tx| {
                let counters = Arc::clone(&counters);
                Box::pin(async move {
                    // Read, think, write: the classic lost-update race.
                    let (n,): (i64,) = tx
                        .query(&format!("SELECT n FROM {counters} WHERE id = 1"))
                        .fetch_one()
                        .await?;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    tx.query(&format!("UPDATE {counters} SET n = ? WHERE id = 1"))
                        .bind(n + 1)
                        .execute()
                        .await?;
                    Ok(())
                })
            })
            .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let (n,): (i64,) =
        t.db.query(&format!("SELECT n FROM {counters} WHERE id = 1"))
            .fetch_one()
            .await
            .unwrap();
    assert_eq!(n, workers, "no increment was lost");
}

pub(crate) async fn an_exhausted_pool_times_out_instead_of_hanging(t: &Target) {
    let small = t
        .connect_with(|settings| {
            settings.max_connections = 1;
            settings.acquire_timeout_ms = 300;
        })
        .await;
    let count_sql = format!("SELECT COUNT(*) FROM {}", t.people);
    let held = small.begin().await.unwrap();
    let started = Instant::now();
    let err = expect_kind(
        small.query(&count_sql).fetch_one::<(i64,)>().await,
        ErrorKind::Timeout,
        "a query while the only connection is held",
    );
    assert!(err.is_temporary(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    expect_kind(small.begin().await, ErrorKind::Timeout, "begin while held");
    drop(held);
    let (rows,): (i64,) = small.query(&count_sql).fetch_one().await.unwrap();
    assert_eq!(rows, 0);
    small.close().await;
}
