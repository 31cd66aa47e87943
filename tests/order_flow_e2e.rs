//! The order service and the notification worker end to end, over real
//! HTTP, as built example binaries.
//!
//! - The API contract: 401 without a token, 400 for malformed JSON, 422
//!   naming the field, 403 on someone else's order, the status machine
//!   walked to the end, 409 naming both statuses for a forbidden move.
//! - The outbox: a change whose transaction fails (a stale
//!   `expected_version`, detected after the event row was written) leaves
//!   no event behind, and no notification.
//! - Exactly one notification per event by effect, even when the process
//!   running the consumer is SIGKILLed in the middle of a load and
//!   restarted: every outbox row has exactly one `notifications` row, none
//!   has two, and the audit trail has no line twice.
//! - SIGTERM: both binaries stop cleanly (exit 0).
//!
//! Run twice: on embedded backends (SQLite, in-memory queue and cache; the
//! order service runs the worker in-process), and on PostgreSQL + RabbitMQ
//! + Redis with the worker as a process of its own (skipped, or failed
//! under `CORE_REQUIRE_SERVICES=1`, when a server is down).
//!
//! Tokens are minted with core-auth from the key settings the services are
//! given, as the user service would sign them.

#![cfg(all(feature = "axum", feature = "db", feature = "mq", feature = "auth"))]

mod order_flow_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use core_sdk::auth::jwt::{JwtSettings, KeyRing};
use core_sdk::auth::tokens::{TokenService, TokenSettings};
use core_sdk::db::sql::SqlDatabase;
use core_sdk::db::{DatabaseBase as _, DatabaseSettings};
use core_testkit::unique_name;
use reqwest::StatusCode;
use serde_json::{Value, json};

use order_flow_support::{Binary, scratch_dir, wait_until};

const JWT_ISSUER: &str = "core-sdk-e2e";

/// The settings every process of one run shares, as `APP__*` variables.
struct Run {
    env: Vec<(String, String)>,
    jwt_secret: String,
    db: SqlDatabase,
    audit_dir: std::path::PathBuf,
}

impl Run {
    fn env_with(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }
}

/// Bearer tokens for three callers: two customers and an administrator.
struct Callers {
    alice: String,
    bob: String,
    admin: String,
}

async fn callers(secret: &str) -> Callers {
    let keys = KeyRing::from_settings(&JwtSettings {
        issuer: JWT_ISSUER.to_string(),
        secret: Some(secret.to_string().into()),
        ..JwtSettings::default()
    })
    .expect("key ring");
    let cache = core_sdk::cache::connect(&core_sdk::cache::CacheSettings::from_url("memory://"))
        .await
        .expect("memory cache");
    let tokens =
        TokenService::new(Arc::new(keys), cache, &TokenSettings::default()).expect("tokens");
    let token = async |subject: &str, roles: &[&str]| {
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        tokens
            .issue(subject, &roles, &[])
            .await
            .expect("issue")
            .access_token
    };
    Callers {
        alice: token(&unique_name("alice"), &["user"]).await,
        bob: token(&unique_name("bob"), &["user"]).await,
        admin: token(&unique_name("admin"), &["admin"]).await,
    }
}

/// An HTTP client of one order service.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(base: &str) -> Api {
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            base: base.to_string(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Result<(StatusCode, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.send(method, path, token, body).await.expect("request")
    }

    async fn place(&self, token: &str) -> reqwest::Result<(StatusCode, Value)> {
        let order = json!({"items": [{"sku": "book-1", "quantity": 2, "unit_price_cents": 1250}], "currency": "EUR"});
        self.send(
            reqwest::Method::POST,
            "/api/v1/orders",
            Some(token),
            Some(&order),
        )
        .await
    }

    async fn set_status(
        &self,
        token: &str,
        id: &str,
        body: Value,
    ) -> reqwest::Result<(StatusCode, Value)> {
        self.send(
            reqwest::Method::PATCH,
            &format!("/api/v1/orders/{id}/status"),
            Some(token),
            Some(&body),
        )
        .await
    }
}

fn id_of(order: &Value) -> String {
    order["id"].as_str().expect("order id").to_string()
}

