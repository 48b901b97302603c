//! Reports filtered and paged in SQL, each with a CSV of exactly the rows its filters keep: the
//! User Profile Report and Agent Details across the fleet (Migration), and the message log of
//! matching (Sync).

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use model::ids::{BatchId, DirectoryId, RunbookId};
use model::status::AgentStatus;

use super::filter_form::{self, form, named, Field, Filters};
use super::table::{self, link};
use super::{when, Viewer};
use crate::auth::{Access, Area};
use crate::store::reports::{MessageFilter, ProfileFilter, ProfileRow, RunFilter};
use crate::{App, Result};

/// Rows a CSV reads at a time.
pub(super) const CSV_CHUNK: u64 = 5_000;

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
const PROFILE_FILTERS: [&str; 3] = ["directory", "computer", "user"];

fn profile_filter(q: &Filters) -> ProfileFilter {
    ProfileFilter {
        directory: q.parsed("directory"),
        computer: q.some("computer"),
        user: q.some("user"),
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
    Query(q): Query<Filters>,
    Query(cursor): Query<table::Cursor>,
) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("User profile report", html! {}));
    }
    let filter = profile_filter(&q);
    let (total, page, rows) = table::seek_paged(
        app.store.profile_report_count(&filter),
        &cursor,
        |seek, limit| app.store.profile_seek(&filter, seek, limit),
    )
    .await?;
    let directories = directory_names(&app).await?;
    let pairs = q.pairs(&PROFILE_FILTERS);
    let body = html! {
        h1 { "User profile report" }
        p.muted { "Every user profile the agents found on their devices. Use % (or *) as wildcard." }
        (form("/reports/profiles", &[
            Field::Choice { label: "Machine directory", name: "directory", any: "Every directory",
                options: named(directories.iter().cloned()), current: q.text("directory") },
            Field::Text { label: "Machine name", name: "computer", current: q.text("computer"), placeholder: "WS-%" },
            Field::Text { label: "User (folder name or SID)", name: "user", current: q.text("user"), placeholder: "ada%" },
        ], "Search", true))
        p { a href=(link("/reports/profiles.csv", &pairs)) download { "Download CSV of these " (total) " rows" } }
        table {
            thead { tr { th { "Machine name" } th { "Directory" } th { "User" } th { "UPN" } th { "Profile path" } th { "Last used" } th { "SID" } } }
            tbody {
                @for r in &rows.rows {
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
        @if rows.rows.is_empty() { p.muted { "No profile matches." } }
        (table::seek_pager("/reports/profiles", &pairs, page, total, &rows))
    };
    Ok(viewer.agent_page("User profile report", body))
}

/// `GET /reports/profiles.csv`.
pub async fn profiles_csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<Filters>,
) -> Result<Response> {
    viewer.caller.require(Area::Agent, Access::Read)?;
    let directories = directory_names(&app).await?;
    let rows = app.store.profile_rows(&profile_filter(&q)).await?;
    let directories = std::sync::Arc::new(directories);
    Ok(crate::csv_export::stream(
        "user-profiles.csv",
        [
            "machine_name",
            "directory",
            "user",
            "upn",
            "profile_path",
            "last_used",
            "sid",
        ],
        rows,
        move |r: ProfileRow| {
            [
                r.computer_name,
                name_of(&directories, &r.directory),
                profile_user(&r.path, r.user_name.as_deref()),
                r.user_upn.unwrap_or_default(),
                r.path,
                r.last_used.map(|t| t.to_rfc3339()).unwrap_or_default(),
                r.sid,
            ]
        },
    ))
}

/// Agent Details' filters.
const RUN_FILTERS: [&str; 5] = ["batch", "runbook", "phase", "status", "computer"];

fn run_filter(q: &Filters) -> RunFilter {
    RunFilter {
        batch: q.parsed::<BatchId>("batch"),
        runbook: q.parsed::<RunbookId>("runbook"),
        phase: super::logs::phase_named(q.text("phase")),
        status: q.parsed::<AgentStatus>("status"),
        computer: q.some("computer"),
    }
}

/// `GET /reports/agent-details`.
pub async fn agent_details(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<Filters>,
    Query(cursor): Query<table::Cursor>,
) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("Agent details", html! {}));
    }
    let filter = run_filter(&q);
    let (total, page, rows) = table::seek_paged(
        app.store.run_report_count(&filter),
        &cursor,
        |seek, limit| app.store.run_seek(&filter, seek, limit),
    )
    .await?;
    let (batches, runbooks) = super::progress::names(&app).await?;
    let pairs = q.pairs(&RUN_FILTERS);
    let body = html! {
        h1 { "Agent details" }
        p.muted { "Where every device stands with each runbook: its phase and status, without the steps (see Agent logs)." }
        (form("/reports/agent-details", &[
            Field::Choice { label: "Batch", name: "batch", any: "Every batch",
                options: named(batches.clone()), current: q.text("batch") },
            Field::Choice { label: "Runbook", name: "runbook", any: "Every runbook",
                options: named(runbooks.clone()), current: q.text("runbook") },
            Field::Choice { label: "Phase", name: "phase", any: "Any phase",
                options: filter_form::phases(), current: q.text("phase") },
            Field::Choice { label: "Status", name: "status", any: "Any status",
                options: filter_form::statuses(), current: q.text("status") },
            Field::Text { label: "Computer", name: "computer", current: q.text("computer"), placeholder: "WS-*" },
        ], "Filter", true))
        p { a href=(link("/reports/agent-details.csv", &pairs)) download { "Download CSV of these " (total) " rows" } }
        table {
            thead { tr { th { "Computer" } th { "Batch" } th { "Runbook" } th { "Phase" } th { "Status" } th { "Last update" } th { "Last error" } } }
            tbody {
                @for r in &rows.rows {
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
        @if rows.rows.is_empty() { p.muted { "No run matches." } }
        (table::seek_pager("/reports/agent-details", &pairs, page, total, &rows))
    };
    Ok(viewer.agent_page("Agent details", body))
}

/// `GET /reports/agent-details.csv`.
pub async fn agent_details_csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<Filters>,
) -> Result<Response> {
    viewer.caller.require(Area::Agent, Access::Read)?;
    let (batches, runbooks) = super::progress::names(&app).await?;
    let filter = run_filter(&q);
    let rows = crate::csv_export::chunked(CSV_CHUNK, move |seek, limit| {
        let (app, filter) = (app.clone(), filter.clone());
        async move { app.store.run_seek(&filter, seek, limit).await }
    });
    Ok(crate::csv_export::stream(
        "agent-details.csv",
        [
            "computer",
            "batch",
            "runbook",
            "phase",
            "status",
            "last_update",
            "last_error",
        ],
        rows,
        move |r| {
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
        },
    ))
}

/// The message log's filters.
const MESSAGE_FILTERS: [&str; 4] = ["directory", "target", "level", "name"];

fn message_filter(q: &Filters) -> MessageFilter {
    MessageFilter {
        directory: q.parsed("directory"),
        stage: q
            .parsed::<DirectoryId>("target")
            .map(crate::directory::matching::stage),
        level: q.some("level"),
        name: q.some("name"),
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
    Query(q): Query<Filters>,
    Query(cursor): Query<table::Cursor>,
) -> Result<Response> {
    if !viewer.may(Area::Sync, Access::Read) {
        return Ok(viewer.sync_page("Message logs", html! {}));
    }
    let filter = message_filter(&q);
    let (total, page, rows) = table::seek_paged(
        app.store.message_log_count(&filter),
        &cursor,
        |seek, limit| app.store.message_seek(&filter, seek, limit),
    )
    .await?;
    let directories = directory_names(&app).await?;
    let pairs = q.pairs(&MESSAGE_FILTERS);
    let body = html! {
        h1 { "Message logs" }
        p.muted { "What matching last said about each source object that it could not pair, or paired with a warning." }
        (form("/sync-messages", &[
            Field::Choice { label: "Source directory", name: "directory", any: "Every directory",
                options: named(directories.iter().cloned()), current: q.text("directory") },
            Field::Choice { label: "Target directory", name: "target", any: "Every target",
                options: named(directories.iter().cloned()), current: q.text("target") },
            Field::Choice { label: "Level", name: "level", any: "Any level",
                options: LEVELS.iter().map(|l| (l.to_string(), l.to_string())).collect(), current: q.text("level") },
            Field::Text { label: "Object name", name: "name", current: q.text("name"), placeholder: "ada*" },
        ], "Filter", false))
        p { a href=(link("/sync-messages.csv", &pairs)) download { "Download CSV of these " (total) " messages" } }
        table {
            thead { tr { th { "Time" } th { "Object" } th { "Directory" } th { "Stage" } th { "Level" } th { "Message" } } }
            tbody {
                @for m in &rows.rows {
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
        @if rows.rows.is_empty() { p.muted { "No message matches." } }
        (table::seek_pager("/sync-messages", &pairs, page, total, &rows))
    };
    Ok(viewer.sync_page("Message logs", body))
}

/// `GET /sync-messages.csv`.
pub async fn messages_csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<Filters>,
) -> Result<Response> {
    viewer.caller.require(Area::Sync, Access::Read)?;
    let directories = directory_names(&app).await?;
    let filter = message_filter(&q);
    let rows = crate::csv_export::chunked(CSV_CHUNK, move |seek, limit| {
        let (app, filter) = (app.clone(), filter.clone());
        async move { app.store.message_seek(&filter, seek, limit).await }
    });
    Ok(crate::csv_export::stream(
        "sync-messages.csv",
        [
            "time",
            "object",
            "guid",
            "directory",
            "stage",
            "level",
            "message",
        ],
        rows,
        move |m| {
            [
                m.at.to_rfc3339(),
                m.name.unwrap_or_default(),
                m.guid,
                name_of(&directories, &m.directory),
                stage_text(&m.stage, &directories),
                m.level,
                m.message,
            ]
        },
    ))
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
