//! What the conformance suite cannot see through the trait: on a real Redis
//! Cluster, the suite's batches spread over every master, and `delete_many`
//! and `delete_prefix` clear every one of them.

#![cfg(feature = "redis-cluster")]

use core_cache::{CacheSettings, connect};
use core_testkit::{Service, require_service, unique_name};
use redis::aio::MultiplexedConnection;

/// A plain (not cluster-aware) connection to each master, which sees only
/// the keys of its own slots.
async fn masters(url: &str) -> Vec<(String, MultiplexedConnection)> {
    let seed = Service::RedisCluster.first_address(url);
    let mut seed = redis::Client::open(format!("redis://{seed}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut seed)
        .await
        .unwrap();
    let mut masters = Vec::new();
    for line in nodes.lines() {
        // <id> <ip:port@cport> <flags> ...
        let fields: Vec<&str> = line.split_whitespace().collect();
        if !fields[2].split(',').any(|flag| flag == "master") || fields[2].contains("fail") {
            continue;
        }
        let address = fields[1].split('@').next().unwrap().to_string();
        let connection = redis::Client::open(format!("redis://{address}"))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        masters.push((address, connection));
    }
    masters
}

/// How many keys matching `pattern` each master holds.
async fn keys_per_master(
    masters: &mut [(String, MultiplexedConnection)],
    pattern: &str,
) -> Vec<(String, usize)> {
    let mut counts = Vec::new();
    for (address, connection) in masters.iter_mut() {
        let mut cursor: u64 = 0;
        let mut count = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(connection)
                .await
                .unwrap();
            count += keys.len();
            if next == 0 {
                break;
            }
            cursor = next;
        }
        counts.push((address.clone(), count));
    }
    counts
}

#[tokio::test]
async fn batches_span_every_master_and_deletes_clear_each() {
    let url = require_service!(Service::RedisCluster);
    let namespace = unique_name("spread");
    let mut settings = CacheSettings::from_url(url.clone());
    settings.namespace = Some(namespace.clone());
    let cache = connect(&settings).await.unwrap();
    let mut masters = masters(&url).await;
    assert!(masters.len() >= 2, "a cluster of one master proves nothing");

    // The keys of the conformance suite's batch case.
    let keys: Vec<String> = (0..100).map(|i| format!("batch:{i}")).collect();
    let entries: Vec<(&str, usize)> = keys.iter().map(String::as_str).zip(0..).collect();
    let wanted: Vec<&str> = keys.iter().map(String::as_str).collect();
    let pattern = format!("{namespace}:batch:*");

    cache.set_many(&entries, None).await.unwrap();
    let counts = keys_per_master(&mut masters, &pattern).await;
    assert!(
        counts.iter().all(|(_, count)| *count > 0),
        "every master holds part of the batch: {counts:?}"
    );
    assert_eq!(counts.iter().map(|(_, count)| count).sum::<usize>(), 100);
    let values: Vec<Option<usize>> = cache.get_many(&wanted).await.unwrap();
    assert_eq!(values, (0..100).map(Some).collect::<Vec<_>>());

    assert_eq!(cache.delete_many(&wanted).await.unwrap(), 100);
    let counts = keys_per_master(&mut masters, &pattern).await;
    assert!(counts.iter().all(|(_, count)| *count == 0), "{counts:?}");

    cache.set_many(&entries, None).await.unwrap();
    cache.set("other", &1, None).await.unwrap();
    assert_eq!(cache.delete_prefix("batch:").await.unwrap(), 100);
    let counts = keys_per_master(&mut masters, &pattern).await;
    assert!(counts.iter().all(|(_, count)| *count == 0), "{counts:?}");
    assert!(cache.exists("other").await.unwrap());
}
