//! The `CacheBase` behaviour suite, run against every backend on its real server.
//!
//! Each case in [`cases`] is written once against [`Cache`]; `cache_suite!`
//! instantiates all of them for one backend. `cargo test -p core-cache
//! --all-features --test conformance redis::` runs the Redis ones.

mod cases;
mod outside_backend;

use std::sync::Arc;

use core_cache::layers::stack;
use core_cache::{Cache, CacheBase, CacheSettings, TieredSettings, connect};
use core_testkit::{Service, require_service, unique_name};

/// What a case gets: a cache in a namespace of its own, and the settings
/// that made it, so a case can connect more clients to the same server.
pub(crate) struct Target {
    pub(crate) cache: Cache,
    pub(crate) settings: CacheSettings,
    /// A backend built outside `connect`: other clients share it.
    outside: Option<Arc<dyn CacheBase>>,
}

impl Target {
    async fn new(mut settings: CacheSettings) -> Option<Target> {
        settings.namespace = Some(unique_name("cache"));
        let cache = connect(&settings)
            .await
            .expect("connect the cache under test");
        Some(Target {
            cache,
            settings,
            outside: None,
        })
    }

    /// A target on a backend made by hand, under the standard layers as
    /// `connect` would put them.
    fn outside(backend: Arc<dyn CacheBase>) -> Target {
        let settings = CacheSettings {
            namespace: Some(unique_name("cache")),
            ..CacheSettings::default()
        };
        let cache = Target::over(&backend, &settings);
        Target {
            cache,
            settings,
            outside: Some(backend),
        }
    }

    fn over(backend: &Arc<dyn CacheBase>, settings: &CacheSettings) -> Cache {
        let layered = stack(Arc::clone(backend), &settings.layers);
        let namespace = settings.namespace.clone().expect("a namespace");
        Cache::builder(layered)
            .namespace(namespace)
            .build()
            .expect("a cache over the outside backend")
    }

    /// Another client of the same server and namespace.
    pub(crate) async fn another_client(&self) -> Cache {
        if let Some(backend) = &self.outside {
            return Target::over(backend, &self.settings);
        }
        connect(&self.settings)
            .await
            .expect("connect another client")
    }
}

macro_rules! cache_suite {
    ($backend:ident, $setup:path) => {
        core_testkit::conformance_suite! {
            suite: crate::cases,
            backend: $backend,
            setup: $setup,
            cases: [
                missing_keys_read_as_none,
                typed_values_round_trip,
                set_overwrites,
                delete_reports_whether_the_key_existed,
                exists_follows_set_and_delete,
                values_expire_after_their_ttl,
                ttl_reports_the_remaining_lifetime,
                expire_sets_a_deadline_on_existing_keys_only,
                set_if_absent_stores_once,
                counters_start_at_zero_and_count_both_ways,
                counting_a_non_integer_is_invalid_input,
                batches_keep_their_order,
                delete_many_counts_what_existed,
                delete_prefix_removes_only_matching_keys,
                hashes_or_unsupported,
                lists_or_unsupported,
                oversized_values_are_rejected_and_nothing_is_stored,
                invalid_keys_are_rejected_with_the_reason,
                large_and_unicode_values_survive,
                get_or_set_loads_a_cold_key_once_under_concurrency,
                get_or_set_does_not_cache_loader_errors,
                negative_caching_remembers_absence,
                a_lock_excludes_other_owners_until_released,
                a_lock_gives_mutual_exclusion_among_many_clients,
                a_lock_frees_itself_when_its_holder_dies,
                a_lost_lock_cannot_be_released_or_extended,
                a_dropped_lock_is_released_for_the_next_owner,
                a_lock_without_a_ttl_is_refused,
                a_key_used_as_another_type_is_invalid_input,
                a_held_lock_can_be_extended,
            ],
        }
    };
}

async fn memory() -> Option<Target> {
    Target::new(CacheSettings::from_url("memory://")).await
}

/// The backend of `outside_backend.rs`, which knows nothing of core-cache's insides.
async fn outside_map() -> Option<Target> {
    Some(Target::outside(Arc::new(
        outside_backend::MapBackend::default(),
    )))
}

async fn redis() -> Option<Target> {
    let url = require_service!(Service::Redis, None);
    Target::new(CacheSettings::from_url(url)).await
}

/// Redis over TLS, verified against the project CA, as the ACL user `app`.
pub(crate) fn redis_tls_url(url: &str) -> String {
    let ca = Service::tls_dir().join("ca.pem");
    let url = url.replacen("rediss://", "rediss://app:core-sdk-redis-pw@", 1);
    format!("{url}/0?sslrootcert={}", ca.display())
}

async fn redis_tls() -> Option<Target> {
    let url = require_service!(Service::RedisTls, None);
    Target::new(CacheSettings::from_url(redis_tls_url(&url))).await
}

async fn tiered_tls() -> Option<Target> {
    let url = require_service!(Service::RedisTls, None);
    let mut settings = CacheSettings::from_url(redis_tls_url(&url));
    settings.tiered = Some(TieredSettings {
        l1_ttl_ms: 5_000,
        ..TieredSettings::default()
    });
    Target::new(settings).await
}

async fn redis_cluster() -> Option<Target> {
    let url = require_service!(Service::RedisCluster, None);
    Target::new(CacheSettings::from_url(url)).await
}

/// The TLS-only Redis Cluster, verified against the project CA; the
/// redirects the cluster answers name TLS ports too.
async fn redis_cluster_tls() -> Option<Target> {
    let url = require_service!(Service::RedisClusterTls, None);
    let ca = Service::tls_dir().join("ca.pem");
    Target::new(CacheSettings::from_url(format!(
        "{url}?sslrootcert={}",
        ca.display()
    )))
    .await
}

async fn memcached() -> Option<Target> {
    let url = require_service!(Service::Memcached, None);
    let address = Service::Memcached.first_address(&url);
    Target::new(CacheSettings::from_url(format!("memcached://{address}"))).await
}

/// Memcached over TLS, verified against the project CA.
async fn memcached_tls() -> Option<Target> {
    let url = require_service!(Service::MemcachedTls, None);
    let ca = Service::tls_dir().join("ca.pem");
    Target::new(CacheSettings::from_url(format!(
        "{url}?sslrootcert={}",
        ca.display()
    )))
    .await
}

async fn tiered() -> Option<Target> {
    let url = require_service!(Service::Redis, None);
    let mut settings = CacheSettings::from_url(url);
    settings.tiered = Some(TieredSettings {
        l1_ttl_ms: 5_000,
        ..TieredSettings::default()
    });
    Target::new(settings).await
}

cache_suite!(memory, crate::memory);
cache_suite!(outside, crate::outside_map);
cache_suite!(redis, crate::redis);
cache_suite!(redis_cluster, crate::redis_cluster);
cache_suite!(redis_cluster_tls, crate::redis_cluster_tls);
cache_suite!(memcached, crate::memcached);
cache_suite!(memcached_tls, crate::memcached_tls);
cache_suite!(tiered, crate::tiered);
cache_suite!(redis_tls, crate::redis_tls);
cache_suite!(tiered_tls, crate::tiered_tls);
