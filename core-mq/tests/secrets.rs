//! Passwords never show in settings, errors, or their debug output.

use core_mq::{MqSettings, connect};

const SECRET: &str = "hunter2-secret";

fn assert_hidden(what: &str, shown: &str) {
    assert!(!shown.contains(SECRET), "{what} shows the secret: {shown}");
}

#[test]
fn settings_debug_hides_url_passwords_and_secret_client_properties() {
    let mut settings = MqSettings::from_url(format!("amqp://app:{SECRET}@rabbit:5672/%2f"));
    settings
        .kafka
        .client
        .insert("sasl.password".to_string(), SECRET.to_string());
    settings
        .kafka
        .client
        .insert("ssl.key.password".to_string(), SECRET.to_string());
    settings
        .kafka
        .client
        .insert("client.id".to_string(), "billing".to_string());
    let shown = format!("{settings:?}");
    assert_hidden("MqSettings Debug", &shown);
    assert!(shown.contains("rabbit:5672"), "{shown}");
    assert!(
        shown.contains("billing"),
        "non-secret properties stay visible: {shown}"
    );
}

/// Connects to a closed port with a password in the URL and checks every
/// rendering of the error.
async fn refused(url: String) {
    let settings = MqSettings::from_url(url);
    let err = match connect(&settings).await {
        Ok(queue) => panic!("nothing listens on port 1, yet {} connected", queue.name()),
        Err(err) => err,
    };
    assert!(
        err.is_temporary(),
        "a refused connection is worth retrying: {err}"
    );
    assert_hidden("Display", &err.to_string());
    assert_hidden("Debug", &format!("{err:?}"));
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        assert_hidden("a source's Display", &cause.to_string());
        assert_hidden("a source's Debug", &format!("{cause:?}"));
        source = cause.source();
    }
}

#[cfg(feature = "rabbitmq")]
#[tokio::test]
async fn rabbitmq_connection_errors_hide_the_password() {
    refused(format!("amqp://app:{SECRET}@127.0.0.1:1/%2f")).await;
}

#[cfg(feature = "redis-streams")]
#[tokio::test]
async fn redis_connection_errors_hide_the_password() {
    refused(format!("redis://:{SECRET}@127.0.0.1:1/0")).await;
}

#[cfg(feature = "nats")]
#[tokio::test]
async fn nats_connection_errors_hide_the_password() {
    refused(format!("nats://app:{SECRET}@127.0.0.1:1")).await;
}

#[tokio::test]
async fn an_unknown_scheme_is_named_without_the_url() {
    let err = connect(&MqSettings::from_url(format!(
        "carrier-pigeon://u:{SECRET}@host:4222"
    )))
    .await
    .expect_err("no backend of this crate answers carrier-pigeon://");
    assert_eq!(err.kind(), core_mq::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("\"carrier-pigeon\""), "{err}");
    assert_hidden("Display", &err.to_string());
}
