//! The dashboard (Agent Progress) and the Runbook Status report: donut charts of device status
//! drawn on the server as SVG, each slice a link to the matching devices, the devices in progress
//! by phase, and the device table with its filters and CSV.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped};
use model::ids::{BatchId, RunbookId};
use model::status::{AgentStatus, Phase};
use serde::Deserialize;

use super::table::{self, link};
use super::Viewer;

use crate::migration::progress::{self as progress, DeviceCounts, StatusCounts};
use crate::{App, Result};

/// Rows each statement of a CSV export reads.
const CSV_CHUNK: u64 = 5_000;

/// Seconds between refreshes of the dashboard's charts.
const REFRESH_SECONDS: u32 = 10;

/// The filters of the dashboard and the device table; every field optional.
#[derive(Debug, Default, Deserialize)]
pub struct DeviceFilter {
    /// A batch id.
    #[serde(default)]
    pub batch: Option<String>,
    /// A runbook id.
    #[serde(default)]
    pub runbook: Option<String>,
    /// A status by its stable name.
    #[serde(default)]
    pub status: Option<String>,
    /// A phase by its stable name.
    #[serde(default)]
    pub phase: Option<String>,
    /// A computer name, `*` as wildcard.
    #[serde(default)]
    pub computer: Option<String>,
}

fn text(v: &Option<String>) -> &str {
    v.as_deref().map(str::trim).unwrap_or_default()
}

impl DeviceFilter {
    /// The filter as the domain reads it; a value that names nothing is ignored.
    fn parsed(&self) -> progress::DeviceFilter {
        progress::DeviceFilter {
            batch: text(&self.batch).parse().ok(),
            runbook: text(&self.runbook).parse().ok(),
            status: text(&self.status).parse().ok(),
            phase: Phase::ALL
                .into_iter()
                .find(|p| phase_key(*p) == text(&self.phase)),
            computer: Some(text(&self.computer).to_string()).filter(|c| !c.is_empty()),
        }
    }

    /// The filter as query pairs, without the page; `status` and `phase` replaced when given.
    fn pairs<'a>(&'a self, status: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
        vec![
            ("batch", text(&self.batch)),
            ("runbook", text(&self.runbook)),
            ("status", status.unwrap_or(text(&self.status))),
            ("phase", text(&self.phase)),
            ("computer", text(&self.computer)),
        ]
    }
}

/// A phase's stable name in links.
fn phase_key(phase: Phase) -> &'static str {
    match phase {
        Phase::Startup => "Startup",
        Phase::DeviceState => "DeviceState",
        Phase::Permissions => "Permissions",
        Phase::Apps => "Apps",
        Phase::Completion => "Completion",
    }
}

/// The devices in progress in `phase`, within `filter`.
fn phase_link(filter: &DeviceFilter, phase: Phase) -> String {
    let mut pairs = filter.pairs(Some(AgentStatus::InProgress.as_str()));
    pairs.retain(|(k, _)| *k != "phase");
    pairs.push(("phase", phase_key(phase)));
    link("/devices", &pairs)
}

/// The colour of each status's slice.
fn colour(status: AgentStatus) -> &'static str {
    match status {
        AgentStatus::Error => "#c62828",
        AgentStatus::NoAgent => "#9aa3b0",
        AgentStatus::NotAvailable => "#c9b458",
        AgentStatus::NotStarted => "#e08a1e",
        AgentStatus::InProgress => "#1f5fbf",
        AgentStatus::Completed => "#2e7d32",
    }
}

