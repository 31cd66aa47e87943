//! The behaviour the document store must show against a real server.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use core_db::document::bson::{Document, doc};
use core_db::document::{Collection, Find, IndexSpec};
use core_db::{DatabaseBase as _, ErrorKind};
use futures::{FutureExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};

use crate::Target;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    #[serde(rename = "_id")]
    id: i64,
    customer: String,
    total: f64,
    lines: Vec<Line>,
    note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Line {
    sku: String,
    quantity: i32,
}

fn order(id: i64) -> Order {
    Order {
        id,
        customer: format!("customer-{}", id % 3),
        total: id as f64 * 10.0,
        lines: vec![Line {
            sku: "widget".to_string(),
            quantity: id as i32,
        }],
        note: Some(format!("order {id}")),
    }
}

fn orders(t: &Target) -> Collection<Order> {
    t.store.collection::<Order>(&t.name)
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
    let health = t.store.health(Duration::from_secs(5)).await.unwrap();
    assert!(health.latency < Duration::from_secs(5));
    let version = t.store.server_version().await.unwrap();
    assert!(version.chars().any(|c| c.is_ascii_digit()), "{version}");
    assert_eq!(t.store.pool_stats().max, t.settings.max_connections);
    assert_eq!(t.store.backend().name(), "mongodb");
}

pub(crate) async fn documents_are_created_read_updated_and_deleted(t: &Target) {
    let orders = orders(t);
    let id = orders.insert_one(&order(1)).await.unwrap();
    assert_eq!(id.as_i64(), Some(1));
    assert_eq!(
        orders.find_one(doc! { "_id": 1 }).await.unwrap(),
        Some(order(1))
    );

    let updated = orders
        .update_one(
            doc! { "_id": 1 },
            doc! { "$set": { "customer": "renamed" } },
        )
        .await
        .unwrap();
    assert_eq!((updated.matched, updated.modified), (1, 1));
    let found = orders.find_one(doc! { "_id": 1 }).await.unwrap().unwrap();
    assert_eq!(found.customer, "renamed");

    let mut replacement = order(1);
    replacement.total = 99.5;
    orders
        .replace_one(doc! { "_id": 1 }, &replacement)
        .await
        .unwrap();
    assert_eq!(
        orders.find_one(doc! { "_id": 1 }).await.unwrap(),
        Some(replacement)
    );

    assert!(orders.delete_one(doc! { "_id": 1 }).await.unwrap());
    assert!(!orders.delete_one(doc! { "_id": 1 }).await.unwrap());
    assert_eq!(orders.count(doc! {}).await.unwrap(), 0);
}

pub(crate) async fn typed_documents_round_trip_with_nulls_unicode_and_large_values(t: &Target) {
    let orders = orders(t);
    let mut empty = order(1);
    empty.note = None;
    empty.lines.clear();
    let mut rich = order(2);
    rich.customer = "Zoë Ångström 🚀 日本語 עברית".to_string();
    rich.note = Some("x".repeat(1_000_000));
    orders.insert_many([&empty, &rich]).await.unwrap();
    assert_eq!(
        orders.find_one(doc! { "_id": 1 }).await.unwrap(),
        Some(empty)
    );
    assert_eq!(
        orders.find_one(doc! { "_id": 2 }).await.unwrap(),
        Some(rich.clone())
    );
    let by_unicode = orders
        .find_one(doc! { "customer": rich.customer.clone() })
        .await
        .unwrap();
    assert_eq!(by_unicode.map(|o| o.id), Some(2));
    let nulls = t.store.collection::<Document>(&t.name);
    let raw = nulls.find_one(doc! { "_id": 1 }).await.unwrap().unwrap();
    assert!(
        raw.get("note").is_some_and(|note| note.as_null().is_some()),
        "{raw:?}"
    );
}

