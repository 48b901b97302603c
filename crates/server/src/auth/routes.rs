//! `/api/v1/auth/…` (login, logout, whoami, password) and `/api/v1/users` (TenantAdmin only).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use model::ids::UserId;
use serde::{Deserialize, Serialize};

use super::accounts;
use super::session::{Authenticated, SessionKind};
use super::throttle::ClientAddr;
use super::{Access, Area, Caller, Role};
use crate::store::users::UserRow;
use crate::{App, Error, Result};

/// The routes of this module, with their full paths.
pub fn router() -> Router<App> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/whoami", get(whoami))
        .route("/api/v1/auth/password", post(change_password))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route(
            "/api/v1/users/{id}",
            get(get_user).put(update_user).delete(delete_user),
        )
}

/// A user as the API shows it: never a password or hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[schema(value_type = uuid::Uuid)]
    id: UserId,
    name: String,
    roles: Vec<Role>,
    must_change_password: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> UserView {
        UserView {
            id: u.id,
            name: u.name,
            roles: u.roles,
            must_change_password: u.must_change_password,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct LoginBody {
    name: String,
    #[schema(write_only)]
    password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct LoginAnswer {
    token: String,
    expires_at: DateTime<Utc>,
    user: UserView,
}

#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "auth",
    description = "Access: anyone; answers 401 `bad_credentials` for a wrong name or password.",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in: send the token as `Authorization: Bearer`.", body = LoginAnswer),
        (status = 401, description = "Wrong name or password, or the account is locked for a while.", body = crate::error::ErrorBody),
        (status = 429, description = "Too many failed sign-ins from the caller's address; wait and retry.", body = crate::error::ErrorBody),
        (status = 503, description = "The server is checking as many passwords as it can; retry in a moment.", body = crate::error::ErrorBody)
    )
)]
async fn login(
    State(app): State<App>,
    ClientAddr(from): ClientAddr,
    body: Bytes,
) -> Result<Json<LoginAnswer>> {
    let body: LoginBody = crate::api::json_body(&body)?;
    let (user, session) =
        accounts::login(&app, &body.name, &body.password, SessionKind::Api, from).await?;
    Ok(Json(LoginAnswer {
        token: session.token,
        expires_at: session.expires_at,
        user: user.into(),
    }))
}

