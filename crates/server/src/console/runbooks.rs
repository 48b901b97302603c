//! Runbooks: the list, a form for a new one, and one runbook's editor with its general settings
//! and six tabs (Startup, User Experience, Device State, Permission Updates, App
//! Reconfiguration, Completion). Each tab is a form with a field per setting (see `tab_form`), or
//! the JSON document the API takes for it; errors show beside their field and nothing is saved
//! when any is wrong. Passwords are write-only: never shown, and left out they keep the stored
//! value.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use model::directory::Directory;
use model::ids::{DirectoryId, RunbookId};
use model::runbook::Runbook;
use serde::Deserialize;

use super::forms::{poster, Errors, Posted};
use super::table::link;
use super::Viewer;
use crate::auth::{Access, Area, CsrfPending};
use crate::migration::runbooks;
use crate::{App, Error, Result};

/// The six tabs: the field each edits and its title.
pub const TABS: [(&str, &str); 6] = [
    ("startup", "Startup"),
    ("user_experience", "User Experience"),
    ("device_state", "Device State"),
    ("permissions", "Permission Updates"),
    ("apps", "App Reconfiguration"),
    ("completion", "Completion"),
];

/// One tab of `runbook` as pretty JSON (secrets are never serialized).
fn tab_json(runbook: &Runbook, tab: &str) -> Result<String> {
    let value = serde_json::to_value(runbook)
        .map_err(|e| Error::Internal(format!("cannot show the runbook: {e}")))?;
    serde_json::to_string_pretty(value.get(tab).unwrap_or(&serde_json::Value::Null))
        .map_err(|e| Error::Internal(format!("cannot show the runbook: {e}")))
}

/// `runbook` with `tab` replaced by `text`; a parse error is an error on the tab.
fn with_tab(runbook: &Runbook, tab: &str, text: &str) -> std::result::Result<Runbook, Errors> {
    let parsed: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Errors::one(tab, format!("not valid JSON: {e}")))?;
    let mut whole = serde_json::to_value(runbook)
        .map_err(|e| Errors::one(tab, format!("cannot read the runbook: {e}")))?;
    if let Some(map) = whole.as_object_mut() {
        map.insert(tab.to_string(), parsed);
    }
    serde_json::from_value(whole).map_err(|e| Errors::one(tab, e.to_string()))
}

struct Lookups {
    directories: Vec<Directory>,
    runbooks: Vec<Runbook>,
}

impl Lookups {
    async fn load(app: &App) -> Result<Lookups> {
        let mut directories = app.store.directories().await?;
        directories.sort_by(|a, b| a.name.cmp(&b.name));
        let mut runbooks = app.store.runbooks().await?;
        runbooks.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Lookups {
            directories,
            runbooks,
        })
    }

    fn directory(&self, id: &DirectoryId) -> String {
        self.directories
            .iter()
            .find(|d| d.id == *id)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| id.to_string())
    }
}

/// The general settings: the fields of a new runbook and the General tab.
#[derive(Default, Deserialize)]
pub struct GeneralForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    target_directory: String,
    #[serde(default)]
    allow_on_server_os: Option<String>,
}

/// Reads the general fields from the form's pairs (checkboxes repeat `source` and `prerequisite`).
fn general(
    pairs: &[(String, String)],
) -> std::result::Result<(GeneralForm, Vec<DirectoryId>, Vec<RunbookId>), Errors> {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let form = GeneralForm {
        name: field("name").unwrap_or_default(),
        target_directory: field("target_directory").unwrap_or_default(),
        allow_on_server_os: field("allow_on_server_os"),
    };
    let mut errors = Vec::new();
    let sources: Vec<DirectoryId> = pairs
        .iter()
        .filter(|(k, _)| k == "source")
        .filter_map(|(_, v)| match v.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(model::FieldError::new(
                    "source_directories",
                    "no such directory",
                ));
                None
            }
        })
        .collect();
    let prerequisites: Vec<RunbookId> = pairs
        .iter()
        .filter(|(k, _)| k == "prerequisite")
        .filter_map(|(_, v)| match v.parse() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(model::FieldError::new("prerequisites", "no such runbook"));
                None
            }
        })
        .collect();
    if errors.is_empty() {
        Ok((form, sources, prerequisites))
    } else {
        Err(Errors(errors))
    }
}

