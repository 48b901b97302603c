//! Console users, for tenant administrators: the list with roles, a form to add a user and a
//! button to delete one. Other roles see a refusal page. Resets stay with the API and the
//! `rehome admin reset-password` command.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use model::ids::UserId;

use super::forms::Errors;
use super::{when, Viewer};
use crate::auth::password::MIN_LENGTH;
use crate::auth::{accounts, Access, Area, CsrfPending, Role};
use crate::{App, Error, Result};

/// What a refused form typed, shown again beside its errors.
#[derive(Default)]
struct Typed<'a> {
    name: &'a str,
    roles: Vec<&'a str>,
}

/// The page, with the errors of a refused change beside the fields they concern.
async fn render(app: &App, viewer: &Viewer, errors: &Errors, typed: &Typed<'_>) -> Result<Markup> {
    let users = app.store.users().await?;
    Ok(html! {
        h1 { "Users" }
        table {
            thead { tr { th { "Name" } th { "Roles" } th { "Created" } th { "" } } }
            tbody {
                @for u in &users {
                    tr {
                        td {
                            (u.name)
                            @if u.must_change_password { " " span.muted { "(must change password)" } }
                        }
                        td { (u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) }
                        td { (when(u.created_at)) }
                        td {
                            @if u.id != viewer.caller.user {
                                form method="post" action=(format!("/users/{}/delete", u.id))
                                    data-confirm=(format!("Delete the user {}?", u.name)) {
                                    input type="hidden" name="csrf" value=(viewer.csrf_token);
                                    button.link type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add a user" }
        (errors.rest(&["name", "password", "role"]))
        form method="post" action="/users" {
            input type="hidden" name="csrf" value=(viewer.csrf_token);
            p {
                label { "Name " input name="name" required value=(typed.name); }
                (errors.at("name"))
                " "
                label { "First password " input name="password" type="password" required minlength=(MIN_LENGTH) autocomplete="new-password"; }
                (errors.at("password"))
            }
            p {
                @for role in Role::ALL {
                    label { input type="checkbox" name="role" value=(role.as_str()) checked[typed.roles.contains(&role.as_str())]; " " (role.as_str()) }
                    " "
                }
                (errors.at("role"))
            }
            p.muted { "The user must change this password at first login." }
            p { button type="submit" { "Add user" } }
        }
    })
}

/// `GET /users`.
pub async fn list(State(app): State<App>, viewer: Viewer) -> Result<Response> {
    if viewer.caller.require(Area::Tenant, Access::Read).is_err() {
        return Ok(viewer.refusal("Users", "Only a tenant administrator manages users."));
    }
    let body = render(&app, &viewer, &Errors::default(), &Typed::default()).await?;
    Ok(viewer.layout("Users", body).into_response())
}

/// Checks the form's CSRF token, the pending password change and the TenantAdmin role.
fn admin(pending: std::result::Result<CsrfPending, Error>, csrf: Option<&str>) -> Result<Viewer> {
    let session = pending?.verify(csrf)?;
    if session.must_change_password() {
        return Err(Error::PasswordChangeRequired);
    }
    session.caller().require(Area::Tenant, Access::Edit)?;
    Ok(Viewer {
        caller: session.caller().clone(),
        csrf_token: session.csrf_token().to_string(),
    })
}

/// `POST /users`: the form as pairs, because it repeats `role` once per ticked box.
pub async fn create(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let viewer = admin(pending, field("csrf"))?;
    let typed = Typed {
        name: field("name").unwrap_or_default(),
        roles: fields
            .iter()
            .filter(|(k, _)| k == "role")
            .map(|(_, v)| v.as_str())
            .collect(),
    };
    let created = match roles(&typed.roles) {
        Err(errors) => Err((StatusCode::UNPROCESSABLE_ENTITY, errors)),
        Ok(roles) => {
            let password = field("password").unwrap_or_default();
            match accounts::create_user(&app, typed.name, password, &roles, true).await {
                Ok(id) => Ok(id),
                Err(Error::Conflict(message)) => {
                    Err((StatusCode::CONFLICT, Errors::one("", message)))
                }
                Err(e) => Err((StatusCode::UNPROCESSABLE_ENTITY, Errors::from_error(e)?)),
            }
        }
    };
    match created {
        Ok(id) => {
            tracing::info!(by = %viewer.caller.name, user = %typed.name, "user created");
            Ok(crate::audit::created(
                Redirect::to("/users").into_response(),
                format!("/api/v1/users/{id}"),
            ))
        }
        Err((status, errors)) => {
            let body = render(&app, &viewer, &errors, &typed).await?;
            Ok((status, viewer.layout("Users", body)).into_response())
        }
    }
}

/// The roles ticked, or an error on `role` naming each value that is not a role.
fn roles(ticked: &[&str]) -> std::result::Result<Vec<Role>, Errors> {
    let mut roles = Vec::new();
    let mut unknown = Vec::new();
    for value in ticked {
        match Role::parse(value) {
            Some(role) => roles.push(role),
            None => unknown.push(*value),
        }
    }
    if unknown.is_empty() {
        return Ok(roles);
    }
    let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    Err(Errors::one(
        "role",
        format!(
            "{} is not a role; tick among {}",
            unknown.join(", "),
            known.join(", ")
        ),
    ))
}

/// The delete form's field.
#[derive(serde::Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /users/{id}/delete`: never oneself, never the last tenant administrator.
pub async fn delete(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Result<Response> {
    let viewer = admin(pending, form.csrf.as_deref())?;
    let id: UserId = id.parse().map_err(|_| Error::NotFound("user"))?;
    match accounts::delete_user(&app, &viewer.caller, id).await {
        Ok(()) => Ok(Redirect::to("/users").into_response()),
        Err(Error::Conflict(message)) => {
            let errors = Errors::one("", message);
            let body = render(&app, &viewer, &errors, &Typed::default()).await?;
            Ok((StatusCode::CONFLICT, viewer.layout("Users", body)).into_response())
        }
        Err(e) => Err(e),
    }
}
