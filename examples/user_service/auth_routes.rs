//! `/api/v1/auth/*`: register, login, refresh, logout.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::Response;
use core_sdk::error::{Error, ErrorKind};
use core_sdk::log::{AuditEvent, AuditOutcome};
use core_sdk::mq::Message;
use serde::Serialize;

use crate::model::{
    self, DEFAULT_ROLE, LoginRequest, RefreshRequest, RegisterRequest, TokenResponse,
};
use crate::state::AppState;
use core_sdk::web::{ApiError, ApiJson, ApiResult, bind_user};

/// The `user.registered` event body.
#[derive(Serialize)]
struct UserRegistered<'a> {
    id: &'a str,
    username: &'a str,
    email: &'a str,
}

/// `POST /api/v1/auth/register`: 201 with the new user.
pub(crate) async fn register(
    State(app): State<AppState>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> ApiResult<Response> {
    let row = crate::user_routes::create_user(
        &app,
        &request.username,
        &request.email,
        request.password,
        vec![DEFAULT_ROLE.to_string()],
    )
    .await?;
    bind_user(&row.id);
    let event = UserRegistered {
        id: &row.id,
        username: &row.username,
        email: &row.email,
    };
    let message =
        Message::json(app.users.registered_topic.as_str(), &event)?.with_key(row.id.as_str());
    // The user exists whatever happens to the event: a failed publish is
    // logged, not turned into a failed registration (order_service shows the
    // transactional outbox that closes this gap).
    if let Err(err) = app.queue.publish(message).await {
        tracing::error!(error = %err, user = %row.id, "user.registered was not published");
    }
    AuditEvent::new(&row.id, "user.register", AuditOutcome::Success)
        .resource(&format!("user:{}", row.id))
        .record();
    Ok(crate::user_routes::created(&row))
}

/// `POST /api/v1/auth/login`: a token pair for the right password; failures
/// count towards a lock-out per account and per client address.
pub(crate) async fn login(
    State(app): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    if request.username.trim().is_empty() {
        return Err(ApiError::invalid_field("username", "is required"));
    }
    if request.password.is_empty() {
        return Err(ApiError::invalid_field("password", "is required"));
    }
    let username = request.username.trim().to_lowercase();
    let address = client.ip().to_string();
    // Before any hash: a flood from one address is refused here at once.
    let _attempt = app.throttle.admit(&address)?;
    app.throttle.check(&username, &address).await?;

    let row = app.store.find_by_username(&username).await?;
    let hash: Arc<str> = row.as_ref().map_or_else(
        || app.decoy_hash.clone(),
        |row| Arc::from(row.password_hash.as_str()),
    );
    let verified = app.verify_password(request.password, hash).await?;
    let Some(row) = row.filter(|_| verified) else {
        app.throttle.record_failure(&username, &address).await?;
        AuditEvent::new(&username, "session.create", AuditOutcome::Failure)
            .reason("wrong user name or password")
            .record();
        return Err(Error::unauthenticated("wrong user name or password")
            .with_operation("auth.login")
            .into());
    };
    app.throttle.record_success(&username).await?;
    bind_user(&row.id);
    let pair = app.tokens.issue(&row.id, &row.role_list(), &[]).await?;
    AuditEvent::new(&row.id, "session.create", AuditOutcome::Success).record();
    Ok(axum::Json(pair.into()))
}

/// `POST /api/v1/auth/refresh`: the next pair; the refresh token is retired.
pub(crate) async fn refresh(
    State(app): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let token = required_token(&request)?;
    // A deleted user's session ends with the user.
    let claims = app.tokens.keys().verify(token)?;
    if app.store.find(&claims.sub).await?.is_none() {
        app.tokens.logout(token).await?;
        return Err(Error::unauthenticated("the user no longer exists")
            .with_operation("auth.refresh")
            .into());
    }
    bind_user(&claims.sub);
    let pair = app.tokens.refresh(token).await?;
    Ok(axum::Json(pair.into()))
}

/// `POST /api/v1/auth/logout`: ends the session the refresh token belongs
/// to; its access and refresh tokens stop working. 204.
pub(crate) async fn logout(
    State(app): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    let token = required_token(&request)?;
    app.tokens.logout(token).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn required_token(request: &RefreshRequest) -> ApiResult<&str> {
    let token = request.refresh_token.trim();
    if token.is_empty() {
        return Err(ApiError::invalid_field("refresh_token", "is required"));
    }
    Ok(token)
}

/// The password policy's verdict as a 422 on the `password` field.
pub(crate) fn check_password(app: &AppState, password: &str, inputs: &[&str]) -> ApiResult<()> {
    if password.is_empty() {
        return Err(ApiError::invalid_field("password", "is required"));
    }
    app.policy.check(password, inputs).map_err(|err| {
        if err.kind() == ErrorKind::InvalidInput {
            ApiError::invalid_field(
                "password",
                err.message().trim_start_matches("the password "),
            )
        } else {
            err.into()
        }
    })
}

/// Validates a new user's fields (422 naming the first bad one).
pub(crate) fn validate_new_user(
    app: &AppState,
    username: &str,
    email: &str,
    password: &str,
) -> ApiResult<(String, String)> {
    let username = model::username(username)?;
    let email = model::email(email)?;
    check_password(app, password, &[&username, &email])?;
    Ok((username, email))
}
