//! Memcached over TLS on the listeners of `scripts/services.sh`
//! (`memcached-tls`: 11212, client certificate optional, also on 127.0.0.2;
//! `memcached-mtls`: 11213, client certificate required; `expired-tls`: 6392,
//! a certificate that has expired): what connects, and what is refused with
//! which words. The conformance suite runs over TLS in `conformance`.

use core_cache::{CacheSettings, ErrorKind, connect};
use core_testkit::{Service, require_service};

async fn connect_error(url: String) -> core_cache::Error {
    match connect(&CacheSettings::from_url(url)).await {
        Ok(_) => panic!("connected where it must be refused"),
        Err(err) => err,
    }
}

/// Refused as unavailable and not retried, with `words`, naming `address`.
fn refused_for_good(err: &core_cache::Error, words: &str, address: &str) {
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        !err.is_temporary(),
        "a certificate problem is not retried: {err}"
    );
    assert!(err.to_string().contains(words), "{err}");
    assert!(err.to_string().contains(address), "names the host: {err}");
}

#[tokio::test]
async fn verified_with_the_project_ca() {
    let url = require_service!(Service::MemcachedTls);
    let cache = connect(&CacheSettings::from_url(format!(
        "{url}?sslrootcert={}",
        Service::tls_file("ca.pem")
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
async fn another_ca_is_refused_as_untrusted() {
    let url = require_service!(Service::MemcachedTls);
    let err = connect_error(format!(
        "{url}?sslrootcert={}",
        Service::tls_file("other-ca.pem")
    ))
    .await;
    refused_for_good(&err, "not trusted (unknown issuer)", "127.0.0.1:11212");
}

#[tokio::test]
async fn a_name_the_certificate_lacks_is_refused() {
    let _ = require_service!(Service::MemcachedTls);
    let err = connect_error(format!(
        "memcacheds://127.0.0.2:11212?sslrootcert={}",
        Service::tls_file("ca.pem")
    ))
    .await;
    refused_for_good(&err, "does not name the host", "127.0.0.2:11212");
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let _ = require_service!(Service::MemcachedTls);
    // expired-tls serves a certificate of the project CA that expired in 2020.
    let err = connect_error(format!(
        "memcacheds://127.0.0.1:6392?sslrootcert={}",
        Service::tls_file("ca.pem")
    ))
    .await;
    refused_for_good(&err, "has expired", "127.0.0.1:6392");
}

#[tokio::test]
async fn a_listener_that_demands_a_client_certificate() {
    let _ = require_service!(Service::MemcachedTls);
    let with = format!(
        "memcacheds://127.0.0.1:11213?sslrootcert={}&sslcert={}&sslkey={}",
        Service::tls_file("ca.pem"),
        Service::tls_file("client.pem"),
        Service::tls_file("client.key")
    );
    let cache = connect(&CacheSettings::from_url(with)).await.unwrap();
    cache.set("mtls-probe", &1_u32, None).await.unwrap();
    assert_eq!(cache.get::<u32>("mtls-probe").await.unwrap(), Some(1));

    let without = format!(
        "memcacheds://127.0.0.1:11213?sslrootcert={}",
        Service::tls_file("ca.pem")
    );
    let err = connect_error(without).await;
    refused_for_good(&err, "refused the client certificate", "127.0.0.1:11213");
}

#[tokio::test]
async fn tls_against_a_plaintext_listener_says_so() {
    let plain = require_service!(Service::Memcached);
    let address = Service::Memcached.first_address(&plain);
    let mut settings = CacheSettings::from_url(format!(
        "memcacheds://{address}?sslrootcert={}",
        Service::tls_file("ca.pem")
    ));
    // A plaintext Memcached waits for the end of a line that a TLS hello
    // may never send: the connect gives up after the pool's wait.
    settings.memcached.wait_timeout_ms = 1_000;
    let err = match connect(&settings).await {
        Ok(_) => panic!("connected over TLS to a plaintext server"),
        Err(err) => err,
    };
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.to_string().contains("speak TLS at this address"),
        "{err}"
    );
    assert!(err.to_string().contains(&address), "names the host: {err}");
}

#[tokio::test]
async fn tls_files_are_checked_before_connecting() {
    for (url, expected) in [
        (
            "memcached://127.0.0.1:11211?sslrootcert=/etc/ssl/ca.pem".to_string(),
            "need a TLS URL: use memcacheds://",
        ),
        (
            "memcacheds://127.0.0.1:11212?sslrootcert=/nonexistent/ca.pem".to_string(),
            "sslrootcert=/nonexistent/ca.pem cannot be read",
        ),
        (
            format!(
                "memcacheds://127.0.0.1:11212?sslcert={}",
                Service::tls_file("client.pem")
            ),
            "sslcert and sslkey go together",
        ),
        (
            format!(
                "memcacheds://127.0.0.1:11212?sslrootcert={}",
                Service::tls_file("client.key")
            ),
            "holds no certificate",
        ),
    ] {
        let err = connect_error(url.clone()).await;
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{url}: {err}");
        assert!(err.to_string().contains(expected), "{url}: {err}");
    }
}
