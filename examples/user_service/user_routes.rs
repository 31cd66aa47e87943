//! `/api/v1/users`: an admin manages every user; a user reads and updates
//! itself. Reads are cached (cache-aside), writes invalidate.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use core_sdk::auth::Principal;
use core_sdk::auth::axum::Authenticated;
use core_sdk::auth::rbac::Resource;
use core_sdk::error::Error;
use core_sdk::log::{AuditEvent, AuditOutcome};

use crate::auth_routes::{check_password, validate_new_user};
use crate::model::{
    self, CreateUserRequest, DEFAULT_ROLE, Page, PageQuery, UpdateUserRequest, User,
};
use crate::state::{AppState, user_key};
use crate::store::UserRow;
use core_sdk::web::{ApiJson, ApiResult, bind_user};

/// Permissions (granted to roles in `auth.rbac.roles`); a user holds the
/// read and update ones on itself without them.
pub(crate) const READ: &str = "users:read";
pub(crate) const UPDATE: &str = "users:update";
pub(crate) const CREATE: &str = "users:create";
pub(crate) const DELETE: &str = "users:delete";
pub(crate) const LIST: &str = "users:list";
pub(crate) const ASSIGN_ROLES: &str = "users:assign_roles";

/// A user as the subject of a permission check: it owns itself.
struct UserId<'a>(&'a str);

impl Resource for UserId<'_> {
    fn owner(&self) -> Option<&str> {
        Some(self.0)
    }
}

fn not_found(id: &str) -> Error {
    Error::not_found("no such user")
        .with_key(user_key(id))
        .with_operation("users.get")
}

fn authorize(app: &AppState, principal: &Principal, permission: &str, id: &str) -> ApiResult<()> {
    bind_user(&principal.subject);
    app.rbac()
        .authorize(principal, permission, &UserId(id))
        .map_err(|err| {
            AuditEvent::new(&principal.subject, permission, AuditOutcome::Denied)
                .resource(&user_key(id))
                .record();
            err.into()
        })
}

/// Validates, hashes and stores a new user.
pub(crate) async fn create_user(
    app: &AppState,
    username: &str,
    email: &str,
    password: String,
    roles: Vec<String>,
) -> ApiResult<UserRow> {
    let (username, email) = validate_new_user(app, username, email, &password)?;
    let hash = app.hash_password(password).await?;
    Ok(app.store.insert(&username, &email, &hash, &roles).await?)
}

/// 201 with the user and its `Location`.
pub(crate) fn created(row: &UserRow) -> Response {
    let location = format!("/api/v1/users/{}", row.id);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(row.to_user()),
    )
        .into_response()
}

/// `POST /api/v1/users/` (permission `users:create`): 201 with the user.
pub(crate) async fn create(
    State(app): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiJson(request): ApiJson<CreateUserRequest>,
) -> ApiResult<Response> {
    bind_user(&principal.subject);
    let roles = match &request.roles {
        Some(roles) => model::roles(roles)?,
        None => vec![DEFAULT_ROLE.to_string()],
    };
    let row = create_user(
        &app,
        &request.username,
        &request.email,
        request.password,
        roles,
    )
    .await?;
    AuditEvent::new(&principal.subject, "user.create", AuditOutcome::Success)
        .resource(&user_key(&row.id))
        .record();
    Ok(created(&row))
}

/// `GET /api/v1/users/{id}`: through the cache.
pub(crate) async fn get(
    State(app): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<User>> {
    authorize(&app, &principal, READ, &id)?;
    let store = app.store.clone();
    let user = app
        .cache
        .get_or_set(&user_key(&id), Some(app.cache_ttl()), || async {
            match store.find(&id).await? {
                Some(row) => Ok(row.to_user()),
                None => Err(not_found(&id)),
            }
        })
        .await?;
    Ok(axum::Json(user))
}

/// `PUT /api/v1/users/{id}`: changes e-mail, password, and (permission
/// `users:assign_roles`) roles.
pub(crate) async fn update(
    State(app): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<UpdateUserRequest>,
) -> ApiResult<axum::Json<User>> {
    authorize(&app, &principal, UPDATE, &id)?;
    if request.roles.is_some() {
        app.rbac().require(&principal, ASSIGN_ROLES)?;
    }
    let mut row = app.store.find(&id).await?.ok_or_else(|| not_found(&id))?;
    if let Some(email) = &request.email {
        row.email = model::email(email)?;
    }
    let old_roles = row.roles.clone();
    if let Some(roles) = &request.roles {
        row.roles = model::roles(roles)?.join(",");
    }
    let password_changed = request.password.is_some();
    if let Some(password) = request.password {
        check_password(&app, &password, &[&row.username, &row.email])?;
        row.password_hash = app.hash_password(password).await?;
    }
    row.updated_at = chrono::Utc::now().timestamp_millis();
    if !app.store.update(&row).await? {
        return Err(not_found(&id).into());
    }
    app.cache.invalidate(&user_key(&id)).await?;
    // Sessions issued under the old password or roles end; the next login
    // gets tokens for what the user holds now.
    if password_changed || row.roles != old_roles {
        app.tokens.revoke_subject(&id).await?;
    }
    AuditEvent::new(&principal.subject, "user.update", AuditOutcome::Success)
        .resource(&user_key(&id))
        .record();
    Ok(axum::Json(row.to_user()))
}

/// `DELETE /api/v1/users/{id}` (permission `users:delete`): 204.
pub(crate) async fn delete(
    State(app): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    bind_user(&principal.subject);
    app.rbac().require(&principal, DELETE)?;
    if !app.store.delete(&id).await? {
        return Err(not_found(&id).into());
    }
    app.cache.invalidate(&user_key(&id)).await?;
    app.tokens.revoke_subject(&id).await?;
    AuditEvent::new(&principal.subject, "user.delete", AuditOutcome::Success)
        .resource(&user_key(&id))
        .record();
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users?page=&size=` (permission `users:list`).
pub(crate) async fn list(
    State(app): State<AppState>,
    Authenticated(principal): Authenticated,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page>> {
    bind_user(&principal.subject);
    let max = app.users.max_page_size.get();
    let page = model::page_number("page", query.page.as_deref(), 1, u32::MAX / max)?;
    let size = model::page_number("size", query.size.as_deref(), 20.min(max), max)?;
    let (rows, total) = app.store.list(page, size).await?;
    Ok(axum::Json(Page {
        items: rows.iter().map(UserRow::to_user).collect(),
        page,
        size,
        total,
    }))
}
