//! Batches: the list with a form for a new batch, and one batch's page with its runbook
//! assignments (only compatible runbooks offered, the prerequisite-order warning shown), its
//! computers (type-ahead, CSV import with per-line errors, CSV export) and deletion. Agent
//! operators and admins change batches; viewers see the same pages without any form.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::ids::{BatchId, DirectoryId, ObjectGuid, RunbookId};
use serde::Deserialize;

use super::forms::{poster, Errors, Posted};
use super::keys::parse_local;
use super::Viewer;
use crate::auth::{Access, Area, CsrfPending};
use crate::migration::batches::{self, BatchView};
use crate::{App, Error, Result};

/// Suggestions the computer type-ahead offers.
const SUGGESTIONS: i64 = 20;

async fn directory_names(app: &App) -> Result<HashMap<DirectoryId, String>> {
    Ok(app
        .store
        .directories()
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect())
}

fn name_of<K: std::hash::Hash + Eq + std::fmt::Display>(
    names: &HashMap<K, String>,
    id: &K,
) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.to_string())
}

async fn list_page(
    app: &App,
    viewer: &Viewer,
    errors: &Errors,
    form: &NewBatchForm,
) -> Result<Markup> {
    let views = batches::views(app).await?;
    let dirs = directory_names(app).await?;
    let mut directories: Vec<_> = dirs.iter().collect();
    directories.sort_by(|a, b| a.1.cmp(b.1));
    let operate = viewer.may(Area::Agent, Access::Operate);
    Ok(html! {
        h1 { "Batches" }
        table {
            thead { tr { th { "Batch" } th { "From" } th { "To" } th { "Runbooks" } th { "Computers" } th { "Warnings" } } }
            tbody {
                @for v in &views {
                    tr {
                        td { a href=(format!("/batches/{}", v.batch.id)) { (v.batch.name) } }
                        td { (name_of(&dirs, &v.batch.source_directory)) }
                        td { (name_of(&dirs, &v.batch.target_directory)) }
                        td { (v.batch.assignments.len()) }
                        td { (selection_text(&v.batch.computers)) }
                        td { @if !v.warnings.is_empty() { span.status-Error { (v.warnings.len()) } } }
                    }
                }
            }
        }
        @if views.is_empty() { p.muted { "No batch yet." } }
        @if operate {
            h2 { "New batch" }
            (errors.rest(&["name", "source_directory", "target_directory", "mode"]))
            form.editor method="post" action="/batches" {
                (viewer.csrf())
                label for="name" { "Name" }
                input #name name="name" required maxlength="100" value=(form.name);
                (errors.at("name"))
                label for="source_directory" { "Source directory" }
                select #source_directory name="source_directory" {
                    @for (id, name) in &directories { option value=(id) selected[form.source_directory == id.to_string()] { (name) } }
                }
                (errors.at("source_directory"))
                label for="target_directory" { "Target directory" }
                select #target_directory name="target_directory" {
                    @for (id, name) in &directories { option value=(id) selected[form.target_directory == id.to_string()] { (name) } }
                }
                (errors.at("target_directory"))
                label for="mode" { "Computers" }
                select #mode name="mode" {
                    option value="NoneExcept" { "None except those listed" }
                    option value="AllExcept" selected[form.mode == "AllExcept"] { "All except those listed" }
                }
                (errors.at("mode"))
                p { button type="submit" { "Create batch" } }
            }
        }
    })
}

fn selection_text(s: &ComputerSelection) -> String {
    match s.mode {
        SelectionMode::NoneExcept => format!("{} listed", s.computers.len()),
        SelectionMode::AllExcept => format!("all except {} listed", s.computers.len()),
    }
}

/// `GET /batches`.
pub async fn list(State(app): State<App>, viewer: Viewer) -> Result<Response> {
    let body = list_page(&app, &viewer, &Errors::default(), &NewBatchForm::default()).await?;
    Ok(viewer.agent_page("Batches", body))
}

/// The new-batch form.
#[derive(Default, Deserialize)]
pub struct NewBatchForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    source_directory: String,
    #[serde(default)]
    target_directory: String,
    #[serde(default)]
    mode: String,
}

