//! The user service of `examples/user_service`, written by hand on axum,
//! sqlx, moka or redis, jsonwebtoken and argon2 — no SDK — as the floor
//! `scripts/peers.sh` measures the SDK's service against.
//!
//! It serves what the comparison loads, with the same checks and JSON:
//! `POST /api/v1/auth/register`, `POST /api/v1/auth/login`,
//! `GET /api/v1/users/{id}` (access token, revocation lookup, owner-or-admin
//! check, cache-aside read) and `GET /health`. What a hand-written service
//! of this size would leave out, it leaves out: no request ids, access log,
//! metrics, CORS, timeouts, load shedding or login throttling — which
//! makes it a floor, not a twin.
//!
//! Settings come from the environment: `DATABASE_URL`
//! (`sqlite://…?mode=rwc` or `postgres://…`), `CACHE_URL` (`memory://` or
//! `redis://…`), `JWT_SECRET` (32 bytes or more), `BIND_ADDR`.

mod cache;
mod routes;
mod store;
mod tokens;

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::cache::Cache;
use crate::store::Store;
use crate::tokens::Tokens;

/// What every handler shares.
#[derive(Clone)]
struct App {
    store: Store,
    cache: Cache,
    tokens: Arc<Tokens>,
    /// Argon2id takes 19 MiB a hash: at most this many at once.
    hashing: Arc<Semaphore>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let setting =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_string());
    let store = Store::connect(&setting("DATABASE_URL", "sqlite://peer-users.db?mode=rwc")).await?;
    let cache = Cache::connect(&setting("CACHE_URL", "memory://")).await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "JWT_SECRET is not set")?;
    if secret.len() < 32 {
        return Err("JWT_SECRET must be 32 bytes or more".into());
    }
    let hashing = std::thread::available_parallelism().map_or(2, usize::from);
    let app = App {
        store,
        cache,
        tokens: Arc::new(Tokens::new(secret.as_bytes())),
        hashing: Arc::new(Semaphore::new(hashing)),
    };
    let listener = tokio::net::TcpListener::bind(setting("BIND_ADDR", "127.0.0.1:8080")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, routes::router(app))
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("a SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        })
        .await?;
    Ok(())
}
