//! PSKs and agent certificates. A new PSK's value is shown on the page that answers its creation
//! and never again; viewers see the lists without any form.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{NaiveDateTime, TimeZone, Utc};
use maud::{html, Markup};
use model::ids::{BatchId, PskId};
use serde::Deserialize;

use super::forms::{poster, Errors, Posted};
use super::{when, Viewer};
use crate::auth::{Access, Area, CsrfPending};
use crate::migration::keys::{self, NewCertificate, NewPsk, DEFAULT_CERTIFICATE_MONTHS};
use crate::store::psk_limits::PskLimits;
use crate::{App, Error, Result};

async fn psk_page(
    app: &App,
    viewer: &Viewer,
    new: Option<&NewPsk>,
    errors: &Errors,
) -> Result<Markup> {
    let psks = keys::psks(app).await?;
    let batches = app.store.batches().await?;
    let batch_name = |id: &BatchId| {
        batches
            .iter()
            .find(|b| b.id == *id)
            .map(|b| b.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let edit = viewer.may(Area::Agent, Access::Edit);
    Ok(html! {
        h1 { "PSKs" }
        p.muted { "A PSK lets an agent installer register a device the first time. Its value is shown once, when it is created; the newest is the one to give to new installers." }
        @if let Some(new) = new {
            div.secret role="status" {
                p { strong { "New PSK — copy it now, it is not shown again:" } }
                p { code #new-psk { (new.key) } }
            }
        }
        table {
            thead { tr { th { "Created" } th { "Latest" } th { "Expires" } th { "Registers" } @if edit { th { "" } } } }
            tbody {
                @for p in &psks {
                    tr {
                        td { (when(p.created_at)) }
                        td { @if p.latest { "Latest" } }
                        td { @if let Some(at) = p.limits.expires_at { (when(at)) } @else { span.muted { "never" } } }
                        td { @if let Some(b) = &p.limits.batch { "computers of batch " (batch_name(b)) } @else { "any imported computer" } }
                        @if edit {
                            td {
                                form method="post" action=(format!("/psks/{}/delete", p.id)) data-confirm="Delete this PSK? Installers holding it can no longer register." {
                                    (viewer.csrf())
                                    button.link type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if psks.is_empty() { p.muted { "No PSK yet." } }
        @if edit {
            h2 { "Create a PSK" }
            (errors.rest(&["expires_at", "batch"]))
            form.editor method="post" action="/psks" {
                (viewer.csrf())
                label for="expires_at" { "Expires (UTC, optional)" }
                input #expires_at name="expires_at" type="datetime-local";
                (errors.at("expires_at"))
                label for="batch" { "Only the computers of a batch (optional)" }
                select #batch name="batch" {
                    option value="" { "Any imported computer" }
                    @for b in &batches { option value=(b.id) { (b.name) } }
                }
                (errors.at("batch"))
                p { button type="submit" { "Create PSK" } }
            }
        }
    })
}

/// `GET /psks`.
pub async fn psks(State(app): State<App>, viewer: Viewer) -> Result<Response> {
    let body = psk_page(&app, &viewer, None, &Errors::default()).await?;
    Ok(viewer.agent_page("PSKs", body))
}

/// The PSK form.
#[derive(Deserialize)]
pub struct PskForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    expires_at: String,
    #[serde(default)]
    batch: String,
}

/// A `datetime-local` value (`2025-01-06T09:00`, seconds optional) as UTC.
pub fn parse_local(field: &str, text: &str) -> std::result::Result<Option<NaiveDateTime>, Errors> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map(Some)
        .map_err(|_| Errors::one(field, "a date and time such as 2025-03-01T09:00"))
}

/// `POST /psks`: makes a PSK and shows its value once.
pub async fn create_psk(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Form(form): Form<PskForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Agent, Access::Edit)?;
    let limits = match (
        parse_local("expires_at", &form.expires_at),
        form.batch.trim(),
    ) {
        (Err(errors), _) => return refused(&app, &viewer, errors).await,
        (Ok(at), "") => PskLimits {
            expires_at: at.map(|at| Utc.from_utc_datetime(&at)),
            batch: None,
        },
        (Ok(at), batch) => match batch.parse::<BatchId>() {
            Ok(batch) => PskLimits {
                expires_at: at.map(|at| Utc.from_utc_datetime(&at)),
                batch: Some(batch),
            },
            Err(_) => {
                return refused(&app, &viewer, Errors::one("batch", "no batch has this id")).await
            }
        },
    };
    match keys::create_psk(&app, limits).await {
        Ok(new) => {
            let body = psk_page(&app, &viewer, Some(&new), &Errors::default()).await?;
            Ok((StatusCode::CREATED, viewer.layout("PSKs", body)).into_response())
        }
        Err(e) => refused(&app, &viewer, Errors::from_error(e)?).await,
    }
}

async fn refused(app: &App, viewer: &Viewer, errors: Errors) -> Result<Response> {
    let body = psk_page(app, viewer, None, &errors).await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        viewer.layout("PSKs", body),
    )
        .into_response())
}

/// The field every delete form carries.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: Option<String>,
}

/// `POST /psks/{id}/delete`.
pub async fn delete_psk(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response> {
    posted.check(Area::Agent, Access::Edit)?;
    let id: PskId = id.parse().map_err(|_| Error::NotFound("PSK"))?;
    keys::delete_psk(&app, id).await?;
    Ok(Redirect::to("/psks").into_response())
}

pub(super) async fn certificate_page(
    app: &App,
    viewer: &Viewer,
    errors: &Errors,
) -> Result<Markup> {
    let certificates = keys::certificates(app).await?;
    let now = app.clock.now();
    let edit = viewer.may(Area::Agent, Access::Edit);
    Ok(html! {
        h1 { "Agent certificates" }
        p.muted { "The newest certificate signs the agents that register from now on; older ones keep working until they expire." }
        (errors.at("delete"))
        table {
            thead { tr { th { "Name" } th { "Created" } th { "Valid until" } th { "" } @if edit { th { "" } } } }
            tbody {
                @for c in &certificates {
                    tr {
                        td { (c.name) }
                        td { (when(c.created_at)) }
                        td { (when(c.not_after)) @if c.not_after <= now { " " span.status-Error { "expired" } } }
                        td { @if c.latest { "Latest" } }
                        @if edit {
                            td {
                                form method="post" action=(format!("/certificates/{}/delete", c.id)) data-confirm="Delete this certificate?" {
                                    (viewer.csrf())
                                    button.link type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if certificates.is_empty() { p.notice { "No agent certificate yet: agents cannot register until one is created." } }
        @if edit {
            h2 { "Create a certificate" }
            (errors.rest(&["name", "months_valid", "delete"]))
            form.editor method="post" action="/certificates" {
                (viewer.csrf())
                label for="name" { "Name (optional)" }
                input #name name="name" maxlength="100" placeholder="Agent Certificate (date)";
                (errors.at("name"))
                label for="months_valid" { "Valid for (months, 1–120)" }
                input #months_valid name="months_valid" type="number" min="1" max="120" value=(DEFAULT_CERTIFICATE_MONTHS);
                (errors.at("months_valid"))
                p { button type="submit" { "Create certificate" } }
            }
        }
    })
}

/// `GET /certificates`.
pub async fn certificates(State(app): State<App>, viewer: Viewer) -> Result<Response> {
    let body = certificate_page(&app, &viewer, &Errors::default()).await?;
    Ok(viewer.agent_page("Agent certificates", body))
}

/// The certificate form.
#[derive(Deserialize)]
pub struct CertificateForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    months_valid: String,
}

/// `POST /certificates`.
pub async fn create_certificate(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Form(form): Form<CertificateForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Agent, Access::Edit)?;
    let months = form.months_valid.trim();
    let months_valid = if months.is_empty() {
        None
    } else {
        match months.parse::<u32>() {
            Ok(m) => Some(m),
            Err(_) => {
                let errors = Errors::one("months_valid", "a whole number of months, 1 to 120");
                let body = certificate_page(&app, &viewer, &errors).await?;
                return Ok((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    viewer.layout("Agent certificates", body),
                )
                    .into_response());
            }
        }
    };
    let request = NewCertificate {
        name: Some(form.name),
        months_valid,
    };
    match keys::create_certificate(&app, request).await {
        Ok(_) => Ok(Redirect::to("/certificates").into_response()),
        Err(e) => {
            let errors = Errors::from_error(e)?;
            let body = certificate_page(&app, &viewer, &errors).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                viewer.layout("Agent certificates", body),
            )
                .into_response())
        }
    }
}