fn general_fields(
    viewer: &Viewer,
    lookups: &Lookups,
    runbook: Option<&Runbook>,
    errors: &Errors,
    edit: bool,
) -> Markup {
    let own = runbook.map(|r| r.id);
    html! {
        @if edit { (viewer.csrf()) }
        label for="name" { "Name" }
        input #name name="name" required maxlength="100" value=(runbook.map(|r| r.name.as_str()).unwrap_or_default()) disabled[!edit];
        (errors.at("name"))
        fieldset {
            legend { "Source directories" }
            @for d in &lookups.directories {
                label.check { input type="checkbox" name="source" value=(d.id) checked[runbook.is_some_and(|r| r.source_directories.contains(&d.id))] disabled[!edit]; " " (d.name) }
            }
            (errors.at("source_directories"))
        }
        label for="target_directory" { "Target directory" }
        select #target_directory name="target_directory" disabled[!edit] {
            @for d in &lookups.directories {
                option value=(d.id) selected[runbook.is_some_and(|r| r.target_directory == d.id)] { (d.name) " (" (d.kind.as_str()) ")" }
            }
        }
        (errors.at("target_directory"))
        label.check { input type="checkbox" name="allow_on_server_os" value="on" checked[runbook.is_some_and(|r| r.allow_on_server_os)] disabled[!edit]; " May run on a server edition of Windows" }
        fieldset {
            legend { "Prerequisites (must have Completed on the device first)" }
            @for r in lookups.runbooks.iter().filter(|r| Some(r.id) != own) {
                label.check { input type="checkbox" name="prerequisite" value=(r.id) checked[runbook.is_some_and(|x| x.prerequisites.contains(&r.id))] disabled[!edit]; " " (r.name) }
            }
            @if lookups.runbooks.iter().all(|r| Some(r.id) == own) { p.muted { "No other runbook." } }
            (errors.at("prerequisites"))
        }
    }
}

async fn list_page(app: &App, viewer: &Viewer, errors: &Errors) -> Result<Markup> {
    let lookups = Lookups::load(app).await?;
    let edit = viewer.may(Area::Agent, Access::Edit);
    let names: HashMap<RunbookId, String> = lookups
        .runbooks
        .iter()
        .map(|r| (r.id, r.name.clone()))
        .collect();
    Ok(html! {
        h1 { "Runbooks" }
        table {
            thead { tr { th { "Runbook" } th { "From" } th { "To" } th { "Prerequisites" } th { "" } } }
            tbody {
                @for r in &lookups.runbooks {
                    tr {
                        td { a href=(format!("/runbooks/{}", r.id)) { (r.name) } }
                        td { (r.source_directories.iter().map(|d| lookups.directory(d)).collect::<Vec<_>>().join(", ")) }
                        td { (lookups.directory(&r.target_directory)) }
                        td { (r.prerequisites.iter().map(|p| names.get(p).cloned().unwrap_or_else(|| p.to_string())).collect::<Vec<_>>().join(", ")) }
                        td { a href=(format!("/runbooks/{}", r.id)) { @if edit { "Edit" } @else { "View" } } }
                    }
                }
            }
        }
        @if lookups.runbooks.is_empty() { p.muted { "No runbook yet." } }
        @if edit {
            h2 { "New runbook" }
            (errors.rest(&["name", "source_directories", "target_directory", "prerequisites"]))
            form.editor method="post" action="/runbooks" {
                (general_fields(viewer, &lookups, None, errors, true))
                p { button type="submit" { "Create runbook" } }
            }
        }
    })
}

