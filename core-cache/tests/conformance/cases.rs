//! The behaviour every cache backend must show. Written once, against the
//! trait; optional operations are checked against the backend's declared
//! capabilities, so "unsupported" must be said, never silently ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use core_cache::{Cache, ErrorKind, ListEnd, LockOptions, Ttl};
use serde::{Deserialize, Serialize};

use crate::Target;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Order {
    id: u64,
    customer: String,
    lines: Vec<(String, u32)>,
    note: Option<String>,
}

fn order(id: u64) -> Order {
    Order {
        id,
        customer: "Zoë Ångström 🚀".to_string(),
        lines: vec![("widget".to_string(), 3), ("gadget".to_string(), 1)],
        note: None,
    }
}

fn expect_kind<T: std::fmt::Debug>(result: core_cache::Result<T>, kind: ErrorKind, what: &str) {
    match result {
        Err(err) => assert_eq!(err.kind(), kind, "{what}: {err}"),
        Ok(value) => panic!("{what}: expected a {kind} error, got Ok({value:?})"),
    }
}

pub(crate) async fn missing_keys_read_as_none(t: &Target) {
    let value: Option<Order> = t.cache.get("never-written").await.unwrap();
    assert_eq!(value, None);
}

pub(crate) async fn typed_values_round_trip(t: &Target) {
    t.cache.set("order:1", &order(1), None).await.unwrap();
    assert_eq!(
        t.cache.get::<Order>("order:1").await.unwrap(),
        Some(order(1))
    );
    t.cache.set("number", &42_i64, None).await.unwrap();
    assert_eq!(t.cache.get::<i64>("number").await.unwrap(), Some(42));
}

pub(crate) async fn set_overwrites(t: &Target) {
    t.cache.set("k", "first", None).await.unwrap();
    t.cache.set("k", "second", None).await.unwrap();
    assert_eq!(
        t.cache.get::<String>("k").await.unwrap().as_deref(),
        Some("second")
    );
}

pub(crate) async fn delete_reports_whether_the_key_existed(t: &Target) {
    t.cache.set("k", &1, None).await.unwrap();
    assert!(t.cache.delete("k").await.unwrap());
    assert!(!t.cache.delete("k").await.unwrap());
    assert_eq!(t.cache.get::<i32>("k").await.unwrap(), None);
}

pub(crate) async fn exists_follows_set_and_delete(t: &Target) {
    assert!(!t.cache.exists("k").await.unwrap());
    t.cache.set("k", &1, None).await.unwrap();
    assert!(t.cache.exists("k").await.unwrap());
    t.cache.delete("k").await.unwrap();
    assert!(!t.cache.exists("k").await.unwrap());
}