pub(crate) async fn filters_sort_skip_and_limit_select_documents(t: &Target) {
    let orders = orders(t);
    orders.insert_many((1..=10).map(order)).await.unwrap();
    let page = orders
        .find(
            doc! { "total": { "$gte": 30.0 } },
            Find::default().sort(doc! { "total": -1 }).skip(2).limit(3),
        )
        .await
        .unwrap();
    let ids: Vec<i64> = page.iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![8, 7, 6]);
    let customer_zero = orders
        .find(
            doc! { "customer": "customer-0" },
            Find::default().sort(doc! { "_id": 1 }),
        )
        .await
        .unwrap();
    assert_eq!(
        customer_zero.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![3, 6, 9]
    );
    assert_eq!(
        orders
            .count(doc! { "total": { "$lt": 50.0 } })
            .await
            .unwrap(),
        4
    );
    let changed = orders
        .update_many(
            doc! { "customer": "customer-1" },
            doc! { "$set": { "note": null } },
        )
        .await
        .unwrap();
    assert_eq!(changed.matched, 4);
    assert_eq!(orders.delete_many(doc! { "note": null }).await.unwrap(), 4);
    assert_eq!(orders.count(doc! {}).await.unwrap(), 6);
}

pub(crate) async fn aggregation_pipelines_pass_through(t: &Target) {
    let orders = orders(t);
    orders.insert_many((1..=9).map(order)).await.unwrap();
    let totals = orders
        .aggregate(vec![
            doc! { "$group": { "_id": "$customer", "sum": { "$sum": "$total" } } },
            doc! { "$sort": { "_id": 1 } },
        ])
        .await
        .unwrap();
    let sums: Vec<(String, f64)> = totals
        .iter()
        .map(|d| {
            (
                d.get_str("_id").unwrap().to_string(),
                d.get_f64("sum").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sums,
        vec![
            ("customer-0".to_string(), 180.0),
            ("customer-1".to_string(), 120.0),
            ("customer-2".to_string(), 150.0)
        ]
    );
}

pub(crate) async fn a_missing_document_reads_as_none(t: &Target) {
    let orders = orders(t);
    assert_eq!(orders.find_one(doc! { "_id": 404 }).await.unwrap(), None);
    let none = orders
        .find(doc! { "_id": 404 }, Find::default())
        .await
        .unwrap();
    assert!(none.is_empty());
}

pub(crate) async fn a_unique_index_turns_duplicates_into_conflicts(t: &Target) {
    let users = t.another_collection("users");
    t.store
        .ensure_indexes(&[IndexSpec::new(users.clone(), doc! { "email": 1 })
            .unique()
            .named("email_unique")])
        .await
        .unwrap();
    // Declaring the same indexes again at the next start is harmless.
    t.store
        .ensure_indexes(&[IndexSpec::new(users.clone(), doc! { "email": 1 })
            .unique()
            .named("email_unique")])
        .await
        .unwrap();
    let users = t.store.collection::<Document>(&users);
    users
        .insert_one(doc! { "_id": 1, "email": "ada@example.com" })
        .await
        .unwrap();
    let err = expect_kind(
        users
            .insert_one(doc! { "_id": 2, "email": "ada@example.com" })
            .await,
        ErrorKind::Conflict,
        "a duplicate email",
    );
    assert!(!err.is_temporary(), "{err}");
    expect_kind(
        users
            .insert_one(doc! { "_id": 1, "email": "other@example.com" })
            .await,
        ErrorKind::Conflict,
        "a duplicate _id",
    );
    assert_eq!(users.count(doc! {}).await.unwrap(), 1);
}

pub(crate) async fn a_document_of_the_wrong_shape_is_invalid_input(t: &Target) {
    let raw = t.store.collection::<Document>(&t.name);
    raw.insert_one(doc! { "_id": 1, "customer": 42 })
        .await
        .unwrap();
    expect_kind(
        orders(t).find_one(doc! { "_id": 1 }).await,
        ErrorKind::InvalidInput,
        "a number where a string is expected",
    );
}

pub(crate) async fn injection_strings_are_stored_verbatim(t: &Target) {
    let raw = t.store.collection::<Document>(&t.name);
    let hostile = [
        "{\"$gt\": \"\"}",
        "$where",
        "'; db.dropDatabase(); //",
        "this.password.match(/.*/)",
        "$ne",
        "a.b.c",
    ];
    for (index, value) in hostile.iter().enumerate() {
        raw.insert_one(doc! { "_id": index as i64, "name": *value })
            .await
            .unwrap();
        let found = raw
            .find_one(doc! { "name": *value })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.get_str("name").unwrap(), *value);
        assert_eq!(found.get_i64("_id").unwrap(), index as i64);
    }
    assert_eq!(raw.count(doc! {}).await.unwrap(), hostile.len() as u64);
}

pub(crate) async fn streaming_find_yields_every_document(t: &Target) {
    let orders = orders(t);
    orders.insert_many((1..=250).map(order)).await.unwrap();
    let ids: Vec<i64> = orders
        .find_stream(doc! {}, Find::default().sort(doc! { "_id": 1 }))
        .map_ok(|o| o.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids, (1..=250).collect::<Vec<_>>());
}

pub(crate) async fn a_committed_transaction_is_visible(t: &Target) {
    let orders = orders(t);
    let inside = orders.clone();
    t.store
        .transaction(move |tx| {
            let orders = inside.clone();
            Box::pin(async move {
                tx.insert_one(&orders, &order(1)).await?;
                tx.insert_one(&orders, &order(2)).await?;
                tx.update_one(
                    &orders,
                    doc! { "_id": 1 },
                    doc! { "$set": { "total": 1.5 } },
                )
                .await?;
                let seen = tx.find_one(&orders, doc! { "_id": 1 }).await?;
                assert_eq!(seen.map(|o| o.total), Some(1.5));
                tx.delete_one(&orders, doc! { "_id": 2 }).await?;
                Ok(())
            })
        })
        .await
        .unwrap();
    assert_eq!(
        orders
            .find_one(doc! { "_id": 1 })
            .await
            .unwrap()
            .unwrap()
            .total,
        1.5
    );
    assert_eq!(orders.count(doc! {}).await.unwrap(), 1);
}

pub(crate) async fn an_error_in_the_transaction_aborts_it(t: &Target) {
    let orders = orders(t);
    orders.insert_one(&order(1)).await.unwrap();
    let inside = orders.clone();
    let outcome: core_db::Result<()> = t
        .store
        .transaction(move |tx| {
            let orders = inside.clone();
            Box::pin(async move {
                tx.insert_one(&orders, &order(2)).await?;
                // A duplicate _id ends the work.
                tx.insert_one(&orders, &order(1)).await?;
                Ok(())
            })
        })
        .await;
    expect_kind(outcome, ErrorKind::Conflict, "the duplicate insert");
    assert_eq!(orders.find_one(doc! { "_id": 2 }).await.unwrap(), None);
    assert_eq!(orders.count(doc! {}).await.unwrap(), 1);
}

pub(crate) async fn a_panic_in_the_transaction_aborts_it(t: &Target) {
    let orders = orders(t);
    let inside = orders.clone();
    let outcome = AssertUnwindSafe(t.store.transaction(move |tx| {
        let orders = inside.clone();
        Box::pin(async move {
            tx.insert_one(&orders, &order(1)).await?;
            if orders.name().starts_with("t_") {
                panic!("the work panics mid-transaction");
            }
            Ok(())
        })
    }))
    .catch_unwind()
    .await;
    assert!(outcome.is_err(), "the panic reaches the caller");
    assert_eq!(orders.count(doc! {}).await.unwrap(), 0);
    orders.insert_one(&order(2)).await.unwrap();
    assert_eq!(orders.count(doc! {}).await.unwrap(), 1);
}
