//! Agent Logs across the fleet: every agent's events filtered on the server by runbook, phase,
//! severity, computer and user (`*` as wildcard), a page at a time, and the same rows as CSV.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use model::ids::RunbookId;
use model::status::{EventLevel, Phase};

use super::filter_form::{self, form, named, Field, Filters};
use super::table::{self, link};
use super::{when, Viewer};
use crate::auth::{Access, Area};
use crate::store::fleet_events::FleetEventFilter;
use crate::{App, Result};

/// Rows each statement of a CSV export reads.
const CSV_CHUNK: u64 = 5_000;

/// Agent Logs' filters.
const LOG_FILTERS: [&str; 5] = ["runbook", "phase", "level", "computer", "user"];

const LEVELS: [EventLevel; 3] = [EventLevel::Info, EventLevel::Warning, EventLevel::Error];

pub(super) fn phase_named(name: &str) -> Option<Phase> {
    Phase::ALL
        .into_iter()
        .find(|p| crate::store::enum_text(p) == name)
}

fn log_filter(q: &Filters) -> FleetEventFilter {
    FleetEventFilter {
        runbook: q.parsed::<RunbookId>("runbook"),
        phase: phase_named(q.text("phase")),
        level: LEVELS.into_iter().find(|l| l.as_str() == q.text("level")),
        computer: q.some("computer"),
        user: q.some("user"),
    }
}

/// `GET /logs`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<Filters>,
    Query(cursor): Query<table::Cursor>,
) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("Agent logs", html! {}));
    }
    let filter = log_filter(&q);
    let (total, page, rows) = table::seek_paged(
        app.store.fleet_event_count(&filter),
        &cursor,
        |seek, limit| app.store.fleet_event_seek(&filter, seek, limit),
    )
    .await?;
    let mut runbooks = app.store.runbooks().await?;
    runbooks.sort_by(|a, b| a.name.cmp(&b.name));
    let runbook_name = |id: Option<RunbookId>| {
        id.and_then(|id| runbooks.iter().find(|r| r.id == id))
            .map(|r| r.name.clone())
            .unwrap_or_default()
    };
    let pairs = q.pairs(&LOG_FILTERS);
    let body = html! {
        h1 { "Agent logs" }
        (form("/logs", &[
            Field::Choice { label: "Runbook", name: "runbook", any: "Any runbook",
                options: named(runbooks.iter().map(|r| (r.id, r.name.clone()))), current: q.text("runbook") },
            Field::Choice { label: "Phase", name: "phase", any: "Any phase",
                options: filter_form::phases(), current: q.text("phase") },
            Field::Choice { label: "Severity", name: "level", any: "Any severity",
                options: LEVELS.iter().map(|l| (l.as_str().to_string(), l.as_str().to_string())).collect(), current: q.text("level") },
            Field::Text { label: "Computer", name: "computer", current: q.text("computer"), placeholder: "WS-*" },
            Field::Text { label: "User", name: "user", current: q.text("user"), placeholder: "alice*" },
        ], "Filter", false))
        p { a href=(link("/logs.csv", &pairs)) download { "Download CSV of these " (total) " events" } }
        table {
            thead { tr { th { "Time (device)" } th { "Computer" } th { "Severity" } th { "Runbook" } th { "Phase" } th { "Message" } } }
            tbody {
                @for r in &rows.rows {
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
        @if rows.rows.is_empty() { p.muted { "No event matches." } }
        (table::seek_pager("/logs", &pairs, page, total, &rows))
    };
    Ok(viewer.agent_page("Agent logs", body))
}

/// `GET /logs.csv`: every event the filters keep.
pub async fn csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<Filters>,
) -> Result<Response> {
    viewer.caller.require(Area::Agent, Access::Read)?;
    let runbooks = app.store.runbooks().await?;
    let filter = log_filter(&q);
    let rows = crate::csv_export::chunked(CSV_CHUNK, move |seek, limit| {
        let (app, filter) = (app.clone(), filter.clone());
        async move { app.store.fleet_event_seek(&filter, seek, limit).await }
    });
    Ok(crate::csv_export::stream(
        "agent-logs.csv",
        [
            "time", "computer", "severity", "runbook", "phase", "step", "message",
        ],
        rows,
        move |r| {
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
        },
    ))
}
