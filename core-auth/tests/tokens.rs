//! Access/refresh pairs: rotation, reuse revoking the family, logout and
//! revocation through core-cache — in memory, and across two instances
//! sharing Redis.

mod common;

use std::time::Duration;

use common::*;
use core_auth::ErrorKind;
use core_auth::tokens::{TokenService, TokenSettings};
use core_cache::{CacheSettings, Ttl, connect};
use core_testkit::{Service, require_service, unique_name};

fn unauthenticated<T: std::fmt::Debug>(result: core_auth::Result<T>, what: &str, token: &str) {
    let err = result.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{what}: {err}");
    assert_hidden(&err, token.rsplit('.').next().unwrap());
}

#[tokio::test]
async fn a_pair_authenticates_and_carries_roles_and_scopes() {
    let tokens = service(memory_cache().await, &TokenSettings::default());
    let pair = tokens
        .issue("user-1", &["editor".into()], &["reports:read".into()])
        .await
        .unwrap();
    assert_eq!(pair.expires_in, 900);
    let principal = tokens.authenticate(&pair.access_token).await.unwrap();
    assert_eq!(principal.subject, "user-1");
    assert_eq!(principal.roles, ["editor"]);
    assert_eq!(principal.scopes, ["reports:read"]);
    unauthenticated(
        tokens.authenticate(&pair.refresh_token).await,
        "a refresh token is not an access token",
        &pair.refresh_token,
    );
    unauthenticated(
        tokens.refresh(&pair.access_token).await,
        "an access token cannot refresh",
        &pair.access_token,
    );
    assert!(!format!("{pair:?}").contains(&pair.access_token));
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let tokens = service(memory_cache().await, &TokenSettings::default());
    let first = tokens
        .issue("user-1", &["editor".into()], &[])
        .await
        .unwrap();
    let second = tokens.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(
        tokens
            .authenticate(&second.access_token)
            .await
            .unwrap()
            .roles,
        ["editor"]
    );
    let third = tokens.refresh(&second.refresh_token).await.unwrap();
    // The old access token stays valid until it expires: rotation retires
    // refresh tokens only.
    assert!(tokens.authenticate(&first.access_token).await.is_ok());

    // Replaying a retired refresh token: theft. The family dies.
    let err = tokens.refresh(&first.refresh_token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(err.to_string().contains("already used"), "{err}");
    for (what, token) in [
        ("newest access", &third.access_token),
        ("older access", &second.access_token),
        ("first access", &first.access_token),
    ] {
        unauthenticated(tokens.authenticate(token).await, what, token);
    }
    unauthenticated(
        tokens.refresh(&third.refresh_token).await,
        "the newest refresh token",
        &third.refresh_token,
    );

    // Another login is another family, unaffected.
    let other = tokens.issue("user-1", &[], &[]).await.unwrap();
    assert!(tokens.refresh(&other.refresh_token).await.is_ok());
}

#[tokio::test]
async fn logout_revokes_the_session_and_revoke_one_token() {
    let tokens = service(memory_cache().await, &TokenSettings::default());
    let session = tokens.issue("user-1", &[], &[]).await.unwrap();
    let other_session = tokens.issue("user-1", &[], &[]).await.unwrap();
    tokens.logout(&session.access_token).await.unwrap();
    unauthenticated(
        tokens.authenticate(&session.access_token).await,
        "logged out",
        &session.access_token,
    );
    unauthenticated(
        tokens.refresh(&session.refresh_token).await,
        "logged out",
        &session.refresh_token,
    );
    assert!(
        tokens
            .authenticate(&other_session.access_token)
            .await
            .is_ok()
    );

    let next = tokens.refresh(&other_session.refresh_token).await.unwrap();
    tokens.revoke(&next.access_token).await.unwrap();
    let err = tokens.authenticate(&next.access_token).await.unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
    // Revoking one token leaves the session's refresh token working.
    assert!(tokens.refresh(&next.refresh_token).await.is_ok());
}

#[tokio::test]
async fn a_revocation_lives_as_long_as_the_token_would() {
    let cache = memory_cache().await;
    let settings = TokenSettings {
        access_ttl_secs: 120,
        refresh_ttl_secs: 3600,
        ..TokenSettings::default()
    };
    let tokens = service(cache.clone(), &settings);
    let pair = tokens.issue("user-1", &[], &[]).await.unwrap();
    tokens.revoke(&pair.access_token).await.unwrap();
    let claims = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(&pair.access_token)
        .unwrap()
        .claims;
    let key = format!("auth:revoked:{}", claims["jti"].as_str().unwrap());
    // 120 s of lifetime plus the 30 s leeway.
    match cache.ttl(&key).await.unwrap() {
        Ttl::ExpiresIn(ttl) => assert!(
            (Duration::from_secs(140)..=Duration::from_secs(150)).contains(&ttl),
            "{ttl:?}"
        ),
        other => panic!("the revocation should expire, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_lifetimes_are_refused() {
    let cache = memory_cache().await;
    for (access, refresh) in [(0, 10), (10, 0), (100, 10)] {
        let settings = TokenSettings {
            access_ttl_secs: access,
            refresh_ttl_secs: refresh,
            ..TokenSettings::default()
        };
        let err = TokenService::new(std::sync::Arc::new(ring("hs256")), cache.clone(), &settings)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
}

async fn redis_pair() -> Option<(TokenService, TokenService)> {
    let url = require_service!(Service::Redis, None);
    let mut settings = CacheSettings::from_url(url);
    settings.namespace = Some(unique_name("auth"));
    // Two instances: separate connections, one server, one namespace.
    let a = connect(&settings).await.expect("instance A");
    let b = connect(&settings).await.expect("instance B");
    let tokens = TokenSettings::default();
    Some((service(a, &tokens), service(b, &tokens)))
}

#[tokio::test]
async fn revocation_works_across_two_instances_sharing_redis() {
    let Some((a, b)) = redis_pair().await else {
        return;
    };
    let pair = a.issue("user-1", &[], &[]).await.unwrap();
    assert!(b.authenticate(&pair.access_token).await.is_ok());
    a.revoke(&pair.access_token).await.unwrap();
    unauthenticated(
        b.authenticate(&pair.access_token).await,
        "revoked on A",
        &pair.access_token,
    );

    let session = b.issue("user-2", &[], &[]).await.unwrap();
    b.logout(&session.refresh_token).await.unwrap();
    unauthenticated(
        a.authenticate(&session.access_token).await,
        "logged out on B",
        &session.access_token,
    );
}

#[tokio::test]
async fn refresh_reuse_is_caught_across_instances_sharing_redis() {
    let Some((a, b)) = redis_pair().await else {
        return;
    };
    let first = a.issue("user-1", &[], &[]).await.unwrap();
    let second = a.refresh(&first.refresh_token).await.unwrap();
    // The stolen first refresh token is replayed against the other instance.
    unauthenticated(
        b.refresh(&first.refresh_token).await,
        "replayed on B",
        &first.refresh_token,
    );
    unauthenticated(
        a.authenticate(&second.access_token).await,
        "family revoked",
        &second.access_token,
    );
    unauthenticated(
        a.refresh(&second.refresh_token).await,
        "family revoked",
        &second.refresh_token,
    );
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_let_exactly_one_through() {
    let Some((a, b)) = redis_pair().await else {
        return;
    };
    let pair = a.issue("user-1", &[], &[]).await.unwrap();
    let (first, second) = tokio::join!(
        a.refresh(&pair.refresh_token),
        b.refresh(&pair.refresh_token)
    );
    assert_eq!(
        u8::from(first.is_ok()) + u8::from(second.is_ok()),
        1,
        "the retirement is atomic: {first:?} / {second:?}"
    );
}

#[tokio::test]
async fn services_with_their_own_cache_namespaces_share_revocations_through_the_setting() {
    let server = connect(&CacheSettings::from_url("memory://"))
        .await
        .unwrap();
    let cache_in = |namespace: &str| {
        core_cache::Cache::builder(server.backend().clone())
            .namespace(namespace)
            .build()
            .unwrap()
    };
    let settings = TokenSettings {
        revocation_namespace: Some(unique_name("auth.revocations")),
        ..TokenSettings::default()
    };
    let users = service(cache_in("user_service"), &settings);
    let orders = service(cache_in("order_service"), &settings);
    let pair = users.issue("user-1", &[], &[]).await.unwrap();
    orders.verify_access(&pair.access_token).await.unwrap();
    users.logout(&pair.access_token).await.unwrap();
    let err = orders.verify_access(&pair.access_token).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");

    // Without the setting each keeps revocations in its own namespace.
    let alone = service(cache_in("order_service"), &TokenSettings::default());
    let other = service(cache_in("user_service"), &TokenSettings::default());
    let pair = other.issue("user-2", &[], &[]).await.unwrap();
    other.logout(&pair.access_token).await.unwrap();
    alone.verify_access(&pair.access_token).await.unwrap();
}
