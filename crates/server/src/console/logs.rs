//! Agent Logs across the fleet: every agent's events filtered on the server by runbook, phase,
//! severity, computer and user (`*` as wildcard), a page at a time, and the same rows as CSV.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use model::ids::RunbookId;
use model::status::{EventLevel, Phase};
use serde::Deserialize;

use super::table::{self, link, PER_PAGE};
use super::{when, Viewer};
use crate::auth::{Access, Area};
use crate::store::fleet_events::FleetEventFilter;
use crate::{App, Result};

/// The most rows one CSV holds.
const CSV_ROWS: u64 = 1_000_000;

/// The filters as the query string carries them.
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    runbook: Option<String>,
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    computer: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    page: Option<u64>,
}

const LEVELS: [EventLevel; 3] = [EventLevel::Info, EventLevel::Warning, EventLevel::Error];

fn text(v: &Option<String>) -> &str {
    v.as_deref().map(str::trim).unwrap_or_default()
}

pub(super) fn phase_named(name: &str) -> Option<Phase> {
    Phase::ALL
        .into_iter()
        .find(|p| crate::store::enum_text(p) == name)
}

impl LogQuery {
    fn filter(&self) -> FleetEventFilter {
        FleetEventFilter {
            runbook: text(&self.runbook).parse::<RunbookId>().ok(),
            phase: phase_named(text(&self.phase)),
            level: LEVELS.into_iter().find(|l| l.as_str() == text(&self.level)),
            computer: Some(text(&self.computer).to_string()).filter(|s| !s.is_empty()),
            user: Some(text(&self.user).to_string()).filter(|s| !s.is_empty()),
        }
    }

    fn pairs(&self) -> Vec<(&str, &str)> {
        vec![
            ("runbook", text(&self.runbook)),
            ("phase", text(&self.phase)),
            ("level", text(&self.level)),
            ("computer", text(&self.computer)),
            ("user", text(&self.user)),
        ]
    }
}

/// `GET /logs`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<LogQuery>,
) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("Agent logs", html! {}));
    }
    let filter = q.filter();
    let total = app.store.fleet_event_count(&filter).await?;
    let (page, offset) = table::page_at(total, q.page);
    let rows = app
        .store
        .fleet_events(&filter, offset, PER_PAGE as u64)
        .await?;
    let mut runbooks = app.store.runbooks().await?;
    runbooks.sort_by(|a, b| a.name.cmp(&b.name));
    let runbook_name = |id: Option<RunbookId>| {
        id.and_then(|id| runbooks.iter().find(|r| r.id == id))
            .map(|r| r.name.clone())
            .unwrap_or_default()
    };
    let pairs = q.pairs();
    let body = html! {
        h1 { "Agent logs" }
        form.filters method="get" action="/logs" {
            label { "Runbook" select name="runbook" {
                option value="" { "Any runbook" }
                @for r in &runbooks { option value=(r.id) selected[text(&q.runbook) == r.id.to_string()] { (r.name) } }
            } }
            label { "Phase" select name="phase" {
                option value="" { "Any phase" }
                @for p in Phase::ALL { @let key = crate::store::enum_text(&p); option value=(key) selected[text(&q.phase) == key] { (p.label()) } }
            } }
            label { "Severity" select name="level" {
                option value="" { "Any severity" }
                @for l in LEVELS { option value=(l.as_str()) selected[text(&q.level) == l.as_str()] { (l.as_str()) } }
            } }
            label { "Computer" input name="computer" value=(text(&q.computer)) placeholder="WS-*"; }
            label { "User" input name="user" value=(text(&q.user)) placeholder="alice*"; }
            button type="submit" { "Filter" }
        }
        p { a href=(link("/logs.csv", &pairs)) download { "Download CSV of these " (total) " events" } }
        table {
            thead { tr { th { "Time (device)" } th { "Computer" } th { "Severity" } th { "Runbook" } th { "Phase" } th { "Message" } } }
            tbody {
                @for r in &rows {
                    tr {
                        td.when { (when(r.event.at)) }
                        td { a href=(format!("/agents/{}/logs", r.agent)) { (r.computer_name) } }
                        td class=(format!("level-{}", r.event.level.as_str())) { (r.event.level.as_str()) }
                        td { (runbook_name(r.event.runbook)) }
                        td { @if let Some(p) = r.event.phase { (p.label()) } }
                        td { (r.event.message) }
                    }
                }
            }
        }
        @if rows.is_empty() { p.muted { "No event matches." } }
        (table::pager("/logs", &pairs, page, usize::try_from(total).unwrap_or(usize::MAX)))
    };
    Ok(viewer.agent_page("Agent logs", body))
}

/// `GET /logs.csv`: every event the filters keep.
pub async fn csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<LogQuery>,
) -> Result<Response> {
    viewer.caller.require(Area::Agent, Access::Read)?;
    let rows = app.store.fleet_events(&q.filter(), 0, CSV_ROWS).await?;
    let runbooks = app.store.runbooks().await?;
    let body = crate::csv_export::write(
        [
            "time", "computer", "severity", "runbook", "phase", "step", "message",
        ],
        rows.into_iter().map(|r| {
            [
                r.event.at.to_rfc3339(),
                r.computer_name,
                r.event.level.as_str().to_string(),
                r.event
                    .runbook
                    .and_then(|id| runbooks.iter().find(|x| x.id == id))
                    .map(|x| x.name.clone())
                    .unwrap_or_default(),
                r.event
                    .phase
                    .map(|p| p.label().to_string())
                    .unwrap_or_default(),
                r.event.step.unwrap_or_default(),
                r.event.message,
            ]
        }),
    )?;
    Ok(crate::csv_export::download("agent-logs.csv", body).into_response())
}
