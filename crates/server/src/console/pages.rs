//! The read-only pages: agents, agent details, agent logs, failed communications.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use model::ids::AgentId;
use serde::Deserialize;

use super::table::{self, link};
use super::{data, when, Viewer};
use crate::auth::{Access, Area};
use crate::store::failed_pages::FailedFilter;
use crate::store::reports::AgentFilter;
use crate::{App, Error, Result};
use model::status::AgentStatus;

/// Log lines per page.
const LOG_PAGE: u32 = 200;

/// The filters of the agents list.
#[derive(Debug, Default, Deserialize)]
pub struct AgentQuery {
    /// The directory of the computers.
    #[serde(default)]
    directory: Option<String>,
    /// The computer name, `*` as wildcard.
    #[serde(default)]
    computer: Option<String>,
    /// A status one of its runbooks is in.
    #[serde(default)]
    status: Option<String>,
    /// The agent version, `*` as wildcard.
    #[serde(default)]
    version: Option<String>,
}

fn text(v: &Option<String>) -> &str {
    v.as_deref().map(str::trim).unwrap_or_default()
}

impl AgentQuery {
    fn filter(&self) -> AgentFilter {
        let some = |v: &Option<String>| Some(text(v).to_string()).filter(|s| !s.is_empty());
        AgentFilter {
            directory: text(&self.directory).parse().ok(),
            computer: some(&self.computer),
            version: some(&self.version),
            status: text(&self.status).parse::<AgentStatus>().ok(),
        }
    }

    fn pairs(&self) -> Vec<(&str, &str)> {
        vec![
            ("directory", text(&self.directory)),
            ("computer", text(&self.computer)),
            ("status", text(&self.status)),
            ("version", text(&self.version)),
        ]
    }
}

