//! API keys: generated once, stored as a digest, verified, scoped, revoked.

mod common;

use std::sync::Arc;
use std::time::Duration;

use core_auth::api_key::{ApiKeys, CacheApiKeyStore};
use core_auth::rbac::Rbac;
use core_auth::{ErrorKind, PrincipalKind};
use secrecy::ExposeSecret as _;

async fn keys() -> (ApiKeys, core_cache::Cache) {
    let cache = common::memory_cache().await;
    let keys = ApiKeys::new("ck", Arc::new(CacheApiKeyStore::new(cache.clone()))).unwrap();
    (keys, cache)
}

#[tokio::test]
async fn a_key_verifies_and_acts_with_its_scopes() {
    let (keys, _) = keys().await;
    let generated = keys
        .generate("svc-billing", &["invoices:*".into()], None)
        .await
        .unwrap();
    let text = generated.key.expose_secret();
    assert!(
        text.starts_with(&format!("ck_{}_", generated.record.id)),
        "{text}"
    );
    assert!(!format!("{generated:?}").contains(text.rsplit('_').next().unwrap()));

    let principal = keys.authenticate(text).await.unwrap();
    assert_eq!(principal.subject, "svc-billing");
    assert_eq!(
        principal.kind,
        PrincipalKind::ApiKey {
            key_id: generated.record.id.clone()
        }
    );
    let rbac = Rbac::default();
    assert!(rbac.has_permission(&principal, "invoices:send"));
    assert!(!rbac.has_permission(&principal, "orders:read"));
}

#[tokio::test]
async fn only_a_digest_is_stored() {
    let (keys, cache) = keys().await;
    let generated = keys.generate("svc", &[], None).await.unwrap();
    let secret = generated
        .key
        .expose_secret()
        .splitn(3, '_')
        .nth(2)
        .unwrap()
        .to_string();
    let stored: serde_json::Value = cache
        .get(&format!("auth:api-key:{}", generated.record.id))
        .await
        .unwrap()
        .expect("the record is stored");
    assert!(!stored.to_string().contains(&secret), "{stored}");
    assert_eq!(stored["secret_sha256"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn wrong_malformed_revoked_and_expired_keys_are_rejected() {
    let (keys, _) = keys().await;
    let generated = keys.generate("svc", &[], None).await.unwrap();
    let text = generated.key.expose_secret().to_string();
    let mut tampered = text.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let other_prefix = text.replacen("ck_", "pk_", 1);
    let unknown_id = format!(
        "ck_0000000000000000_{}",
        text.splitn(3, '_').nth(2).unwrap()
    );
    for (what, presented) in [
        ("tampered secret", tampered.as_str()),
        ("other prefix", other_prefix.as_str()),
        ("unknown id", unknown_id.as_str()),
        ("no secret", "ck_0123456789abcdef"),
        ("empty", ""),
    ] {
        let err = keys.verify(presented).await.expect_err(what);
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{what}: {err}");
        if presented.len() > 20 {
            common::assert_hidden(&err, &presented[20..]);
        }
    }

    assert!(keys.revoke(&generated.record.id).await.unwrap());
    assert!(keys.verify(&text).await.is_err(), "revoked");
    assert!(!keys.revoke(&generated.record.id).await.unwrap());

    let short = keys
        .generate("svc", &[], Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert!(keys.verify(short.key.expose_secret()).await.is_ok());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        keys.verify(short.key.expose_secret())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Unauthenticated
    );
}

#[tokio::test]
async fn bad_prefixes_and_scopes_are_refused() {
    let cache = common::memory_cache().await;
    let store = Arc::new(CacheApiKeyStore::new(cache));
    for prefix in ["", "CK", "c_k", "waytoolongprefix17"] {
        assert!(ApiKeys::new(prefix, store.clone()).is_err(), "{prefix:?}");
    }
    let keys = ApiKeys::new("ck", store).unwrap();
    let err = keys
        .generate("svc", &["orders:re*d".into()], None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
