//! Reports filtered and paged in SQL, each with a CSV of exactly the rows its filters keep: the
//! User Profile Report and Agent Details across the fleet (Migration), and the message log of
//! matching (Sync).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use model::ids::{BatchId, DirectoryId, RunbookId};
use model::status::{AgentStatus, Phase};
use serde::Deserialize;

use super::table::{self, link, PER_PAGE};
use super::{when, Viewer};
use crate::auth::{Access, Area};
use crate::store::reports::{MessageFilter, ProfileFilter, RunFilter};
use crate::{App, Result};

/// The most rows one CSV holds.
const CSV_ROWS: u64 = 1_000_000;

fn text(v: &Option<String>) -> &str {
    v.as_deref().map(str::trim).unwrap_or_default()
}

fn some(v: &Option<String>) -> Option<String> {
    Some(text(v).to_string()).filter(|s| !s.is_empty())
}

async fn directory_names(app: &App) -> Result<Vec<(DirectoryId, String)>> {
    let mut out: Vec<_> = app
        .store
        .directories()
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

fn name_of<K: PartialEq>(names: &[(K, String)], id: &K) -> String {
    names
        .iter()
        .find(|(k, _)| k == id)
        .map(|(_, n)| n.clone())
        .unwrap_or_default()
}

/// The User Profile Report's filters.
#[derive(Debug, Default, Deserialize)]
pub struct ProfileQuery {
    #[serde(default)]
    directory: Option<String>,
    #[serde(default)]
    computer: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    page: Option<u64>,
}

impl ProfileQuery {
    fn filter(&self) -> ProfileFilter {
        ProfileFilter {
            directory: text(&self.directory).parse().ok(),
            computer: some(&self.computer),
            user: some(&self.user),
        }
    }

    fn pairs(&self) -> Vec<(&str, &str)> {
        vec![
            ("directory", text(&self.directory)),
            ("computer", text(&self.computer)),
            ("user", text(&self.user)),
        ]
    }
}

/// The user a profile belongs to: its matched name, else its folder's name.
fn profile_user(path: &str, name: Option<&str>) -> String {
    match name {
        Some(n) => n.to_string(),
        None => path.rsplit(['\\', '/']).next().unwrap_or(path).to_string(),
    }
}

/// `GET /reports/profiles`.
pub async fn profiles(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<ProfileQuery>,
) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("User profile report", html! {}));
    }
    let filter = q.filter();
    let total = app.store.profile_report_count(&filter).await?;
    let (page, offset) = table::page_at(total, q.page);
    let rows = app
        .store
        .profile_report(&filter, offset, PER_PAGE as u64)
        .await?;
    let directories = directory_names(&app).await?;
    let pairs = q.pairs();
    let body = html! {
        h1 { "User profile report" }
        p.muted { "Every user profile the agents found on their devices. Use % (or *) as wildcard." }
        form.filters method="get" action="/reports/profiles" {
            label { "Machine directory" select name="directory" {
                option value="" { "Every directory" }
                @for (id, name) in &directories { option value=(id) selected[text(&q.directory) == id.to_string()] { (name) } }
            } }
            label { "Machine name" input name="computer" value=(text(&q.computer)) placeholder="WS-%"; }
            label { "User (folder name or SID)" input name="user" value=(text(&q.user)) placeholder="ada%"; }
            button type="submit" { "Search" }
            " " a href="/reports/profiles" { "Reset filters" }
        }
        p { a href=(link("/reports/profiles.csv", &pairs)) download { "Download CSV of these " (total) " rows" } }
        table {
            thead { tr { th { "Machine name" } th { "Directory" } th { "User" } th { "UPN" } th { "Profile path" } th { "Last used" } th { "SID" } } }
            tbody {
                @for r in &rows {
                    tr {
                        td { a href=(format!("/agents/{}", r.agent)) { (r.computer_name) } }
                        td { (name_of(&directories, &r.directory)) }
                        td { (profile_user(&r.path, r.user_name.as_deref())) }
                        td { (r.user_upn.clone().unwrap_or_default()) }
                        td { code { (r.path) } }
                        td { @if let Some(t) = r.last_used { (when(t)) } }
                        td { code { (r.sid) } }
                    }
                }
            }
        }
        @if rows.is_empty() { p.muted { "No profile matches." } }
        (table::pager("/reports/profiles", &pairs, page, usize::try_from(total).unwrap_or(usize::MAX)))
    };
    Ok(viewer.agent_page("User profile report", body))
}