/// `GET /agents?directory=&computer=&status=&version=`: the registered agents, filtered and
/// paged in SQL.
pub async fn agents(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<AgentQuery>,
    Query(cursor): Query<table::Cursor>,
) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("Agents", html! {}));
    }
    let filter = q.filter();
    let (total, page, agents) = table::seek_paged(
        app.store.agent_report_count(&filter),
        &cursor,
        |seek, limit| app.store.agent_seek(&filter, seek, limit),
    )
    .await?;
    let mut directories = app.store.directories().await?;
    directories.sort_by(|a, b| a.name.cmp(&b.name));
    let directory_name = |id: &model::ids::DirectoryId| {
        directories
            .iter()
            .find(|d| d.id == *id)
            .map(|d| d.name.clone())
            .unwrap_or_default()
    };
    let edit = viewer.may(Area::Agent, Access::Edit);
    let pairs = q.pairs();
    let body = html! {
        h1 { "Agents" }
        form.filters method="get" action="/agents" {
            label { "Directory" select name="directory" {
                option value="" { "Every directory" }
                @for d in &directories { option value=(d.id) selected[text(&q.directory) == d.id.to_string()] { (d.name) } }
            } }
            label { "Computer" input name="computer" value=(text(&q.computer)) placeholder="WS-*"; }
            label { "A runbook in" select name="status" {
                option value="" { "Any status" }
                @for s in AgentStatus::ALL { option value=(s.as_str()) selected[text(&q.status) == s.as_str()] { (s.label()) } }
            } }
            label { "Agent version" input name="version" value=(text(&q.version)); }
            button type="submit" { "Filter" }
        }
        p { a href=(link("/agents.csv", &pairs)) download { "Download CSV of these " (total) " agents" } }
        @if agents.rows.is_empty() {
            p.muted { "No agent matches." }
        } @else {
            table {
                thead { tr { th { "Computer" } th { "Directory" } th { "Join state" } th { "Runbooks" } th { "Agent version" } th { "Last contact" } @if edit { th { "" } } } }
                tbody {
                    @for a in &agents.rows {
                        tr {
                            td { a href=(format!("/agents/{}", a.id)) { (a.computer_name) } }
                            td { (directory_name(&a.directory)) }
                            td { (data::join_state_text(&a.join_state)) }
                            td {
                                @if a.statuses.is_empty() { span.muted { "none assigned" } }
                                @for (i, s) in a.statuses.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    span class=(format!("status-{}", s.as_str())) { (s.label()) }
                                }
                            }
                            td { (a.agent_version) }
                            td { (when(a.last_contact)) }
                            @if edit {
                                td {
                                    form method="post" action=(format!("/agents/{}/delete", a.id)) data-confirm="Delete this agent and everything it reported?" {
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
        (table::seek_pager("/agents", &pairs, page, total, &agents))
    };
    Ok(viewer.agent_page("Agents", body))
}

/// `GET /agents.csv`: the agents the same filters show, every page.
pub async fn agents_csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<AgentQuery>,
) -> Result<Response> {
    viewer.caller.require(Area::Agent, Access::Read)?;
    let filter = q.filter();
    let rows = crate::csv_export::chunked(super::reports::CSV_CHUNK, move |seek, limit| {
        let (app, filter) = (app.clone(), filter.clone());
        async move { app.store.agent_seek(&filter, seek, limit).await }
    });
    Ok(crate::csv_export::stream(
        "agents.csv",
        [
            "computer",
            "join_state",
            "runbooks",
            "agent_version",
            "os_version",
            "last_contact",
        ],
        rows,
        |a| {
            [
                a.computer_name,
                data::join_state_text(&a.join_state),
                a.statuses
                    .iter()
                    .map(|s| s.label())
                    .collect::<Vec<_>>()
                    .join("; "),
                a.agent_version,
                a.os_version,
                a.last_contact.to_rfc3339(),
            ]
        },
    ))
}

pub(super) fn agent_id(id: &str) -> Result<AgentId> {
    id.parse().map_err(|_| Error::NotFound("agent"))
}

/// The page of agent `id`, with `message` (what an action did or why it was refused) on top;
/// `None` when there is no such agent.
pub(super) async fn agent_body(
    app: &App,
    viewer: &Viewer,
    id: AgentId,
    message: Option<maud::Markup>,
) -> Result<Option<(String, maud::Markup)>> {
    let Some((facts, runs)) = data::agent(app, id).await? else {
        return Ok(None);
    };
    let registered =
        crate::migration::agents::registration_address(app, id, facts.registered_at).await?;
    let operate = viewer.may(Area::Agent, Access::Operate);
    let edit = viewer.may(Area::Agent, Access::Edit);
    let body = html! {
        h1 { "Agent " (facts.computer_name) }
        @if let Some(m) = message { (m) }
        @if registered.refused_before {
            p.error role="alert" {
                "This agent registered from an address whose agent requests had been refused before (see Failed communications). Check that the device is the computer it claims to be."
            }
        }
        dl.facts {
            dt { "Computer" } dd { (facts.computer_name) }
            dt { "Serial number" } dd { (facts.serial) }
            dt { "Operating system" } dd { (facts.os) }
            dt { "Join state" } dd { (facts.join_state) }
            dt { "Agent version" } dd { (facts.agent_version) }
            dt { "Registered" } dd { (when(facts.registered_at)) }
            dt { "Registered from" } dd { @if let Some(a) = &registered.address { (a) } @else { "unknown" } }
            dt { "Last contact" } dd { (when(facts.last_contact)) }
        }
        p {
            a href=(format!("/agents/{id}/logs")) { "Logs" } " · "
            a href=(format!("/agents/{id}/plan")) { "Plan preview" } " · "
            a href=(format!("/agents/{id}/readiness")) { "Readiness checks" }
        }
        h2 { "Runbooks" }
        @if runs.is_empty() {
            p.muted { "No runbook is assigned to this device." }
        } @else {
            table {
                thead { tr { th { "Runbook" } th { "Status" } th { "Phase" } th { "Step" } th { "Last update" } th { "Last error" } @if operate { th { "" } } } }
                tbody {
                    @for r in &runs {
                        tr {
                            td { (r.runbook) }
                            td class=(format!("status-{}", r.status.as_str())) { (r.status.label()) }
                            td { @if let Some(p) = r.phase { (p) } }
                            td { @if let Some(s) = &r.step { (s) } }
                            td { (when(r.last_update)) }
                            td { @if let Some(e) = &r.last_error { (e) } }
                            @if operate {
                                td {
                                    @if r.status == model::status::AgentStatus::Error {
                                        form method="post" action=(format!("/agents/{id}/runs/{}/retry", r.runbook_id)) {
                                            (viewer.csrf())
                                            button type="submit" { "Retry" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if edit {
            h2 { "Delete the agent" }
            p.muted { "Its runs, logs and harvested profiles are deleted; the device shows No Agent and can register again." }
            form method="post" action=(format!("/agents/{id}/delete")) data-confirm="Delete this agent and everything it reported?" {
                (viewer.csrf())
                button.danger type="submit" { "Delete agent" }
            }
        }
    };
    Ok(Some((format!("Agent {}", facts.computer_name), body)))
}

/// `GET /agents/{id}`: one agent's facts and runs.
pub async fn agent(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = agent_id(&id)?;
    match agent_body(&app, &viewer, id, None).await? {
        None => Ok(Error::NotFound("agent").into_response()),
        Some((title, body)) => Ok(viewer.agent_page(&title, body)),
    }
}

/// Which page of the log.
#[derive(Deserialize)]
pub struct LogQuery {
    /// Show lines older than this sequence number.
    before: Option<u64>,
}

/// `GET /agents/{id}/logs`: the agent's events, newest first, a page at a time.
pub async fn logs(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
) -> Result<Response> {
    let id = agent_id(&id)?;
    let Some((facts, _)) = data::agent(&app, id).await? else {
        return Ok(Error::NotFound("agent").into_response());
    };
    let lines = data::logs(&app, id, query.before, LOG_PAGE).await?;
    let older = (lines.len() == LOG_PAGE as usize)
        .then(|| lines.last().map(|l| l.seq))
        .flatten();
    let body = html! {
        h1 { "Logs of " (facts.computer_name) }
        p { a href=(format!("/agents/{id}")) { "Back to the agent" } }
        @if lines.is_empty() {
            p.muted { "No events." }
        } @else {
            table {
                thead { tr { th { "#" } th { "Time (device)" } th { "Level" } th { "Phase" } th { "Message" } } }
                tbody {
                    @for l in &lines {
                        tr {
                            td.muted { (l.seq) }
                            td { (when(l.at)) }
                            td class=(format!("level-{}", l.level)) { (l.level) }
                            td { @if let Some(p) = l.phase { (p) } }
                            td { (l.message) }
                        }
                    }
                }
            }
            @if let Some(seq) = older {
                p { a href=(format!("/agents/{id}/logs?before={seq}")) { "Older events" } }
            }
        }
    };
    Ok(viewer.agent_page(&format!("Logs of {}", facts.computer_name), body))
}

/// The filters of the failed communications.
#[derive(Debug, Default, Deserialize)]
pub struct FailedQuery {
    /// The computer name, `*` as wildcard.
    #[serde(default)]
    computer: Option<String>,
    /// The address, `*` as wildcard.
    #[serde(default)]
    address: Option<String>,
    /// The reason code.
    #[serde(default)]
    code: Option<String>,
}

impl FailedQuery {
    fn filter(&self) -> FailedFilter {
        FailedFilter {
            computer: self.computer.clone(),
            address: self.address.clone(),
            code: self.code.clone(),
        }
    }

    fn pairs(&self) -> [(&str, &str); 3] {
        [
            ("computer", text(&self.computer)),
            ("address", text(&self.address)),
            ("code", text(&self.code)),
        ]
    }
}

/// `GET /communications?computer=&address=&code=`: agents that reached the server but were
/// refused, filtered on the server.
pub async fn failed_communications(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<FailedQuery>,
    Query(cursor): Query<table::Cursor>,
) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("Failed communications", html! {}));
    }
    let filter = q.filter();
    let (total, page, lines) =
        table::seek_paged(app.store.failed_count(&filter), &cursor, |seek, limit| {
            app.store.failed_seek(&filter, seek, limit)
        })
        .await?;
    let codes = app.store.failed_codes().await?;
    let pairs = q.pairs();
    let body = html! {
        h1 { "Failed communications" }
        p.muted { "Agents that reached the server but could not register or were refused, newest first." }
        form.filters method="get" action="/communications" {
            label { "Computer" input name="computer" value=(text(&q.computer)) placeholder="WS-*"; }
            label { "Address" input name="address" value=(text(&q.address)) placeholder="10.1.*"; }
            label { "Reason" select name="code" {
                option value="" { "Any reason" }
                @for c in &codes { option value=(c) selected[text(&q.code) == *c] { (c) } }
            } }
            button type="submit" { "Filter" }
        }
        p { a href=(link("/communications.csv", &pairs)) download { "Download CSV of these " (total) " rows" } }
        @if lines.rows.is_empty() {
            p.muted { "None." }
        } @else {
            table {
                thead { tr { th { "Last" } th { "Times" } th { "First" } th { "Computer" } th { "Address" } th { "Reason" } th { "Details" } } }
                tbody {
                    @for f in lines.rows.iter().cloned().map(data::failed_line) {
                        tr {
                            td { (when(f.at)) }
                            td { (f.repeats) }
                            td { (when(f.first_at)) }
                            td { @if let Some(n) = &f.computer_name { (n) } }
                            td { @if let Some(a) = &f.remote_address { (a) } }
                            td { code { (f.code) } }
                            td { (f.message) }
                        }
                    }
                }
            }
        }
        (table::seek_pager("/communications", &pairs, page, total, &lines))
    };
    Ok(viewer.agent_page("Failed communications", body))
}

/// `GET /communications.csv`: the rows the same filters show.
pub async fn failed_communications_csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<FailedQuery>,
) -> Result<Response> {
    viewer
        .caller
        .require(crate::auth::Area::Agent, crate::auth::Access::Read)?;
    let filter = q.filter();
    let rows = crate::csv_export::chunked(super::reports::CSV_CHUNK, move |seek, limit| {
        let (app, filter) = (app.clone(), filter.clone());
        async move { app.store.failed_seek(&filter, seek, limit).await }
    });
    Ok(crate::csv_export::stream(
        "failed-communications.csv",
        [
            "last", "times", "first", "computer", "address", "reason", "details",
        ],
        rows,
        |f| {
            let f = data::failed_line(f);
            [
                f.at.to_rfc3339(),
                f.repeats.to_string(),
                f.first_at.to_rfc3339(),
                f.computer_name.unwrap_or_default(),
                f.remote_address.unwrap_or_default(),
                f.code,
                f.message,
            ]
        },
    ))
}
