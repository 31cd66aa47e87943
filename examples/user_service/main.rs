//! The user service: registration, login with access and refresh tokens,
//! and user management with roles, over axum.
//!
//! `cargo run --features axum --example user_service` (then
//! `curl localhost:8080/health`). Embedded backends by default — SQLite in
//! `./data`, in-memory cache and queue; PostgreSQL, Redis, RabbitMQ and the
//! rest by configuration only, e.g.
//! `APP__DATABASE__URL=postgres://… APP__CACHE__URL=redis://… APP__MQ__URL=amqp://…`
//! (with the matching cargo features). Settings: `configs/user_service/`.
//!
//! An administrator exists once `APP__ADMIN__PASSWORD` is set: at start-up
//! the service creates `admin.username` with that password and the `admin`
//! role, unless a user of that name exists already.
//!
//! | route | who |
//! |---|---|
//! | `POST /api/v1/auth/register`, `/login`, `/refresh`, `/logout` | anyone |
//! | `GET`, `PUT /api/v1/users/{id}` | the user itself, or an admin |
//! | `POST /api/v1/users/`, `GET /api/v1/users?page=&size=`, `DELETE /api/v1/users/{id}` | an admin |
//! | `GET /health`, `/ready`, `/metrics` | anyone |

mod auth_routes;
mod model;
mod settings;
mod state;
mod store;
mod user_routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use core_sdk::auth::axum::AuthState;
use core_sdk::auth::jwt::KeyRing;
use core_sdk::auth::password::{PasswordPolicy, Passwords};
use core_sdk::auth::rbac::Rbac;
use core_sdk::auth::throttle::LoginThrottle;
use core_sdk::auth::tokens::TokenService;
use core_sdk::cache::Cache;
use core_sdk::error::Result;
use secrecy::ExposeSecret as _;

use crate::settings::Settings;
use crate::state::{AppState, Services};
use crate::store::UserStore;

/// Service name: the config folder, the cache namespace by default, logs.
const SERVICE: &str = "user_service";

#[tokio::main]
async fn main() -> Result<()> {
    let started = core_sdk::web::start::<Settings>(SERVICE)?;
    let _log = started.log_guard;
    let settings = started.settings;
    let server = settings.server.clone();

    let database = core_sdk::db::connect(&settings.database).await?;
    let sql = database.sql()?.clone();
    let store = UserStore::open(sql).await?;

    let cache = core_sdk::cache::connect(&settings.cache).await?;
    // Login failures are this service's own business: beside the user reads,
    // in a namespace of their own. Revocations must be seen by every service
    // accepting these tokens: auth.tokens.revocation_namespace says where.
    let namespace = settings.cache.namespace.as_deref().unwrap_or(SERVICE);
    let throttle_cache = Cache::builder(cache.backend().clone())
        .namespace(format!("{namespace}.auth"))
        .build()?;
    let queue = core_sdk::mq::connect(&settings.mq).await?;

    let keys = Arc::new(KeyRing::from_settings(&settings.auth.jwt)?);
    let tokens = TokenService::new(keys, cache.clone(), &settings.auth.tokens)?
        .with_subjects(Arc::new(store.clone()));
    let rbac = Rbac::from_settings(&settings.auth.rbac)?;
    let auth = AuthState::new(tokens.clone(), rbac);
    let passwords = Passwords::from_settings(&settings.auth.passwords)?;
    let decoy_hash = passwords.hash(&uuid::Uuid::new_v4().to_string())?;
    let app = AppState(Arc::new(Services {
        store: store.clone(),
        cache: cache.clone(),
        tokens,
        auth: auth.clone(),
        throttle: LoginThrottle::new(throttle_cache, settings.auth.throttle.clone())?,
        passwords,
        policy: Arc::new(PasswordPolicy::new(settings.auth.passwords.policy.clone())),
        queue: queue.clone(),
        users: Arc::new(settings.users.clone()),
        decoy_hash: decoy_hash.into(),
    }));
    bootstrap_admin(&app, &settings).await?;

    let probes = core_sdk::web::Probes::new(
        started.metrics.clone(),
        Duration::from_millis(server.ready_timeout_ms),
    )
    .database(database.clone().into_base())
    .cache(cache)
    .queue(queue.clone());
    let router = core_sdk::web::app(routes(app, &auth), probes, &server)?;
    core_sdk::web::serve(router, &server).await?;

    store.close().await;
    queue.close().await?;
    tracing::info!("stopped");
    Ok(())
}

fn routes(app: AppState, auth: &AuthState) -> Router {
    use user_routes::{CREATE, LIST};
    let admin_only = Router::new()
        .route(
            "/api/v1/users",
            get(user_routes::list)
                .layer(auth.require(LIST))
                .merge(post(user_routes::create).layer(auth.require(CREATE))),
        )
        .route(
            "/api/v1/users/",
            get(user_routes::list)
                .layer(auth.require(LIST))
                .merge(post(user_routes::create).layer(auth.require(CREATE))),
        );
    Router::new()
        .route("/api/v1/auth/register", post(auth_routes::register))
        .route("/api/v1/auth/login", post(auth_routes::login))
        .route("/api/v1/auth/refresh", post(auth_routes::refresh))
        .route("/api/v1/auth/logout", post(auth_routes::logout))
        .route(
            "/api/v1/users/{id}",
            get(user_routes::get)
                .put(user_routes::update)
                .delete(user_routes::delete),
        )
        .merge(admin_only)
        .with_state(app)
}

/// Creates the administrator named in `admin` when its password is set
/// and no user has that name.
async fn bootstrap_admin(app: &AppState, settings: &Settings) -> Result<()> {
    let Some(password) = &settings.admin.password else {
        return Ok(());
    };
    let username = model::username(&settings.admin.username)
        .map_err(|err| err.0.with_key("admin.username"))?;
    if app.store.find_by_username(&username).await?.is_some() {
        return Ok(());
    }
    let row = user_routes::create_user(
        app,
        &username,
        &settings.admin.email,
        password.expose_secret().to_string(),
        vec!["admin".to_string()],
    )
    .await
    .map_err(|err| err.0.with_context("setting", "admin"))?;
    tracing::info!(user = %row.id, username = %row.username, "bootstrap admin created");
    Ok(())
}
