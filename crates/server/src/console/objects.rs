//! The Single Object Report: search objects by name, UPN, sAMAccountName or mail (`*` as
//! wildcard), then one object's report in tabs — overview, attributes, batches, profiles,
//! errors — with a link that opens the report of the object it becomes in the target.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::html;
use model::ids::{DirectoryId, ObjectGuid};
use serde::Deserialize;

use super::table::link;
use super::{when, Viewer};
use crate::auth::{Access, Area};
use crate::directory::report;
use crate::{App, Error, Result};

/// The search form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    directory: Option<String>,
}

/// `GET /objects?q=&directory=`.
pub async fn search(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<SearchQuery>,
) -> Result<Response> {
    if !viewer.may(Area::Sync, Access::Read) {
        return Ok(viewer.sync_page("Single Object Report", html! {}));
    }
    let mut directories = app.store.directories().await?;
    directories.sort_by(|a, b| a.name.cmp(&b.name));
    let text = q.q.as_deref().unwrap_or_default().trim().to_string();
    let directory: Option<DirectoryId> = q.directory.as_deref().and_then(|d| d.parse().ok());
    let hits = if text.is_empty() {
        None
    } else {
        Some(report::search(&app, &text, directory).await)
    };
    let dir_name = |id: &DirectoryId| {
        directories
            .iter()
            .find(|d| d.id == *id)
            .map(|d| d.name.clone())
            .unwrap_or_default()
    };
    let body = html! {
        h1 { "Single Object Report" }
        form.filters method="get" action="/objects" {
            label { "Name, UPN, sAMAccountName or mail (* for any characters)" input name="q" value=(text) placeholder="ada* or *@contoso.com"; }
            label { "Directory" select name="directory" {
                option value="" { "Every directory" }
                @for d in &directories { option value=(d.id) selected[directory == Some(d.id)] { (d.name) } }
            } }
            button type="submit" { "Search" }
        }
        @match hits {
            None => {}
            Some(Err(Error::Invalid(fields))) => { @for f in &fields { p.error role="alert" { (f.message) } } }
            Some(Err(e)) => { p.error role="alert" { (e.to_string()) } }
            Some(Ok(hits)) => {
                @if hits.is_empty() { p.muted { "Nothing found." } }
                @else {
                    p { a href=(link("/objects.csv", &[("q", text.as_str()), ("directory", q.directory.as_deref().unwrap_or_default())])) download { "Download CSV of these " (hits.len()) " objects" } }
                    table {
                        thead { tr { th { "Name" } th { "Kind" } th { "UPN" } th { "sAMAccountName" } th { "Directory" } } }
                        tbody {
                            @for h in &hits {
                                tr {
                                    td { a href=(format!("/objects/{}/{}", h.directory, h.guid)) { (h.name) } }
                                    td { (h.kind.as_str()) }
                                    td { (h.upn.clone().unwrap_or_default()) }
                                    td { (h.sam_account_name.clone().unwrap_or_default()) }
                                    td { (dir_name(&h.directory)) }
                                }
                            }
                        }
                    }
                    @if hits.len() as i64 >= report::MAX_HITS { p.muted { "The first " (report::MAX_HITS) " are shown; narrow the search." } }
                }
            }
        }
    };
    Ok(viewer.sync_page("Single Object Report", body))
}

/// `GET /objects.csv?q=&directory=`: the objects the same search finds.
pub async fn search_csv(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<SearchQuery>,
) -> Result<axum::response::Response> {
    viewer.caller.require(Area::Sync, Access::Read)?;
    let directory: Option<DirectoryId> = q.directory.as_deref().and_then(|d| d.parse().ok());
    let hits = report::search(&app, q.q.as_deref().unwrap_or_default(), directory).await?;
    let directories = app.store.directories().await?;
    let body = crate::csv_export::write(
        [
            "name",
            "kind",
            "upn",
            "sam_account_name",
            "directory",
            "guid",
        ],
        hits.into_iter().map(|h| {
            [
                h.name,
                h.kind.as_str().to_string(),
                h.upn.unwrap_or_default(),
                h.sam_account_name.unwrap_or_default(),
                directories
                    .iter()
                    .find(|d| d.id == h.directory)
                    .map(|d| d.name.clone())
                    .unwrap_or_default(),
                h.guid.to_string(),
            ]
        }),
    )?;
    Ok(axum::response::IntoResponse::into_response(
        crate::csv_export::download("objects.csv", body),
    ))
}

