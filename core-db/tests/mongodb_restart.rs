//! The MongoDB-wire server shut down and started again under a live
//! client: calls fail fast with a temporary error, nothing panics, and the
//! same `DocumentStore` recovers without being recreated.
//!
//! The server on this machine (SecantusDB) keeps its data in memory, so
//! the test checks that the client works again, not that data survived.
//! It stops a shared server, so it lives in a test binary of its own
//! (cargo runs test binaries one at a time).

#[path = "support/restart.rs"]
mod restart;

use std::time::Duration;

use core_db::document::DocumentStore;
use core_db::mongodb::bson::{Document, doc};
use core_db::{DatabaseBase as _, DatabaseSettings, ErrorKind};
use core_testkit::{Service, require_service, unique_name};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_mongodb_gives_unavailable_then_the_same_client_recovers() {
    let url = require_service!(Service::MongoDb);
    if !restart::is_local(Service::MongoDb, &url) {
        return;
    }
    let mut settings = DatabaseSettings::from_url(url);
    settings.database_name = Some(unique_name("restart"));
    settings.acquire_timeout_ms = 500;
    let store = DocumentStore::connect(&settings).await.unwrap();
    let items = store.collection::<Document>("items");
    items
        .insert_one(doc! { "_id": 1, "name": "before" })
        .await
        .unwrap();

    restart::during_outage("mongodb", async {
        for _ in 0..2 {
            let err = items
                .find_one(doc! { "_id": 1 })
                .await
                .expect_err("a read while the server is down must fail");
            assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
            assert!(err.is_temporary(), "an outage is worth retrying: {err}");
            let err = items
                .insert_one(doc! { "_id": 2 })
                .await
                .expect_err("a write while the server is down must fail");
            assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
            assert!(err.is_temporary(), "{err}");
            let err = store
                .health(Duration::from_millis(200))
                .await
                .expect_err("unhealthy while down");
            assert!(err.is_temporary(), "{err}");
        }
    })
    .await;

    restart::recovered("mongodb", || {
        items.insert_one(doc! { "_id": 3, "name": "after" })
    })
    .await;
    let found = items.find_one(doc! { "_id": 3 }).await.unwrap();
    assert_eq!(
        found.and_then(|item| item.get_str("name").ok().map(str::to_string)),
        Some("after".to_string())
    );
    store.database().drop().await.unwrap();
}