/// The API contract and the state machine; returns the ids of the two orders it placed.
async fn api_contract(api: &Api, who: &Callers) -> (String, String) {
    use reqwest::Method;

    // 401: no token, a forged one.
    let (status, _) = api
        .call(Method::POST, "/api/v1/orders", None, Some(&json!({})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = api
        .call(Method::GET, "/api/v1/orders", Some("not.a.jwt"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");

    // 400: not JSON; 422 naming the field.
    let response = api
        .http
        .post(format!("{}/api/v1/orders", api.base))
        .bearer_auth(&who.alice)
        .header("content-type", "application/json")
        .body("{\"items\": [")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let bad_quantity =
        json!({"items": [{"sku": "a", "quantity": 0, "unit_price_cents": 1}], "currency": "EUR"});
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/orders",
            Some(&who.alice),
            Some(&bad_quantity),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "items[0].quantity", "{body}");
    let no_currency = json!({"items": [{"sku": "a", "quantity": 1, "unit_price_cents": 1}]});
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/orders",
            Some(&who.alice),
            Some(&no_currency),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "currency", "{body}");

    // Placed, read by its owner and an admin, refused to someone else.
    let (status, order) = api.place(&who.alice).await.expect("place");
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert_eq!(
        (order["status"].as_str(), order["total_cents"].as_i64()),
        (Some("created"), Some(2500))
    );
    let id = id_of(&order);
    let path = format!("/api/v1/orders/{id}");
    let (status, read) = api.call(Method::GET, &path, Some(&who.alice), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["history"].as_array().map(Vec::len), Some(1));
    let (status, body) = api.call(Method::GET, &path, Some(&who.bob), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "permission_denied");
    assert_eq!(
        api.call(Method::GET, &path, Some(&who.admin), None).await.0,
        StatusCode::OK
    );
    let (status, _) = api
        .call(
            Method::GET,
            "/api/v1/orders/no-such-order",
            Some(&who.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Lists: one's own; someone else's only with orders:read.
    let alice_id = read["user_id"].as_str().expect("user id").to_string();
    let (status, own) = api
        .call(Method::GET, "/api/v1/orders", Some(&who.alice), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(own.as_array().map(Vec::len), Some(1));
    let (status, _) = api
        .call(
            Method::GET,
            &format!("/api/v1/orders?user_id={alice_id}"),
            Some(&who.bob),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, theirs) = api
        .call(
            Method::GET,
            &format!("/api/v1/orders?user_id={alice_id}"),
            Some(&who.admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(theirs[0]["id"], order["id"]);
    let (status, body) = api
        .call(
            Method::GET,
            "/api/v1/orders?limit=0",
            Some(&who.alice),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "limit");

    // The machine: paid by its owner, shipped and delivered by the warehouse.
    let step =
        async |token: &str, body: Value| api.set_status(token, &id, body).await.expect("patch");
    let (status, paid) = step(&who.alice, json!({"status": "paid"})).await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(
        (paid["status"].as_str(), paid["version"].as_i64()),
        (Some("paid"), Some(2))
    );
    let (status, _) = step(&who.bob, json!({"status": "cancelled"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "someone else's order");
    let (status, _) = step(&who.alice, json!({"status": "shipped"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "customers do not ship");
    let (status, body) = step(&who.alice, json!({"status": "lost"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "status");
    let (status, shipped) = step(
        &who.admin,
        json!({"status": "shipped", "reason": "tracking 42"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    let (status, body) = step(&who.alice, json!({"status": "cancelled"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("shipped") && message.contains("cancelled"),
        "{body}"
    );
    let (status, _) = step(&who.admin, json!({"status": "delivered"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, done) = step(&who.admin, json!({"status": "paid"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{done}");
    let (_, read) = api.call(Method::GET, &path, Some(&who.alice), None).await;
    let walked: Vec<&str> = read["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|change| change["to_status"].as_str())
        .collect();
    assert_eq!(walked, ["created", "paid", "shipped", "delivered"]);
    assert_eq!(read["history"][2]["reason"], "tracking 42");

    // A change whose transaction fails after writing its event row: the
    // guarded update finds another version, and everything rolls back.
    let (_, second) = api.place(&who.alice).await.expect("place");
    let second_id = id_of(&second);
    let (status, body) = api
        .set_status(
            &who.alice,
            &second_id,
            json!({"status": "cancelled", "expected_version": 7}),
        )
        .await
        .expect("patch");
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, still) = api
        .call(
            Method::GET,
            &format!("/api/v1/orders/{second_id}"),
            Some(&who.alice),
            None,
        )
        .await;
    assert_eq!(
        (still["status"].as_str(), still["version"].as_i64()),
        (Some("created"), Some(1))
    );
    assert_eq!(still["history"].as_array().map(Vec::len), Some(1));
    (id, second_id)
}

/// What the database holds about events and notifications.
#[derive(Debug, PartialEq, Eq)]
struct Tally {
    events: i64,
    notifications: i64,
    distinct_notified: i64,
    /// Events with no notification.
    missing: i64,
}

async fn tally(db: &SqlDatabase) -> Tally {
    let (events,): (i64,) = db
        .query("SELECT COUNT(*) FROM outbox")
        .fetch_one()
        .await
        .expect("outbox");
    let (notifications, distinct_notified): (i64, i64) = db
        .query("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM notifications")
        .fetch_one()
        .await
        .unwrap_or((0, 0));
    let (missing,): (i64,) = db
        .query(
            "SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS \
             (SELECT 1 FROM notifications n WHERE n.message_id = o.id)",
        )
        .fetch_one()
        .await
        .unwrap_or((events,));
    Tally {
        events,
        notifications,
        distinct_notified,
        missing,
    }
}

async fn events_of(db: &SqlDatabase, order_id: &str) -> (i64, i64) {
    let (events,): (i64,) = db
        .query("SELECT COUNT(*) FROM outbox WHERE message_key = ?")
        .bind(order_id)
        .fetch_one()
        .await
        .expect("outbox");
    let (notified,): (i64,) = db
        .query("SELECT COUNT(*) FROM notifications WHERE order_id = ?")
        .bind(order_id)
        .fetch_one()
        .await
        .unwrap_or((0,));
    (events, notified)
}

/// Waits until every event has its notification, then checks there is
/// exactly one each, and that the audit trail has no line twice. Without a
/// crash in between, every notification has its audit line; a process
/// killed between the insert and the audit write loses that line.
async fn assert_exactly_once(run: &Run, crashed: bool) -> Tally {
    let settled = wait_until(Duration::from_secs(60), async || {
        let now = tally(&run.db).await;
        (now.missing == 0 && now.events > 0).then_some(now)
    })
    .await;
    let Some(now) = settled else {
        panic!(
            "events left without notification: {:?}",
            tally(&run.db).await
        );
    };
    assert_eq!(
        now.notifications, now.events,
        "one notification per event: {now:?}"
    );
    assert_eq!(
        now.distinct_notified, now.notifications,
        "no event notified twice: {now:?}"
    );
    let audited = audit_resources(&run.audit_dir);
    let unique: HashSet<&String> = audited.iter().collect();
    assert_eq!(unique.len(), audited.len(), "an audit line written twice");
    if crashed {
        assert!(
            audited.len() as i64 <= now.notifications,
            "audit lines without notification"
        );
    } else {
        assert_eq!(
            audited.len() as i64,
            now.notifications,
            "one audit line per notification"
        );
    }
    now
}

/// The `resource` of every `notification.sent` audit line.
fn audit_resources(dir: &std::path::Path) -> Vec<String> {
    let mut resources = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text
            .lines()
            .filter(|line| line.contains("notification.sent"))
        {
            let value: Value = serde_json::from_str(line).expect("audit lines are JSON");
            let resource = value["fields"]["resource"].as_str().map(str::to_owned);
            resources
                .push(resource.unwrap_or_else(|| panic!("audit line without resource: {line}")));
        }
    }
    resources
}

/// Customers placing and paying orders until told to stop or the service goes away.
fn start_load(api: &Api, token: &str, stop: &Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<u32>> {
    (0..4)
        .map(|_| {
            let (api, token, stop) = (api.clone(), token.to_string(), Arc::clone(stop));
            tokio::spawn(async move {
                let mut placed = 0;
                while !stop.load(Ordering::Relaxed) {
                    let Ok((StatusCode::CREATED, order)) = api.place(&token).await else {
                        break;
                    };
                    placed += 1;
                    if api
                        .set_status(&token, &id_of(&order), json!({"status": "paid"}))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                placed
            })
        })
        .collect()
}

async fn notified(db: &SqlDatabase) -> i64 {
    db.query("SELECT COUNT(*) FROM notifications")
        .fetch_one::<(i64,)>()
        .await
        .map_or(0, |(n,)| n)
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_backends_in_process_worker() {
    let dir = scratch_dir("order_flow_embedded");
    let db_url = format!("sqlite://{}/orders.db?mode=rwc", dir.display());
    let audit_dir = dir.join("audit");
    let jwt_secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let topic = unique_name("orders");
    let env: Vec<(String, String)> = [
        ("APP__DATABASE__URL", db_url.as_str()),
        ("APP__CACHE__URL", "memory://"),
        ("APP__MQ__URL", "memory://"),
        ("APP__AUTH__JWT__ISSUER", JWT_ISSUER),
        ("APP__AUTH__JWT__SECRET", jwt_secret.as_str()),
        ("APP__ORDERS__TOPIC", topic.as_str()),
        ("APP__ORDERS__OUTBOX__POLL_INTERVAL_MS", "100"),
        ("APP__LOG__AUDIT__ENABLED", "true"),
        (
            "APP__LOG__AUDIT__FILE__DIRECTORY",
            audit_dir.to_str().expect("utf-8 path"),
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut orders = Binary::spawn("order_service", &env, &dir);
    let db = SqlDatabase::connect(&DatabaseSettings::from_url(db_url.clone()))
        .await
        .expect("sqlite");
    let run = Run {
        env,
        jwt_secret,
        db,
        audit_dir,
    };
    let who = callers(&run.jwt_secret).await;
    let api = Api::new(orders.base_url());

    let (walked, rolled_back) = api_contract(&api, &who).await;
    assert_exactly_once(&run, false).await;
    assert_eq!(
        events_of(&run.db, &walked).await,
        (4, 4),
        "created, paid, shipped, delivered"
    );
    assert_eq!(
        events_of(&run.db, &rolled_back).await,
        (1, 1),
        "no event for the rolled-back change"
    );

    // SIGKILL the process holding the consumer (and the in-memory queue)
    // while orders pour in, then start it again on the same database.
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&api, &who.bob, &stop);
    let before = notified(&run.db).await;
    let midway = wait_until(Duration::from_secs(30), async || {
        (notified(&run.db).await >= before + 20).then_some(())
    })
    .await;
    assert!(
        midway.is_some(),
        "the in-process worker handled nothing under load"
    );
    orders.kill();
    let at_kill = tally(&run.db).await;
    stop.store(true, Ordering::Relaxed);
    let placed: u32 = futures::future::join_all(load)
        .await
        .into_iter()
        .map(|n| n.expect("load task"))
        .sum();
    assert!(placed > 0);
    println!("SIGKILL with {at_kill:?} after {placed} orders under load");

    let mut orders = Binary::spawn("order_service", &run.env_with(&[]), &dir);
    let after = assert_exactly_once(&run, true).await;
    assert!(after.events >= at_kill.events);

    assert_eq!(
        orders.terminate(),
        Some(0),
        "order_service exits 0 on SIGTERM"
    );
    run.db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(all(feature = "postgres", feature = "rabbitmq", feature = "redis"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_rabbitmq_redis_separate_worker() {
    use core_testkit::{Service, require_service};

    let postgres = require_service!(Service::Postgres);
    let amqp = require_service!(Service::RabbitMq);
    let redis = require_service!(Service::Redis);
    let database = order_flow_support::PostgresDatabase::create(&postgres).await;
    let dir = scratch_dir("order_flow_servers");
    let audit_dir = dir.join("audit");
    let jwt_secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let topic = unique_name("orders");
    let group = unique_name("notifications");
    let env: Vec<(String, String)> = [
        ("APP__DATABASE__URL", database.url.as_str()),
        ("APP__CACHE__URL", redis.as_str()),
        ("APP__MQ__URL", amqp.as_str()),
        ("APP__MQ__RABBITMQ__QUEUE_EXPIRES_MS", "600000"),
        ("APP__AUTH__JWT__ISSUER", JWT_ISSUER),
        ("APP__AUTH__JWT__SECRET", jwt_secret.as_str()),
        ("APP__ORDERS__TOPIC", topic.as_str()),
        ("APP__ORDERS__OUTBOX__POLL_INTERVAL_MS", "100"),
        ("APP__NOTIFICATIONS__TOPIC", topic.as_str()),
        ("APP__NOTIFICATIONS__GROUP", group.as_str()),
        ("APP__NOTIFICATIONS__BACKOFF_FIRST_MS", "50"),
        ("APP__LOG__AUDIT__ENABLED", "true"),
        (
            "APP__LOG__AUDIT__FILE__DIRECTORY",
            audit_dir.to_str().expect("utf-8 path"),
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // The worker's group exists before the first event: RabbitMQ keeps no
    // history for queues that do not exist yet.
    let mut worker = Binary::spawn("notification_worker", &env, &dir);
    let mut orders = Binary::spawn("order_service", &env, &dir);
    let db = SqlDatabase::connect(&DatabaseSettings::from_url(database.url.clone()))
        .await
        .expect("postgres");
    let run = Run {
        env,
        jwt_secret,
        db,
        audit_dir,
    };
    let who = callers(&run.jwt_secret).await;
    let api = Api::new(orders.base_url());

    let health = reqwest::get(format!("{}/ready", worker.base_url()))
        .await
        .expect("worker /ready");
    assert_eq!(health.status(), StatusCode::OK);

    let (walked, rolled_back) = api_contract(&api, &who).await;
    assert_exactly_once(&run, false).await;
    assert_eq!(events_of(&run.db, &walked).await, (4, 4));
    assert_eq!(
        events_of(&run.db, &rolled_back).await,
        (1, 1),
        "no event for the rolled-back change"
    );

    // SIGKILL the worker midway through a load; the order service keeps
    // taking orders, a new worker takes over the group.
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(&api, &who.bob, &stop);
    let before = notified(&run.db).await;
    let midway = wait_until(Duration::from_secs(30), async || {
        (notified(&run.db).await >= before + 20).then_some(())
    })
    .await;
    assert!(midway.is_some(), "the worker handled nothing under load");
    worker.kill();
    let at_kill = tally(&run.db).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // more orders while no worker runs
    let mut worker = Binary::spawn("notification_worker", &run.env_with(&[]), &dir);
    stop.store(true, Ordering::Relaxed);
    let placed: u32 = futures::future::join_all(load)
        .await
        .into_iter()
        .map(|n| n.expect("load task"))
        .sum();
    println!("SIGKILL with {at_kill:?} after {placed} orders under load");
    let after = assert_exactly_once(&run, true).await;
    assert!(
        after.events > at_kill.events,
        "orders kept coming while the worker was down"
    );
    let metrics = reqwest::get(format!("{}/metrics", worker.base_url()))
        .await
        .expect("worker /metrics")
        .text()
        .await
        .expect("metrics text");
    let duplicates: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("notifications_total") && line.contains("duplicate"))
        .collect();
    println!(
        "after the restart: {after:?}; redeliveries absorbed by the new worker: {duplicates:?}"
    );

    // A poison message is dead-lettered, not retried forever.
    let dead_letter = order_flow_support::poison_is_dead_lettered(&amqp, &topic).await;
    assert!(
        dead_letter,
        "the poison message reached the dead-letter topic"
    );

    assert_eq!(
        worker.terminate(),
        Some(0),
        "notification_worker exits 0 on SIGTERM"
    );
    assert_eq!(
        orders.terminate(),
        Some(0),
        "order_service exits 0 on SIGTERM"
    );
    run.db.close().await;
    database.drop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
