//! TLS to the queues on the listeners of `scripts/services.sh`:
//! - RabbitMQ (`amqps://`): `rabbitmq-tls` (5671, also on 127.0.0.2, a name
//!   its certificate lacks), `rabbitmq-mtls` (5673, client certificate
//!   required), both TLS terminators in front of RabbitMQ;
//! - NATS (`tls://`): `nats-tls` (4223: nats-server's own TLS, a client
//!   certificate from the project CA required).
//!
//! The conformance suite runs over TLS in `conformance` (`rabbitmq_tls::`,
//! `redis_streams_tls::`, `nats_tls::`).

#![cfg(any(feature = "rabbitmq", feature = "nats"))]

use core_mq::{ErrorKind, MqSettings, connect};
use core_testkit::{Service, require_service};

async fn refused(url: String) -> core_mq::Error {
    match connect(&MqSettings::from_url(url)).await {
        Ok(_) => panic!("connected where it must be refused"),
        Err(err) => err,
    }
}

/// Settings refused before any connection, with `expected` in the message.
async fn refused_as_invalid_input(url: String, expected: &str) {
    let err = refused(url).await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains(expected), "{err}");
}

#[cfg(feature = "rabbitmq")]
mod rabbitmq {
    use super::*;

    #[tokio::test]
    async fn amqps_is_verified_against_the_configured_ca() {
        let url = require_service!(Service::RabbitMqTls);
        connect(&MqSettings::from_url(format!(
            "{url}?sslrootcert={}",
            Service::tls_file("ca.pem")
        )))
        .await
        .unwrap();

        let err = refused(format!(
            "{url}?sslrootcert={}",
            Service::tls_file("other-ca.pem")
        ))
        .await;
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(!err.is_temporary(), "{err}");
        assert!(
            err.to_string().contains("not trusted (unknown issuer)"),
            "{err}"
        );
        assert!(
            err.to_string().contains("127.0.0.1:5671"),
            "names the host: {err}"
        );

        let other_name = url.replace("127.0.0.1", "127.0.0.2");
        let err = refused(format!(
            "{other_name}?sslrootcert={}",
            Service::tls_file("ca.pem")
        ))
        .await;
        assert!(!err.is_temporary(), "{err}");
        assert!(err.to_string().contains("does not name the host"), "{err}");
    }

    #[tokio::test]
    async fn a_listener_that_demands_a_client_certificate() {
        let url = require_service!(Service::RabbitMqTls);
        let mtls = url.replace(":5671", ":5673");
        connect(&MqSettings::from_url(format!(
            "{mtls}?sslrootcert={}&sslcert={}&sslkey={}",
            Service::tls_file("ca.pem"),
            Service::tls_file("client.pem"),
            Service::tls_file("client.key")
        )))
        .await
        .unwrap();

        let err = refused(format!(
            "{mtls}?sslrootcert={}",
            Service::tls_file("ca.pem")
        ))
        .await;
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(!err.to_string().contains("guest:guest"), "{err}");
    }

    #[tokio::test]
    async fn tls_files_need_amqps_and_come_in_pairs() {
        for (url, expected) in [
            (
                format!(
                    "amqp://127.0.0.1:5672/%2f?sslrootcert={}",
                    Service::tls_file("ca.pem")
                ),
                "need an amqps:// URL",
            ),
            (
                format!(
                    "amqps://127.0.0.1:5671/%2f?sslcert={}",
                    Service::tls_file("client.pem")
                ),
                "sslcert and sslkey go together",
            ),
            (
                "amqps://127.0.0.1:5671/%2f?sslrootcert=/nonexistent/ca.pem".to_string(),
                "sslrootcert=/nonexistent/ca.pem cannot be read",
            ),
        ] {
            refused_as_invalid_input(url, expected).await;
        }
    }
}

#[cfg(feature = "nats")]
mod nats {
    use super::*;

    /// `url` with the CA `ca` and, when `client`, the project's client certificate.
    fn with_files(url: &str, ca: &str, client: bool) -> String {
        let mut url = format!("{url}?sslrootcert={}", Service::tls_file(ca));
        if client {
            url = format!(
                "{url}&sslcert={}&sslkey={}",
                Service::tls_file("client.pem"),
                Service::tls_file("client.key")
            );
        }
        url
    }

    async fn refused(url: String) -> core_mq::Error {
        match connect(&MqSettings::from_url(url)).await {
            Ok(_) => panic!("connected where it must be refused"),
            Err(err) => err,
        }
    }

    #[tokio::test]
    async fn tls_is_verified_against_the_configured_ca_with_a_client_certificate() {
        let url = require_service!(Service::NatsTls);
        let queue = connect(&MqSettings::from_url(with_files(&url, "ca.pem", true)))
            .await
            .expect("connect over TLS");
        queue
            .health(std::time::Duration::from_secs(5))
            .await
            .expect("healthy over TLS");

        let err = refused(with_files(&url, "other-ca.pem", true)).await;
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(!err.is_temporary(), "{err}");
        assert!(
            err.to_string().contains("not trusted (unknown issuer)"),
            "{err}"
        );
        assert!(
            err.to_string().contains("127.0.0.1:4223"),
            "names the host: {err}"
        );
    }

    #[tokio::test]
    async fn a_server_that_demands_a_client_certificate_refuses_a_client_without_one() {
        let url = require_service!(Service::NatsTls);
        let with_password = url.replacen("tls://", "tls://app:core-sdk-nats-pw@", 1);
        let err = refused(with_files(&with_password, "ca.pem", false)).await;
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(
            err.to_string().contains("refused the client certificate"),
            "{err}"
        );
        assert!(!err.to_string().contains("core-sdk-nats-pw"), "{err}");
    }

    #[tokio::test]
    async fn tls_to_a_server_without_tls_says_so() {
        let plain = require_service!(Service::Nats);
        let url = plain.replacen("nats://", "tls://", 1);
        let err = refused(with_files(&url, "ca.pem", true)).await;
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(!err.is_temporary(), "{err}");
        assert!(err.to_string().contains("does not speak TLS"), "{err}");
    }

    #[tokio::test]
    async fn tls_files_need_tls_and_are_named_when_missing() {
        for (url, expected) in [
            (
                format!(
                    "nats://127.0.0.1:4222?sslrootcert={}",
                    Service::tls_file("ca.pem")
                ),
                "need a tls:// URL",
            ),
            (
                format!(
                    "tls://127.0.0.1:4223?sslcert={}",
                    Service::tls_file("client.pem")
                ),
                "sslcert and sslkey go together",
            ),
            (
                "tls://127.0.0.1:4223?sslrootcert=/nonexistent/ca.pem".to_string(),
                "sslrootcert=/nonexistent/ca.pem cannot be read",
            ),
        ] {
            refused_as_invalid_input(url, expected).await;
        }
    }
}
