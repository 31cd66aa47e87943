//! The HTTP API: `/api/v1/orders`.
//!
//! | route | who |
//! |---|---|
//! | `POST /api/v1/orders` | any signed-in user, for itself |
//! | `GET /api/v1/orders/{id}` | its owner, or `orders:read` |
//! | `GET /api/v1/orders?user_id=&limit=` | one's own; anyone's with `orders:read` |
//! | `PATCH /api/v1/orders/{id}/status` to `paid` / `cancelled` | its owner, or `orders:write` |
//! | `PATCH /api/v1/orders/{id}/status` to `shipped` / `delivered` | `orders:fulfil` only |

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use core_sdk::auth::axum::{AuthState, Authenticated};
use core_sdk::error::Error;
use serde::Deserialize;

use crate::orders::{NewOrder, Order, StatusRequest, invalid_field};
use crate::store::{MAX_PAGE, OrderStore, StatusUpdate};
use core_sdk::web::{ApiJson, ApiResult, bind_user};

/// Reading anyone's orders.
const READ_ANY: &str = "orders:read";
/// Paying for or cancelling anyone's orders.
const WRITE_ANY: &str = "orders:write";
/// Shipping and delivering.
const FULFIL: &str = "orders:fulfil";

/// What the handlers share.
#[derive(Debug, Clone)]
pub(crate) struct ApiState {
    pub(crate) store: OrderStore,
    pub(crate) auth: AuthState,
}

impl FromRef<ApiState> for AuthState {
    fn from_ref(state: &ApiState) -> AuthState {
        state.auth.clone()
    }
}

/// The `/api/v1/orders` routes, each behind the bearer-token check.
pub(crate) fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/orders", post(create).get(list))
        .route("/api/v1/orders/{id}", get(read))
        .route("/api/v1/orders/{id}/status", patch(change_status))
        .with_state(state)
}

async fn create(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiJson(order): ApiJson<NewOrder>,
) -> ApiResult<(StatusCode, [(header::HeaderName, String); 1], Json<Order>)> {
    bind_user(&caller.subject);
    order.validate()?;
    let order = state.store.create(&caller.subject, &order).await?;
    tracing::info!(
        order_id = order.id,
        total_cents = order.total_cents,
        "order placed"
    );
    let location = format!("/api/v1/orders/{}", order.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(order),
    ))
}

async fn read(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Json<Order>> {
    bind_user(&caller.subject);
    let order = state.store.get(&id).await?;
    state.auth.rbac().authorize(&caller, READ_ANY, &order)?;
    Ok(Json(order))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    user_id: Option<String>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<Order>>> {
    bind_user(&caller.subject);
    let Query(query) = query.map_err(|rejection| {
        Error::invalid_input(format!("bad query string: {}", rejection.body_text()))
    })?;
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(invalid_field("limit", &format!("between 1 and {MAX_PAGE}")).into());
    }
    let rbac = state.auth.rbac();
    let user_id = match query.user_id.as_deref() {
        Some(user_id) if user_id == caller.subject => Some(user_id),
        Some(user_id) => {
            rbac.require(&caller, READ_ANY)?;
            Some(user_id)
        }
        None if rbac.has_permission(&caller, READ_ANY) => None,
        None => Some(caller.subject.as_str()),
    };
    Ok(Json(state.store.list(user_id, limit).await?))
}

async fn change_status(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<StatusRequest>,
) -> ApiResult<Json<Order>> {
    bind_user(&caller.subject);
    let to = request.validate()?;
    let rbac = state.auth.rbac();
    let update = StatusUpdate {
        to,
        expected_version: request.expected_version,
        reason: request.reason.as_deref(),
        actor: &caller.subject,
    };
    let order = state
        .store
        .change_status(&id, update, |order| {
            if to.is_fulfilment() {
                rbac.require(&caller, FULFIL)
            } else {
                rbac.authorize(&caller, WRITE_ANY, order)
            }
        })
        .await?;
    tracing::info!(order_id = order.id, status = %order.status, "order status changed");
    Ok(Json(order))
}
