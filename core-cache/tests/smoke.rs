//! Each cache server the backends need answers and round-trips a value.
//!
//! These prove the harness and `scripts/services.sh`; the `CacheBase`
//! conformance suite exercises the backends themselves.

use async_memcached::AsciiProtocol as _;
use core_testkit::{Service, require_service, unique_name};

#[tokio::test]
async fn redis_round_trips_a_value() {
    let url = require_service!(Service::Redis);
    let client = redis::Client::open(url).expect("parse Redis URL");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis");
    let key = unique_name("smoke");
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("héllo")
        .arg("EX")
        .arg(60)
        .query_async(&mut conn)
        .await
        .expect("set");
    let value: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("get");
    assert_eq!(value, "héllo");
}

#[cfg(feature = "redis-cluster")]
#[tokio::test]
async fn redis_cluster_round_trips_a_value() {
    let url = require_service!(Service::RedisCluster);
    // One seed node is enough: the client discovers the others.
    let seed = Service::RedisCluster.first_address(&url);
    let client = redis::cluster::ClusterClient::new([format!("redis://{seed}")])
        .expect("parse the seed node");
    let mut conn = client
        .get_async_connection()
        .await
        .expect("connect to the Redis Cluster");
    let key = unique_name("smoke");
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("héllo")
        .arg("EX")
        .arg(60)
        .query_async(&mut conn)
        .await
        .expect("set");
    let value: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("get");
    assert_eq!(value, "héllo");
}

#[tokio::test]
async fn memcached_round_trips_a_value() {
    let url = require_service!(Service::Memcached);
    let mut client = async_memcached::Client::new(url)
        .await
        .expect("connect to Memcached");
    let key = unique_name("smoke");
    client
        .set(&key, "héllo", Some(60), None)
        .await
        .expect("set");
    let value = client
        .get(&key)
        .await
        .expect("get")
        .expect("the stored value");
    assert_eq!(value.data.as_deref(), Some("héllo".as_bytes()));
}