/// `GET /runbooks`.
pub async fn list(State(app): State<App>, viewer: Viewer) -> Result<Response> {
    let body = list_page(&app, &viewer, &Errors::default()).await?;
    Ok(viewer.agent_page("Runbooks", body))
}

/// `POST /runbooks`: a new runbook with the general settings and every tab at its defaults.
pub async fn create(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    let viewer = poster(pending, csrf, Area::Agent, Access::Edit)?;
    let result = match general(&pairs) {
        Err(errors) => Err(errors),
        Ok((form, sources, prerequisites)) => match form.target_directory.parse::<DirectoryId>() {
            Err(_) => Err(Errors::one("target_directory", "choose a directory")),
            Ok(target) => {
                let runbook = Runbook {
                    id: RunbookId::new(),
                    name: form.name,
                    source_directories: sources,
                    target_directory: target,
                    allow_on_server_os: form.allow_on_server_os.is_some(),
                    prerequisites,
                    startup: Default::default(),
                    user_experience: Default::default(),
                    device_state: Default::default(),
                    permissions: Default::default(),
                    apps: Default::default(),
                    completion: Default::default(),
                };
                runbooks::create(&app, runbook)
                    .await
                    .map_err(Errors::from_error)
                    .map_err(|e| match e {
                        Ok(errors) => errors,
                        Err(other) => Errors::one("", other.to_string()),
                    })
            }
        },
    };
    match result {
        Ok(r) => Ok(crate::audit::created(
            Redirect::to(&format!("/runbooks/{}", r.id)).into_response(),
            format!("/api/v1/runbooks/{}", r.id),
        )),
        Err(errors) => {
            let body = list_page(&app, &viewer, &errors).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                viewer.layout("Runbooks", body),
            )
                .into_response())
        }
    }
}

/// Which tab of the editor.
#[derive(Default, Deserialize)]
pub struct TabQuery {
    #[serde(default)]
    tab: Option<String>,
    /// Edits the tab as the JSON document the API takes.
    #[serde(default)]
    json: Option<String>,
}

/// What a tab's editor shows: the stored settings, or what was posted with its errors.
#[derive(Clone, Copy)]
enum Typed<'a> {
    /// The stored settings as fields.
    Fields,
    /// The stored settings as JSON.
    Json,
    /// The fields as posted.
    PostedFields(&'a [(String, String)]),
    /// The JSON as posted.
    PostedJson(&'a str),
}

fn tab_title(tab: &str) -> &'static str {
    TABS.iter()
        .find(|(key, _)| *key == tab)
        .map(|(_, title)| *title)
        .unwrap_or("General")
}