fn directory_field(field: &str, text: &str) -> std::result::Result<DirectoryId, Errors> {
    text.trim()
        .parse()
        .map_err(|_| Errors::one(field, "choose a directory"))
}

fn mode_field(text: &str) -> std::result::Result<SelectionMode, Errors> {
    match text.trim() {
        "NoneExcept" => Ok(SelectionMode::NoneExcept),
        "AllExcept" => Ok(SelectionMode::AllExcept),
        _ => Err(Errors::one(
            "mode",
            "choose None except those listed or All except those listed",
        )),
    }
}

/// `POST /batches`: a new batch without runbooks, then its page.
pub async fn create(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Form(form): Form<NewBatchForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Agent, Access::Operate)?;
    let fields = directory_field("source_directory", &form.source_directory)
        .and_then(|s| directory_field("target_directory", &form.target_directory).map(|t| (s, t)))
        .and_then(|(s, t)| mode_field(&form.mode).map(|mode| (s, t, mode)));
    let result = match fields {
        Err(errors) => Err(errors),
        Ok((source, target, mode)) => {
            let batch = Batch {
                id: BatchId::new(),
                name: form.name.clone(),
                source_directory: source,
                target_directory: target,
                assignments: Vec::new(),
                computers: ComputerSelection {
                    mode,
                    computers: Vec::new(),
                },
            };
            match batches::create(&app, batch).await {
                Ok(b) => Ok(b),
                Err(e) => Err(Errors::from_error(e)?),
            }
        }
    };
    match result {
        Ok(b) => Ok(crate::audit::created(
            Redirect::to(&format!("/batches/{}", b.id)).into_response(),
            format!("/api/v1/batches/{}", b.id),
        )),
        Err(errors) => {
            let body = list_page(&app, &viewer, &errors, &form).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                viewer.layout("Batches", body),
            )
                .into_response())
        }
    }
}

fn batch_id(id: &str) -> Result<BatchId> {
    id.parse().map_err(|_| Error::NotFound("batch"))
}

/// What one batch's page shows besides the batch: a refused form's errors and what was typed.
#[derive(Default)]
struct Outcome {
    errors: Errors,
    csv: String,
    notice: Option<String>,
}

/// The computers a batch's page lists; its CSV holds every one.
const COMPUTERS_SHOWN: usize = 500;

