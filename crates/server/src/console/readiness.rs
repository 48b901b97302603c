//! Readiness pages: a batch's devices counted by verdict, the reasons devices are held back,
//! each device's checks (filtered, and as CSV of exactly the filtered rows); one device's checks;
//! asking a device to check again (agent operators) and waiving one check for one device (Agent
//! Admins), each recorded in the audit trail with who and the reason typed.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use model::ids::{AgentId, BatchId, RunbookId};
use serde::Deserialize;

use super::forms::poster;
use super::table::{link, pager};
use super::{when, Viewer};
use crate::api::readiness::ReadinessQuery;
use crate::auth::{Access, Area, CsrfPending};
use crate::migration::readiness::{self, DeviceReadiness};
use crate::{App, Error, Result};

/// The filter's values as query pairs (empty ones are left out of links).
fn filter_pairs(q: &ReadinessQuery) -> [(&'static str, &str); 3] {
    [
        ("verdict", q.verdict.as_deref().unwrap_or_default()),
        ("check", q.check.as_deref().unwrap_or_default()),
        ("device", q.device.as_deref().unwrap_or_default()),
    ]
}

/// Where a form goes back to: only a console path of this module's pages.
fn back_to(back: &str) -> String {
    if back.starts_with("/batches/") || back.starts_with("/agents/") {
        back.to_string()
    } else {
        "/batches".to_string()
    }
}

/// The table of one device's checks, with the forms the viewer may use.
fn device_checks(viewer: &Viewer, d: &DeviceReadiness, back: &str) -> Markup {
    let admin = viewer.may(Area::Agent, Access::Edit);
    let operate = viewer.may(Area::Agent, Access::Operate);
    html! {
        h3 id=(format!("device-{}", d.agent)) {
            a href=(format!("/agents/{}", d.agent)) { (d.device) }
            " — " span class=(format!("verdict {}", d.verdict)) { (d.verdict) }
        }
        @if let Some(why) = &d.held_back { p.errors role="status" { "Held back: " (why) } }
        @if d.reported_at.is_none() {
            @if let Some(asked) = d.asked_at { p.muted { "Not reported; asked " (when(asked)) "." } }
        }
        @if operate {
            form method="post" action=(format!("/agents/{}/readiness/request", d.agent)) {
                (viewer.csrf())
                input type="hidden" name="back" value=(back);
                button type="submit" { "Check again" }
            }
        }
        @if !d.checks.is_empty() { table {
            thead { tr { th { "Check" } th { "Verdict" } th { "Reason" } th { "Value seen" } th { "Taken" } th { "Waiver" } } }
            tbody {
                @for c in &d.checks {
                    tr {
                        td { code { (c.check) } }
                        td class=(format!("verdict {}", c.verdict)) { (c.verdict) }
                        td { (c.reason) }
                        td { (c.value) }
                        td { (when(c.taken_at)) }
                        td {
                            @if let Some(w) = &c.waiver {
                                "Waived by " (w.waived_by) " on " (when(w.waived_at)) ": " (w.reason)
                            } @else if admin && c.verdict == "block" {
                                form method="post" action=(format!("/agents/{}/readiness/{}/waive", d.agent, d.runbook)) {
                                    (viewer.csrf())
                                    input type="hidden" name="back" value=(back);
                                    input type="hidden" name="check" value=(c.check);
                                    label { "Why " input type="text" name="reason" required; }
                                    button type="submit" { "Waive" }
                                }
                            }
                        }
                    }
                }
            }
        } }
    }
}

/// `GET /batches/{id}/readiness`.
pub async fn batch(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<ReadinessQuery>,
) -> Result<Response> {
    if viewer.caller.require(Area::Agent, Access::Read).is_err() {
        return Ok(viewer.agent_page("Readiness", html! {}));
    }
    let id: BatchId = id.parse().map_err(|_| Error::NotFound("batch"))?;
    let view = readiness::of_batch(&app, id, &q.filter()?, q.page).await?;
    let path = format!("/batches/{}/readiness", id);
    let pairs = filter_pairs(&q);
    let page = view.page.to_string();
    let back = link(&path, &[pairs[0], pairs[1], pairs[2], ("page", &page)]);
    let body = html! {
        h1 { "Readiness of " (view.name) }
        p { a href=(format!("/batches/{}", id)) { "Back to the batch" } }
        p.muted { (view.reported) " devices sent their checks; " (view.not_reported) " asked have not (their runbooks do not start until they do)." }
        table.counts {
            thead { tr { th { "Block" } th { "Warn" } th { "Unknown" } th { "Pass" } th { "Not reported" } } }
            tbody { tr {
                td { (view.counts.block) } td { (view.counts.warn) }
                td { (view.counts.unknown) } td { (view.counts.pass) }
                td { (view.not_reported) }
            } }
        }
        h2 { "Why devices are held back" }
        @if view.blocking.is_empty() { p.muted { "No device is held back." } }
        @else {
            table {
                thead { tr { th { "Check" } th { "Reason" } th { "Devices" } } }
                tbody { @for b in &view.blocking { tr { td { code { (b.check) } } td { (b.reason) } td { (b.devices) } } } }
            }
        }
        h2 { "Devices" }
        form method="get" {
            label { "Verdict "
                select name="verdict" {
                    option value="" { "any" }
                    @for v in model::readiness::Verdict::ALL {
                        option value=(v.as_str()) selected[q.verdict.as_deref() == Some(v.as_str())] { (v.as_str()) }
                    }
                    option value=(readiness::NOT_REPORTED_VERDICT) selected[q.verdict.as_deref() == Some(readiness::NOT_REPORTED_VERDICT)] { "not reported" }
                }
            }
            label { " Check " input type="text" name="check" value=(q.check.clone().unwrap_or_default()); }
            label { " Device " input type="text" name="device" value=(q.device.clone().unwrap_or_default()); }
            button type="submit" { "Filter" }
            " " a href=(link(&format!("{path}.csv"), &pairs)) { "CSV of these rows (every page)" }
        }
        @if view.devices.is_empty() { p.muted { "No check matches." } }
        (pager(&path, &pairs, usize::try_from(view.page).unwrap_or(1), usize::try_from(view.matching).unwrap_or(usize::MAX)))
        @for d in &view.devices { (device_checks(&viewer, d, &back)) }
    };
    Ok(viewer.agent_page(&format!("Readiness of {}", view.name), body))
}

/// `GET /batches/{id}/readiness.csv`: the rows the same filter shows.
pub async fn batch_csv(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<ReadinessQuery>,
) -> Result<Response> {
    viewer.caller.require(Area::Agent, Access::Read)?;
    let id: BatchId = id.parse().map_err(|_| Error::NotFound("batch"))?;
    let body = readiness::csv(&app, id, &q.filter()?).await?;
    Ok(crate::csv_export::download(&format!("batch-{id}-readiness.csv"), body).into_response())
}

/// `GET /agents/{id}/readiness`: one device's checks for each runbook.
pub async fn agent(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response> {
    if viewer.caller.require(Area::Agent, Access::Read).is_err() {
        return Ok(viewer.agent_page("Readiness", html! {}));
    }
    let id: AgentId = id.parse().map_err(|_| Error::NotFound("agent"))?;
    let devices = readiness::of_agent(&app, id).await?;
    let back = format!("/agents/{}/readiness", id);
    let body = html! {
        h1 { "Readiness" }
        p { a href=(format!("/agents/{}", id)) { "Back to the agent" } }
        @if devices.is_empty() { p.muted { "The device has not sent its checks yet." } }
        @for d in &devices { (device_checks(&viewer, d, &back)) }
    };
    Ok(viewer.agent_page("Readiness", body))
}

/// The waiver form.
#[derive(Deserialize)]
pub struct WaiveForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    check: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    back: String,
}

/// `POST /agents/{id}/readiness/{runbook}/waive` (Agent Admins).
pub async fn waive(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path((id, runbook)): Path<(String, String)>,
    Form(form): Form<WaiveForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Agent, Access::Edit)?;
    let id: AgentId = id.parse().map_err(|_| Error::NotFound("agent"))?;
    let runbook: RunbookId = runbook.parse().map_err(|_| Error::NotFound("runbook"))?;
    readiness::waive(
        &app,
        id,
        runbook,
        &form.check,
        &form.reason,
        &viewer.caller.name,
    )
    .await?;
    Ok(Redirect::to(&back_to(&form.back)).into_response())
}

/// The check-again form.
#[derive(Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    back: String,
}

/// `POST /agents/{id}/readiness/request` (agent operators).
pub async fn request(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(id): Path<String>,
    Form(form): Form<RequestForm>,
) -> Result<Response> {
    poster(pending, form.csrf.as_deref(), Area::Agent, Access::Operate)?;
    let id: AgentId = id.parse().map_err(|_| Error::NotFound("agent"))?;
    readiness::request(&app, id).await?;
    Ok(Redirect::to(&back_to(&form.back)).into_response())
}