async fn editor(
    app: &App,
    viewer: &Viewer,
    runbook: &Runbook,
    tab: &str,
    errors: &Errors,
    typed: Typed<'_>,
) -> Result<Markup> {
    let lookups = Lookups::load(app).await?;
    let edit = viewer.may(Area::Agent, Access::Edit);
    let base = format!("/runbooks/{}", runbook.id);
    let set = app.store.runbook_secrets_set(runbook.id).await?;
    Ok(html! {
        h1 { "Runbook " (runbook.name) }
        @if !edit { p.notice { "You may view this runbook; changing it needs the Agent Admin role." } }
        nav.tabs aria-label="Runbook tabs" {
            a href=(base) aria-current=[(tab == "general").then_some("page")] { "General" }
            @for (key, title) in TABS {
                a href=(link(&base, &[("tab", key)])) aria-current=[(tab == key).then_some("page")] { (title) }
            }
            a href=(format!("{base}/preview")) { "Dialog preview" }
        }
        @if tab == "general" {
            (errors.rest(&["name", "source_directories", "target_directory", "prerequisites"]))
            @if edit {
                form.editor method="post" action=(format!("{base}/general")) {
                    (general_fields(viewer, &lookups, Some(runbook), errors, edit))
                    p { button type="submit" { "Save" } }
                }
            } @else {
                div.editor { (general_fields(viewer, &lookups, Some(runbook), errors, edit)) }
            }
        } @else if matches!(typed, Typed::Fields | Typed::PostedFields(_)) {
            @let posted = match typed { Typed::PostedFields(p) => Some(p), _ => None };
            @let inner = super::tab_form::fields(runbook, tab, posted, errors, edit);
            p.muted {
                "Passwords are never shown; left empty, the stored one is kept. "
                a href=(link(&base, &[("tab", tab), ("json", "1")])) { "Edit as JSON" }
            }
            @if edit {
                form.editor.settings method="post" action=(format!("{base}/tabs/{tab}")) {
                    (viewer.csrf())
                    // Enter in a field submits the form's first button: this one saves, so
                    // it never adds or removes a section instead.
                    button.default-save type="submit" tabindex="-1" aria-hidden="true" { "Save " (tab_title(tab)) }
                    (inner)
                    p { button type="submit" { "Save " (tab_title(tab)) } }
                }
            } @else {
                div.editor.settings { (inner) }
            }
        } @else {
            @let text = match typed { Typed::PostedJson(t) => t.to_string(), _ => tab_json(runbook, tab)? };
            (errors.rest(&[tab]))
            @let inner = html! {
                label for="settings" { (tab_title(tab)) " settings" }
                p.muted {
                    "Every setting of the tab, as the API takes it. Passwords are never shown: add "
                    code { "\"password\": \"…\"" } " where one belongs to set it; left out, the stored one is kept. "
                    a href=(link(&base, &[("tab", tab)])) { "Edit as fields" }
                    @if tab == "device_state" || tab == "completion" || tab == "startup" {
                        " Stored: fallback administrator password " (if set.admin_fallback_password { "set" } else { "not set" })
                        ", domain join password " (if set.domain_join_password { "set" } else { "not set" })
                        ", file share password " (if set.remote_file_shares_password { "set" } else { "not set" }) "."
                    }
                }
                textarea #settings name="settings" rows="22" spellcheck="false" readonly[!edit] { (text) }
                (errors.at(tab))
            };
            @if edit {
                form.editor method="post" action=(format!("{base}/tabs/{tab}")) {
                    (viewer.csrf())
                    (inner)
                    p { button type="submit" { "Save " (tab_title(tab)) } }
                }
            } @else {
                div.editor { (inner) }
            }
        }
        @if edit {
            h2 { "Delete" }
            form method="post" action=(format!("{base}/delete")) data-confirm=(format!("Delete the runbook {}?", runbook.name)) {
                (viewer.csrf())
                button.danger type="submit" { "Delete runbook" }
            }
        }
    })
}

fn runbook_id(id: &str) -> Result<RunbookId> {
    id.parse().map_err(|_| Error::NotFound("runbook"))
}

async fn stored(app: &App, id: RunbookId) -> Result<Runbook> {
    app.store
        .runbook(id)
        .await?
        .ok_or(Error::NotFound("runbook"))
}

/// `GET /runbooks/{id}?tab=`.
pub async fn one(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<TabQuery>,
) -> Result<Response> {
    if viewer.caller.require(Area::Agent, Access::Read).is_err() {
        return Ok(viewer.agent_page("Runbook", html! {}));
    }
    let runbook = stored(&app, runbook_id(&id)?).await?;
    let tab = q
        .tab
        .as_deref()
        .filter(|t| TABS.iter().any(|(key, _)| key == t))
        .unwrap_or("general");
    let typed = if q.json.is_some() {
        Typed::Json
    } else {
        Typed::Fields
    };
    let body = editor(&app, &viewer, &runbook, tab, &Errors::default(), typed).await?;
    Ok(viewer.agent_page(&format!("Runbook {}", runbook.name), body))
}

