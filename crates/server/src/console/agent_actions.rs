//! What can be done to one agent from its page: retry a run that ended in Error (Agent Operator
//! and up), delete the agent (Agent Admin); its plan preview; and deleting an agent certificate.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use model::ids::{AgentId, CertificateId, RunbookId};

use super::forms::Posted;
use super::pages::{agent_body, agent_id};
use super::Viewer;
use crate::auth::{Access, Area};
use crate::{App, Error, Result};

/// The words of a refusal the user can act on; the error itself otherwise.
fn refusal(error: Error) -> Result<String> {
    match error {
        Error::Conflict(message) => Ok(message),
        Error::Invalid(fields) => Ok(fields
            .into_iter()
            .map(|f| f.message)
            .collect::<Vec<_>>()
            .join("; ")),
        other => Err(other),
    }
}

/// The agent's page with `message` on top, answered with `status`.
async fn agent_answer(
    app: &App,
    viewer: &Viewer,
    id: AgentId,
    status: StatusCode,
    message: maud::Markup,
) -> Result<Response> {
    match agent_body(app, viewer, id, Some(message)).await? {
        None => Err(Error::NotFound("agent")),
        Some((title, body)) => Ok((status, viewer.layout(&title, body)).into_response()),
    }
}

/// `POST /agents/{id}/runs/{runbook}/retry`.
pub async fn retry(
    State(app): State<App>,
    Path((id, runbook)): Path<(String, String)>,
    posted: Posted,
) -> Result<Response> {
    let viewer = posted.check(Area::Agent, Access::Operate)?;
    let id = agent_id(&id)?;
    let runbook: RunbookId = runbook.parse().map_err(|_| Error::NotFound("runbook"))?;
    match crate::migration::agents::retry(&app, id, runbook).await {
        Ok(run) => {
            let message = html! { p.notice role="status" { "The run of " (run.runbook_name) " will start again at the device's next check-in, on the batch's schedule." } };
            agent_answer(&app, &viewer, id, StatusCode::OK, message).await
        }
        Err(e) => {
            let message = refusal(e)?;
            let message = html! { p.error role="alert" { "Not retried: " (message) } };
            agent_answer(&app, &viewer, id, StatusCode::CONFLICT, message).await
        }
    }
}

/// `POST /agents/{id}/delete`.
pub async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response> {
    posted.check(Area::Agent, Access::Edit)?;
    let id = agent_id(&id)?;
    crate::migration::removal::delete_agent(&app, id).await?;
    Ok(Redirect::to("/agents").into_response())
}

/// `POST /certificates/{id}/delete`: refused, with the reason on the page, while agents hold a
/// certificate it signed.
pub async fn delete_certificate(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response> {
    let viewer = posted.check(Area::Agent, Access::Edit)?;
    let id: CertificateId = id
        .parse()
        .map_err(|_| Error::NotFound("agent certificate"))?;
    match crate::migration::removal::delete_certificate(&app, id).await {
        Ok(()) => Ok(Redirect::to("/certificates").into_response()),
        Err(e) => {
            let errors = super::forms::Errors::one("delete", refusal(e)?);
            let body = super::keys::certificate_page(&app, &viewer, &errors).await?;
            Ok((
                StatusCode::CONFLICT,
                viewer.layout("Agent certificates", body),
            )
                .into_response())
        }
    }
}

/// `GET /agents/{id}/plan`: what the device would run next, before it runs.
pub async fn plan(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("Plan preview", html! {}));
    }
    let id = agent_id(&id)?;
    let agent = app.store.agent(id).await?.ok_or(Error::NotFound("agent"))?;
    let body = match crate::migration::device_plan::device_plan(&app, id).await {
        Err(e) => {
            let message = refusal(e)?;
            html! {
                h1 { "Plan preview of " (agent.computer_name) }
                p { a href=(format!("/agents/{id}")) { "Back to the agent" } }
                p.notice role="status" { "No plan: " (message) }
            }
        }
        Ok(p) => html! {
            h1 { "Plan preview of " (agent.computer_name) }
            p { a href=(format!("/agents/{id}")) { "Back to the agent" } }
            p.muted { "What the device would run next, made from the facts its agent last reported. Nothing is sent to the device." }
            dl.facts {
                dt { "Runbook" } dd { (p.runbook_name) }
                dt { "Joins" } dd { (p.target) }
                dt { "Steps" } dd { (p.steps.len()) }
            }
            h2 { "Steps" }
            table {
                thead { tr { th { "#" } th { "Phase" } th { "Step" } } }
                tbody {
                    @for (i, s) in p.steps.iter().enumerate() {
                        tr { td.muted { (i + 1) } td { (s.phase.label()) } td { code { (s.id) } } }
                    }
                }
            }
            h2 { "Profiles whose owner changes" }
            @if p.sid_changes.is_empty() { p.muted { "None." } } @else {
                table {
                    thead { tr { th { "Profile" } th { "SID on the device" } th { "Becomes" } th { "Why" } } }
                    tbody {
                        @for c in &p.sid_changes {
                            tr { td { (c.profile) } td { code { (c.source) } } td { (c.target_name) br; code { (c.target) } } td { (c.reason) } }
                        }
                    }
                }
            }
            h2 { "Profiles without a translation" }
            @if p.untranslated_profiles.is_empty() { p.muted { "None." } } @else {
                table {
                    thead { tr { th { "Profile" } th { "SID" } th { "Why" } th { "Stops the run" } } }
                    tbody {
                        @for u in &p.untranslated_profiles {
                            tr { td { (u.path) } td { code { (u.sid) } } td { (u.reason) } td class=[u.stops_run.then_some("status-Error")] { @if u.stops_run { "Yes" } @else { "No" } } }
                        }
                    }
                }
            }
        },
    };
    Ok(viewer.agent_page(&format!("Plan preview of {}", agent.computer_name), body))
}