pub(crate) async fn values_expire_after_their_ttl(t: &Target) {
    t.cache
        .set("short", &1, Some(Duration::from_secs(1)))
        .await
        .unwrap();
    t.cache
        .set("long", &2, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(t.cache.get::<i32>("short").await.unwrap(), Some(1));
    // Memcached counts whole seconds, so allow for one more.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert_eq!(t.cache.get::<i32>("short").await.unwrap(), None);
    assert_eq!(t.cache.get::<i32>("long").await.unwrap(), Some(2));
}

pub(crate) async fn ttl_reports_the_remaining_lifetime(t: &Target) {
    t.cache.set("persistent", &1, None).await.unwrap();
    t.cache
        .set("expiring", &1, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    if !t.cache.capabilities().ttl_inspection {
        expect_kind(t.cache.ttl("expiring").await, ErrorKind::Unsupported, "ttl");
        return;
    }
    assert_eq!(t.cache.ttl("missing").await.unwrap(), Ttl::Missing);
    assert_eq!(t.cache.ttl("persistent").await.unwrap(), Ttl::Persistent);
    match t.cache.ttl("expiring").await.unwrap() {
        Ttl::ExpiresIn(left) => {
            assert!(
                left <= Duration::from_secs(60) && left >= Duration::from_secs(50),
                "{left:?}"
            )
        }
        other => panic!("expected a deadline, got {other:?}"),
    }
}

pub(crate) async fn expire_sets_a_deadline_on_existing_keys_only(t: &Target) {
    assert!(
        !t.cache
            .expire("missing", Duration::from_secs(5))
            .await
            .unwrap()
    );
    t.cache.set("k", &1, None).await.unwrap();
    assert!(t.cache.expire("k", Duration::from_secs(1)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert!(!t.cache.exists("k").await.unwrap());
}

pub(crate) async fn set_if_absent_stores_once(t: &Target) {
    assert!(t.cache.set_if_absent("k", "first", None).await.unwrap());
    assert!(!t.cache.set_if_absent("k", "second", None).await.unwrap());
    assert_eq!(
        t.cache.get::<String>("k").await.unwrap().as_deref(),
        Some("first")
    );
}

pub(crate) async fn counters_start_at_zero_and_count_both_ways(t: &Target) {
    assert_eq!(t.cache.incr("hits", 5).await.unwrap(), 5);
    assert_eq!(t.cache.incr("hits", 2).await.unwrap(), 7);
    assert_eq!(t.cache.decr("hits", 3).await.unwrap(), 4);
    assert_eq!(t.cache.get::<i64>("hits").await.unwrap(), Some(4));
    if t.cache.capabilities().negative_counters {
        assert_eq!(t.cache.decr("hits", 10).await.unwrap(), -6);
    } else {
        assert_eq!(
            t.cache.decr("hits", 10).await.unwrap(),
            0,
            "counters stop at zero"
        );
    }
}

pub(crate) async fn counting_a_non_integer_is_invalid_input(t: &Target) {
    t.cache.set("text", "not a number", None).await.unwrap();
    expect_kind(
        t.cache.incr("text", 1).await,
        ErrorKind::InvalidInput,
        "incr on text",
    );
    assert_eq!(
        t.cache.get::<String>("text").await.unwrap().as_deref(),
        Some("not a number")
    );
}

pub(crate) async fn batches_keep_their_order(t: &Target) {
    let keys: Vec<String> = (0..100).map(|i| format!("batch:{i}")).collect();
    let entries: Vec<(&str, u32)> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(i, k)| (k.as_str(), i as u32))
        .collect();
    t.cache
        .set_many(&entries, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let wanted: Vec<&str> = keys.iter().map(String::as_str).collect();
    let values: Vec<Option<u32>> = t.cache.get_many(&wanted).await.unwrap();
    for (i, value) in values.iter().enumerate() {
        let expected = (i % 3 != 0).then_some(i as u32);
        assert_eq!(*value, expected, "position {i}");
    }
    assert!(t.cache.get_many::<u32>(&[]).await.unwrap().is_empty());
}

pub(crate) async fn delete_many_counts_what_existed(t: &Target) {
    t.cache.set_many(&[("a", 1), ("b", 2)], None).await.unwrap();
    assert_eq!(t.cache.delete_many(&["a", "b", "c"]).await.unwrap(), 2);
    assert_eq!(
        t.cache.get_many::<i32>(&["a", "b"]).await.unwrap(),
        [None, None]
    );
}

pub(crate) async fn delete_prefix_removes_only_matching_keys(t: &Target) {
    for i in 0..30 {
        t.cache.set(&format!("user:{i}"), &i, None).await.unwrap();
    }
    t.cache.set("userx", &1, None).await.unwrap();
    t.cache.set("order:1", &1, None).await.unwrap();
    if !t.cache.capabilities().delete_prefix {
        expect_kind(
            t.cache.delete_prefix("user:").await,
            ErrorKind::Unsupported,
            "delete_prefix",
        );
        assert!(
            t.cache.exists("user:1").await.unwrap(),
            "an unsupported call changed nothing"
        );
        return;
    }
    assert_eq!(t.cache.delete_prefix("user:").await.unwrap(), 30);
    assert!(!t.cache.exists("user:7").await.unwrap());
    assert!(t.cache.exists("userx").await.unwrap());
    assert!(t.cache.exists("order:1").await.unwrap());
}

pub(crate) async fn hashes_or_unsupported(t: &Target) {
    if !t.cache.capabilities().hashes {
        expect_kind(
            t.cache.hset("h", "f", &1).await,
            ErrorKind::Unsupported,
            "hset",
        );
        expect_kind(
            t.cache.hget::<i32>("h", "f").await,
            ErrorKind::Unsupported,
            "hget",
        );
        expect_kind(
            t.cache.hgetall::<i32>("h").await,
            ErrorKind::Unsupported,
            "hgetall",
        );
        expect_kind(t.cache.hdel("h", "f").await, ErrorKind::Unsupported, "hdel");
        return;
    }
    assert!(t.cache.hset("h", "b", &2).await.unwrap());
    assert!(t.cache.hset("h", "a", &1).await.unwrap());
    assert!(
        !t.cache.hset("h", "a", &10).await.unwrap(),
        "an existing field is not new"
    );
    assert_eq!(t.cache.hget::<i32>("h", "a").await.unwrap(), Some(10));
    assert_eq!(t.cache.hget::<i32>("h", "zz").await.unwrap(), None);
    let all: Vec<(String, i32)> = t.cache.hgetall("h").await.unwrap();
    assert_eq!(all, [("a".to_string(), 10), ("b".to_string(), 2)]);
    assert!(t.cache.hdel("h", "a").await.unwrap());
    assert!(!t.cache.hdel("h", "a").await.unwrap());
    assert!(t.cache.hgetall::<i32>("missing").await.unwrap().is_empty());
    t.cache.set("plain", &1, None).await.unwrap();
    expect_kind(
        t.cache.hset("plain", "f", &1).await,
        ErrorKind::InvalidInput,
        "hset on a value",
    );
}

pub(crate) async fn lists_or_unsupported(t: &Target) {
    if !t.cache.capabilities().lists {
        expect_kind(
            t.cache.push("l", ListEnd::Back, &[1]).await,
            ErrorKind::Unsupported,
            "push",
        );
        expect_kind(
            t.cache.pop::<i32>("l", ListEnd::Front).await,
            ErrorKind::Unsupported,
            "pop",
        );
        expect_kind(
            t.cache.range::<i32>("l", 0, -1).await,
            ErrorKind::Unsupported,
            "range",
        );
        return;
    }
    assert_eq!(
        t.cache.push("l", ListEnd::Back, &[1, 2, 3]).await.unwrap(),
        3
    );
    assert_eq!(t.cache.push("l", ListEnd::Front, &[0]).await.unwrap(), 4);
    assert_eq!(
        t.cache.range::<i32>("l", 0, -1).await.unwrap(),
        [0, 1, 2, 3]
    );
    assert_eq!(t.cache.range::<i32>("l", -2, -1).await.unwrap(), [2, 3]);
    assert_eq!(
        t.cache.pop::<i32>("l", ListEnd::Front).await.unwrap(),
        Some(0)
    );
    assert_eq!(
        t.cache.pop::<i32>("l", ListEnd::Back).await.unwrap(),
        Some(3)
    );
    assert_eq!(t.cache.range::<i32>("l", 0, 100).await.unwrap(), [1, 2]);
    assert_eq!(
        t.cache.pop::<i32>("missing", ListEnd::Back).await.unwrap(),
        None
    );
}

pub(crate) async fn oversized_values_are_rejected_and_nothing_is_stored(t: &Target) {
    let huge = "x".repeat(1_200_000);
    let err = t.cache.set("big", &huge, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.to_string().contains("limit"),
        "the error says why: {err}"
    );
    assert!(
        err.to_string().contains("big"),
        "the error names the key: {err}"
    );
    assert!(!t.cache.exists("big").await.unwrap());
    let many = [("ok", "small".to_string()), ("big", huge)];
    expect_kind(
        t.cache.set_many(&many, None).await,
        ErrorKind::InvalidInput,
        "set_many",
    );
    assert!(
        !t.cache.exists("ok").await.unwrap(),
        "a rejected batch stores nothing"
    );
}

pub(crate) async fn invalid_keys_are_rejected_with_the_reason(t: &Target) {
    let long = "k".repeat(300);
    for (key, reason) in [
        ("", "empty"),
        ("has space", "' '"),
        ("line\nbreak", "'\\n'"),
        ("tab\there", "'\\t'"),
        (long.as_str(), "limit"),
    ] {
        let err = t.cache.set(key, &1, None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{key:?}: {err}");
        assert!(
            err.to_string().contains(reason),
            "{key:?} should mention {reason}: {err}"
        );
        expect_kind(
            t.cache.get::<i32>(key).await,
            ErrorKind::InvalidInput,
            "get",
        );
    }
}

pub(crate) async fn large_and_unicode_values_survive(t: &Target) {
    let large: String = "Ωμέγα-🚀-".repeat(40_000);
    t.cache.set("large", &large, None).await.unwrap();
    assert_eq!(
        t.cache.get::<String>("large").await.unwrap().as_deref(),
        Some(large.as_str())
    );
    t.cache.set("clé/ключ/鍵", &"値", None).await.unwrap();
    assert_eq!(
        t.cache
            .get::<String>("clé/ключ/鍵")
            .await
            .unwrap()
            .as_deref(),
        Some("値")
    );
    let bytes: Vec<u8> = (0..=255).collect();
    t.cache.set("bytes", &bytes, None).await.unwrap();
    assert_eq!(t.cache.get::<Vec<u8>>("bytes").await.unwrap(), Some(bytes));
}

pub(crate) async fn get_or_set_loads_a_cold_key_once_under_concurrency(t: &Target) {
    let loads = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let cache = t.cache.clone();
            let loads = loads.clone();
            tokio::spawn(async move {
                cache
                    .get_or_set("cold", Some(Duration::from_secs(60)), || async {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok(order(7))
                    })
                    .await
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap(), order(7));
    }
    assert_eq!(
        loads.load(Ordering::SeqCst),
        1,
        "the loader ran once for 100 callers"
    );
    assert_eq!(t.cache.get::<Order>("cold").await.unwrap(), Some(order(7)));
}

pub(crate) async fn get_or_set_does_not_cache_loader_errors(t: &Target) {
    let failed: core_cache::Result<i32> = t
        .cache
        .get_or_set("flaky", None, || async {
            Err(core_cache::Error::unavailable("db down"))
        })
        .await;
    expect_kind(
        failed,
        ErrorKind::Unavailable,
        "the loader's error comes back",
    );
    assert!(!t.cache.exists("flaky").await.unwrap());
    let value = t
        .cache
        .get_or_set("flaky", None, || async { Ok(5) })
        .await
        .unwrap();
    assert_eq!(value, 5);
}

pub(crate) async fn negative_caching_remembers_absence(t: &Target) {
    let cache = Cache::builder(t.cache.backend().clone())
        .namespace(core_testkit::unique_name("neg"))
        .negative_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    let loads = AtomicUsize::new(0);
    for _ in 0..3 {
        let found: Option<i32> = cache
            .get_or_set_optional("ghost", Some(Duration::from_secs(60)), || async {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            })
            .await
            .unwrap();
        assert_eq!(found, None);
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1, "absence was remembered");
    assert_eq!(
        cache.get::<i32>("ghost").await.unwrap(),
        None,
        "plain reads see absence too"
    );
}

fn quick(ttl: Duration, wait: Duration) -> LockOptions {
    LockOptions {
        ttl,
        wait,
        retry_interval: Duration::from_millis(20),
    }
}

pub(crate) async fn a_lock_excludes_other_owners_until_released(t: &Target) {
    if !t.cache.capabilities().compare_and_swap {
        expect_kind(
            t.cache.lock("job", LockOptions::default()).await,
            ErrorKind::Unsupported,
            "lock",
        );
        return;
    }
    let held = t
        .cache
        .lock("job", quick(Duration::from_secs(30), Duration::ZERO))
        .await
        .unwrap();
    let second = t
        .cache
        .lock(
            "job",
            quick(Duration::from_secs(30), Duration::from_millis(200)),
        )
        .await;
    expect_kind(second, ErrorKind::Timeout, "a held lock");
    held.release().await.unwrap();
    let again = t
        .cache
        .lock("job", quick(Duration::from_secs(30), Duration::ZERO))
        .await
        .unwrap();
    again.release().await.unwrap();
}

pub(crate) async fn a_lock_gives_mutual_exclusion_among_many_clients(t: &Target) {
    if !t.cache.capabilities().compare_and_swap {
        return;
    }
    let inside = Arc::new(AtomicBool::new(false));
    let entered = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        // Separate connections where the backend is shared between processes.
        let client = if t.cache.capabilities().shared {
            t.another_client().await
        } else {
            t.cache.clone()
        };
        let (inside, entered) = (inside.clone(), entered.clone());
        workers.push(tokio::spawn(async move {
            for _ in 0..3 {
                let lock = client
                    .lock(
                        "critical",
                        quick(Duration::from_secs(10), Duration::from_secs(30)),
                    )
                    .await
                    .unwrap();
                assert!(
                    !inside.swap(true, Ordering::SeqCst),
                    "two owners inside at once"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
                inside.store(false, Ordering::SeqCst);
                entered.fetch_add(1, Ordering::SeqCst);
                lock.release().await.unwrap();
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(entered.load(Ordering::SeqCst), 24);
}

pub(crate) async fn a_lock_frees_itself_when_its_holder_dies(t: &Target) {
    if !t.cache.capabilities().compare_and_swap {
        return;
    }
    let crashed = t
        .cache
        .lock("lease", quick(Duration::from_secs(1), Duration::ZERO))
        .await
        .unwrap();
    // A crashed process never releases: forget the guard instead of dropping it.
    std::mem::forget(crashed);
    let next = t
        .cache
        .lock(
            "lease",
            quick(Duration::from_secs(10), Duration::from_secs(5)),
        )
        .await;
    next.expect("the lock was free again once its TTL ran out")
        .release()
        .await
        .unwrap();
}

pub(crate) async fn a_lost_lock_cannot_be_released_or_extended(t: &Target) {
    if !t.cache.capabilities().compare_and_swap {
        return;
    }
    let mut first = t
        .cache
        .lock("lost", quick(Duration::from_secs(1), Duration::ZERO))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let second = t
        .cache
        .lock("lost", quick(Duration::from_secs(30), Duration::ZERO))
        .await
        .unwrap();
    expect_kind(
        first.extend(Duration::from_secs(30)).await,
        ErrorKind::Conflict,
        "extend",
    );
    expect_kind(first.release().await, ErrorKind::Conflict, "release");
    // The new owner still holds it: neither call above removed its token.
    let third = t
        .cache
        .lock("lost", quick(Duration::from_secs(30), Duration::ZERO))
        .await;
    expect_kind(third, ErrorKind::Timeout, "the new owner's lock");
    second.release().await.unwrap();
}

pub(crate) async fn a_dropped_lock_is_released_for_the_next_owner(t: &Target) {
    if !t.cache.capabilities().compare_and_swap {
        return;
    }
    let held = t
        .cache
        .lock("dropped", quick(Duration::from_secs(60), Duration::ZERO))
        .await
        .unwrap();
    // Dropped, not released: the guard gives the key back in the background
    // long before its 60 s TTL would.
    drop(held);
    let next = t
        .cache
        .lock(
            "dropped",
            quick(Duration::from_secs(60), Duration::from_secs(5)),
        )
        .await;
    next.expect("a dropped guard released its lock")
        .release()
        .await
        .unwrap();
}

pub(crate) async fn a_lock_without_a_ttl_is_refused(t: &Target) {
    if !t.cache.capabilities().compare_and_swap {
        return;
    }
    let err = t
        .cache
        .lock("forever", quick(Duration::ZERO, Duration::ZERO))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("forever"), "names the key: {err}");
    assert!(!t.cache.exists("forever").await.unwrap());
}

pub(crate) async fn a_key_used_as_another_type_is_invalid_input(t: &Target) {
    let capabilities = t.cache.capabilities();
    t.cache.set("plain", &1, None).await.unwrap();
    if capabilities.hashes {
        expect_kind(
            t.cache.hget::<i32>("plain", "f").await,
            ErrorKind::InvalidInput,
            "hget on a value",
        );
        expect_kind(
            t.cache.hgetall::<i32>("plain").await,
            ErrorKind::InvalidInput,
            "hgetall on a value",
        );
        expect_kind(
            t.cache.hdel("plain", "f").await,
            ErrorKind::InvalidInput,
            "hdel on a value",
        );
        t.cache.hset("hash", "f", &1).await.unwrap();
        expect_kind(
            t.cache.get::<i32>("hash").await,
            ErrorKind::InvalidInput,
            "get on a hash",
        );
    }
    if capabilities.lists {
        expect_kind(
            t.cache.push("plain", ListEnd::Back, &[1]).await,
            ErrorKind::InvalidInput,
            "push on a value",
        );
        expect_kind(
            t.cache.pop::<i32>("plain", ListEnd::Front).await,
            ErrorKind::InvalidInput,
            "pop on a value",
        );
        expect_kind(
            t.cache.range::<i32>("plain", 0, -1).await,
            ErrorKind::InvalidInput,
            "range on a value",
        );
        t.cache.push("list", ListEnd::Back, &[1]).await.unwrap();
        expect_kind(
            t.cache.incr("list", 1).await,
            ErrorKind::InvalidInput,
            "incr on a list",
        );
    }
    assert_eq!(
        t.cache.get::<i32>("plain").await.unwrap(),
        Some(1),
        "a refused command changes nothing"
    );
}

pub(crate) async fn a_held_lock_can_be_extended(t: &Target) {
    if !t.cache.capabilities().compare_and_swap {
        return;
    }
    let mut held = t
        .cache
        .lock("long_job", quick(Duration::from_secs(1), Duration::ZERO))
        .await
        .unwrap();
    held.extend(Duration::from_secs(30)).await.unwrap();
    // Past the first TTL, the lock is still held.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    expect_kind(
        t.cache
            .lock("long_job", quick(Duration::from_secs(30), Duration::ZERO))
            .await,
        ErrorKind::Timeout,
        "an extended lock",
    );
    held.release().await.unwrap();
}