async fn batch_page(
    app: &App,
    viewer: &Viewer,
    view: &BatchView,
    outcome: &Outcome,
) -> Result<Markup> {
    let batch = &view.batch;
    let dirs = directory_names(app).await?;
    let runbooks: HashMap<RunbookId, String> = app
        .store
        .runbooks()
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect();
    let compatible =
        batches::compatible_runbooks(app, batch.source_directory, batch.target_directory).await?;
    let shown: Vec<_> = batch
        .computers
        .computers
        .iter()
        .take(COMPUTERS_SHOWN)
        .copied()
        .collect();
    let names = app
        .store
        .object_names_of(batch.source_directory, &shown)
        .await?;
    let operate = viewer.may(Area::Agent, Access::Operate);
    let errors = &outcome.errors;
    let base = format!("/batches/{}", batch.id);
    // The fields of the assignment the form adds, which its errors name.
    let next = |name: &str| format!("assignments[{}].{name}", batch.assignments.len());
    let [runbook_field, available_field, enforced_field, timezone_field] =
        ["runbook", "available_from", "enforced_after", "timezone"].map(next);
    let beside = [
        "computers",
        "csv",
        "name",
        "computer",
        &runbook_field,
        &available_field,
        &enforced_field,
        &timezone_field,
    ];
    Ok(html! {
        h1 { "Batch " (batch.name) }
        p.muted { "From " (name_of(&dirs, &batch.source_directory)) " to " (name_of(&dirs, &batch.target_directory)) "." }
        @if let Some(n) = &outcome.notice { p.notice role="status" { (n) } }
        @if !view.warnings.is_empty() {
            div.warnings role="status" {
                p { strong { "Warnings" } }
                ul { @for w in &view.warnings { li { code { (w.field) } ": " (w.message) } } }
            }
        }
        p { a href=(format!("{base}/readiness")) { "Readiness of this batch's devices" } }
        h2 { "Runbooks" }
        @if batch.assignments.is_empty() { p.muted { "No runbook is assigned yet." } }
        @else {
            table {
                thead { tr { th { "Runbook" } th { "Available From" } th { "Enforced After" } th { "Time zone" } @if operate { th { "" } } } }
                tbody {
                    @for (i, a) in batch.assignments.iter().enumerate() {
                        tr {
                            td { (name_of(&runbooks, &a.runbook)) }
                            td { @if let Some(at) = a.available_from { (at.format("%Y-%m-%d %H:%M")) } @else { span.muted { "only when enforced" } } }
                            td { (a.enforced_after.format("%Y-%m-%d %H:%M")) }
                            td { (match a.timezone { ScheduleTimezone::Local => "Local", ScheduleTimezone::Utc => "UTC" }) }
                            @if operate {
                                td {
                                    form method="post" action=(format!("{base}/assignments/{i}/delete")) {
                                        (viewer.csrf())
                                        button.link type="submit" { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if operate {
            details.dialog open[errors.0.iter().any(|e| e.field.starts_with("assignments"))] {
                summary { "Assign a runbook" }
                (errors.rest(&beside))
                @if compatible.is_empty() {
                    p.muted { "No runbook goes from this batch's source directory to its target directory." }
                } @else {
                    form.editor method="post" action=(format!("{base}/assignments")) {
                        (viewer.csrf())
                        label for="runbook" { "Runbook (only those from this source to this target)" }
                        select #runbook name="runbook" {
                            @for r in &compatible { option value=(r.id) { (r.name) } }
                        }
                        (errors.at(&runbook_field))
                        label for="available_from" { "Available From (optional)" }
                        input #available_from name="available_from" type="datetime-local";
                        (errors.at(&available_field))
                        label for="enforced_after" { "Enforced After" }
                        input #enforced_after name="enforced_after" type="datetime-local" required;
                        (errors.at(&enforced_field))
                        label for="timezone" { "Time zone" }
                        select #timezone name="timezone" {
                            option value="Local" { "Local (each device's clock)" }
                            option value="Utc" { "UTC (one instant everywhere)" }
                        }
                        (errors.at(&timezone_field))
                        p { button type="submit" { "Assign" } }
                    }
                }
            }
        }
        h2 { "Computers" }
        p { (selection_text(&batch.computers)) " · " a href=(format!("{base}/computers.csv")) download { "Download the list as CSV" } }
        @if !batch.computers.computers.is_empty() {
            table {
                thead { tr { th { "Computer" } th { "objectGuid" } } }
                tbody {
                    @for g in &shown {
                        tr { td { (name_of(&names, g)) } td { code { (g) } } }
                    }
                }
            }
            @if batch.computers.computers.len() > COMPUTERS_SHOWN { p.muted { "The first 500 are shown; the CSV holds every one." } }
        }
        @if operate {
            h3 { "Add a computer" }
            form.editor method="post" action=(format!("{base}/computers")) {
                (viewer.csrf())
                label for="computer" { "Computer name (type to search the imported computers)" }
                input #computer name="computer" list="computer-suggestions" autocomplete="off"
                    data-suggest=(format!("{base}/suggest")) required;
                datalist #computer-suggestions {}
                (errors.at("computer"))
                p { button type="submit" { "Add computer" } }
            }
            h3 { "Import a computer list" }
            p.muted { "A CSV with the columns " code { "name" } " and " code { "objectGuid" } "; it replaces the listed computers. A bad line is reported and nothing changes." }
            @let line_errors: Vec<_> = errors.0.iter().filter(|e| e.field.starts_with("line ") || e.field == "body").collect();
            @if !line_errors.is_empty() {
                div.errors role="alert" #csv-errors {
                    p { "Nothing was imported:" }
                    ul { @for e in &line_errors { li { strong { (e.field) } ": " (e.message) } } }
                }
            }
            form.editor method="post" action=(format!("{base}/import")) {
                (viewer.csrf())
                label for="csv" { "CSV" }
                textarea #csv name="csv" rows="6" spellcheck="false" { (outcome.csv) }
                p { button type="submit" { "Import list" } }
            }
            h3 { "Delete" }
            form method="post" action=(format!("{base}/delete")) data-confirm=(format!("Delete the batch {}?", batch.name)) {
                (viewer.csrf())
                button.danger type="submit" { "Delete batch" }
            }
        }
    })
}

async fn show(
    app: &App,
    viewer: &Viewer,
    id: BatchId,
    outcome: Outcome,
    status: StatusCode,
) -> Result<Response> {
    let view = batches::get(app, id).await?;
    let body = batch_page(app, viewer, &view, &outcome).await?;
    let title = format!("Batch {}", view.batch.name);
    Ok((status, viewer.layout(&title, body)).into_response())
}

/// `GET /batches/{id}`.
pub async fn one(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response> {
    if viewer.caller.require(Area::Agent, Access::Read).is_err() {
        return Ok(viewer.agent_page("Batch", html! {}));
    }
    show(
        &app,
        &viewer,
        batch_id(&id)?,
        Outcome::default(),
        StatusCode::OK,
    )
    .await
}

/// The assignment form.
#[derive(Deserialize)]
pub struct AssignmentForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    runbook: String,
    #[serde(default)]
    available_from: String,
    #[serde(default)]
    enforced_after: String,
    #[serde(default)]
    timezone: String,
}

/// Saves `batch` and shows its page, or shows the page with the errors and nothing saved.
async fn save(app: &App, viewer: &Viewer, batch: Batch, csv: String) -> Result<Response> {
    let id = batch.id;
    match batches::update(app, batch).await {
        Ok(_) => Ok(Redirect::to(&format!("/batches/{id}")).into_response()),
        Err(e) => {
            let outcome = Outcome {
                errors: Errors::from_error(e)?,
                csv,
                notice: None,
            };
            show(app, viewer, id, outcome, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn refuse(
    app: &App,
    viewer: &Viewer,
    id: BatchId,
    errors: Errors,
    csv: String,
) -> Result<Response> {
    let outcome = Outcome {
        errors,
        csv,
        notice: None,
    };
    show(app, viewer, id, outcome, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// `POST /batches/{id}/assignments`: adds a runbook assignment.
pub async fn assign(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(id): Path<String>,
    Form(form): Form<AssignmentForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Agent, Access::Operate)?;
    let id = batch_id(&id)?;
    let mut batch = batches::get(&app, id).await?.batch;
    let at = batch.assignments.len();
    let field = |name: &str| format!("assignments[{at}].{name}");
    let runbook: RunbookId = match form.runbook.trim().parse() {
        Ok(r) => r,
        Err(_) => {
            return refuse(
                &app,
                &viewer,
                id,
                Errors::one(&field("runbook"), "choose a runbook"),
                String::new(),
            )
            .await
        }
    };
    let available_from = match parse_local(&field("available_from"), &form.available_from) {
        Ok(v) => v,
        Err(errors) => return refuse(&app, &viewer, id, errors, String::new()).await,
    };
    let enforced_after = match parse_local(&field("enforced_after"), &form.enforced_after) {
        Ok(Some(v)) => v,
        Ok(None) => {
            return refuse(
                &app,
                &viewer,
                id,
                Errors::one(
                    &field("enforced_after"),
                    "required: when the runbook starts without asking",
                ),
                String::new(),
            )
            .await
        }
        Err(errors) => return refuse(&app, &viewer, id, errors, String::new()).await,
    };
    let timezone = match form.timezone.trim() {
        "Local" => ScheduleTimezone::Local,
        "Utc" => ScheduleTimezone::Utc,
        _ => {
            return refuse(
                &app,
                &viewer,
                id,
                Errors::one(&field("timezone"), "choose Local or UTC"),
                String::new(),
            )
            .await
        }
    };
    batch.assignments.push(Assignment {
        runbook,
        available_from,
        enforced_after,
        timezone,
    });
    save(&app, &viewer, batch, String::new()).await
}

/// `POST /batches/{id}/assignments/{index}/delete`.
pub async fn unassign(
    State(app): State<App>,
    Path((id, index)): Path<(String, usize)>,
    posted: Posted,
) -> Result<Response> {
    let viewer = posted.check(Area::Agent, Access::Operate)?;
    let mut batch = batches::get(&app, batch_id(&id)?).await?.batch;
    if index >= batch.assignments.len() {
        return Err(Error::NotFound("assignment"));
    }
    batch.assignments.remove(index);
    save(&app, &viewer, batch, String::new()).await
}

/// The add-a-computer form.
#[derive(Deserialize)]
pub struct ComputerForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    computer: String,
}

/// `POST /batches/{id}/computers`: lists the imported computer of that exact name.
pub async fn add_computer(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(id): Path<String>,
    Form(form): Form<ComputerForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Agent, Access::Operate)?;
    let id = batch_id(&id)?;
    let mut batch = batches::get(&app, id).await?.batch;
    let name = form.computer.trim();
    let found: Vec<ObjectGuid> = batches::computers(
        &app,
        batch.source_directory,
        name,
        batches::MAX_COMPUTER_LIMIT,
    )
    .await?
    .into_iter()
    .filter(|c| c.name.eq_ignore_ascii_case(name))
    .map(|c| c.guid)
    .collect();
    let guid = match found.as_slice() {
        [one] => *one,
        [] => return refuse(&app, &viewer, id, Errors::one("computer", format!("no imported computer of the source directory is named {name:?}")), String::new()).await,
        _ => return refuse(&app, &viewer, id, Errors::one("computer", format!("several imported computers are named {name:?}; import a CSV with their objectGuid instead")), String::new()).await,
    };
    if !batch.computers.computers.contains(&guid) {
        batch.computers.computers.push(guid);
    }
    save(&app, &viewer, batch, String::new()).await
}

/// The type-ahead's question.
#[derive(Deserialize)]
pub struct SuggestQuery {
    #[serde(default)]
    q: String,
}

/// `GET /batches/{id}/suggest?q=`: the options of the computer type-ahead, as HTML.
pub async fn suggest(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<SuggestQuery>,
) -> Result<Response> {
    viewer.caller.require(Area::Agent, Access::Read)?;
    let batch = batches::get(&app, batch_id(&id)?).await?.batch;
    let found = batches::computers(&app, batch.source_directory, q.q.trim(), SUGGESTIONS).await?;
    Ok(html! { @for c in &found { option value=(c.name) {} } }.into_response())
}

/// The CSV import form.
#[derive(Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    csv: String,
}

/// `POST /batches/{id}/import`: replaces the listed computers with a CSV's, or shows each bad
/// line and changes nothing.
pub async fn import(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(id): Path<String>,
    Form(form): Form<ImportForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Agent, Access::Operate)?;
    let id = batch_id(&id)?;
    match batches::import_computer_list(&app, id, form.csv.as_bytes()).await {
        Ok(view) => {
            let n = view.batch.computers.computers.len();
            let outcome = Outcome {
                notice: Some(format!("Imported: {n} computers listed.")),
                ..Outcome::default()
            };
            show(&app, &viewer, id, outcome, StatusCode::OK).await
        }
        Err(e) => refuse(&app, &viewer, id, Errors::from_error(e)?, form.csv).await,
    }
}

/// `GET /batches/{id}/computers.csv`.
pub async fn export(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response> {
    viewer.caller.require(Area::Agent, Access::Read)?;
    let id = batch_id(&id)?;
    let body = batches::export_computer_list(&app, id).await?;
    Ok(crate::csv_export::download(&format!("batch-{id}-computers.csv"), body).into_response())
}

/// `POST /batches/{id}/delete`.
pub async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    posted: Posted,
) -> Result<Response> {
    posted.check(Area::Agent, Access::Operate)?;
    batches::delete(&app, batch_id(&id)?).await?;
    Ok(Redirect::to("/batches").into_response())
}
