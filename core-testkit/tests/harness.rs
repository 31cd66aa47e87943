//! The harness itself: skip, fail and isolation behave as documented.

use core_testkit::{Service, require_at, unique_name};

#[tokio::test]
async fn an_unreachable_server_is_skipped_when_not_required() {
    let url = require_at(Service::Redis, "redis://127.0.0.1:1", false, "harness").await;
    assert_eq!(url, None);
}

#[tokio::test]
#[should_panic(expected = "Redis is unreachable at 127.0.0.1:1")]
async fn an_unreachable_server_fails_the_test_when_required() {
    require_at(Service::Redis, "redis://127.0.0.1:1", true, "harness").await;
}

#[tokio::test]
async fn the_failure_message_never_shows_credentials() {
    let url = "amqp://guest:pl4nted-s3cret@127.0.0.1:1/%2f";
    let task = tokio::spawn(require_at(Service::RabbitMq, url, true, "harness"));
    let panic = task
        .await
        .expect_err("an unreachable server must fail when required");
    let message = panic
        .into_panic()
        .downcast::<String>()
        .map(|message| *message)
        .unwrap_or_default();
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("pl4nted-s3cret"), "{message}");
}

#[tokio::test]
async fn a_listening_server_is_returned() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    assert_eq!(
        require_at(Service::Redis, &url, true, "harness").await,
        Some(url)
    );
}

#[test]
fn every_service_has_its_own_variable_and_port() {
    let mut vars: Vec<_> = Service::ALL
        .iter()
        .map(|service| service.env_var())
        .collect();
    vars.sort_unstable();
    vars.dedup();
    assert_eq!(vars.len(), Service::ALL.len());
    for service in Service::ALL {
        let address = service.first_address(service.default_url());
        assert!(
            address.ends_with(&format!(":{}", service.default_port())),
            "{address}"
        );
    }
}

#[test]
fn addresses_are_found_in_every_url_form() {
    assert_eq!(
        Service::Postgres.first_address("postgres://u:p@db/app"),
        "db:5432"
    );
    assert_eq!(
        Service::Redis.first_address("redis://[::1]:6380/0"),
        "[::1]:6380"
    );
    assert_eq!(
        Service::Redis.first_address("redis://[::1]/0"),
        "[::1]:6379"
    );
    assert_eq!(Service::Kafka.first_address("k1,k2:9093"), "k1:9092");
}

#[test]
fn unique_names_differ_across_calls_and_threads() {
    let names: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| (0..100).map(|_| unique_name("x")).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect()
    });
    let mut distinct = names.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), names.len());
    assert!(
        names.iter().all(|name| name.len() <= 48),
        "{:?}",
        names.first()
    );
}
