//! TLS to PostgreSQL and MySQL/MariaDB through sqlx (rustls): the modes of
//! `sslmode` / `ssl-mode` against the machine's servers — PostgreSQL with
//! `ssl = on` and Debian's snakeoil certificate (CN and SAN `localhost`),
//! MariaDB with TLS off — and `mariadb-tls` of `scripts/services.sh` (the
//! project CA, users `app` REQUIRE SSL and `app_x509` REQUIRE X509, also on
//! 127.0.0.2, a name its certificate lacks); a clear, permanent error for
//! each refusal.

#![cfg(all(feature = "postgres", feature = "mysql"))]

use core_db::{Database, DatabaseSettings, ErrorKind, connect};
use core_testkit::{Service, require_service};

/// The certificate the machine's PostgreSQL serves (a self-signed CA of
/// its own, for `localhost`).
const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

fn with_query(url: &str, query: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

async fn try_connect(url: &str) -> core_db::Result<Database> {
    connect(&DatabaseSettings::from_url(url)).await
}

#[derive(serde::Deserialize)]
struct Ssl {
    ssl: bool,
}

/// Whether the server says this session is encrypted.
async fn encrypted(db: &Database) -> bool {
    db.sql()
        .unwrap()
        .query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one_as::<Ssl>()
        .await
        .expect("pg_stat_ssl")
        .ssl
}

fn refused(result: core_db::Result<Database>, cause: &str, mode: &str) {
    let err = match result {
        Ok(_) => panic!("{mode}: connected, but it must be refused ({cause})"),
        Err(err) => err,
    };
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{mode}: {err}");
    assert!(
        !err.is_temporary(),
        "{mode}: a certificate problem is not retried: {err}"
    );
    let shown = err.to_string();
    assert!(shown.contains(cause), "{mode}: the cause is named: {shown}");
    assert!(
        shown.contains("127.0.0.1") || shown.contains("localhost"),
        "{mode}: the host is named: {shown}"
    );
}

#[tokio::test]
async fn postgres_sessions_are_encrypted_and_verified_as_the_url_says() {
    let url = require_service!(Service::Postgres);
    if Service::Postgres.first_address(&url) != "127.0.0.1:5432" {
        eprintln!(
            "SKIPPED: DATABASE_URL_POSTGRES is not the machine's server (its certificate is known here)"
        );
        return;
    }
    let base = url.split('?').next().unwrap_or(&url);
    let by_name = base.replacen("127.0.0.1", "localhost", 1);

    let plain = try_connect(&with_query(base, "sslmode=disable"))
        .await
        .unwrap();
    assert!(!encrypted(&plain).await, "sslmode=disable must not encrypt");

    let required = try_connect(&with_query(base, "sslmode=require"))
        .await
        .unwrap();
    assert!(encrypted(&required).await, "sslmode=require must encrypt");

    let root = format!("sslrootcert={SNAKEOIL}");
    for (url, mode) in [
        (
            with_query(&by_name, &format!("sslmode=verify-full&{root}")),
            "verify-full, host localhost",
        ),
        // sqlx 0.8.6 with rustls checks the host name under verify-ca too
        // (launchbadge/sqlx#3793), so verify-ca is shown on the name the
        // certificate holds.
        (
            with_query(&by_name, &format!("sslmode=verify-ca&{root}")),
            "verify-ca, host localhost",
        ),
    ] {
        let db = try_connect(&url)
            .await
            .unwrap_or_else(|err| panic!("{mode}: {err} ({:?})", std::error::Error::source(&err)));
        assert!(encrypted(&db).await, "{mode}");
    }

    refused(
        try_connect(&with_query(base, &format!("sslmode=verify-full&{root}"))).await,
        "does not name the host",
        "verify-full, host 127.0.0.1",
    );
    refused(
        try_connect(&with_query(&by_name, "sslmode=verify-full")).await,
        "not trusted",
        "verify-full without the CA",
    );
}

#[tokio::test]
async fn mysql_requiring_tls_from_a_server_without_it_is_refused_clearly() {
    let url = require_service!(Service::MySql);
    let base = url.split('?').next().unwrap_or(&url).to_owned();
    refused(
        try_connect(&with_query(&base, "ssl-mode=REQUIRED")).await,
        "does not speak TLS",
        "ssl-mode=REQUIRED against MariaDB without TLS",
    );
    // PREFERRED, sqlx's default, still connects in the clear.
    try_connect(&with_query(&base, "ssl-mode=PREFERRED"))
        .await
        .unwrap();
}

fn tls_file(name: &str) -> String {
    Service::tls_dir().join(name).display().to_string()
}

#[derive(serde::Deserialize)]
struct Cipher {
    #[serde(rename = "Value")]
    value: String,
}

#[tokio::test]
async fn mariadb_over_tls_with_the_project_ca() {
    let url = require_service!(Service::MySqlTls);
    let ca = format!("ssl-ca={}", tls_file("ca.pem"));
    let db = try_connect(&with_query(&url, &format!("ssl-mode=VERIFY_IDENTITY&{ca}")))
        .await
        .unwrap();
    let cipher = db
        .sql()
        .unwrap()
        .query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .fetch_one_as::<Cipher>()
        .await
        .unwrap();
    assert!(!cipher.value.is_empty(), "the session is encrypted");

    refused(
        try_connect(&with_query(
            &url,
            &format!(
                "ssl-mode=VERIFY_IDENTITY&ssl-ca={}",
                tls_file("other-ca.pem")
            ),
        ))
        .await,
        "not trusted",
        "VERIFY_IDENTITY with another CA",
    );
    let other_name = url.replace("127.0.0.1", "127.0.0.2");
    let err = try_connect(&with_query(
        &other_name,
        &format!("ssl-mode=VERIFY_IDENTITY&{ca}"),
    ))
    .await
    .map(|_| ())
    .expect_err("a name the certificate lacks is refused");
    assert!(!err.is_temporary(), "{err}");
    assert!(err.to_string().contains("does not name the host"), "{err}");
}

#[tokio::test]
async fn mariadb_requiring_a_client_certificate() {
    let url = require_service!(Service::MySqlTls);
    let x509 = url.replace("mysql://app:", "mysql://app_x509:");
    let ca = format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", tls_file("ca.pem"));
    let with_cert = format!(
        "{ca}&ssl-cert={}&ssl-key={}",
        tls_file("client.pem"),
        tls_file("client.key")
    );
    try_connect(&with_query(&x509, &with_cert)).await.unwrap();
    // Without one the server lets the handshake finish, then refuses the user.
    let err = try_connect(&with_query(&x509, &ca))
        .await
        .map(|_| ())
        .expect_err("REQUIRE X509 without a client certificate is refused");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    // The app user may not log in without TLS at all.
    let err = try_connect(&with_query(&url, "ssl-mode=DISABLED"))
        .await
        .map(|_| ())
        .expect_err("REQUIRE SSL without TLS is refused");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(!err.to_string().contains("core-sdk-maria-pw"), "{err}");
}

#[tokio::test]
async fn postgres_with_the_project_ca_and_a_client_certificate() {
    let url = require_service!(Service::PostgresTls);
    let root = format!("sslrootcert={}", tls_file("ca.pem"));
    let db = try_connect(&with_query(&url, &format!("sslmode=verify-full&{root}")))
        .await
        .unwrap();
    assert!(encrypted(&db).await);
    refused(
        try_connect(&with_query(
            &url,
            &format!(
                "sslmode=verify-full&sslrootcert={}",
                tls_file("other-ca.pem")
            ),
        ))
        .await,
        "not trusted",
        "verify-full with another CA",
    );
    // The server takes no plaintext at all.
    let err = try_connect(&with_query(&url, "sslmode=disable"))
        .await
        .map(|_| ())
        .expect_err("plaintext is refused");
    assert!(!err.to_string().contains("core-sdk-pg-pw"), "{err}");

    // The certificate user: its certificate's CN is its name.
    let cert_user = url.replace("app:core-sdk-pg-pw@", "core-sdk-client@");
    let with_cert = format!(
        "sslmode=verify-full&{root}&sslcert={}&sslkey={}",
        tls_file("client.pem"),
        tls_file("client.key")
    );
    try_connect(&with_query(&cert_user, &with_cert))
        .await
        .unwrap();
    let err = try_connect(&with_query(
        &cert_user,
        &format!("sslmode=verify-full&{root}"),
    ))
    .await
    .map(|_| ())
    .expect_err("no client certificate, no login");
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
}