/// `GET /reports/profiles.csv`.
pub async fn profiles_csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<ProfileQuery>,
) -> Result<Response> {
    viewer.caller.require(Area::Agent, Access::Read)?;
    let rows = app.store.profile_report(&q.filter(), 0, CSV_ROWS).await?;
    let directories = directory_names(&app).await?;
    let body = crate::csv_export::write(
        [
            "machine_name",
            "directory",
            "user",
            "upn",
            "profile_path",
            "last_used",
            "sid",
        ],
        rows.into_iter().map(|r| {
            [
                r.computer_name,
                name_of(&directories, &r.directory),
                profile_user(&r.path, r.user_name.as_deref()),
                r.user_upn.unwrap_or_default(),
                r.path,
                r.last_used.map(|t| t.to_rfc3339()).unwrap_or_default(),
                r.sid,
            ]
        }),
    )?;
    Ok(crate::csv_export::download("user-profiles.csv", body).into_response())
}

/// Agent Details' filters.
#[derive(Debug, Default, Deserialize)]
pub struct RunQuery {
    #[serde(default)]
    batch: Option<String>,
    #[serde(default)]
    runbook: Option<String>,
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    computer: Option<String>,
    #[serde(default)]
    page: Option<u64>,
}

impl RunQuery {
    fn filter(&self) -> RunFilter {
        RunFilter {
            batch: text(&self.batch).parse::<BatchId>().ok(),
            runbook: text(&self.runbook).parse::<RunbookId>().ok(),
            phase: super::logs::phase_named(text(&self.phase)),
            status: text(&self.status).parse::<AgentStatus>().ok(),
            computer: some(&self.computer),
        }
    }

    fn pairs(&self) -> Vec<(&str, &str)> {
        vec![
            ("batch", text(&self.batch)),
            ("runbook", text(&self.runbook)),
            ("phase", text(&self.phase)),
            ("status", text(&self.status)),
            ("computer", text(&self.computer)),
        ]
    }
}

