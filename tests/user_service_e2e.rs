//! The user service end to end, over real HTTP against the example binary:
//! once on its embedded backends (SQLite, in-memory cache and queue), once
//! on PostgreSQL + Redis + RabbitMQ chosen by environment variables only.

#![cfg(all(
    feature = "config",
    feature = "log",
    feature = "db",
    feature = "cache",
    feature = "mq",
    feature = "auth",
    feature = "axum"
))]

mod support;

use std::time::Duration;

use core_sdk::auth::jwt::{JwtSettings, KeyRing, TokenType};
use core_sdk::db::DatabaseSettings;
use core_sdk::db::sql::SqlDatabase;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use support::{Api, ScratchDir, ServiceProcess, wait_until};

const ISSUER: &str = "core-sdk-examples";
const ADMIN_PASSWORD: &str = "sturdy-lighthouse-4821";

/// What a run needs beyond the backends: a key, an admin, a cache namespace.
fn base_env(jwt_secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("APP_ENV", "test".to_string()),
        ("APP__AUTH__JWT__SECRET", jwt_secret.to_string()),
        ("APP__AUTH__JWT__ISSUER", ISSUER.to_string()),
        ("APP__ADMIN__PASSWORD", ADMIN_PASSWORD.to_string()),
        ("APP__CACHE__NAMESPACE", core_testkit::unique_name("users")),
    ]
}

fn new_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[tokio::test]
async fn embedded_backends() {
    let scratch = ScratchDir::new("user_service");
    let database_url = format!("sqlite://{}/users.db?mode=rwc", scratch.path().display());
    let secret = new_secret();
    let mut env = base_env(&secret);
    env.push(("APP__DATABASE__URL", database_url.clone()));
    run_suite(&env, &secret, &database_url).await;
}

/// 20 concurrent registrations and 20 concurrent logins: every audit event
/// and every "request finished" line is in the log, each with its request's
/// `request_id`. On PostgreSQL and MariaDB sqlx's query logger used to
/// leave core-log's per-output filters stale, which dropped audit lines and
/// stripped the context of whole requests.
async fn audit_trail_is_complete(database_url: &str) {
    let mut env = base_env(&new_secret());
    env.push(("APP__DATABASE__URL", database_url.to_owned()));
    // Every login comes from 127.0.0.1: let all 20 in at once.
    env.push((
        "APP__AUTH__THROTTLE__MAX_CONCURRENT_PER_ADDRESS",
        "20".into(),
    ));
    let service = ServiceProcess::start("user_service", &env);
    let api = Api::new(service.base_url());
    let run = uuid::Uuid::new_v4().simple().to_string();
    let names: Vec<String> = (0..20).map(|n| format!("aud{n}x{}", &run[..8])).collect();
    let registrations: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({
                "username": name,
                "email": format!("{name}@example.com"),
                "password": "a long enough passphrase",
            })
        })
        .collect();
    let logins: Vec<Value> = names
        .iter()
        .map(|name| json!({"username": name, "password": "a long enough passphrase"}))
        .collect();
    for (path, bodies, expected) in [
        ("/api/v1/auth/register", &registrations, StatusCode::CREATED),
        ("/api/v1/auth/login", &logins, StatusCode::OK),
    ] {
        let calls = bodies
            .iter()
            .map(|body| api.call(Method::POST, path, None, Some(body)));
        for (status, body) in futures::future::join_all(calls).await {
            assert_eq!(status, expected, "{path}: {body}");
        }
    }
    // Read after the exit: lines still in the log queue are written then.
    let (status, output) = service.terminate_with_output();
    assert!(status.success(), "exit after SIGTERM: {status}");

    let lines: Vec<Value> = output
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let audited = |action: &str| {
        lines
            .iter()
            .filter(|line| line["target"] == "audit" && line["fields"]["action"] == action)
            .collect::<Vec<_>>()
    };
    let finished: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "request finished")
        .collect();
    for (what, found) in [
        ("user.register", audited("user.register")),
        ("session.create", audited("session.create")),
        ("request finished", finished),
    ] {
        let expected = if what == "request finished" { 40 } else { 20 };
        assert!(
            found.len() >= expected,
            "{what}: {} of {expected} lines on {database_url}:\n{output}",
            found.len()
        );
        for line in found {
            assert!(
                line["context"]["request_id"].is_string(),
                "{what} without its request id on {database_url}: {line}"
            );
        }
    }
}

