//! Picking a backend by URL scheme: the errors say what this build knows
//! and which feature would add a missing backend.

use core_mq::{ErrorKind, MqSettings, connect};

#[tokio::test]
async fn an_unknown_scheme_lists_the_schemes_compiled_in() {
    let err = connect(&MqSettings::from_url("carrier-pigeon://loft:1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    assert!(text.contains("\"carrier-pigeon\""), "{text}");
    assert!(text.contains("mq.url"), "{text}");
    for (feature, scheme) in [
        (cfg!(feature = "memory"), "memory://"),
        (cfg!(feature = "redis-streams"), "rediss://"),
        (cfg!(feature = "rabbitmq"), "amqps://"),
        (cfg!(feature = "kafka"), "kafka://"),
    ] {
        assert_eq!(text.contains(scheme), feature, "{scheme} in {text}");
    }
}

#[tokio::test]
async fn schemes_are_case_insensitive() {
    if cfg!(feature = "memory") {
        let queue = connect(&MqSettings::from_url("MEMORY://")).await.unwrap();
        assert_eq!(queue.name(), "memory");
    }
}

#[cfg(not(feature = "kafka"))]
#[tokio::test]
async fn a_backend_compiled_out_names_the_feature_that_adds_it() {
    let err = connect(&MqSettings::from_url("kafka://127.0.0.1:9092"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("feature `kafka`"), "{err}");
}
