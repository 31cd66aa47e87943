//! Secrets planted in settings, tokens and passwords never show in Debug
//! output or errors.

mod common;

use core_auth::AuthSettings;
use core_auth::jwt::{JwtSettings, KeyRing};
use core_auth::password::{PasswordPolicy, PolicySettings};
use core_auth::tokens::TokenSettings;

const PLANTED: &str = "pl4nted-S3CRET-value-that-is-long-enough";

#[test]
fn settings_debug_hides_hmac_secrets_and_private_keys() {
    let json = serde_json::json!({
        "jwt": {
            "signing_kid": "hs",
            "keys": [
                {"kid": "hs", "algorithm": "HS256", "secret": PLANTED},
                {"kid": "rs", "algorithm": "RS256", "private_key_pem": common::RSA_PRIVATE}
            ]
        }
    });
    let settings: AuthSettings = serde_json::from_value(json).unwrap();
    for shown in [format!("{settings:?}"), format!("{settings:#?}")] {
        assert!(!shown.contains(PLANTED), "{shown}");
        assert!(!shown.contains("BEGIN PRIVATE KEY"), "{shown}");
        assert!(!shown.contains(&common::RSA_PRIVATE[40..80]), "{shown}");
    }
    let ring = KeyRing::from_settings(&settings.jwt).unwrap();
    let shown = format!("{ring:?}");
    assert!(
        !shown.contains(PLANTED) && shown.contains("hs:HS256"),
        "{shown}"
    );
}

#[test]
fn unknown_settings_keys_are_named() {
    let err = serde_json::from_str::<AuthSettings>(r#"{"jwt": {"isuer": "x"}}"#).unwrap_err();
    assert!(err.to_string().contains("isuer"), "{err}");
    let err =
        serde_json::from_str::<JwtSettings>(r#"{"keys": [{"kid": "k", "algorithm": "none"}]}"#)
            .unwrap_err();
    assert!(err.to_string().contains("none"), "{err}");
}

#[tokio::test]
async fn verification_errors_never_carry_the_token() {
    let tokens = common::service(common::memory_cache().await, &TokenSettings::default());
    let pair = tokens.issue(PLANTED, &[], &[]).await.unwrap();
    tokens.logout(&pair.access_token).await.unwrap();
    for result in [
        tokens.authenticate(&pair.access_token).await.map(drop),
        tokens.refresh(&pair.refresh_token).await.map(drop),
        tokens
            .authenticate(&format!("{}x", pair.access_token))
            .await
            .map(drop),
    ] {
        let err = result.unwrap_err();
        common::assert_hidden(&err, PLANTED);
        for token in [&pair.access_token, &pair.refresh_token] {
            for part in token.split('.') {
                common::assert_hidden(&err, part);
            }
        }
    }
}

#[test]
fn policy_errors_never_carry_the_password() {
    let policy = PasswordPolicy::new(PolicySettings::default());
    let err = policy.check("pl4nted", &[]).unwrap_err();
    common::assert_hidden(&err, "pl4nted");
}
