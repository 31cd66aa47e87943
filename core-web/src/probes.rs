//! `/health` (liveness), `/ready` (each dependency answers in time) and
//! `/metrics` (Prometheus text).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use core_error::{Error, Result};
use core_log::{METRICS_CONTENT_TYPE, Metrics};
use futures::future::BoxFuture;

type Check = Arc<dyn Fn() -> BoxFuture<'static, Result<()>> + Send + Sync>;

/// Set once the process starts shutting down: `/ready` answers 503 from
/// then on, whatever the checks say. One per process, as the signal is.
static DRAINING: AtomicBool = AtomicBool::new(false);

/// Makes `/ready` answer 503 from now on (called by [`serve`](crate::serve)
/// on SIGTERM).
pub(crate) fn start_draining() {
    DRAINING.store(true, Ordering::Release);
}

/// The dependencies `/ready` checks, each within the same timeout.
#[derive(Clone)]
pub struct Probes {
    checks: Vec<(&'static str, Check)>,
    timeout: Duration,
    metrics: Metrics,
}

impl Probes {
    /// No checks yet; each added one must answer within `timeout`.
    pub fn new(metrics: Metrics, timeout: Duration) -> Probes {
        Probes {
            checks: Vec::new(),
            timeout,
            metrics,
        }
    }

    /// Checks `name` with `check`, any async check of the service's own.
    pub fn check<F>(mut self, name: &'static str, check: F) -> Probes
    where
        F: Fn() -> BoxFuture<'static, Result<()>> + Send + Sync + 'static,
    {
        self.checks.push((name, Arc::new(check)));
        self
    }

    /// The database answers a trivial query.
    #[cfg(feature = "db")]
    pub fn database(self, db: Arc<dyn core_db::DatabaseBase>) -> Probes {
        let timeout = self.timeout;
        self.check("database", move || {
            let db = db.clone();
            Box::pin(async move { db.health(timeout).await.map(drop) })
        })
    }

    /// The cache answers a lookup.
    #[cfg(feature = "cache")]
    pub fn cache(self, cache: core_cache::Cache) -> Probes {
        self.check("cache", move || {
            let cache = cache.clone();
            Box::pin(async move { cache.exists("ready-probe").await.map(drop) })
        })
    }

    /// The broker answers its health check, which leaves nothing on it (a
    /// published probe message piled up in RabbitMQ's unrouted queue).
    #[cfg(feature = "mq")]
    pub fn queue(self, queue: Arc<dyn core_mq::MessageQueueBase>) -> Probes {
        let timeout = self.timeout;
        self.check("queue", move || {
            let queue = queue.clone();
            Box::pin(async move { queue.health(timeout).await })
        })
    }

    /// The three routes, to merge into the service's router.
    pub fn router(self) -> Router {
        Router::new()
            .route("/health", get(health))
            .route("/ready", get(ready))
            .route("/metrics", get(render_metrics))
            .with_state(Arc::new(self))
    }
}

async fn health() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

async fn ready(State(probes): State<Arc<Probes>>) -> Response {
    if DRAINING.load(Ordering::Acquire) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "draining"})),
        )
            .into_response();
    }
    let runs = probes.checks.iter().map(|(name, check)| {
        let timeout = probes.timeout;
        async move {
            let outcome = match tokio::time::timeout(timeout, check()).await {
                Ok(result) => result,
                Err(_) => Err(Error::timeout(format!("no answer within {timeout:?}"))),
            };
            (*name, outcome)
        }
    });
    let outcomes = futures::future::join_all(runs).await;
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    for (name, outcome) in outcomes {
        let value = match outcome {
            Ok(()) => serde_json::json!({"status": "ok"}),
            Err(err) => {
                ready = false;
                tracing::warn!(check = name, error = %err, "readiness check failed");
                serde_json::json!({"status": "failed", "code": err.code()})
            }
        };
        checks.insert(name.to_string(), value);
    }
    let (status, word) = if ready {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not_ready")
    };
    (
        status,
        axum::Json(serde_json::json!({"status": word, "checks": checks})),
    )
        .into_response()
}

async fn render_metrics(State(probes): State<Arc<Probes>>) -> Response {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        probes.metrics.render(),
    )
        .into_response()
}