/// A donut of `counts`: one arc per status that has devices, each a link to them.
fn donut(title: &str, counts: &StatusCounts, filter: &DeviceFilter) -> Markup {
    // A circle of circumference 100 makes each arc's length its percentage.
    const R: &str = "15.9155";
    let total = counts.total();
    let mut offset = 0.0_f64;
    let mut arcs = String::new();
    for status in AgentStatus::ALL {
        let n = counts.get(status);
        if n == 0 {
            continue;
        }
        let share = n as f64 * 100.0 / total as f64;
        let href = link("/devices", &filter.pairs(Some(status.as_str())));
        let label = format!("{}: {} of {}", status.label(), n, total);
        arcs.push_str(
            &html! {
                a href=(href) aria-label=(label) {
                    title { (label) }
                    circle cx="21" cy="21" r=(R) fill="none" stroke=(colour(status)) stroke-width="7"
                        stroke-dasharray=(format!("{:.3} {:.3}", share, 100.0 - share))
                        stroke-dashoffset=(format!("{:.3}", 25.0 - offset)) {}
                }
            }
            .into_string(),
        );
        offset += share;
    }
    html! {
        figure.donut {
            svg viewBox="0 0 42 42" width="180" height="180" role="img" aria-label=(format!("{title}: device status")) {
                circle cx="21" cy="21" r=(R) fill="none" stroke="#e6e9ee" stroke-width="7" pointer-events="none" {}
                (PreEscaped(arcs))
                text x="21" y="21" text-anchor="middle" dominant-baseline="central" font-size="7" font-weight="700" pointer-events="none" { (total) }
            }
            figcaption {
                strong { (title) }
                ul.legend {
                    @for status in AgentStatus::ALL {
                        li {
                            svg width="12" height="12" aria-hidden="true" { rect width="12" height="12" fill=(colour(status)) {} }
                            " "
                            a href=(link("/devices", &filter.pairs(Some(status.as_str())))) { (status.label()) }
                            " " span.n { (counts.get(status)) }
                        }
                    }
                }
            }
        }
    }
}

pub(super) async fn names(
    app: &App,
) -> Result<(HashMap<BatchId, String>, HashMap<RunbookId, String>)> {
    let batches = app
        .store
        .batches()
        .await?
        .into_iter()
        .map(|b| (b.id, b.name))
        .collect();
    let runbooks = app
        .store
        .runbooks()
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    Ok((batches, runbooks))
}

/// The batch and runbook choosers, as a GET form that works without script.
fn filter_form(
    action: &str,
    filter: &DeviceFilter,
    batches: &HashMap<BatchId, String>,
    runbooks: &HashMap<RunbookId, String>,
    more: Markup,
) -> Markup {
    let mut batches: Vec<_> = batches.iter().collect();
    batches.sort_by(|a, b| a.1.cmp(b.1));
    let mut runbooks: Vec<_> = runbooks.iter().collect();
    runbooks.sort_by(|a, b| a.1.cmp(b.1));
    html! {
        form.filters method="get" action=(action) {
            label { "Batch "
                select name="batch" {
                    option value="" { "All batches" }
                    @for (id, name) in &batches {
                        option value=(id) selected[text(&filter.batch) == id.to_string()] { (name) }
                    }
                }
            }
            label { "Runbook "
                select name="runbook" {
                    option value="" { "All runbooks" }
                    @for (id, name) in &runbooks {
                        option value=(id) selected[text(&filter.runbook) == id.to_string()] { (name) }
                    }
                }
            }
            (more)
            button type="submit" { "Filter" }
        }
    }
}

