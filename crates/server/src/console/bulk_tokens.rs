//! Bulk enrollment tokens of the Entra target directories, with the expiry warning: listed,
//! created (a device-code sign-in to Entra, through the same domain functions as the API) and
//! deleted.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use model::directory::DirectoryKind;
use model::ids::{BulkTokenId, DirectoryId, EnrollmentFlowId};
use serde::Deserialize;

use super::forms::{poster, Errors, Posted};
use super::{when, Viewer};
use crate::auth::{Access, Area, CsrfPending};
use crate::enrollment::{PollOutcome, StartRequest};
use crate::store::enrollment::FlowKind;
use crate::{App, Error, Result};

/// The creation form of one directory as typed, with its errors.
#[derive(Default)]
pub struct Typed {
    directory: Option<DirectoryId>,
    display_name: String,
    days_valid: String,
    errors: Errors,
}

async fn list_body(app: &App, viewer: &Viewer, typed: &Typed) -> Result<Markup> {
    let mut directories: Vec<_> = app
        .store
        .directories()
        .await?
        .into_iter()
        .filter(|d| d.kind == DirectoryKind::EntraId)
        .collect();
    directories.sort_by(|a, b| a.name.cmp(&b.name));
    let mut tokens = Vec::new();
    for d in &directories {
        tokens.push((d, crate::enrollment::list(app, d.id).await?));
    }
    let edit = viewer.may(Area::Agent, Access::Edit);
    let none = Errors::default();
    Ok(html! {
        h1 { "Bulk enrollment tokens" }
        p.muted { "A bulk enrollment token lets devices join an Entra directory; it is valid at most 180 days. The newest valid one is given to devices." }
        @if directories.is_empty() { p.muted { "No Entra ID directory: tokens belong to Entra targets." } }
        @for (d, list) in &tokens {
            h2 { (d.name) }
            p { a href=(format!("/directories/{}/provisioning-package", d.id)) { "Provisioning package" } " that joins Windows devices to " (d.name) }
            @if list.is_empty() { p.notice { "No token: runbooks that join devices to " (d.name) " cannot be saved until one is made." } }
            @if list.iter().any(|t| t.latest && t.expiring_soon) {
                p.notice role="status" { "The token devices get expires in fewer than 14 days: make a new one." }
            }
            @if !list.is_empty() {
                table {
                    thead { tr { th { "Name" } th { "Created" } th { "Expires" } th { "Days left" } th { "" } @if edit { th { "" } } } }
                    tbody {
                        @for t in list {
                            tr {
                                td { (t.display_name) }
                                td { (when(t.created_at)) }
                                td { (when(t.expires_at)) }
                                td class=[if t.expired || t.expiring_soon { Some("status-Error") } else { None }] { (t.days_left) @if t.expired { " (expired)" } }
                                td { @if t.latest { "Latest" } }
                                @if edit {
                                    td {
                                        form method="post" action=(format!("/bulk-tokens/{}/{}/delete", d.id, t.id)) data-confirm="Delete this token?" {
                                            (viewer.csrf())
                                            button.link type="submit" { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if edit {
                @let mine = typed.directory == Some(d.id);
                @let errors = if mine { &typed.errors } else { &none };
                h3 { "New token for " (d.name) }
                (errors.rest(&["display_name", "days_valid"]))
                form.editor method="post" action=(format!("/bulk-tokens/{}/flows", d.id)) {
                    (viewer.csrf())
                    label for=(format!("display_name-{}", d.id)) { "Name of the token's account in Entra" }
                    input id=(format!("display_name-{}", d.id)) name="display_name" maxlength="100" required value=(if mine { typed.display_name.as_str() } else { "" });
                    (errors.at("display_name"))
                    label for=(format!("days_valid-{}", d.id)) { "Valid for (days, 1–180)" }
                    input id=(format!("days_valid-{}", d.id)) name="days_valid" type="number" min="1" max="180" value=(if mine { typed.days_valid.as_str() } else { "180" });
                    (errors.at("days_valid"))
                    p { button type="submit" { "Sign in to Entra and create" } }
                }
            }
        }
    })
}

/// `GET /bulk-tokens`.
pub async fn list(State(app): State<App>, viewer: Viewer) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("Bulk enrollment tokens", html! {}));
    }
    let body = list_body(&app, &viewer, &Typed::default()).await?;
    Ok(viewer.agent_page("Bulk enrollment tokens", body))
}

/// The token form.
#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    days_valid: String,
}

/// The sign-in page: the code to type at Microsoft's page, and the button that asks whether
/// the sign-in is done.
fn sign_in_page(
    viewer: &Viewer,
    directory: DirectoryId,
    flow: &str,
    code: &SignIn,
    message: Option<Markup>,
) -> Markup {
    html! {
        h1 { "Sign in to Entra" }
        @if let Some(m) = message { (m) }
        p { "Open " a href=(code.verification_uri) target="_blank" rel="noopener" { (code.verification_uri) } " and enter the code " strong.code { (code.user_code) } " as an administrator of the tenant. Then come back here." }
        form method="post" action=(format!("/bulk-tokens/{directory}/flows/{flow}/poll")) {
            (viewer.csrf())
            input type="hidden" name="user_code" value=(code.user_code);
            input type="hidden" name="verification_uri" value=(code.verification_uri);
            button type="submit" { "I have signed in: create the token" }
        }
        p { a href="/bulk-tokens" { "Back to the tokens" } }
    }
}

/// What the sign-in page repeats: nothing secret (the device code stays on the server).
#[derive(Default, Deserialize)]
pub struct SignIn {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    verification_uri: String,
}

fn directory_id(text: &str) -> Result<DirectoryId> {
    text.parse().map_err(|_| Error::NotFound("directory"))
}

/// `POST /bulk-tokens/{directory}/flows`: starts a device-code sign-in.
pub async fn start(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(directory): Path<String>,
    Form(form): Form<StartForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Agent, Access::Edit)?;
    let directory = directory_id(&directory)?;
    let days: serde_json::Value = form
        .days_valid
        .trim()
        .parse::<u64>()
        .map(serde_json::Value::from)
        .unwrap_or(serde_json::Value::Null);
    let request = StartRequest {
        display_name: form.display_name.clone(),
        days_valid: days,
        flow: Some(FlowKind::DeviceCode),
        redirect_uri: None,
    };
    match crate::enrollment::start(&app, directory, request).await {
        Ok(started) => {
            let code = SignIn {
                csrf: None,
                user_code: started.user_code.unwrap_or_default(),
                verification_uri: started.verification_uri.unwrap_or_default(),
            };
            let body = sign_in_page(&viewer, directory, &started.flow.to_string(), &code, None);
            Ok(viewer.layout("Sign in to Entra", body).into_response())
        }
        Err(e) => {
            let typed = Typed {
                directory: Some(directory),
                display_name: form.display_name,
                days_valid: form.days_valid,
                errors: Errors::from_error(e)?,
            };
            let body = list_body(&app, &viewer, &typed).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                viewer.layout("Bulk enrollment tokens", body),
            )
                .into_response())
        }
    }
}

/// `POST /bulk-tokens/{directory}/flows/{flow}/poll`: makes the token once the sign-in is done.
pub async fn poll(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path((directory, flow)): Path<(String, String)>,
    Form(form): Form<SignIn>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Agent, Access::Edit)?;
    let directory = directory_id(&directory)?;
    let flow_id: EnrollmentFlowId = flow.parse().map_err(|_| Error::NotFound("sign-in"))?;
    let (status, message) = match crate::enrollment::poll(&app, directory, flow_id).await {
        Ok(PollOutcome::Created { .. }) => return Ok(Redirect::to("/bulk-tokens").into_response()),
        Ok(PollOutcome::Pending { poll_after }) => (
            StatusCode::ACCEPTED,
            html! { p.notice role="status" { "Nobody has signed in with the code yet; try again after " (when(poll_after)) "." } },
        ),
        Err(e) => {
            let errors = Errors::from_error(e)?;
            let text: Vec<String> = errors.0.into_iter().map(|f| f.message).collect();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                html! { p.error role="alert" { "No token was made: " (text.join("; ")) } },
            )
        }
    };
    let body = sign_in_page(&viewer, directory, &flow, &form, Some(message));
    Ok((status, viewer.layout("Sign in to Entra", body)).into_response())
}

/// `POST /bulk-tokens/{directory}/{token}/delete`.
pub async fn delete(
    State(app): State<App>,
    Path((directory, token)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response> {
    posted.check(Area::Agent, Access::Edit)?;
    let directory: DirectoryId = directory
        .parse()
        .map_err(|_| Error::NotFound("directory"))?;
    let token: BulkTokenId = token.parse().map_err(|_| Error::NotFound("bulk token"))?;
    crate::enrollment::delete(&app, directory, token).await?;
    Ok(Redirect::to("/bulk-tokens").into_response())
}
