//! Bulk enrollment tokens of the Entra target directories, with the expiry warning. Creating one
//! signs in to Entra (`POST /api/v1/directories/{id}/bulk-tokens/flows`); this page lists them
//! and deletes them.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use model::directory::DirectoryKind;
use model::ids::{BulkTokenId, DirectoryId};

use super::forms::poster;
use super::keys::CsrfForm;
use super::{when, Viewer};
use crate::auth::{Access, Area, CsrfPending};
use crate::{App, Error, Result};

/// `GET /bulk-tokens`.
pub async fn list(State(app): State<App>, viewer: Viewer) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("Bulk enrollment tokens", html! {}));
    }
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
        tokens.push((d, crate::enrollment::list(&app, d.id).await?));
    }
    let edit = viewer.may(Area::Agent, Access::Edit);
    let body = html! {
        h1 { "Bulk enrollment tokens" }
        p.muted { "A bulk enrollment token lets devices join an Entra directory; it is valid at most 180 days. The newest valid one is given to devices." }
        @if directories.is_empty() { p.muted { "No Entra ID directory: tokens belong to Entra targets." } }
        @for (d, list) in &tokens {
            h2 { (d.name) }
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
        }
    };
    Ok(viewer.agent_page("Bulk enrollment tokens", body))
}

/// `POST /bulk-tokens/{directory}/{token}/delete`.
pub async fn delete(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path((directory, token)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response> {
    poster(pending, form.csrf.as_deref(), Area::Agent, Access::Edit)?;
    let directory: DirectoryId = directory
        .parse()
        .map_err(|_| Error::NotFound("directory"))?;
    let token: BulkTokenId = token.parse().map_err(|_| Error::NotFound("bulk token"))?;
    crate::enrollment::delete(&app, directory, token).await?;
    Ok(Redirect::to("/bulk-tokens").into_response())
}