/// Which tab of the report.
#[derive(Debug, Default, Deserialize)]
pub struct TabQuery {
    #[serde(default)]
    tab: Option<String>,
}

const TABS: [(&str, &str); 5] = [
    ("overview", "Overview"),
    ("attributes", "Attributes"),
    ("batches", "Batches"),
    ("profiles", "Profiles"),
    ("errors", "Errors"),
];

/// `GET /objects/{directory}/{guid}?tab=`.
pub async fn report(
    State(app): State<App>,
    viewer: Viewer,
    Path((directory, guid)): Path<(String, String)>,
    Query(q): Query<TabQuery>,
) -> Result<Response> {
    if !viewer.may(Area::Sync, Access::Read) {
        return Ok(viewer.sync_page("Single Object Report", html! {}));
    }
    let directory: DirectoryId = directory
        .parse()
        .map_err(|_| Error::NotFound("directory"))?;
    let guid: ObjectGuid = guid.parse().map_err(|_| Error::NotFound("object"))?;
    let r = report::object_report(&app, directory, guid).await?;
    let tab = q
        .tab
        .as_deref()
        .filter(|t| TABS.iter().any(|(k, _)| k == t))
        .unwrap_or("overview");
    let base = format!("/objects/{directory}/{guid}");
    let attributes = attributes(&r.object);
    let o = &r.object;
    let body = html! {
        h1 { (o.name) " " span.muted { "(" (o.kind.as_str()) " in " (r.directory.name) ")" } }
        @if let Some((d, g)) = r.target_object {
            p { a #open-target href=(format!("/objects/{d}/{g}")) { "Open as target" } " — the report of the object it becomes." }
        }
        p { a href=(format!("{base}/report.csv")) download { "Download CSV of every tab" } }
        nav.tabs aria-label="Report tabs" {
            @for (key, title) in TABS {
                a href=(link(&base, &[("tab", key)])) aria-current=[(tab == key).then_some("page")] { (title) }
            }
        }
        @match tab {
            "attributes" => {
                table {
                    thead { tr { th { "Attribute" } th { "Value" } } }
                    tbody {
                        @for (k, v) in &attributes { tr { td { (k) } td { code { (v) } } } }
                    }
                }
            }
            "batches" => {
                @if r.batches.is_empty() { p.muted { "No batch concerns this object." } }
                @else {
                    table {
                        thead { tr { th { "Batch" } th { "Through computer" } } }
                        tbody { @for b in &r.batches { tr { td { a href=(format!("/batches/{}", b.id)) { (b.name) } } td { (b.computer) } } } }
                    }
                }
            }
            "profiles" => {
                @if r.profiles.is_empty() { p.muted { "No device reported a profile of this object." } }
                @else {
                    table {
                        thead { tr { th { "Computer" } th { "Path" } th { "Last used" } } }
                        tbody {
                            @for p in &r.profiles {
                                tr {
                                    td { a href=(format!("/agents/{}", p.agent)) { (p.computer_name) } }
                                    td { code { (p.path) } }
                                    td { @if let Some(at) = p.last_used { (when(at)) } }
                                }
                            }
                        }
                    }
                }
            }
            "errors" => {
                @if r.messages.is_empty() { p.muted { "Import and matching said nothing of this object." } }
                @else {
                    table {
                        thead { tr { th { "When" } th { "Stage" } th { "Level" } th { "Message" } } }
                        tbody {
                            @for m in &r.messages {
                                tr {
                                    td { (when(m.at)) }
                                    td { (m.stage) }
                                    td class=(format!("level-{:?}", m.level)) { (format!("{:?}", m.level)) }
                                    td { (m.message) }
                                }
                            }
                        }
                    }
                }
            }
            _ => {
                dl.facts {
                    dt { "Kind" } dd { (o.kind.as_str()) }
                    dt { "Directory" } dd { (r.directory.name) }
                    dt { "GUID" } dd { code { (o.guid) } }
                    dt { "SID" } dd { @if let Some(s) = &o.sid { code { (s) } } }
                    dt { "UPN" } dd { (o.upn.clone().unwrap_or_default()) }
                    dt { "sAMAccountName" } dd { (o.sam_account_name.clone().unwrap_or_default()) }
                    dt { "Translations" } dd { (r.translations.len()) }
                    dt { "Profiles on devices" } dd { (r.profiles.len()) }
                    dt { "Messages" } dd { (r.messages.len()) }
                }
                @if !r.translations.is_empty() {
                    h2 { "Translation table" }
                    table {
                        thead { tr { th { "Source" } th { "Target" } th { "Rule" } } }
                        tbody {
                            @for t in &r.translations {
                                tr {
                                    td { (t.entry.source.name) br; code { (t.entry.source.sid) } }
                                    td { a href=(format!("/objects/{}/{}", t.entry.target.directory, t.entry.target.guid)) { (t.entry.target.name) } br; code { (t.entry.target.sid) } }
                                    td { (t.rule) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(viewer.sync_page(&format!("{} · Single Object Report", o.name), body))
}

/// The object's attributes as imported, each with its value as text, without the empty ones.
fn attributes(object: &model::directory::DirectoryObject) -> Vec<(String, String)> {
    match serde_json::to_value(object) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `GET /objects/{directory}/{guid}/report.csv`: every tab of the report in one CSV, a row per
/// fact, table row or message, each headed by its tab.
pub async fn report_csv(
    State(app): State<App>,
    viewer: Viewer,
    Path((directory, guid)): Path<(String, String)>,
) -> Result<Response> {
    viewer.caller.require(Area::Sync, Access::Read)?;
    let directory: DirectoryId = directory
        .parse()
        .map_err(|_| Error::NotFound("directory"))?;
    let guid: ObjectGuid = guid.parse().map_err(|_| Error::NotFound("object"))?;
    let r = report::object_report(&app, directory, guid).await?;
    let o = &r.object;
    let row = |tab: &str, item: &str, value: String, detail: String| {
        [tab.to_string(), item.to_string(), value, detail]
    };
    let mut rows = vec![
        row("overview", "Name", o.name.clone(), String::new()),
        row(
            "overview",
            "Kind",
            o.kind.as_str().to_string(),
            String::new(),
        ),
        row(
            "overview",
            "Directory",
            r.directory.name.clone(),
            String::new(),
        ),
        row("overview", "GUID", o.guid.to_string(), String::new()),
        row(
            "overview",
            "SID",
            o.sid.as_ref().map(ToString::to_string).unwrap_or_default(),
            String::new(),
        ),
        row(
            "overview",
            "UPN",
            o.upn.clone().unwrap_or_default(),
            String::new(),
        ),
        row(
            "overview",
            "sAMAccountName",
            o.sam_account_name.clone().unwrap_or_default(),
            String::new(),
        ),
    ];
    for t in &r.translations {
        rows.push(row(
            "overview",
            "Translation",
            format!("{} → {}", t.entry.source.name, t.entry.target.name),
            format!(
                "{} → {} ({})",
                t.entry.source.sid, t.entry.target.sid, t.rule
            ),
        ));
    }
    for (k, v) in attributes(o) {
        rows.push(row("attributes", &k, v, String::new()));
    }
    for b in &r.batches {
        rows.push(row(
            "batches",
            &b.name,
            b.computer.clone(),
            b.id.to_string(),
        ));
    }
    for p in &r.profiles {
        rows.push(row(
            "profiles",
            &p.computer_name,
            p.path.clone(),
            p.last_used.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ));
    }
    for m in &r.messages {
        rows.push(row(
            "errors",
            &m.stage,
            m.message.clone(),
            format!("{:?} at {}", m.level, m.at.to_rfc3339()),
        ));
    }
    let body = crate::csv_export::write(["tab", "item", "value", "detail"], rows)?;
    let name = format!("object-{}.csv", o.guid);
    Ok(axum::response::IntoResponse::into_response(
        crate::csv_export::download(&name, body),
    ))
}