fn sorted<K: Copy>(names: &HashMap<K, String>) -> Vec<(K, String)> {
    let mut out: Vec<(K, String)> = names.iter().map(|(k, v)| (*k, v.clone())).collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// `GET /reports/agent-details`.
pub async fn agent_details(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<RunQuery>,
) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("Agent details", html! {}));
    }
    let filter = q.filter();
    let total = app.store.run_report_count(&filter).await?;
    let (page, offset) = table::page_at(total, q.page);
    let rows = app
        .store
        .run_report(&filter, offset, PER_PAGE as u64)
        .await?;
    let (batches, runbooks) = super::progress::names(&app).await?;
    let pairs = q.pairs();
    let body = html! {
        h1 { "Agent details" }
        p.muted { "Where every device stands with each runbook: its phase and status, without the steps (see Agent logs)." }
        form.filters method="get" action="/reports/agent-details" {
            label { "Batch" select name="batch" {
                option value="" { "Every batch" }
                @for (id, name) in sorted(&batches) { option value=(id) selected[text(&q.batch) == id.to_string()] { (name) } }
            } }
            label { "Runbook" select name="runbook" {
                option value="" { "Every runbook" }
                @for (id, name) in sorted(&runbooks) { option value=(id) selected[text(&q.runbook) == id.to_string()] { (name) } }
            } }
            label { "Phase" select name="phase" {
                option value="" { "Any phase" }
                @for p in Phase::ALL { @let key = crate::store::enum_text(&p); option value=(key) selected[text(&q.phase) == key] { (p.label()) } }
            } }
            label { "Status" select name="status" {
                option value="" { "Any status" }
                @for s in AgentStatus::ALL { option value=(s.as_str()) selected[text(&q.status) == s.as_str()] { (s.label()) } }
            } }
            label { "Computer" input name="computer" value=(text(&q.computer)) placeholder="WS-*"; }
            button type="submit" { "Filter" }
            " " a href="/reports/agent-details" { "Reset filters" }
        }
        p { a href=(link("/reports/agent-details.csv", &pairs)) download { "Download CSV of these " (total) " rows" } }
        table {
            thead { tr { th { "Computer" } th { "Batch" } th { "Runbook" } th { "Phase" } th { "Status" } th { "Last update" } th { "Last error" } } }
            tbody {
                @for r in &rows {
                    tr {
                        td { a href=(format!("/agents/{}", r.agent)) { (r.computer_name) } }
                        td { @if let Some(b) = r.batch { (batches.get(&b).cloned().unwrap_or_default()) } }
                        td { (runbooks.get(&r.runbook).cloned().unwrap_or_default()) }
                        td { @if let Some(p) = r.phase { (p.label()) } }
                        td class=(format!("status-{}", r.status.as_str())) { (r.status.label()) }
                        td { (when(r.last_update)) }
                        td { (r.last_error.clone().unwrap_or_default()) }
                    }
                }
            }
        }
        @if rows.is_empty() { p.muted { "No run matches." } }
        (table::pager("/reports/agent-details", &pairs, page, usize::try_from(total).unwrap_or(usize::MAX)))
    };
    Ok(viewer.agent_page("Agent details", body))
}

/// `GET /reports/agent-details.csv`.
pub async fn agent_details_csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<RunQuery>,
) -> Result<Response> {
    viewer.caller.require(Area::Agent, Access::Read)?;
    let rows = app.store.run_report(&q.filter(), 0, CSV_ROWS).await?;
    let (batches, runbooks) = super::progress::names(&app).await?;
    let body = crate::csv_export::write(
        [
            "computer",
            "batch",
            "runbook",
            "phase",
            "status",
            "last_update",
            "last_error",
        ],
        rows.into_iter().map(|r| {
            [
                r.computer_name,
                r.batch
                    .and_then(|b| batches.get(&b).cloned())
                    .unwrap_or_default(),
                runbooks.get(&r.runbook).cloned().unwrap_or_default(),
                r.phase.map(|p| p.label().to_string()).unwrap_or_default(),
                r.status.label().to_string(),
                r.last_update.to_rfc3339(),
                r.last_error.unwrap_or_default(),
            ]
        }),
    )?;
    Ok(crate::csv_export::download("agent-details.csv", body).into_response())
}

/// The message log's filters.
#[derive(Debug, Default, Deserialize)]
pub struct MessageQuery {
    #[serde(default)]
    directory: Option<String>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    page: Option<u64>,
}

impl MessageQuery {
    fn filter(&self) -> MessageFilter {
        MessageFilter {
            directory: text(&self.directory).parse().ok(),
            stage: text(&self.target)
                .parse::<DirectoryId>()
                .ok()
                .map(crate::directory::matching::stage),
            level: some(&self.level),
            name: some(&self.name),
        }
    }

    fn pairs(&self) -> Vec<(&str, &str)> {
        vec![
            ("directory", text(&self.directory)),
            ("target", text(&self.target)),
            ("level", text(&self.level)),
            ("name", text(&self.name)),
        ]
    }
}

/// The words for a stage: matching into which directory.
fn stage_text(stage: &str, directories: &[(DirectoryId, String)]) -> String {
    match stage
        .strip_prefix("match:")
        .and_then(|t| t.parse::<DirectoryId>().ok())
    {
        Some(target) => format!("Matching into {}", name_of(directories, &target)),
        None => stage.to_string(),
    }
}

