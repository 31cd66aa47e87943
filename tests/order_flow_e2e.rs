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
//! - SIGTERM: both binaries stop cleanly (exit 0), the worker also in the
//!   middle of a load, and nothing it held is lost.
//!
//! Run twice: on embedded backends (SQLite, in-memory queue and cache; the
//! order service runs the worker in-process), and on PostgreSQL, RabbitMQ
//! and Redis with the worker as a process of its own (skipped, or failed
//! under `CORE_REQUIRE_SERVICES=1`, when a server is down).
//!
//! Callers sign in through the user service (register, login; the admin
//! is its bootstrap administrator), which shares the JWT key and issuer.

#![cfg(all(feature = "axum", feature = "db", feature = "mq", feature = "auth"))]

mod order_flow_support;
mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use core_sdk::db::sql::SqlDatabase;
use core_sdk::db::{DatabaseBase as _, DatabaseSettings};
use core_testkit::unique_name;
use reqwest::StatusCode;
use serde_json::{Value, json};

use support::{Api, ScratchDir, ServiceProcess, wait_until};

const JWT_ISSUER: &str = "core-sdk-examples";
const ADMIN_PASSWORD: &str = "quiet-harbour-lantern-5193";

/// The settings every process of one run shares, as `APP__*` variables.
struct Run {
    env: Vec<(&'static str, String)>,
    db: SqlDatabase,
    audit_dir: std::path::PathBuf,
}

/// Bearer tokens for three callers: two customers and an administrator.
struct Callers {
    alice: String,
    bob: String,
    admin: String,
}

/// Signs two customers up and in, and the bootstrap admin in, through a
/// user service sharing the run's JWT key.
async fn callers(env: &[(&'static str, String)], scratch: &ScratchDir) -> Callers {
    let users = ServiceProcess::start("user_service", &users_env(env, scratch));
    let api = Api::new(users.base_url());
    let access_token = |tokens: Value| {
        tokens["access_token"]
            .as_str()
            .expect("access token")
            .to_string()
    };
    let sign_up = async |name: &str| {
        let username = unique_name(name);
        let password = "a long enough passphrase 42";
        api.register(&username, &format!("{username}@example.com"), password)
            .await;
        access_token(api.login(&username, password).await)
    };
    let callers = Callers {
        alice: sign_up("alice").await,
        bob: sign_up("bob").await,
        admin: access_token(api.login("admin", ADMIN_PASSWORD).await),
    };
    assert!(users.terminate().success());
    callers
}

/// The user service's variables in a run: the run's JWT key, issuer and
/// cache, its own SQLite database in `scratch`, the bootstrap admin.
fn users_env(env: &[(&'static str, String)], scratch: &ScratchDir) -> Vec<(&'static str, String)> {
    let mut users_env = env.to_vec();
    users_env.retain(|(key, _)| !key.starts_with("APP__DATABASE") && !key.starts_with("APP__MQ"));
    let users_db = format!("sqlite://{}/users.db?mode=rwc", scratch.path().display());
    users_env.push(("APP__DATABASE__URL", users_db));
    users_env.push(("APP__ADMIN__PASSWORD", ADMIN_PASSWORD.to_string()));
    users_env
}

/// A logout at the user service reaches the order service through the
/// shared cache: the session's access token, accepted before, is refused
/// after (401), and its refresh token no longer refreshes.
async fn logout_reaches_orders(env: &[(&'static str, String)], scratch: &ScratchDir, orders: &Api) {
    use reqwest::Method;

    let users = ServiceProcess::start("user_service", &users_env(env, scratch));
    let user_api = Api::new(users.base_url());
    let username = unique_name("carol");
    let password = "another long passphrase 77";
    user_api
        .register(&username, &format!("{username}@example.com"), password)
        .await;
    let tokens = user_api.login(&username, password).await;
    let access = tokens["access_token"].as_str().expect("access token");
    let refresh = json!({"refresh_token": tokens["refresh_token"]});

    let (status, body) = orders
        .call(Method::GET, "/api/v1/orders", Some(access), None)
        .await;
    assert_eq!(status, StatusCode::OK, "accepted before the logout: {body}");
    let (status, body) = user_api
        .call(Method::POST, "/api/v1/auth/logout", None, Some(&refresh))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = orders
        .call(Method::GET, "/api/v1/orders", Some(access), None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the order service still accepts a logged-out access token: {body}"
    );
    let (status, body) = user_api
        .call(Method::POST, "/api/v1/auth/refresh", None, Some(&refresh))
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "refresh after logout: {body}"
    );
    assert!(users.terminate().success());
}

/// What the order flow asks of an order service beyond plain JSON calls.
impl Api {
    async fn place(&self, token: &str) -> reqwest::Result<(StatusCode, Value)> {
        let order = json!({"items": [{"sku": "book-1", "quantity": 2, "unit_price_cents": 1250}], "currency": "EUR"});
        self.try_call(
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
        self.try_call(
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
        .post(api.url("/api/v1/orders"))
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

/// One statement, so one snapshot: counted one after another, the numbers
/// came from different moments while the consumer caught up, and a settled
/// tally could pair an old notification count with a newer event count.
async fn tally(db: &SqlDatabase) -> Tally {
    let counted: Result<(i64, i64, i64, i64), _> = db
        .query(
            "SELECT (SELECT COUNT(*) FROM outbox), \
                    (SELECT COUNT(*) FROM notifications), \
                    (SELECT COUNT(DISTINCT message_id) FROM notifications), \
                    (SELECT COUNT(*) FROM outbox o WHERE NOT EXISTS \
                        (SELECT 1 FROM notifications n WHERE n.message_id = o.id))",
        )
        .fetch_one()
        .await;
    match counted {
        Ok((events, notifications, distinct_notified, missing)) => Tally {
            events,
            notifications,
            distinct_notified,
            missing,
        },
        // The notifications table is created when the consumer starts.
        Err(_) => {
            let (events,): (i64,) = db
                .query("SELECT COUNT(*) FROM outbox")
                .fetch_one()
                .await
                .expect("outbox");
            Tally {
                events,
                notifications: 0,
                distinct_notified: 0,
                missing: events,
            }
        }
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

/// The variables every process of a run gets.
fn base_env(scratch: &ScratchDir, topic: &str) -> Vec<(&'static str, String)> {
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let audit_dir = scratch.path().join("audit");
    vec![
        ("APP_ENV", "test".to_string()),
        ("APP__AUTH__JWT__ISSUER", JWT_ISSUER.to_string()),
        ("APP__AUTH__JWT__SECRET", secret),
        ("APP__ORDERS__TOPIC", topic.to_string()),
        ("APP__ORDERS__OUTBOX__POLL_INTERVAL_MS", "100".to_string()),
        ("APP__NOTIFICATIONS__TOPIC", topic.to_string()),
        ("APP__NOTIFICATIONS__BACKOFF_FIRST_MS", "50".to_string()),
        ("APP__LOG__AUDIT__ENABLED", "true".to_string()),
        (
            "APP__LOG__AUDIT__FILE__DIRECTORY",
            audit_dir.display().to_string(),
        ),
    ]
}

/// Orders placed and paid while the process holding the consumer is
/// SIGKILLed: `kill` stops it, `restart` brings a consumer back. Returns
/// the tally at the kill.
async fn kill_midway(
    run: &Run,
    api: &Api,
    token: &str,
    kill: impl FnOnce(),
    restart: impl FnOnce(),
) -> Tally {
    let stop = Arc::new(AtomicBool::new(false));
    let load = start_load(api, token, &stop);
    let before = notified(&run.db).await;
    let midway = wait_until(Duration::from_secs(30), async || {
        (notified(&run.db).await >= before + 20).then_some(())
    })
    .await;
    assert!(midway.is_some(), "the consumer handled nothing under load");
    kill();
    let at_kill = tally(&run.db).await;
    // More orders while no consumer runs (when the order service is up).
    tokio::time::sleep(Duration::from_millis(300)).await;
    restart();
    stop.store(true, Ordering::Relaxed);
    let placed: u32 = futures::future::join_all(load)
        .await
        .into_iter()
        .map(|n| n.expect("load task"))
        .sum();
    println!("SIGKILL with {at_kill:?}, {placed} orders placed under load");
    at_kill
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_backends_in_process_worker() {
    let scratch = ScratchDir::new("order_flow_embedded");
    let db_url = format!("sqlite://{}/orders.db?mode=rwc", scratch.path().display());
    let mut env = base_env(&scratch, &unique_name("orders"));
    env.extend([
        ("APP__DATABASE__URL", db_url.clone()),
        ("APP__CACHE__URL", "memory://".to_string()),
        ("APP__MQ__URL", "memory://".to_string()),
    ]);
    let who = callers(&env, &scratch).await;
    let orders = ServiceProcess::start("order_service", &env);
    let db = SqlDatabase::connect(&DatabaseSettings::from_url(db_url))
        .await
        .expect("sqlite");
    let run = Run {
        env,
        db,
        audit_dir: scratch.path().join("audit"),
    };
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

    // The consumer and the in-memory queue live in the order service: kill
    // it, start it again on the same database.
    let mut orders = Some(orders);
    let mut restarted = None;
    let at_kill = kill_midway(
        &run,
        &api,
        &who.bob,
        || drop(orders.take()),
        || {
            restarted = Some(ServiceProcess::start("order_service", &run.env));
        },
    )
    .await;
    let after = assert_exactly_once(&run, true).await;
    assert!(after.events >= at_kill.events);

    let orders = restarted.expect("restarted");
    assert_eq!(
        orders.terminate().code(),
        Some(0),
        "order_service exits 0 on SIGTERM"
    );
    run.db.close().await;
}

#[cfg(all(feature = "postgres", feature = "rabbitmq", feature = "redis"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_rabbitmq_redis_separate_worker() {
    use core_testkit::{Service, require_service};

    let postgres = require_service!(Service::Postgres);
    let amqp = require_service!(Service::RabbitMq);
    let redis = require_service!(Service::Redis);
    let database = support::ScratchDatabase::create(&postgres, "orders").await;
    let scratch = ScratchDir::new("order_flow_servers");
    let topic = unique_name("orders");
    let mut env = base_env(&scratch, &topic);
    env.extend([
        ("APP__DATABASE__URL", database.url.clone()),
        ("APP__CACHE__URL", redis),
        ("APP__MQ__URL", amqp.clone()),
        ("APP__MQ__RABBITMQ__QUEUE_EXPIRES_MS", "600000".to_string()),
        ("APP__NOTIFICATIONS__GROUP", unique_name("notifications")),
    ]);
    let who = callers(&env, &scratch).await;
    // The worker's group exists before the first event: RabbitMQ keeps no
    // history for queues that do not exist yet.
    let worker = ServiceProcess::start("notification_worker", &env);
    let orders = ServiceProcess::start("order_service", &env);
    let db = SqlDatabase::connect(&DatabaseSettings::from_url(database.url.clone()))
        .await
        .expect("postgres");
    let run = Run {
        env,
        db,
        audit_dir: scratch.path().join("audit"),
    };
    let api = Api::new(orders.base_url());
    let ready = reqwest::get(worker.url("/ready"))
        .await
        .expect("worker /ready");
    assert_eq!(ready.status(), StatusCode::OK);

    let (walked, rolled_back) = api_contract(&api, &who).await;
    logout_reaches_orders(&run.env, &scratch, &api).await;
    assert_exactly_once(&run, false).await;
    assert_eq!(events_of(&run.db, &walked).await, (4, 4));
    assert_eq!(
        events_of(&run.db, &rolled_back).await,
        (1, 1),
        "no event for the rolled-back change"
    );

    // SIGKILL the worker midway through a load; the order service keeps
    // taking orders, a new worker takes over the group.
    let mut worker = Some(worker);
    let mut restarted = None;
    let at_kill = kill_midway(
        &run,
        &api,
        &who.bob,
        || drop(worker.take()),
        || {
            restarted = Some(ServiceProcess::start("notification_worker", &run.env));
        },
    )
    .await;
    let after = assert_exactly_once(&run, true).await;
    assert!(
        after.events > at_kill.events,
        "orders kept coming while the worker was down"
    );

    // SIGTERM (a deploy) midway through a load: the worker finishes or hands
    // back the messages in hand, exits 0, and its successor loses nothing.
    let mut draining = restarted;
    let mut successor = None;
    kill_midway(
        &run,
        &api,
        &who.bob,
        || {
            let status = draining.take().expect("the worker").terminate();
            assert_eq!(
                status.code(),
                Some(0),
                "notification_worker exits 0 on SIGTERM under load"
            );
        },
        || {
            successor = Some(ServiceProcess::start("notification_worker", &run.env));
        },
    )
    .await;
    let after = assert_exactly_once(&run, true).await;
    let worker = successor.expect("successor");
    let metrics = reqwest::get(worker.url("/metrics"))
        .await
        .expect("worker /metrics")
        .text()
        .await
        .expect("metrics text");
    let duplicates: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("notifications_total") && line.contains("duplicate"))
        .collect();
    println!("after the restart: {after:?}; redeliveries absorbed: {duplicates:?}");

    // A poison message is dead-lettered, not retried forever.
    assert!(
        order_flow_support::poison_is_dead_lettered(&amqp, &topic).await,
        "the poison message reached the dead-letter topic"
    );

    assert_eq!(
        worker.terminate().code(),
        Some(0),
        "notification_worker exits 0 on SIGTERM"
    );
    assert_eq!(
        orders.terminate().code(),
        Some(0),
        "order_service exits 0 on SIGTERM"
    );
    run.db.close().await;
    database.drop().await;
}

/// The worker checks no tokens, so prod does not ask it for a JWT key: it
/// starts and becomes ready with `APP_ENV=prod` and no `auth` settings at
/// all (the production rules are otherwise met: no debug, no placeholder,
/// no echo).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_starts_in_prod_without_jwt_key() {
    let scratch = ScratchDir::new("worker_prod");
    let db_url = format!("sqlite://{}/worker.db?mode=rwc", scratch.path().display());
    let env = [
        ("APP_ENV", "prod".to_string()),
        ("APP__DATABASE__URL", db_url),
        ("APP__MQ__URL", "memory://".to_string()),
    ];
    let worker = ServiceProcess::start("notification_worker", &env);
    let ready = reqwest::get(worker.url("/ready"))
        .await
        .expect("worker /ready");
    assert_eq!(ready.status(), StatusCode::OK, "{}", worker.output());
    assert_eq!(
        worker.terminate().code(),
        Some(0),
        "notification_worker exits 0 on SIGTERM"
    );
}
