//! Reads go to the replicas in turn; writes, transactions and reads marked
//! `on_primary` go to the primary. Two SQLite files stand in for a primary
//! and its replicas, each labelled, so where a statement ran is visible.

use core_db::DatabaseSettings;
use core_db::sql::SqlDatabase;
use secrecy::SecretString;

async fn labelled(dir: &std::path::Path, label: &str) -> String {
    let url = format!("sqlite://{}", dir.join(format!("{label}.db")).display());
    let db = SqlDatabase::connect(&DatabaseSettings::from_url(url.clone()))
        .await
        .unwrap();
    db.query("CREATE TABLE site (label TEXT NOT NULL)")
        .execute()
        .await
        .unwrap();
    db.query("INSERT INTO site VALUES (?)")
        .bind(label.to_string())
        .execute()
        .await
        .unwrap();
    url
}

async fn label(query: core_db::sql::Query<'_>) -> String {
    let (label,): (String,) = query.fetch_one().await.unwrap();
    label
}

#[tokio::test]
async fn reads_go_to_replicas_and_everything_else_to_the_primary() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = DatabaseSettings::from_url(labelled(dir.path(), "primary").await);
    settings.replica_urls = vec![
        SecretString::from(labelled(dir.path(), "replica-a").await),
        SecretString::from(labelled(dir.path(), "replica-b").await),
    ];
    let db = SqlDatabase::connect(&settings).await.unwrap();

    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(label(db.query("SELECT label FROM site")).await);
    }
    seen.sort();
    assert_eq!(seen, ["replica-a", "replica-a", "replica-b", "replica-b"]);

    assert_eq!(
        label(db.query("SELECT label FROM site").on_primary()).await,
        "primary"
    );

    db.query("UPDATE site SET label = ?")
        .bind("primary-written")
        .execute()
        .await
        .unwrap();
    assert_eq!(
        label(db.query("SELECT label FROM site").on_primary()).await,
        "primary-written"
    );
    assert_ne!(
        label(db.query("SELECT label FROM site")).await,
        "primary-written"
    );

    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        label(tx.query("SELECT label FROM site")).await,
        "primary-written"
    );
    tx.rollback().await.unwrap();
    assert_eq!(db.replica_pools().len(), 2);
}
