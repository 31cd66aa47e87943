//! Kafka with TLS and SASL on the brokers of `scripts/services.sh`:
//! `kafka-tls` (9095, a TLS terminator with the project CA in front of a
//! Kafka-protocol broker), `kafka-sasl` (9096, SCRAM-SHA-256/512, user
//! `app`), `kafka-sasl-tls` (9097, both). The broker offers no SASL PLAIN, so
//! PLAIN is tested only for its refusal. The conformance suite runs over TLS
//! and over SASL in `conformance` (`kafka_tls::`, `kafka_sasl::`).

#![cfg(feature = "kafka")]

use core_mq::{ErrorKind, KafkaProtocol, Message, MqSettings, SaslMechanism, connect};
use core_testkit::{Service, require_service, unique_name};

fn sasl(
    brokers: &str,
    protocol: KafkaProtocol,
    mechanism: SaslMechanism,
    password: &str,
) -> MqSettings {
    let mut settings = MqSettings::from_url(format!("kafka://{brokers}"));
    settings.kafka.security.protocol = protocol;
    settings.kafka.security.sasl_mechanism = Some(mechanism);
    settings.kafka.security.sasl_username = Some("app".into());
    settings.kafka.security.sasl_password = Some(password.into());
    settings
}

fn ca(name: &str) -> std::path::PathBuf {
    Service::tls_dir().join(name)
}

async fn refused(settings: MqSettings) -> core_mq::Error {
    match connect(&settings).await {
        Ok(_) => panic!("connected where it must be refused"),
        Err(err) => err,
    }
}

#[tokio::test]
async fn tls_with_another_ca_is_refused_at_connect() {
    let brokers = require_service!(Service::KafkaTls);
    let mut settings = MqSettings::from_url(format!("kafka://{brokers}"));
    settings.kafka.security.protocol = KafkaProtocol::Ssl;
    settings.kafka.security.ca_file = Some(ca("other-ca.pem"));
    let err = refused(settings).await;
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(!err.is_temporary(), "{err}");
    assert!(err.to_string().contains("not trusted"), "{err}");
    assert!(
        err.to_string().contains("127.0.0.1:9095"),
        "names the brokers: {err}"
    );
}

#[tokio::test]
async fn scram_sha_256_and_512_and_a_wrong_password() {
    let brokers = require_service!(Service::KafkaSasl);
    for mechanism in [SaslMechanism::ScramSha256, SaslMechanism::ScramSha512] {
        connect(&sasl(
            &brokers,
            KafkaProtocol::SaslPlaintext,
            mechanism,
            "core-sdk-kafka-pw",
        ))
        .await
        .unwrap();
    }
    let wrong = sasl(
        &brokers,
        KafkaProtocol::SaslPlaintext,
        SaslMechanism::ScramSha256,
        "PLANTED-KAFKA-PW",
    );
    // The password stays out of the settings' Debug too.
    assert!(!format!("{wrong:?}").contains("PLANTED"));
    let err = refused(wrong).await;
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(!format!("{err} {err:?}").contains("PLANTED"), "{err:?}");

    let plain = sasl(
        &brokers,
        KafkaProtocol::SaslPlaintext,
        SaslMechanism::Plain,
        "core-sdk-kafka-pw",
    );
    let err = refused(plain).await;
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(err.to_string().contains("SASL mechanism"), "{err}");
}

#[tokio::test]
async fn sasl_over_tls_round_trips_a_message() {
    let _ = require_service!(Service::KafkaTls);
    let mut settings = sasl(
        "127.0.0.1:9097",
        KafkaProtocol::SaslSsl,
        SaslMechanism::ScramSha512,
        "core-sdk-kafka-pw",
    );
    settings.kafka.security.ca_file = Some(ca("ca.pem"));
    let mq = connect(&settings).await.unwrap();
    let topic = unique_name("sasl-tls");
    mq.publish(Message::new(&topic, "over SASL_SSL"))
        .await
        .unwrap();
}

#[tokio::test]
async fn security_settings_that_cannot_work_are_refused_by_name() {
    let mut settings = MqSettings::from_url("kafka://127.0.0.1:9092");
    settings
        .kafka
        .client
        .insert("sasl.password".into(), "x".into());
    let err = refused(settings).await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("belongs in mq.kafka.security"),
        "{err}"
    );

    let mut settings = MqSettings::from_url("kafka://127.0.0.1:9092");
    settings.kafka.security.protocol = KafkaProtocol::SaslSsl;
    let err = refused(settings).await;
    assert!(err.to_string().contains("needs sasl_mechanism"), "{err}");

    let mut settings = MqSettings::from_url("kafka://127.0.0.1:9092");
    settings.kafka.security.ca_file = Some(ca("ca.pem"));
    let err = refused(settings).await;
    assert!(err.to_string().contains("use ssl or sasl_ssl"), "{err}");

    let mut settings = MqSettings::from_url("kafka://127.0.0.1:9092");
    settings.kafka.security.protocol = KafkaProtocol::Ssl;
    settings.kafka.security.ca_file = Some("/nonexistent/ca.pem".into());
    let err = refused(settings).await;
    assert!(err.to_string().contains("is not a readable file"), "{err}");
}