#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "auth",
    description = "Access: any signed-in user.",
    responses(
        (status = 204, description = "The session ended.")
    )
)]
async fn logout(State(app): State<App>, session: Authenticated) -> Result<StatusCode> {
    session.end(&app).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
struct WhoAmI {
    #[serde(flatten)]
    user: UserView,
    /// For console pages' scripts: the value to send as `X-CSRF-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

#[utoipa::path(
    get,
    path = "/auth/whoami",
    tag = "auth",
    description = "Access: any signed-in user, also one who must change their password.",
    responses(
        (status = 200, description = "The caller.", body = WhoAmI)
    )
)]
async fn whoami(State(app): State<App>, session: Authenticated) -> Result<Json<WhoAmI>> {
    let user = app
        .store
        .user(session.caller().user)
        .await?
        .ok_or(Error::Unauthenticated)?;
    let csrf_token = session
        .is_console()
        .then(|| session.csrf_token().to_string());
    Ok(Json(WhoAmI {
        user: user.into(),
        csrf_token,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct PasswordBody {
    #[schema(write_only)]
    current: String,
    #[schema(write_only)]
    new: String,
}

#[utoipa::path(
    post,
    path = "/auth/password",
    tag = "auth",
    description = "Access: any signed-in user, for their own password.",
    request_body = PasswordBody,
    responses(
        (status = 204, description = "Changed; the caller's other sessions end."),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
async fn change_password(
    State(app): State<App>,
    session: Authenticated,
    body: Bytes,
) -> Result<StatusCode> {
    let body: PasswordBody = crate::api::json_body(&body)?;
    accounts::change_password(
        &app,
        session.caller().user,
        &body.current,
        &body.new,
        session.token_hash(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_id(id: &str) -> Result<UserId> {
    id.parse().map_err(|_| Error::NotFound("user"))
}

#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    description = crate::api::openapi::access::TENANT_READ,
    responses(
        (status = 200, description = "Every console user.", body = [UserView])
    )
)]
async fn list_users(State(app): State<App>, caller: Caller) -> Result<Json<Vec<UserView>>> {
    caller.require(Area::Tenant, Access::Read)?;
    Ok(Json(
        app.store
            .users()
            .await?
            .into_iter()
            .map(UserView::from)
            .collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/users/{id}",
    tag = "users",
    description = crate::api::openapi::access::TENANT_READ,
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user.", body = UserView),
        (status = 404, description = "No such user.", body = crate::error::ErrorBody)
    )
)]
async fn get_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>> {
    caller.require(Area::Tenant, Access::Read)?;
    let user = app
        .store
        .user(parse_id(&id)?)
        .await?
        .ok_or(Error::NotFound("user"))?;
    Ok(Json(user.into()))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct CreateBody {
    name: String,
    /// The first password; the user must change it at first login.
    #[schema(write_only)]
    password: String,
    roles: Vec<Role>,
}

#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    description = crate::api::openapi::access::TENANT_EDIT,
    request_body = CreateBody,
    responses(
        (status = 201, description = "The new user; they must change the password at first login.", body = UserView),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 409, description = "A user with this name already exists.", body = crate::error::ErrorBody)
    )
)]
async fn create_user(
    State(app): State<App>,
    caller: Caller,
    body: Bytes,
) -> Result<axum::response::Response> {
    caller.require(Area::Tenant, Access::Edit)?;
    let body: CreateBody = crate::api::json_body(&body)?;
    let id = accounts::create_user(&app, &body.name, &body.password, &body.roles, true).await?;
    tracing::info!(by = %caller.name, user = %body.name, "user created");
    let user = app.store.user(id).await?.ok_or(Error::NotFound("user"))?;
    let answer = (StatusCode::CREATED, Json(UserView::from(user))).into_response();
    Ok(crate::audit::created(answer, format!("/api/v1/users/{id}")))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct UpdateBody {
    /// The new set of roles, when given.
    roles: Option<Vec<Role>>,
    /// A new password set by the admin, when given: the user must change it, and their sessions end.
    #[schema(write_only)]
    password: Option<String>,
}

#[utoipa::path(
    put,
    path = "/users/{id}",
    tag = "users",
    description = crate::api::openapi::access::TENANT_EDIT,
    params(("id" = String, Path, description = "The user's id.")),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The user as changed.", body = UserView),
        (status = 404, description = "No such user.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 409, description = "The last TenantAdmin cannot lose the role.", body = crate::error::ErrorBody)
    )
)]
async fn update_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<UserView>> {
    caller.require(Area::Tenant, Access::Edit)?;
    let body: UpdateBody = crate::api::json_body(&body)?;
    let user = accounts::update_user(
        &app,
        &caller,
        parse_id(&id)?,
        body.roles.as_deref(),
        body.password.as_deref(),
    )
    .await?;
    Ok(Json(user.into()))
}

#[utoipa::path(
    delete,
    path = "/users/{id}",
    tag = "users",
    description = crate::api::openapi::access::TENANT_EDIT,
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such user.", body = crate::error::ErrorBody),
        (status = 409, description = "The last TenantAdmin, or the caller themselves, cannot be deleted.", body = crate::error::ErrorBody)
    )
)]
async fn delete_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Tenant, Access::Edit)?;
    accounts::delete_user(&app, &caller, parse_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::accounts::check_name;

    #[test]
    fn names_are_checked() {
        assert!(check_name("alice.smith@corp").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("<script>").is_err());
        assert!(check_name(&"a".repeat(65)).is_err());
    }
}
