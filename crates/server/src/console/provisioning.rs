//! The provisioning package of an Entra directory: the `.ppkg` Windows applies to join that
//! directory. Its name, size, SHA-256 and upload time are shown (never the package); editors
//! upload one in its place or delete it, through the same domain functions as the API.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use model::ids::DirectoryId;

use super::forms::{poster, Errors, Posted};
use super::table::thousands;
use super::{multipart, when, Viewer};
use crate::auth::{Access, Area, CsrfPending};
use crate::enrollment::provisioning::{self, MAX_PACKAGE_BYTES};
use crate::{App, Error, Result};

const TITLE: &str = "Provisioning package";

/// Room in a posted form for the fields around the package and the part headers.
const FORM_ROOM: usize = 64 * 1024;

/// The most of an upload's body read: the largest package and its form.
pub const BODY_LIMIT: usize = MAX_PACKAGE_BYTES + FORM_ROOM;

/// The most read of an upload's body to find its first field, the CSRF token, and its part
/// header: a form without it within these is refused before its file is read.
const FIRST_FIELD_LIMIT: usize = 4 * 1024;

/// The fields an upload's errors concern, all shown beside the file input.
const FILE_FIELDS: [&str; 3] = ["package", "name", "body"];

fn directory_id(text: &str) -> Result<DirectoryId> {
    text.parse().map_err(|_| Error::NotFound("directory"))
}

fn page_of(id: DirectoryId) -> String {
    format!("/directories/{id}/provisioning-package")
}

async fn body(app: &App, viewer: &Viewer, id: DirectoryId, errors: &Errors) -> Result<Markup> {
    let directory = app
        .store
        .directory(id)
        .await?
        .ok_or(Error::NotFound("directory"))?;
    let package = match provisioning::show(app, id).await {
        Ok(package) => Some(package),
        Err(Error::NotFound("provisioning package")) => None,
        Err(Error::Invalid(_)) => {
            return Ok(html! {
                h1 { (TITLE) " of " (directory.name) }
                p.notice { "Provisioning packages join devices to Entra ID directories; " (directory.name) " is an Active Directory domain." }
            })
        }
        Err(e) => return Err(e),
    };
    let edit = viewer.may(Area::Agent, Access::Edit);
    Ok(html! {
        h1 { (TITLE) " of " (directory.name) }
        p.muted { "The .ppkg file Windows Configuration Designer builds for this directory (it holds a bulk enrollment token). A Windows device whose runbook joins " (directory.name) " gets it with its final check-in. It is stored sealed and never shown again: compare its SHA-256 with the file you built." }
        (errors.rest(&FILE_FIELDS))
        @match &package {
            None => { p.notice { "No provisioning package: Windows devices cannot join " (directory.name) " until one is uploaded." } }
            Some(p) => {
                dl.facts {
                    dt { "File name" } dd { (p.name) }
                    dt { "Size" } dd { (thousands(p.size)) " bytes" }
                    dt { "SHA-256" } dd { code.hash { (p.sha256) } }
                    dt { "Uploaded" } dd { (when(p.uploaded_at)) }
                }
            }
        }
        @if edit {
            h2 { @if package.is_some() { "Replace it" } @else { "Upload one" } }
            form method="post" action=(page_of(id)) enctype="multipart/form-data" {
                (viewer.csrf())
                label {
                    "Package (.ppkg, at most " (MAX_PACKAGE_BYTES / (1024 * 1024)) " MiB): "
                    input type="file" name="package" accept=".ppkg" required;
                    @for field in FILE_FIELDS { (errors.at(field)) }
                }
                button type="submit" { "Upload" }
            }
            @if package.is_some() {
                form method="post" action=(format!("{}/delete", page_of(id))) data-confirm="Delete this provisioning package? Devices cannot join until another is uploaded." {
                    (viewer.csrf())
                    button.danger type="submit" { "Delete the package" }
                }
            }
        }
        p { a href="/bulk-tokens" { "Bulk enrollment tokens" } }
    })
}

/// `GET /directories/{id}/provisioning-package`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page(TITLE, html! {}));
    }
    let id = directory_id(&id)?;
    let body = body(&app, &viewer, id, &Errors::default()).await?;
    Ok(viewer.agent_page(TITLE, body))
}

/// `POST /directories/{id}/provisioning-package`, a `multipart/form-data` form with `csrf` and
/// the file as `package`: stored in place of any package the directory had, or the page again
/// with the errors beside the file and nothing stored. A caller whose roles do not allow it is
/// refused before the body is read, and a form whose first field is not its CSRF token (when
/// one is owed) before its file is read; the body is read no further than the largest package
/// and its form: a file past that is refused without being read whole.
pub async fn upload(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Response> {
    // The roles first, before any of the body is read; then the token, the form's first field,
    // before the file is read.
    let pending = pending?;
    if pending.must_change_password() {
        return Err(Error::PasswordChangeRequired);
    }
    pending.caller().require(Area::Agent, Access::Edit)?;
    let boundary = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary)
        .unwrap_or_default();
    let mut posted = multipart::BoundedBody::new(request, BODY_LIMIT);
    let csrf = match boundary.is_empty() {
        true => None,
        false => posted.first_part(&boundary, FIRST_FIELD_LIMIT).await,
    }
    .filter(|p| p.name == "csrf")
    .map(|p| String::from_utf8_lossy(&p.data).to_string());
    let viewer = poster(Ok(pending), csrf.as_deref(), Area::Agent, Access::Edit)?;
    let (body_bytes, cut) = posted.rest().await;
    let parts = match boundary.is_empty() {
        true => Vec::new(),
        false => multipart::parts(&body_bytes, &boundary),
    };
    let id = directory_id(&id)?;
    let file = parts.into_iter().find(|p| p.name == "package");
    let stored = match (cut, file) {
        (true, _) => Err(Error::TooLarge(MAX_PACKAGE_BYTES / (1024 * 1024))),
        (false, None) => Err(Error::field("package", "choose the .ppkg file to upload")),
        (false, Some(file)) => provisioning::upload(
            &app,
            id,
            file.file_name.as_deref().unwrap_or_default(),
            &file.data,
        )
        .await
        .map(|_| ()),
    };
    let errors = match stored {
        Ok(()) => return Ok(Redirect::to(&page_of(id)).into_response()),
        Err(Error::TooLarge(mib)) => Errors::one(
            "package",
            format!(
                "the file is larger than {mib} MiB; a package that joins Entra is a few kilobytes"
            ),
        ),
        Err(e) => Errors::from_error(e)?,
    };
    let body = body(&app, &viewer, id, &errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, viewer.layout(TITLE, body)).into_response())
}

/// `POST /directories/{id}/provisioning-package/delete`.
pub async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response> {
    posted.check(Area::Agent, Access::Edit)?;
    let id = directory_id(&id)?;
    provisioning::delete(&app, id).await?;
    Ok(Redirect::to(&page_of(id)).into_response())
}
