//! The import schedule (Sync) and licences (Global Settings): small pages with one form each,
//! shown only to the roles that may change them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::forms::{poster, Errors};
use super::{when, Viewer};
use crate::auth::{Access, Area, CsrfPending};
use crate::{App, Error, Result};

async fn schedule_page(app: &App, viewer: &Viewer, errors: &Errors) -> Result<Markup> {
    let s = app.store.sync_schedule().await?;
    let edit = viewer.may(Area::Sync, Access::Edit);
    Ok(html! {
        h1 { "Import schedule" }
        p.muted { "When on, every directory with a connection is imported incrementally and every pair is matched again, on one server at a time." }
        dl.facts {
            dt { "State" } dd { @if s.enabled { "On, every " (s.interval_minutes) " minutes" } @else { "Off" } }
            dt { "Last started" } dd { @if let Some(t) = s.last_started { (when(t)) } @else { span.muted { "never" } } }
            dt { "Last finished" } dd { @if let Some(t) = s.last_finished { (when(t)) } }
            dt { "Last error" } dd { @if let Some(e) = &s.last_error { span.status-Error { (e) } } @else { span.muted { "none" } } }
        }
        @if edit {
            h2 { "Change" }
            (errors.rest(&["interval_minutes"]))
            form.editor method="post" action="/schedule" {
                (viewer.csrf())
                label.check { input type="checkbox" name="enabled" value="on" checked[s.enabled]; " Run the schedule" }
                label for="interval_minutes" { "Every (minutes)" }
                input #interval_minutes name="interval_minutes" type="number" value=(s.interval_minutes);
                (errors.at("interval_minutes"))
                p { button type="submit" { "Save schedule" } }
            }
        }
    })
}

/// `GET /schedule`.
pub async fn schedule(State(app): State<App>, viewer: Viewer) -> Result<Response> {
    if !viewer.may(Area::Sync, Access::Read) {
        return Ok(viewer.sync_page("Import schedule", html! {}));
    }
    let body = schedule_page(&app, &viewer, &Errors::default()).await?;
    Ok(viewer.sync_page("Import schedule", body))
}

/// The schedule form.
#[derive(Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    interval_minutes: String,
}

/// `POST /schedule`.
pub async fn set_schedule(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Form(form): Form<ScheduleForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Sync, Access::Edit)?;
    let errors = match form.interval_minutes.trim().parse::<i64>() {
        Err(_) => Errors::one("interval_minutes", "a whole number of minutes"),
        Ok(minutes) => {
            match crate::directory::schedule::set(&app, form.enabled.is_some(), minutes).await {
                Ok(_) => return Ok(Redirect::to("/schedule").into_response()),
                Err(e) => Errors::from_error(e)?,
            }
        }
    };
    let body = schedule_page(&app, &viewer, &errors).await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        viewer.layout("Import schedule", body),
    )
        .into_response())
}

async fn licence_page(app: &App, viewer: &Viewer, errors: &Errors) -> Result<Markup> {
    let licences = crate::licences::list(app).await?;
    let edit = viewer.may(Area::Tenant, Access::Edit);
    Ok(html! {
        h1 { "Licences" }
        table {
            thead { tr { th { "Customer" } th { "From" } th { "To" } th { "Devices" } th { "Expires" } th { "Status" } } }
            tbody {
                @for l in &licences {
                    tr {
                        td { (l.customer) }
                        td { (l.source_domains.join(", ")) }
                        td { (l.target_domains.join(", ")) }
                        td { (l.devices_used) " of " (l.devices) }
                        td { (when(l.expires_at)) }
                        td { (format!("{:?}", l.status)) }
                    }
                }
            }
        }
        @if licences.is_empty() { p.muted { "No licence applied." } }
        @if edit {
            h2 { "Apply a licence" }
            (errors.rest(&["licence"]))
            form.editor method="post" action="/licences" {
                (viewer.csrf())
                label for="licence" { "Licence text" }
                textarea #licence name="licence" rows="6" spellcheck="false" required {}
                (errors.at("licence"))
                p { button type="submit" { "Apply licence" } }
            }
        }
    })
}

/// `GET /licences`: tenant administrators, and the readers of either area, see the licences.
pub async fn licences(State(app): State<App>, viewer: Viewer) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) && !viewer.may(Area::Sync, Access::Read) {
        return Ok(viewer.refusal("Licences", "None of your roles reads licences."));
    }
    let body = licence_page(&app, &viewer, &Errors::default()).await?;
    Ok(viewer.layout("Licences", body).into_response())
}

/// The licence form.
#[derive(Deserialize)]
pub struct LicenceForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    licence: String,
}

/// `POST /licences`.
pub async fn apply_licence(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Form(form): Form<LicenceForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Tenant, Access::Edit)?;
    let errors = match crate::licences::apply(&app, &form.licence).await {
        Ok(_) => return Ok(Redirect::to("/licences").into_response()),
        Err(e) => Errors::from_error(e)?,
    };
    let body = licence_page(&app, &viewer, &errors).await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        viewer.layout("Licences", body),
    )
        .into_response())
}