#[tokio::test]
async fn audit_trail_is_complete_on_sqlite() {
    let scratch = ScratchDir::new("user_service_audit");
    audit_trail_is_complete(&format!(
        "sqlite://{}/users.db?mode=rwc",
        scratch.path().display()
    ))
    .await;
}

#[cfg(all(feature = "postgres", feature = "mysql"))]
#[tokio::test]
async fn audit_trail_is_complete_on_postgres_and_mariadb() {
    use core_testkit::{Service, require_service};
    for (service, prefix) in [
        (Service::Postgres, "audit_pg"),
        (Service::MySql, "audit_my"),
    ] {
        let server = require_service!(service);
        let database = support::ScratchDatabase::create(&server, prefix).await;
        audit_trail_is_complete(&database.url).await;
        database.drop().await;
    }
}

/// Resident memory of `pid` in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// 60 concurrent failed logins at the real argon2id cost (19 MiB a hash):
/// beyond the per-address limit they are refused with 429 before any hash,
/// beyond the hashing slots with 503 after a short wait, each with
/// `Retry-After` in the JSON error shape, none times out, and memory stays
/// within the pooled buffers' worth instead of 60 hashes' worth (1.1 GiB
/// before).
#[tokio::test]
async fn a_login_flood_is_bounded() {
    let scratch = ScratchDir::new("user_service_flood");
    let mut env = base_env(&new_secret());
    env.push((
        "APP__DATABASE__URL",
        format!("sqlite://{}/users.db?mode=rwc", scratch.path().display()),
    ));
    env.push(("APP__AUTH__PASSWORDS__ARGON2__MEMORY_KIB", "19456".into()));
    env.push(("APP__AUTH__PASSWORDS__ARGON2__ITERATIONS", "2".into()));
    env.push(("APP__AUTH__PASSWORDS__HASHING__MAX_CONCURRENT", "2".into()));
    // Far above the flood, so that only the hashing bound answers.
    env.push(("APP__AUTH__THROTTLE__MAX_ADDRESS_FAILURES", "1000".into()));
    env.push(("APP__AUTH__THROTTLE__MAX_ACCOUNT_FAILURES", "1000".into()));
    let service = ServiceProcess::start("user_service", &env);
    let api = Api::new(service.base_url());
    api.register("flo", "flo@example.com", "a long enough passphrase")
        .await;
    let before = rss_kib(service.pid());

    let pid = service.pid();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampling = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                peak.fetch_max(rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let wrong = json!({"username": "flo", "password": "wrong password!"});
    let attempts =
        (0..60).map(|_| api.request(Method::POST, "/api/v1/auth/login", None, Some(&wrong)));
    let started = std::time::Instant::now();
    let responses = futures::future::join_all(attempts).await;
    let elapsed = started.elapsed();
    sampling.abort();

    let (mut refused_busy, mut refused_address) = (0, 0);
    for response in responses {
        let status = response.status();
        let retry_after = response.headers().get("retry-after").cloned();
        let body: Value = response.json().await.expect("a JSON error body");
        match status {
            StatusCode::UNAUTHORIZED => assert_eq!(body["error"]["code"], "unauthenticated"),
            StatusCode::SERVICE_UNAVAILABLE => {
                refused_busy += 1;
                assert_eq!(body["error"]["code"], "unavailable", "{body}");
                assert!(retry_after.is_some(), "503 without Retry-After");
            }
            StatusCode::TOO_MANY_REQUESTS => {
                refused_address += 1;
                assert_eq!(body["error"]["code"], "rate_limited", "{body}");
                assert!(retry_after.is_some(), "429 without Retry-After");
            }
            other => panic!("{other}: {body}"),
        }
    }
    let refused = refused_busy + refused_address;
    assert!(refused > 0, "60 hashes at once were all let through");
    let grown_mib = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before)
        / 1024;
    eprintln!(
        "login flood: {refused} of 60 refused ({refused_address} with 429 before hashing, \
         {refused_busy} with 503 waiting for a hash slot), all answered in {elapsed:?}, \
         RSS {} MiB before, peak +{grown_mib} MiB",
        before / 1024
    );
    // Two pooled buffers of 19 MiB, plus threads and sockets (60 hashes at
    // once took 1.1 GiB before the bound, and 8 unpooled ones +156 MiB).
    assert!(
        grown_mib < 100,
        "RSS grew by {grown_mib} MiB during the flood"
    );
    assert!(service.terminate().success());
}

