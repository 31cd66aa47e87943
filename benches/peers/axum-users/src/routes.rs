//! The routes, their checks and their JSON, as in `examples/user_service`.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::App;
use crate::store::UserRow;
use crate::tokens::{self, ACCESS_TTL_SECS, Claims};

/// How long a user read stays cached, as in the SDK's service.
const USER_TTL: Duration = Duration::from_secs(300);

pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/users/{id}", get(get_user))
        .with_state(app)
}

/// A user as the API shows it.
#[derive(Serialize, Deserialize)]
struct User {
    id: String,
    username: String,
    email: String,
    roles: Vec<String>,
    created_at: String,
    updated_at: String,
}

impl From<&UserRow> for User {
    fn from(row: &UserRow) -> User {
        let time = |millis| {
            chrono::DateTime::from_timestamp_millis(millis)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        User {
            id: row.id.clone(),
            username: row.username.clone(),
            email: row.email.clone(),
            roles: row.roles.split(',').map(str::to_string).collect(),
            created_at: time(row.created_at),
            updated_at: time(row.updated_at),
        }
    }
}

/// An error in the SDK's JSON shape.
struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError(status, code, message) = self;
        (
            status,
            Json(serde_json::json!({"error": {"code": code, "message": message}})),
        )
            .into_response()
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
        format!("{field} {message}"),
    )
}

fn internal(err: impl std::fmt::Display) -> ApiError {
    eprintln!("request failed: {err}");
    ApiError(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the service could not handle the request".into(),
    )
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        message.to_string(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Register {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn register(
    State(app): State<App>,
    Json(request): Json<Register>,
) -> Result<Response, ApiError> {
    let username = request.username.trim().to_lowercase();
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if !(3..=32).contains(&username.len()) || !username.chars().all(allowed) {
        return Err(invalid(
            "username",
            "must be 3 to 32 letters, digits, '.', '_' or '-'",
        ));
    }
    let email = request.email.trim().to_lowercase();
    let valid_email = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && domain.split('.').all(|label| !label.is_empty())
        });
    if !valid_email {
        return Err(invalid("email", "is not an e-mail address"));
    }
    let length = request.password.chars().count();
    if !(12..=128).contains(&length) || request.password.to_lowercase().contains(&username) {
        return Err(invalid(
            "password",
            "must be 12 to 128 characters and not contain the user name",
        ));
    }
    let hash = {
        let _permit = app.hashing.acquire().await.map_err(internal)?;
        let password = request.password;
        tokio::task::spawn_blocking(move || tokens::hash(&password))
            .await
            .map_err(internal)?
            .map_err(internal)?
    };
    let now = chrono::Utc::now().timestamp_millis();
    let row = UserRow {
        id: uuid::Uuid::new_v4().to_string(),
        username,
        email,
        password_hash: hash,
        roles: "user".to_string(),
        created_at: now,
        updated_at: now,
    };
    if !app.store.insert(&row).await.map_err(internal)? {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "conflict",
            "the user name or e-mail is taken".into(),
        ));
    }
    let location = format!("/api/v1/users/{}", row.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(User::from(&row)),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: u64,
}

async fn login(
    State(app): State<App>,
    Json(request): Json<Login>,
) -> Result<Json<TokenResponse>, ApiError> {
    let username = request.username.trim().to_lowercase();
    let row = app
        .store
        .find_by_username(&username)
        .await
        .map_err(internal)?;
    let verified = match &row {
        Some(row) => {
            let _permit = app.hashing.acquire().await.map_err(internal)?;
            let (password, hash) = (request.password, row.password_hash.clone());
            tokio::task::spawn_blocking(move || tokens::verify(&password, &hash))
                .await
                .map_err(internal)?
        }
        None => false,
    };
    let Some(row) = row.filter(|_| verified) else {
        return Err(unauthenticated("wrong user name or password"));
    };
    let roles: Vec<String> = row.roles.split(',').map(str::to_string).collect();
    let (access_token, refresh_token) = app.tokens.issue(&row.id, &roles).map_err(internal)?;
    Ok(Json(TokenResponse {
        access_token,
        refresh_token,
        token_type: "bearer",
        expires_in: ACCESS_TTL_SECS,
    }))
}

/// The claims of the request's valid, unrevoked access token.
async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Claims, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| unauthenticated("a bearer token is required"))?;
    let claims = app
        .tokens
        .verify_access(token)
        .ok_or_else(|| unauthenticated("the token is not valid"))?;
    let keys = [
        format!("auth.revocations:auth:revoked:{}", claims.jti),
        format!("auth.revocations:auth:subject-not-before:{}", claims.sub),
        format!("auth.revocations:auth:revoked-family:{}", claims.fam),
    ];
    let found = app.cache.get_many(&keys).await.map_err(internal)?;
    let subject_revoked = found[1]
        .as_deref()
        .and_then(|not_before| not_before.parse::<u64>().ok())
        .is_some_and(|not_before| claims.iat_ms < not_before);
    if found[0].is_some() || found[2].is_some() || subject_revoked {
        return Err(unauthenticated("the token has been revoked"));
    }
    Ok(claims)
}

async fn get_user(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    let claims = authenticate(&app, &headers).await?;
    if claims.sub != id && !claims.roles.iter().any(|role| role == "admin") {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "permission_denied",
            "users:read is not granted".into(),
        ));
    }
    let key = format!("user_service:user:{id}");
    if let Some(cached) = app.cache.get(&key).await.map_err(internal)? {
        return serde_json::from_str(&cached).map(Json).map_err(internal);
    }
    let row = app
        .store
        .find(&id)
        .await
        .map_err(internal)?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "not_found", "no such user".into()))?;
    let user = User::from(&row);
    let json = serde_json::to_string(&user).map_err(internal)?;
    app.cache
        .set(&key, json, USER_TTL)
        .await
        .map_err(internal)?;
    Ok(Json(user))
}
