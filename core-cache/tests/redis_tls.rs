//! Redis over TLS on the listeners of `scripts/services.sh` (`redis-tls`:
//! 6390, client certificate optional, also on 127.0.0.2; `redis-tls-mtls`:
//! 6391, client certificate required): what connects, and what is refused
//! with which words. The conformance suite runs over TLS in `conformance`.

use core_cache::{CacheSettings, ErrorKind, connect};
use core_testkit::{Service, require_service};

/// `rediss://app:…@host:port/0?…` with `params` after the query's `?`.
fn url(host_port: &str, params: &str) -> String {
    format!("rediss://app:core-sdk-redis-pw@{host_port}/0?{params}")
}

async fn connect_error(url: String) -> core_cache::Error {
    match connect(&CacheSettings::from_url(url)).await {
        Ok(_) => panic!("connected where it must be refused"),
        Err(err) => err,
    }
}

#[tokio::test]
async fn verified_with_the_project_ca_and_an_acl_user() {
    let base = require_service!(Service::RedisTls);
    let address = Service::RedisTls.first_address(&base);
    let cache = connect(&CacheSettings::from_url(url(
        &address,
        &format!("sslrootcert={}", Service::tls_file("ca.pem")),
    )))
    .await
    .unwrap();
    cache.set("tls-probe", &"over TLS", None).await.unwrap();
    assert_eq!(
        cache.get::<String>("tls-probe").await.unwrap().as_deref(),
        Some("over TLS")
    );
}

#[tokio::test]
async fn another_ca_is_refused_as_untrusted_and_not_retried() {
    let base = require_service!(Service::RedisTls);
    let address = Service::RedisTls.first_address(&base);
    let err = connect_error(url(
        &address,
        &format!("sslrootcert={}", Service::tls_file("other-ca.pem")),
    ))
    .await;
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(!err.is_temporary(), "{err}");
    assert!(
        err.to_string().contains("not trusted (unknown issuer)"),
        "{err}"
    );
    assert!(
        err.to_string().contains("127.0.0.1:6390"),
        "names the host: {err}"
    );
    assert!(!err.to_string().contains("core-sdk-redis-pw"), "{err}");
}

#[tokio::test]
async fn a_name_the_certificate_lacks_is_refused() {
    let _ = require_service!(Service::RedisTls);
    let err = connect_error(url(
        "127.0.0.2:6390",
        &format!("sslrootcert={}", Service::tls_file("ca.pem")),
    ))
    .await;
    assert!(!err.is_temporary(), "{err}");
    assert!(err.to_string().contains("does not name the host"), "{err}");
}

#[tokio::test]
async fn a_listener_that_demands_a_client_certificate() {
    let _ = require_service!(Service::RedisTls);
    let with = url(
        "127.0.0.1:6391",
        &format!(
            "sslrootcert={}&sslcert={}&sslkey={}",
            Service::tls_file("ca.pem"),
            Service::tls_file("client.pem"),
            Service::tls_file("client.key")
        ),
    );
    let cache = connect(&CacheSettings::from_url(with)).await.unwrap();
    cache.set("mtls-probe", &1_u32, None).await.unwrap();

    let without = url(
        "127.0.0.1:6391",
        &format!("sslrootcert={}", Service::tls_file("ca.pem")),
    );
    let err = connect_error(without).await;
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("client certificate"), "{err}");
}

#[tokio::test]
async fn tls_against_a_plaintext_listener_says_so() {
    let plain = require_service!(Service::Redis);
    let address = Service::Redis.first_address(&plain);
    let err = connect_error(format!(
        "rediss://{address}/0?sslrootcert={}",
        Service::tls_file("ca.pem")
    ))
    .await;
    // A plaintext Redis never answers a TLS hello: the handshake times out.
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.to_string()
            .contains("may not speak TLS at this address"),
        "{err}"
    );
    assert!(
        err.to_string().contains("127.0.0.1:6379"),
        "names the host: {err}"
    );
}

#[tokio::test]
async fn a_wrong_acl_password_is_unauthenticated_and_never_shown() {
    let base = require_service!(Service::RedisTls);
    let address = Service::RedisTls.first_address(&base);
    let wrong = format!(
        "rediss://app:PLANTED-REDIS-PW@{address}/0?sslrootcert={}",
        Service::tls_file("ca.pem")
    );
    let err = connect_error(wrong).await;
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(!format!("{err} {err:?}").contains("PLANTED"), "{err:?}");
}

#[tokio::test]
async fn tls_files_are_checked_before_connecting() {
    for (url, expected) in [
        (
            "redis://127.0.0.1:6379/0?sslrootcert=/etc/ssl/ca.pem".to_string(),
            "need a rediss:// URL",
        ),
        (
            "rediss://127.0.0.1:6390/0?sslrootcert=/nonexistent/ca.pem".to_string(),
            "sslrootcert=/nonexistent/ca.pem cannot be read",
        ),
        (
            format!(
                "rediss://127.0.0.1:6390/0?sslcert={}",
                Service::tls_file("client.pem")
            ),
            "sslcert and sslkey go together",
        ),
        (
            "rediss://127.0.0.1:6390/0#insecure".to_string(),
            "verification cannot be turned off",
        ),
    ] {
        let err = connect_error(url).await;
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[tokio::test]
async fn an_expired_certificate_is_refused_as_expired() {
    // `expired-tls`: a TLS terminator serving a certificate of the project CA
    // that expired in 2020, in front of the plaintext Redis.
    let _ = require_service!(Service::RedisTls);
    let err = connect_error(format!(
        "rediss://127.0.0.1:6392/0?sslrootcert={}",
        Service::tls_file("ca.pem")
    ))
    .await;
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(!err.is_temporary(), "{err}");
    assert!(err.to_string().contains("has expired"), "{err}");
}

/// The TLS Redis Cluster (`redis-cluster-tls`, 7100-7102): verified with the
/// project CA, every master reached (the conformance suite runs on it too);
/// another CA refused as untrusted, and a TLS parameter without TLS refused
/// before connecting.
#[cfg(feature = "redis-cluster")]
#[tokio::test]
async fn a_tls_cluster_is_verified_on_every_node() {
    let base = require_service!(Service::RedisClusterTls);
    let cache = connect(&CacheSettings::from_url(format!(
        "{base}?sslrootcert={}",
        Service::tls_file("ca.pem")
    )))
    .await
    .unwrap();
    // Keys on every master's slots: the redirects lead to TLS ports.
    let keys: Vec<String> = (0..30).map(|n| format!("tls-cluster-{n}")).collect();
    for key in &keys {
        cache.set(key, &1, None).await.unwrap();
    }
    for key in &keys {
        assert_eq!(cache.get::<i32>(key).await.unwrap(), Some(1));
    }

    let err = connect_error(format!(
        "{base}?sslrootcert={}",
        Service::tls_file("other-ca.pem")
    ))
    .await;
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(!err.is_temporary(), "{err}");
    assert!(
        err.to_string().contains("not trusted (unknown issuer)"),
        "{err}"
    );

    let plain = base.replacen("rediss-cluster://", "redis-cluster://", 1);
    let err = connect_error(format!(
        "{plain}?sslrootcert={}",
        Service::tls_file("ca.pem")
    ))
    .await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("rediss-cluster://"), "{err}");
}
