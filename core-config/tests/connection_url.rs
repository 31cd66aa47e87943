//! `ConnectionUrl` built from parts reads back what was put in, hands the
//! driver everything (percent-encoded), and shows people no secret.

use core_config::{ConnectionUrl, Driver, Host};
use secrecy::{ExposeSecret, SecretString};

#[test]
fn a_url_built_from_parts_reads_back_each_part() {
    let url = ConnectionUrl::new(Driver::Postgres)
        .with_host("db.internal")
        .with_port(6543)
        .with_user("app")
        .with_password(SecretString::from("pa ss"))
        .with_database("orders")
        .with_param("sslmode", "require");
    assert_eq!(url.driver(), Driver::Postgres);
    assert_eq!(url.host(), Some("db.internal"));
    assert_eq!(url.port(), Some(6543));
    assert_eq!(url.user(), Some("app"));
    assert_eq!(url.password().unwrap().expose_secret(), "pa ss");
    assert_eq!(url.database(), Some("orders"));
    assert_eq!(
        url.params(),
        [("sslmode".to_string(), "require".to_string())]
    );
    assert_eq!(
        url.expose_url().expose_secret(),
        "postgres://app:pa%20ss@db.internal:6543/orders?sslmode=require"
    );
    assert_eq!(
        url.to_string(),
        "postgres://app:***@db.internal:6543/orders?sslmode=require"
    );
}

#[test]
fn a_port_without_a_host_is_for_localhost() {
    let url = ConnectionUrl::new(Driver::Redis).with_port(6380);
    assert_eq!(
        url.hosts(),
        [Host {
            name: "localhost".to_string(),
            port: Some(6380),
        }]
    );
    assert_eq!(url.expose_url().expose_secret(), "redis://localhost:6380");
}

#[test]
fn the_port_falls_back_to_the_drivers_default() {
    for (text, port) in [
        ("postgres://db/app", Some(5432)),
        ("mysql://db/app", Some(3306)),
        ("mongodb://db/app", Some(27017)),
        ("redis://cache", Some(6379)),
        ("sqlite://data/app.db", None),
    ] {
        let url: ConnectionUrl = text.parse().unwrap();
        assert_eq!(url.port(), port, "{text}");
        assert_eq!(url.driver().default_port(), port, "{text}");
    }
}

#[test]
fn sqlite_urls_name_a_file_or_memory() {
    let memory = ConnectionUrl::sqlite(":memory:");
    assert_eq!(memory.expose_url().expose_secret(), "sqlite::memory:");
    assert_eq!(memory.host(), None);
    let file = ConnectionUrl::sqlite("data/app.db");
    assert_eq!(file.database(), Some("data/app.db"));
    assert_eq!(file.expose_url().expose_secret(), "sqlite://data/app.db");
}

#[test]
fn mongodb_takes_one_host_per_replica() {
    let url = ConnectionUrl::new(Driver::Mongodb)
        .with_host("h1")
        .with_host("h2")
        .with_port(27018)
        .with_database("app");
    assert_eq!(url.hosts().len(), 2);
    assert_eq!(url.host(), Some("h1"));
    assert_eq!(url.port(), Some(27017), "h1 has no port of its own");
    assert_eq!(
        url.expose_url().expose_secret(),
        "mongodb://h1,h2:27018/app"
    );
}

#[test]
fn a_secret_query_parameter_reaches_the_driver_but_not_the_log() {
    let url: ConnectionUrl = "postgres://app@db/app?sslmode=verify-full&sslpassword=k3y-pass"
        .parse()
        .unwrap();
    assert!(
        url.expose_url()
            .expose_secret()
            .ends_with("sslpassword=k3y-pass"),
        "the driver needs the value"
    );
    for shown in [url.to_string(), format!("{url:?}")] {
        assert!(!shown.contains("k3y-pass"), "{shown}");
        assert!(shown.contains("sslmode=verify-full"), "{shown}");
    }
}