/// The charts of the dashboard, the part that refreshes itself.
fn charts(
    counts: &DeviceCounts,
    filter: &DeviceFilter,
    batches: &HashMap<BatchId, String>,
) -> Markup {
    let overall = &counts.overall;
    let per_batch = &counts.batches;
    let by_phase = &counts.in_progress;
    let in_progress = overall.get(AgentStatus::InProgress);
    let refresh = link("/", &filter.pairs(None));
    html! {
        div #progress data-refresh=(refresh) data-every=(REFRESH_SECONDS) aria-live="polite" {
            div.donuts {
                (donut("All selected devices", overall, filter))
                @if text(&filter.batch).is_empty() && per_batch.len() > 1 {
                    @for (batch, counts) in per_batch {
                        @let name = batches.get(batch).cloned().unwrap_or_else(|| batch.to_string());
                        @let batch_text = batch.to_string();
                        @let narrowed = DeviceFilter { batch: Some(batch_text), runbook: filter.runbook.clone(), ..DeviceFilter::default() };
                        (donut(&name, counts, &narrowed))
                    }
                }
            }
            h2 { "In progress by phase" }
            @if in_progress == 0 {
                p.muted { "No device is in progress." }
            } @else {
                table.phases {
                    thead { tr { th { "Phase" } th { "Devices" } th { "" } } }
                    tbody {
                        @for phase in Phase::ALL {
                            @let n = by_phase.get(&phase).copied().unwrap_or(0);
                            tr {
                                td { a href=(phase_link(filter, phase)) { (phase.label()) } }
                                td { (n) }
                                td.bar { meter min="0" max=(in_progress) value=(n) { (n) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Whether the request asks for the refreshing part only.
fn wants_fragment(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some()
}

/// `GET /?batch=&runbook=`: Agent Progress.
pub async fn dashboard(
    State(app): State<App>,
    viewer: Viewer,
    headers: HeaderMap,
    Query(filter): Query<DeviceFilter>,
) -> Result<Response> {
    let chosen = filter.parsed();
    let counts = progress::counts(&app, chosen.batch, chosen.runbook).await?;
    let (batches, runbooks) = names(&app).await?;
    let charts = charts(&counts, &filter, &batches);
    if wants_fragment(&headers) && viewer.may(crate::auth::Area::Agent, crate::auth::Access::Read) {
        return Ok(charts.into_response());
    }
    let agents = app.store.agent_count().await?;
    let body = html! {
        h1 { "Dashboard" }
        p.muted {
            "Registered agents: " (agents) ". Each computer of a batch counts once per runbook assigned to it. "
            "Select a slice to see its devices; the charts refresh every " (REFRESH_SECONDS) " seconds."
        }
        (filter_form("/", &filter, &batches, &runbooks, html! {}))
        (charts)
    };
    Ok(viewer.agent_page("Dashboard", body))
}

/// `GET /devices`: Runbook Status, every (computer, runbook) pair of the batches with its status,
/// filtered and a page at a time.
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    Query(filter): Query<DeviceFilter>,
    Query(cursor): Query<table::Cursor>,
) -> Result<Response> {
    let chosen = filter.parsed();
    let (total, page, shown) = table::seek_paged(
        progress::device_total(&app, &chosen),
        &cursor,
        |seek, limit| progress::devices_seek(&app, &chosen, seek, limit),
    )
    .await?;
    let (batches, runbooks) = names(&app).await?;
    let pairs = filter.pairs(None);
    let more = html! {
        label { "Status "
            select name="status" {
                option value="" { "Any status" }
                @for s in AgentStatus::ALL {
                    option value=(s.as_str()) selected[text(&filter.status) == s.as_str()] { (s.label()) }
                }
            }
        }
        label { "Phase "
            select name="phase" {
                option value="" { "Any phase" }
                @for p in Phase::ALL {
                    option value=(phase_key(p)) selected[text(&filter.phase) == phase_key(p)] { (p.label()) }
                }
            }
        }
        label { "Computer " input name="computer" value=(text(&filter.computer)) placeholder="WS-*"; }
    };
    let body = html! {
        h1 { "Runbook status" }
        (filter_form("/devices", &filter, &batches, &runbooks, more))
        p { a href=(link("/devices.csv", &pairs)) download { "Download CSV of these " (total) " rows" } }
        table {
            thead { tr { th { "Computer" } th { "Batch" } th { "Runbook" } th { "Status" } th { "Phase" } } }
            tbody {
                @for d in &shown.rows {
                    tr {
                        td {
                            @if let Some(agent) = d.agent { a href=(format!("/agents/{agent}")) { (d.computer_name) } }
                            @else { (d.computer_name) }
                        }
                        td { (batches.get(&d.batch).cloned().unwrap_or_default()) }
                        td { (runbooks.get(&d.runbook).cloned().unwrap_or_default()) }
                        td class=(format!("status-{}", d.status.as_str())) { (d.status.label()) }
                        td { @if let Some(p) = d.phase { (p.label()) } }
                    }
                }
            }
        }
        (table::seek_pager("/devices", &pairs, page, total, &shown))
    };
    Ok(viewer.agent_page("Runbook status", body))
}

/// `GET /devices.csv`: exactly the rows the same filters show, every page.
pub async fn csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(filter): Query<DeviceFilter>,
) -> Result<Response> {
    viewer
        .caller
        .require(crate::auth::Area::Agent, crate::auth::Access::Read)?;
    let (batches, runbooks) = names(&app).await?;
    let chosen = filter.parsed();
    let rows = crate::csv_export::chunked(CSV_CHUNK, move |seek, limit| {
        let (app, chosen) = (app.clone(), chosen.clone());
        async move { progress::devices_seek(&app, &chosen, seek, limit).await }
    });
    Ok(crate::csv_export::stream(
        "runbook-status.csv",
        [
            "computer",
            "objectGuid",
            "batch",
            "runbook",
            "status",
            "phase",
        ],
        rows,
        move |d| {
            [
                d.computer_name,
                d.computer.to_string(),
                batches.get(&d.batch).cloned().unwrap_or_default(),
                runbooks.get(&d.runbook).cloned().unwrap_or_default(),
                d.status.label().to_string(),
                d.phase.map(|p| p.label().to_string()).unwrap_or_default(),
            ]
        },
    ))
}