async fn save(
    app: &App,
    viewer: &Viewer,
    original: &Runbook,
    changed: std::result::Result<Runbook, Errors>,
    tab: &str,
    typed: Typed<'_>,
) -> Result<Response> {
    let errors = match changed {
        Ok(runbook) => match runbooks::update(app, runbook).await {
            Ok(saved) => {
                let to = if tab == "general" {
                    format!("/runbooks/{}", saved.id)
                } else {
                    link(&format!("/runbooks/{}", saved.id), &[("tab", tab)])
                };
                return Ok(Redirect::to(&to).into_response());
            }
            Err(e) => Errors::from_error(e)?,
        },
        Err(errors) => errors,
    };
    let body = editor(app, viewer, original, tab, &errors, typed).await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        viewer.layout(&format!("Runbook {}", original.name), body),
    )
        .into_response())
}

/// `POST /runbooks/{id}/general`.
pub async fn save_general(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    let viewer = poster(pending, csrf, Area::Agent, Access::Edit)?;
    let original = stored(&app, runbook_id(&id)?).await?;
    let changed = general(&pairs).and_then(|(form, sources, prerequisites)| {
        let target = form
            .target_directory
            .parse::<DirectoryId>()
            .map_err(|_| Errors::one("target_directory", "choose a directory"))?;
        Ok(Runbook {
            name: form.name,
            source_directories: sources,
            target_directory: target,
            allow_on_server_os: form.allow_on_server_os.is_some(),
            prerequisites,
            ..original.clone()
        })
    });
    save(&app, &viewer, &original, changed, "general", Typed::Fields).await
}

/// `POST /runbooks/{id}/tabs/{tab}`: the tab's fields, or (with `settings`) its JSON.
pub async fn save_tab(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path((id, tab)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    let viewer = poster(pending, csrf, Area::Agent, Access::Edit)?;
    let Some((tab, _)) = TABS.iter().find(|(key, _)| *key == tab) else {
        return Err(Error::NotFound("runbook tab"));
    };
    let original = stored(&app, runbook_id(&id)?).await?;
    match pairs.iter().find(|(k, _)| k == "settings") {
        Some((_, json)) => {
            let changed = with_tab(&original, tab, json);
            save(
                &app,
                &viewer,
                &original,
                changed,
                tab,
                Typed::PostedJson(json),
            )
            .await
        }
        None => match super::tab_form::Action::of(&pairs) {
            // Add, Remove and Copy To change the form, not the runbook: it is drawn again with
            // the change, and only Save stores it.
            Some(action) => match super::tab_form::apply(&original, &pairs, &action) {
                Ok(next) => redraw(&app, &viewer, &original, tab, &next, Errors::default()).await,
                Err(errors) => redraw(&app, &viewer, &original, tab, &pairs, errors).await,
            },
            // Save buttons send no `action`: one that is not Add, Remove or Copy was not sent
            // by this form, and saves nothing.
            None if pairs.iter().any(|(k, _)| k == "action") => {
                let errors = Errors(vec![model::FieldError::new(
                    "",
                    "press Save, or the Add, Remove or Copy button beside a row",
                )]);
                redraw(&app, &viewer, &original, tab, &pairs, errors).await
            }
            None => {
                let changed = super::tab_form::read(&original, tab, &pairs);
                save(
                    &app,
                    &viewer,
                    &original,
                    changed,
                    tab,
                    Typed::PostedFields(&pairs),
                )
                .await
            }
        },
    }
}

/// A tab's editor drawn again from posted fields without saving: 200 with no errors, 422 with
/// them beside their fields.
async fn redraw(
    app: &App,
    viewer: &Viewer,
    original: &Runbook,
    tab: &str,
    fields: &[(String, String)],
    errors: Errors,
) -> Result<Response> {
    let status = if errors.0.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let body = editor(
        app,
        viewer,
        original,
        tab,
        &errors,
        Typed::PostedFields(fields),
    )
    .await?;
    Ok((
        status,
        viewer.layout(&format!("Runbook {}", original.name), body),
    )
        .into_response())
}

/// `POST /runbooks/{id}/delete`.
pub async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response> {
    posted.check(Area::Agent, Access::Edit)?;
    runbooks::delete(&app, runbook_id(&id)?).await?;
    Ok(Redirect::to("/runbooks").into_response())
}
