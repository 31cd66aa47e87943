//! Each database server the backends need answers and round-trips a value.
//!
//! These prove the harness and `scripts/services.sh`; the `DatabaseBase`
//! conformance suite exercises the backends themselves.

use core_testkit::{Service, require_service, unique_name};
use sqlx::Connection as _;

#[tokio::test]
async fn postgres_round_trips_a_row() {
    let url = require_service!(Service::Postgres);
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .expect("connect to PostgreSQL");
    let table = unique_name("smoke");
    sqlx::query(&format!(
        "CREATE TABLE {table} (id INT PRIMARY KEY, body TEXT NOT NULL)"
    ))
    .execute(&mut conn)
    .await
    .expect("create table");
    sqlx::query(&format!("INSERT INTO {table} VALUES ($1, $2)"))
        .bind(1)
        .bind("héllo")
        .execute(&mut conn)
        .await
        .expect("insert");
    let body: String = sqlx::query_scalar(&format!("SELECT body FROM {table} WHERE id = $1"))
        .bind(1)
        .fetch_one(&mut conn)
        .await
        .expect("select");
    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&mut conn)
        .await
        .expect("drop");
    assert_eq!(body, "héllo");
}

#[tokio::test]
async fn mysql_round_trips_a_row() {
    let url = require_service!(Service::MySql);
    let mut conn = sqlx::MySqlConnection::connect(&url)
        .await
        .expect("connect to MySQL");
    let table = unique_name("smoke");
    sqlx::query(&format!(
        "CREATE TABLE {table} (id INT PRIMARY KEY, body TEXT NOT NULL)"
    ))
    .execute(&mut conn)
    .await
    .expect("create table");
    sqlx::query(&format!("INSERT INTO {table} VALUES (?, ?)"))
        .bind(1)
        .bind("héllo")
        .execute(&mut conn)
        .await
        .expect("insert");
    let body: String = sqlx::query_scalar(&format!("SELECT body FROM {table} WHERE id = ?"))
        .bind(1)
        .fetch_one(&mut conn)
        .await
        .expect("select");
    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&mut conn)
        .await
        .expect("drop");
    assert_eq!(body, "héllo");
}

#[tokio::test]
async fn mongodb_round_trips_a_document() {
    let url = require_service!(Service::MongoDb);
    let client = mongodb::Client::with_uri_str(&url)
        .await
        .expect("parse MongoDB URL");
    let collection = client
        .database("test")
        .collection::<mongodb::bson::Document>(&unique_name("smoke"));
    collection
        .insert_one(mongodb::bson::doc! { "_id": 1, "body": "héllo" })
        .await
        .expect("insert");
    let found = collection
        .find_one(mongodb::bson::doc! { "_id": 1 })
        .await
        .expect("find")
        .expect("the inserted document");
    collection.drop().await.expect("drop");
    assert_eq!(found.get_str("body").expect("a string body"), "héllo");
}