const LEVELS: [&str; 3] = ["info", "warning", "error"];

/// `GET /sync-messages`.
pub async fn messages(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<MessageQuery>,
) -> Result<Response> {
    if !viewer.may(Area::Sync, Access::Read) {
        return Ok(viewer.sync_page("Message logs", html! {}));
    }
    let filter = q.filter();
    let total = app.store.message_log_count(&filter).await?;
    let (page, offset) = table::page_at(total, q.page);
    let rows = app
        .store
        .message_log(&filter, offset, PER_PAGE as u64)
        .await?;
    let directories = directory_names(&app).await?;
    let pairs = q.pairs();
    let body = html! {
        h1 { "Message logs" }
        p.muted { "What matching last said about each source object that it could not pair, or paired with a warning." }
        form.filters method="get" action="/sync-messages" {
            label { "Source directory" select name="directory" {
                option value="" { "Every directory" }
                @for (id, name) in &directories { option value=(id) selected[text(&q.directory) == id.to_string()] { (name) } }
            } }
            label { "Target directory" select name="target" {
                option value="" { "Every target" }
                @for (id, name) in &directories { option value=(id) selected[text(&q.target) == id.to_string()] { (name) } }
            } }
            label { "Level" select name="level" {
                option value="" { "Any level" }
                @for l in LEVELS { option value=(l) selected[text(&q.level) == l] { (l) } }
            } }
            label { "Object name" input name="name" value=(text(&q.name)) placeholder="ada*"; }
            button type="submit" { "Filter" }
        }
        p { a href=(link("/sync-messages.csv", &pairs)) download { "Download CSV of these " (total) " messages" } }
        table {
            thead { tr { th { "Time" } th { "Object" } th { "Directory" } th { "Stage" } th { "Level" } th { "Message" } } }
            tbody {
                @for m in &rows {
                    tr {
                        td.when { (when(m.at)) }
                        td { a href=(format!("/objects/{}/{}", m.directory, m.guid)) { (m.name.clone().unwrap_or_else(|| m.guid.clone())) } }
                        td { (name_of(&directories, &m.directory)) }
                        td { (stage_text(&m.stage, &directories)) }
                        td class=(format!("level-{}", m.level)) { (m.level) }
                        td { (m.message) }
                    }
                }
            }
        }
        @if rows.is_empty() { p.muted { "No message matches." } }
        (table::pager("/sync-messages", &pairs, page, usize::try_from(total).unwrap_or(usize::MAX)))
    };
    Ok(viewer.sync_page("Message logs", body))
}

/// `GET /sync-messages.csv`.
pub async fn messages_csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<MessageQuery>,
) -> Result<Response> {
    viewer.caller.require(Area::Sync, Access::Read)?;
    let rows = app.store.message_log(&q.filter(), 0, CSV_ROWS).await?;
    let directories = directory_names(&app).await?;
    let body = crate::csv_export::write(
        [
            "time",
            "object",
            "guid",
            "directory",
            "stage",
            "level",
            "message",
        ],
        rows.into_iter().map(|m| {
            [
                m.at.to_rfc3339(),
                m.name.unwrap_or_default(),
                m.guid,
                name_of(&directories, &m.directory),
                stage_text(&m.stage, &directories),
                m.level,
                m.message,
            ]
        }),
    )?;
    Ok(crate::csv_export::download("sync-messages.csv", body).into_response())
}

#[cfg(test)]
mod tests {
    use super::profile_user;

    #[test]
    fn a_profile_is_named_by_its_match_else_by_its_folder() {
        assert_eq!(profile_user(r"C:\Users\ada", None), "ada");
        assert_eq!(
            profile_user(r"C:\Users\ada", Some("Ada Lovelace")),
            "Ada Lovelace"
        );
        assert_eq!(profile_user("ada", None), "ada");
    }
}