/// Runs the user service with `settings` on top of the base environment,
/// expecting it to refuse to start; returns everything it printed.
fn refused_at_start(settings: &[(&str, String)]) -> String {
    let scratch = ScratchDir::new("user_service_bad_settings");
    let mut command = std::process::Command::new(support::example_binary("user_service"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("APP_") || name == "BIND_ADDR" || name == "AES_SECRET" {
            command.env_remove(key);
        }
    }
    let mut child = command
        .envs(base_env(&new_secret()))
        .env(
            "APP__DATABASE__URL",
            format!("sqlite://{}/users.db?mode=rwc", scratch.path().display()),
        )
        .envs(settings.iter().map(|(key, value)| (*key, value.as_str())))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run user_service");
    // A service that accepted the setting would serve until killed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().expect("poll user_service").is_none()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("user_service's output");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "it must not start:\n{printed}");
    assert!(!printed.contains("listening on"), "{printed}");
    // The error's message and context, not a Rust struct dump.
    assert!(
        !printed.contains("Error {") && !printed.contains("kind:"),
        "{printed}"
    );
    printed
}

/// A setting that would break a route at request time is refused at start,
/// naming the key.
#[test]
fn a_zero_page_size_is_refused_at_start() {
    let printed = refused_at_start(&[
        ("APP__USERS__MAX_PAGE_SIZE", "0".into()),
        ("BIND_ADDR", "127.0.0.1:0".into()),
    ]);
    assert!(
        printed.contains("max_page_size"),
        "the culprit is named:\n{printed}"
    );
}

/// A bind address that decrypts from `ENC(...)` to something that is not
/// an address is refused naming the key, never showing what it decrypted to
/// (it said `"PLANTED-ENCBIND" is not a socket address`).
#[test]
fn a_decrypted_value_is_never_shown_in_a_start_up_error() {
    use core_sdk::config::{AesKey, encrypt};
    let key_text = "ab".repeat(32);
    let key = AesKey::parse(&key_text).unwrap();
    let sealed = encrypt(&key, "PLANTED-ENCBIND").unwrap().to_string();
    let printed = refused_at_start(&[("AES_SECRET", key_text), ("APP__SERVER__BIND_ADDR", sealed)]);
    assert!(
        printed.contains("server.bind_addr"),
        "the key is named:\n{printed}"
    );
    assert!(!printed.contains("PLANTED"), "{printed}");
}

#[cfg(all(feature = "postgres", feature = "redis", feature = "rabbitmq"))]
#[tokio::test]
async fn server_backends() {
    use core_sdk::mq::{ConsumeOptions, MqSettings, Outcome, handler_fn};
    use core_testkit::{Service, require_service};

    let postgres = require_service!(Service::Postgres);
    let redis = require_service!(Service::Redis);
    let amqp = require_service!(Service::RabbitMq);
    let database = support::ScratchDatabase::create(&postgres, "users_e2e").await;
    let topic = core_testkit::unique_name("user.registered");

    // The registrations' events, seen through the same broker.
    let queue = core_sdk::mq::connect(&MqSettings::from_url(amqp.clone()))
        .await
        .expect("connect to RabbitMQ");
    let (seen, mut events) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let consumer = queue
        .consume(
            &topic,
            "e2e",
            handler_fn(move |delivery| {
                let seen = seen.clone();
                async move {
                    let _ = seen.send(delivery.message.decode_json()?);
                    Ok(Outcome::Ack)
                }
            }),
            ConsumeOptions::default(),
        )
        .await
        .expect("consume the registration events");

    let secret = new_secret();
    let mut env = base_env(&secret);
    env.push(("APP__DATABASE__URL", database.url.clone()));
    env.push(("APP__CACHE__URL", redis));
    env.push(("APP__MQ__URL", amqp));
    env.push(("APP__USERS__REGISTERED_TOPIC", topic));
    let registered = run_suite(&env, &secret, &database.url).await;

    let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("a user.registered event within 10 s")
        .expect("the consumer is running");
    assert!(
        registered.iter().any(|id| event["id"] == json!(id)),
        "event {event} is for a user this run registered ({registered:?})"
    );
    consumer
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stop the consumer");
    database.drop().await;
}

async fn sql(url: &str) -> SqlDatabase {
    core_sdk::db::connect(&DatabaseSettings::from_url(url))
        .await
        .expect("connect to the database")
        .sql()
        .expect("a SQL database")
        .clone()
}

/// Every scenario against one service process; the ids of the users
/// registered through `/auth/register`.
async fn run_suite(env: &[(&str, String)], secret: &str, database_url: &str) -> Vec<String> {
    let service = ServiceProcess::start("user_service", env);
    let api = Api::new(service.base_url());
    let admin = api.login("admin", ADMIN_PASSWORD).await;
    let admin = admin["access_token"]
        .as_str()
        .expect("admin token")
        .to_owned();

    let mut registered = Vec::new();
    registered.push(journey(&api, &admin).await);
    forbidden(&api, &admin).await;
    sessions_follow_rights(&api, &admin).await;
    unauthenticated(&api, secret).await;
    login_throttle(&api).await;
    invalid_input(&api, &admin).await;
    http_edges(&api).await;
    registered.push(cached_reads(&api, &admin, database_url).await);
    probes(&api, &service).await;

    let status = service.terminate();
    assert!(status.success(), "exit after SIGTERM: {status}");
    registered
}

/// register → login → read → update → admin create → list pages → refresh
/// → logout → delete.
async fn journey(api: &Api, admin: &str) -> String {
    let ada = api
        .register("ada", "ada@example.com", "correct horse battery")
        .await;
    let id = ada["id"].as_str().expect("id").to_owned();
    assert_eq!(ada["username"], "ada");
    assert_eq!(ada["email"], "ada@example.com");
    assert_eq!(ada["roles"], json!(["user"]));
    assert!(
        ada.get("password_hash").is_none() && ada.get("password").is_none(),
        "{ada}"
    );

    let tokens = api.login("ada", "correct horse battery").await;
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let (status, me) = api
        .call(
            Method::GET,
            &format!("/api/v1/users/{id}"),
            Some(&access),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "ada");

    let (status, updated) = api
        .call(
            Method::PUT,
            &format!("/api/v1/users/{id}"),
            Some(&access),
            Some(&json!({"email": "Ada.Lovelace@Example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["email"], "ada.lovelace@example.com");
    let (_, me) = api
        .call(
            Method::GET,
            &format!("/api/v1/users/{id}"),
            Some(&access),
            None,
        )
        .await;
    assert_eq!(me["email"], "ada.lovelace@example.com");

    // A password change takes effect at the next login, and ends the
    // sessions opened with the old one.
    let (status, _) = api
        .call(
            Method::PUT,
            &format!("/api/v1/users/{id}"),
            Some(&access),
            Some(&json!({"password": "analytical engine 1843"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "old refresh token: {body}"
    );
    let (status, body) = api
        .call(
            Method::GET,
            &format!("/api/v1/users/{id}"),
            Some(&access),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "old access token: {body}");
    let tokens = api.login("ada", "analytical engine 1843").await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // An admin creates users, with roles.
    let mut created = Vec::new();
    for name in ["bob", "cyd", "dee"] {
        let (status, user) = api
            .call(
                Method::POST,
                "/api/v1/users/",
                Some(admin),
                Some(&json!({
                    "username": name,
                    "email": format!("{name}@example.com"),
                    "password": "a long enough passphrase",
                    "roles": ["user"],
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        created.push(user["id"].as_str().unwrap().to_owned());
    }

    // Pages are disjoint and add up to the total.
    let (status, first) = api
        .call(
            Method::GET,
            "/api/v1/users?page=1&size=2",
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let total = first["total"].as_u64().unwrap();
    assert!(total >= 5, "admin, ada, bob, cyd, dee: {first}");
    let mut seen: Vec<String> = Vec::new();
    let pages = total.div_ceil(2);
    for page in 1..=pages {
        let (status, body) = api
            .call(
                Method::GET,
                &format!("/api/v1/users?page={page}&size=2"),
                Some(admin),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["page"], page);
        assert_eq!(body["size"], 2);
        let items = body["items"].as_array().unwrap();
        assert!(!items.is_empty() && items.len() <= 2, "{body}");
        for item in items {
            assert!(item.get("password_hash").is_none());
            let id = item["id"].as_str().unwrap().to_owned();
            assert!(!seen.contains(&id), "{id} on two pages");
            seen.push(id);
        }
    }
    assert_eq!(seen.len() as u64, total);
    let (_, past) = api
        .call(
            Method::GET,
            &format!("/api/v1/users?page={}&size=2", pages + 1),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(past["items"], json!([]));

    // Refresh rotates; logout ends the session.
    let (status, next) = api
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{next}");
    assert_eq!(next["token_type"], "bearer");
    let next_access = next["access_token"].as_str().unwrap().to_owned();
    let next_refresh = next["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = api
        .call(
            Method::GET,
            &format!("/api/v1/users/{id}"),
            Some(&next_access),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(&json!({"refresh_token": next_refresh})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": next_refresh})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "refresh after logout: {body}"
    );
    assert_eq!(body["error"]["code"], "unauthenticated");
    let (status, _) = api
        .call(
            Method::GET,
            &format!("/api/v1/users/{id}"),
            Some(&next_access),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "access token after logout"
    );

    // Delete: gone for reads (the cached copy too), and for a second delete.
    let bob = &created[0];
    let (status, _) = api
        .call(
            Method::GET,
            &format!("/api/v1/users/{bob}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{bob}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api
        .call(
            Method::GET,
            &format!("/api/v1/users/{bob}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{bob}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    id
}

/// A user reads and updates only itself; admin-only routes refuse it.
async fn forbidden(api: &Api, admin: &str) {
    let eve = api
        .register("eve", "eve@example.com", "a long enough passphrase")
        .await;
    let eve_id = eve["id"].as_str().unwrap();
    let fay = api
        .register("fay", "fay@example.com", "a long enough passphrase")
        .await;
    let fay_id = fay["id"].as_str().unwrap();
    let eve_token = api.login("eve", "a long enough passphrase").await;
    let eve_token = eve_token["access_token"].as_str().unwrap();

    let attempts = [
        (Method::GET, format!("/api/v1/users/{fay_id}"), None),
        (
            Method::PUT,
            format!("/api/v1/users/{fay_id}"),
            Some(&json!({"email": "x@example.com"})),
        ),
        (Method::DELETE, format!("/api/v1/users/{fay_id}"), None),
        (Method::DELETE, format!("/api/v1/users/{eve_id}"), None),
        (
            Method::GET,
            "/api/v1/users?page=1&size=10".to_string(),
            None,
        ),
        (
            Method::POST,
            "/api/v1/users/".to_string(),
            Some(
                &json!({"username": "gus", "email": "gus@example.com", "password": "a long enough passphrase"}),
            ),
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{eve_id}"),
            Some(&json!({"roles": ["admin"]})),
        ),
    ];
    for (method, path, body) in attempts {
        let (status, answer) = api.call(method.clone(), &path, Some(eve_token), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "permission_denied");
    }
    // Nothing changed, and an admin may do what eve may not.
    let (_, fay_now) = api
        .call(
            Method::GET,
            &format!("/api/v1/users/{fay_id}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(fay_now["email"], "fay@example.com");
    let (status, promoted) = api
        .call(
            Method::PUT,
            &format!("/api/v1/users/{eve_id}"),
            Some(admin),
            Some(&json!({"roles": ["admin", "user"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{promoted}");
    assert_eq!(promoted["roles"], json!(["admin", "user"]));
}

/// `POST /api/v1/auth/refresh` with `refresh`.
async fn refresh_with(api: &Api, refresh: &str) -> (StatusCode, Value) {
    api.call(
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(&json!({"refresh_token": refresh})),
    )
    .await
}

/// An admin gives user `id` the one role `role`.
async fn set_roles(api: &Api, admin: &str, id: &str, role: &str) -> (StatusCode, Value) {
    api.call(
        Method::PUT,
        &format!("/api/v1/users/{id}"),
        Some(admin),
        Some(&json!({"roles": [role]})),
    )
    .await
}

/// The first page of users (an admin's right), with `access`.
async fn list_one(api: &Api, access: &str) -> (StatusCode, Value) {
    api.call(
        Method::GET,
        "/api/v1/users?page=1&size=1",
        Some(access),
        None,
    )
    .await
}

/// A demoted admin's tokens stop granting admin rights, and a deleted
/// admin's stop working, without waiting for them to expire.
async fn sessions_follow_rights(api: &Api, admin: &str) {
    let (status, erin) = api
        .call(
            Method::POST,
            "/api/v1/users/",
            Some(admin),
            Some(&json!({
                "username": "erin",
                "email": "erin@example.com",
                "password": "a long enough passphrase",
                "roles": ["admin"],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{erin}");
    let erin_id = erin["id"].as_str().unwrap().to_owned();
    let tokens = api.login("erin", "a long enough passphrase").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = list_one(api, &access).await;
    assert_eq!(status, StatusCode::OK, "erin is an admin");

    // Demoted: the old tokens are refused, the next login holds `user`.
    let (status, body) = set_roles(api, admin, &erin_id, "user").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = refresh_with(api, &refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "demoted refresh: {body}");
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/users/",
            Some(&access),
            Some(&json!({
                "username": "mallory",
                "email": "mallory@example.com",
                "password": "a long enough passphrase",
                "roles": ["admin"],
            })),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "demoted access: {body}");
    let tokens = api.login("erin", "a long enough passphrase").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, body) = list_one(api, &access).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "erin is a user now: {body}");

    // Promoted again, then deleted: its access token stops at once.
    let (status, _) = set_roles(api, admin, &erin_id, "admin").await;
    assert_eq!(status, StatusCode::OK);
    let tokens = api.login("erin", "a long enough passphrase").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/users/{erin_id}"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = list_one(api, &access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "deleted admin: {body}");
    let (status, body) = refresh_with(api, &refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "deleted refresh: {body}");
}

/// Missing, malformed, foreign-key, expired and refresh tokens are 401.
async fn unauthenticated(api: &Api, secret: &str) {
    let user = api
        .register("hal", "hal@example.com", "a long enough passphrase")
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/users/{id}");
    let ring = |secret: &str| {
        KeyRing::from_settings(&JwtSettings {
            issuer: ISSUER.to_string(),
            secret: Some(secret.to_string().into()),
            ..JwtSettings::default()
        })
        .unwrap()
    };
    let foreign = ring(&new_secret())
        .sign(&ring(secret).claims(&id, TokenType::Access, Duration::from_secs(600)))
        .unwrap();
    let mut stale = ring(secret).claims(&id, TokenType::Access, Duration::from_secs(600));
    stale.iat -= 7200;
    stale.exp = stale.iat + 60;
    let expired = ring(secret).sign(&stale).unwrap();
    let tokens = api.login("hal", "a long enough passphrase").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let (status, body) = api.call(Method::GET, &path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token: {body}");
    assert_eq!(body["error"]["code"], "unauthenticated");
    for (what, token) in [
        ("garbage", "not-a-jwt"),
        ("another key", foreign.as_str()),
        ("expired", expired.as_str()),
        ("refresh token", refresh),
    ] {
        let response = api.request(Method::GET, &path, Some(token), None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some("Bearer"),
            "{what}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthenticated", "{what}: {body}");
    }
    // The token itself works.
    let access = tokens["access_token"].as_str().unwrap();
    let (status, _) = api.call(Method::GET, &path, Some(access), None).await;
    assert_eq!(status, StatusCode::OK);
    // An access token is no refresh token.
    let (status, _) = api
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": access})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Wrong passwords lock the account out, the right one included, with Retry-After.
async fn login_throttle(api: &Api) {
    api.register("ivy", "ivy@example.com", "a long enough passphrase")
        .await;
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "ivy", "password": "wrong password!"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // Unknown users answer the same.
    let (status, unknown) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "nobody", "password": "wrong password!"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown["error"]["message"], body["error"]["message"]);
    for _ in 1..5 {
        api.call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "ivy", "password": "wrong password!"})),
        )
        .await;
    }
    let response = api
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "ivy", "password": "a long enough passphrase"})),
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "locked out"
    );
    assert!(
        response.headers().contains_key("retry-after"),
        "{:?}",
        response.headers()
    );
}

/// Over-long bodies, unknown routes and wrong methods answer in the JSON
/// error shape with their own status (axum's own answers are empty or 400).
async fn http_edges(api: &Api) {
    // A 20 MB body announced: the answer comes before the body is sent (a
    // client still writing it would see its connection cut), so speak
    // HTTP by hand and never send it.
    let (status, body) = {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let address = api.url("").trim_start_matches("http://").to_owned();
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /api/v1/auth/register HTTP/1.1\r\nHost: {address}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            20 * 1024 * 1024
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .expect("an answer before the body is sent")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status_line = answer.lines().next().unwrap_or_default().to_owned();
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        (
            status_line,
            serde_json::from_str::<Value>(body).unwrap_or(Value::Null),
        )
    };
    assert!(status.contains(" 413 "), "{status}");
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");

    let (status, body) = api.call(Method::GET, "/no/such/route", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    let (status, body) = api
        .call(Method::DELETE, "/api/v1/auth/login", None, None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");
}

/// A request past `server.request_timeout_ms` answers 408 in the JSON shape.
#[tokio::test]
async fn a_request_past_its_deadline_answers_408_in_json() {
    let scratch = ScratchDir::new("user_service_deadline");
    let mut env = base_env(&new_secret());
    env.push((
        "APP__DATABASE__URL",
        format!("sqlite://{}/users.db?mode=rwc", scratch.path().display()),
    ));
    // Far below one argon2id hash at the real cost.
    env.push(("APP__AUTH__PASSWORDS__ARGON2__MEMORY_KIB", "19456".into()));
    env.push(("APP__AUTH__PASSWORDS__ARGON2__ITERATIONS", "2".into()));
    env.push(("APP__SERVER__REQUEST_TIMEOUT_MS", "1".into()));
    let service = ServiceProcess::start("user_service", &env);
    let api = Api::new(service.base_url());
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": "nobody", "password": "some password!"})),
        )
        .await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "timeout", "{body}");
    assert!(service.terminate().success());
}

/// Malformed JSON is 400; a bad field is 422 naming it.
async fn invalid_input(api: &Api, admin: &str) {
    let response = api
        .http
        .post(api.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(r#"{"username": "jo", "#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");

    let good = json!({"username": "kim", "email": "kim@example.com", "password": "a long enough passphrase"});
    let cases = [
        ("username", json!({"username": "k"})),
        ("username", json!({"username": "has space"})),
        ("username", json!({"username": null})),
        ("email", json!({"email": "not-an-address"})),
        ("email", json!({"email": ""})),
        ("email", json!({"email": 42})),
        ("password", json!({"password": "short"})),
        ("password", json!({"password": "kim-is-my-name-123"})),
    ];
    for (field, change) in cases {
        let mut body = good.clone();
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, answer) = api
            .call(Method::POST, "/api/v1/auth/register", None, Some(&body))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_input");
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("email");
    let (status, answer) = api
        .call(Method::POST, "/api/v1/auth/register", None, Some(&missing))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["field"], "email");

    // The same rules on updates and admin creates; a taken name is 409.
    let (status, kim) = api
        .call(Method::POST, "/api/v1/auth/register", None, Some(&good))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, answer) = api
        .call(Method::POST, "/api/v1/auth/register", None, Some(&good))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "conflict");
    let kim_path = format!("/api/v1/users/{}", kim["id"].as_str().unwrap());
    let (status, answer) = api
        .call(
            Method::PUT,
            &kim_path,
            Some(admin),
            Some(&json!({"email": "nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["field"], "email");
    let (status, answer) = api
        .call(
            Method::PUT,
            &kim_path,
            Some(admin),
            Some(&json!({"roles": ["root"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["field"], "roles");
    let (status, answer) = api
        .call(
            Method::GET,
            "/api/v1/users?page=1&size=0",
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["field"], "size");
    let (status, answer) = api
        .call(Method::GET, "/api/v1/users?page=zero", Some(admin), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["field"], "page");
}

/// Reads come from the cache (a change made behind the service's back is
/// not seen) until an update through the API invalidates them.
async fn cached_reads(api: &Api, admin: &str, database_url: &str) -> String {
    let user = api
        .register("lee", "lee@example.com", "a long enough passphrase")
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/users/{id}");
    let (_, first) = api.call(Method::GET, &path, Some(admin), None).await;
    assert_eq!(first["email"], "lee@example.com");

    let db = sql(database_url).await;
    let changed = db
        .query("UPDATE users SET email = ? WHERE id = ?")
        .bind("lee.behind.the.back@example.com")
        .bind(id.as_str())
        .execute()
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let (_, cached) = api.call(Method::GET, &path, Some(admin), None).await;
    assert_eq!(cached["email"], "lee@example.com", "served from the cache");

    let (status, _) = api
        .call(
            Method::PUT,
            &path,
            Some(admin),
            Some(&json!({"roles": ["user"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, fresh) = api.call(Method::GET, &path, Some(admin), None).await;
    assert_eq!(
        fresh["email"], "lee.behind.the.back@example.com",
        "the update invalidated the cached read"
    );
    use core_sdk::db::DatabaseBase as _;
    db.close().await;
    id
}

/// `/health`, `/ready`, `/metrics`, request ids.
async fn probes(api: &Api, service: &ServiceProcess) {
    let (status, health) = api.call(Method::GET, "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");

    let (status, ready) = api.call(Method::GET, "/ready", None, None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "ready");
    for check in ["database", "cache", "queue"] {
        assert_eq!(ready["checks"][check]["status"], "ok", "{check}: {ready}");
    }

    // A request id is made when missing, kept when sent, and logged.
    let response = api.request(Method::GET, "/health", None, None).await;
    assert!(response.headers().contains_key("x-request-id"));
    let request_id = core_testkit::unique_name("req");
    let response = api
        .http
        .get(api.url("/api/v1/users/nobody"))
        .header("x-request-id", &request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["x-request-id"], request_id.as_str());
    let logged = wait_until(Duration::from_secs(5), async || {
        service.output().contains(&request_id).then_some(())
    })
    .await
    .is_some();
    assert!(
        logged,
        "request id {request_id} in the logs:\n{}",
        service.output()
    );

    let response = api.request(Method::GET, "/metrics", None, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="POST",route="/api/v1/auth/register",status="201"}"#,
        r#"http_requests_total{method="GET",route="/api/v1/users/{id}",status="403"}"#,
        r#"http_requests_total{method="POST",route="/api/v1/auth/login",status="401"}"#,
        "# TYPE http_request_duration_seconds histogram",
        r#"http_request_duration_seconds_bucket{method="GET",route="/api/v1/users/{id}",status="200",le="0.005"}"#,
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(expected), "{expected} in /metrics:\n{text}");
    }
    assert!(
        !text.contains("/api/v1/users/0"),
        "paths with ids are not labels"
    );
}
