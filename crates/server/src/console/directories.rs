//! Directories and match profiles (the Sync area). Directories: the list with a form for a new
//! one, and one directory's page with its import runs and a full import from a JSON document.
//! Match profiles: for a source and target pair, the profile as JSON (or a preset), What If,
//! saving it, matching now, and why one user matched or did not. Sync viewers see the same pages
//! without any form that would post.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use model::directory::{Directory, DirectoryKind};
use model::ids::DirectoryId;
use model::FieldError;
use serde::Deserialize;

use super::forms::{poster, Errors};
use super::{when, Viewer};
use crate::auth::{Access, Area, CsrfPending};
use crate::directory::file::{DirectoryDocument, FileSource};
use crate::directory::profile::{self, MatchProfile};
use crate::{App, Error, Result};

/// The form of a new directory.
#[derive(Default, Deserialize)]
pub struct NewDirectoryForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    domain: String,
}

async fn list_page(
    app: &App,
    viewer: &Viewer,
    errors: &Errors,
    form: &NewDirectoryForm,
) -> Result<Markup> {
    let mut directories = app.store.directories().await?;
    directories.sort_by(|a, b| a.name.cmp(&b.name));
    let edit = viewer.may(Area::Sync, Access::Edit);
    Ok(html! {
        h1 { "Directories" }
        table {
            thead { tr { th { "Directory" } th { "Kind" } th { "Domain" } th { "Domain id" } } }
            tbody {
                @for d in &directories {
                    tr {
                        td { a href=(format!("/directories/{}", d.id)) { (d.name) } }
                        td { (kind_label(d.kind)) }
                        td { (d.domain) }
                        td { @if let Some(id) = &d.domain_id { code { (id) } } }
                    }
                }
            }
        }
        @if directories.is_empty() { p.muted { "No directory yet." } }
        @if edit {
            h2 { "Add a directory" }
            (errors.rest(&["name", "kind", "domain"]))
            form.editor method="post" action="/directories" {
                (viewer.csrf())
                label for="name" { "Name" }
                input #name name="name" required value=(form.name);
                (errors.at("name"))
                label for="kind" { "Kind" }
                select #kind name="kind" {
                    option value="ActiveDirectory" { "Active Directory" }
                    option value="EntraId" selected[form.kind == "EntraId"] { "Entra ID" }
                }
                (errors.at("kind"))
                label for="domain" { "DNS domain" }
                input #domain name="domain" required value=(form.domain) placeholder="contoso.com";
                (errors.at("domain"))
                p { button type="submit" { "Add directory" } }
            }
        }
    })
}

fn kind_label(kind: DirectoryKind) -> &'static str {
    match kind {
        DirectoryKind::ActiveDirectory => "Active Directory",
        DirectoryKind::EntraId => "Entra ID",
    }
}

/// `GET /directories`.
pub async fn list(State(app): State<App>, viewer: Viewer) -> Result<Response> {
    let body = list_page(
        &app,
        &viewer,
        &Errors::default(),
        &NewDirectoryForm::default(),
    )
    .await?;
    Ok(viewer.sync_page("Directories", body))
}

/// `POST /directories`.
pub async fn create(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Form(form): Form<NewDirectoryForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Sync, Access::Edit)?;
    let result = match DirectoryKind::parse(form.kind.trim()) {
        None => Err(Errors::one("kind", "Active Directory or Entra ID")),
        Some(kind) => {
            let directory = Directory {
                id: DirectoryId::new(),
                name: form.name.clone(),
                kind,
                domain: form.domain.trim().to_string(),
                domain_id: None,
            };
            match crate::directory::create(&app, directory).await {
                Ok(d) => Ok(d),
                Err(e) => Err(Errors::from_error(e)?),
            }
        }
    };
    match result {
        Ok(d) => Ok(crate::audit::created(
            Redirect::to(&format!("/directories/{}", d.id)).into_response(),
            format!("/api/v1/directories/{}", d.id),
        )),
        Err(errors) => {
            let body = list_page(&app, &viewer, &errors, &form).await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                viewer.layout("Directories", body),
            )
                .into_response())
        }
    }
}

pub(super) async fn directory(app: &App, id: &str) -> Result<Directory> {
    let id: DirectoryId = id.parse().map_err(|_| Error::NotFound("directory"))?;
    app.store
        .directory(id)
        .await?
        .ok_or(Error::NotFound("directory"))
}

pub(super) async fn directory_page(
    app: &App,
    viewer: &Viewer,
    d: &Directory,
    errors: &Errors,
    notice: Option<String>,
    typed: &str,
    connection: Markup,
) -> Result<Markup> {
    let runs = app.store.import_runs(d.id).await?;
    let operate = viewer.may(Area::Sync, Access::Operate);
    Ok(html! {
        h1 { "Directory " (d.name) }
        dl.facts {
            dt { "Kind" } dd { (kind_label(d.kind)) }
            dt { "DNS domain" } dd { (d.domain) }
            dt { "Domain id" } dd { @if let Some(id) = &d.domain_id { code { (id) } } @else { span.muted { "known after the first import" } } }
        }
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        h2 { "Imports" }
        @if runs.is_empty() { p.muted { "Not imported yet." } }
        @else {
            table {
                thead { tr { th { "Started" } th { "Kind" } th { "Objects" } th { "Added" } th { "Changed" } th { "Deleted" } th { "Took" } } }
                tbody {
                    @for r in runs.iter().take(50) {
                        tr {
                            td { (when(r.started_at)) }
                            td { (format!("{:?}", r.kind)) }
                            td { (r.total) } td { (r.added) } td { (r.changed) } td { (r.deleted) }
                            td { (r.duration_ms) " ms" }
                        }
                    }
                }
            }
        }
        @if operate {
            h2 { "Import a directory document" }
            p.muted { "A JSON document with " code { "domain" } ", " code { "domain_sid" } " and " code { "objects" } " (users, groups, computers). A full import: objects missing from it are deleted." }
            (errors.rest(&["document"]))
            form.editor method="post" action=(format!("/directories/{}/import", d.id)) {
                (viewer.csrf())
                label for="document" { "Document" }
                textarea #document name="document" rows="12" spellcheck="false" required { (typed) }
                (errors.at("document"))
                p { button type="submit" { "Import" } }
            }
        }
        (connection)
    })
}

/// `GET /directories/{id}`.
pub async fn one(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response> {
    if !viewer.may(Area::Sync, Access::Read) {
        return Ok(viewer.sync_page("Directory", html! {}));
    }
    let d = directory(&app, &id).await?;
    let connection =
        super::connection::section(&app, &viewer, &d, &super::connection::Outcome::default())
            .await?;
    let body = directory_page(&app, &viewer, &d, &Errors::default(), None, "", connection).await?;
    Ok(viewer.sync_page(&format!("Directory {}", d.name), body))
}

/// The import form.
#[derive(Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    document: String,
}

/// `POST /directories/{id}/import`: a full import of the pasted document.
pub async fn import(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(id): Path<String>,
    Form(form): Form<ImportForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Sync, Access::Operate)?;
    let d = directory(&app, &id).await?;
    let outcome = match serde_json::from_str::<DirectoryDocument>(&form.document) {
        Err(e) => Err(Errors::one(
            "document",
            format!("not a directory document: {e}"),
        )),
        Ok(document) => {
            match crate::directory::import(&app, d.id, &FileSource::from_document(document)).await {
                Ok(s) => Ok(format!(
                    "Imported {} objects ({} users, {} groups, {} computers): {} added, {} changed, {} deleted.",
                    s.total, s.users, s.groups, s.computers, s.added, s.changed, s.deleted
                )),
                Err(e) => Err(Errors::from_error(e)?),
            }
        }
    };
    let d = directory(&app, &id).await?;
    let connection =
        super::connection::section(&app, &viewer, &d, &super::connection::Outcome::default())
            .await?;
    let (status, body) = match outcome {
        Ok(notice) => (
            StatusCode::OK,
            directory_page(
                &app,
                &viewer,
                &d,
                &Errors::default(),
                Some(notice),
                "",
                connection,
            )
            .await?,
        ),
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            directory_page(&app, &viewer, &d, &errors, None, &form.document, connection).await?,
        ),
    };
    Ok((
        status,
        viewer.layout(&format!("Directory {}", d.name), body),
    )
        .into_response())
}

/// The pair a match profile page is about, and what was asked of it.
#[derive(Default, Deserialize)]
pub struct PairQuery {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    target: Option<String>,
    /// A user to explain.
    #[serde(default)]
    user: Option<String>,
    /// Asks What If with the stored profile.
    #[serde(default)]
    whatif: Option<String>,
}

/// What the profile page shows after an action.
#[derive(Default)]
struct ProfileOutcome {
    errors: Errors,
    notice: Option<Markup>,
    typed: Option<String>,
}

async fn profile_page(
    app: &App,
    viewer: &Viewer,
    q: &PairQuery,
    outcome: ProfileOutcome,
) -> Result<Markup> {
    let mut directories = app.store.directories().await?;
    directories.sort_by(|a, b| a.name.cmp(&b.name));
    let source: Option<DirectoryId> = q.source.as_deref().and_then(|s| s.parse().ok());
    let target: Option<DirectoryId> = q.target.as_deref().and_then(|s| s.parse().ok());
    let edit = viewer.may(Area::Sync, Access::Edit);
    let operate = viewer.may(Area::Sync, Access::Operate);
    let errors = &outcome.errors;
    let posted = outcome.typed.is_some();
    let pair = match (source, target) {
        (Some(s), Some(t)) if s != t => Some((s, t)),
        _ => None,
    };
    let mut notice = outcome.notice;
    if let (Some((s, t)), Some(_)) = (pair, &q.whatif) {
        notice = Some(match crate::directory::what_if(app, s, t, None).await {
            Ok(w) => what_if_text(&w),
            Err(e) => html! { (explain_error(e)) },
        });
    }
    let text = match (&outcome.typed, pair) {
        (Some(t), _) => t.clone(),
        (None, Some((s, t))) => {
            serde_json::to_string_pretty(&crate::directory::pair_profile(app, s, t).await?)
                .map_err(|e| Error::Internal(format!("cannot show the profile: {e}")))?
        }
        (None, None) => String::new(),
    };
    let explanation = match (pair, q.user.as_deref().map(str::trim)) {
        (Some((s, t)), Some(user)) if !user.is_empty() => {
            Some(crate::directory::explain_match(app, s, t, user).await)
        }
        _ => None,
    };
    let pair_fields = |s: DirectoryId, t: DirectoryId| {
        html! {
            input type="hidden" name="source" value=(s);
            input type="hidden" name="target" value=(t);
        }
    };
    // A pair refused (the same directory twice, one deleted meanwhile) is chosen again in the
    // form itself, its errors beside the choice.
    let pair_refused = errors
        .0
        .iter()
        .any(|e| e.field == "source" || e.field == "target");
    let chosen = pair.filter(|_| !pair_refused);
    let beside: &[&str] = if chosen.is_some() {
        &["profile", "action"]
    } else {
        &["profile", "action", "source", "target"]
    };
    let editor = |pair: Option<(DirectoryId, DirectoryId)>| {
        html! {
            form.editor method="post" action="/profiles" {
                (viewer.csrf())
                @if let Some((s, t)) = pair {
                    (pair_fields(s, t))
                } @else {
                    label for="profile-source" { "Source" }
                    select #profile-source name="source" {
                        @for d in &directories { option value=(d.id) selected[source == Some(d.id)] { (d.name) } }
                    }
                    (errors.at("source"))
                    label for="profile-target" { "Target" }
                    select #profile-target name="target" {
                        @for d in &directories { option value=(d.id) selected[target == Some(d.id)] { (d.name) } }
                    }
                    (errors.at("target"))
                }
                label for="profile" { "Profile (JSON)" }
                p.muted { "Presets: " @for p in profile::presets() { code { (p.name) } " " } "— type a preset's name alone to use it." }
                textarea #profile name="profile" rows="14" spellcheck="false" readonly[!edit] { (text) }
                (errors.at("profile"))
                p {
                    button type="submit" name="action" value="what-if" { "What If" } " "
                    @if edit { button type="submit" name="action" value="save" { "Save profile" } " " }
                    @if operate { button type="submit" name="action" value="match" { "Save and match now" } }
                }
                (errors.at("action"))
            }
        }
    };
    Ok(html! {
        h1 { "Match profiles" }
        p.muted { "How the users and groups of a source directory are paired with those of a target directory: sIDHistory first, then the rules in order." }
        form.filters method="get" action="/profiles" {
            label { "Source" select name="source" { @for d in &directories { option value=(d.id) selected[source == Some(d.id)] { (d.name) } } } }
            label { "Target" select name="target" { @for d in &directories { option value=(d.id) selected[target == Some(d.id)] { (d.name) } } } }
            button type="submit" { "Open" }
        }
        @if let Some(n) = notice { div.notice role="status" { (n) } }
        @if let Some((s, t)) = pair {
            (errors.rest(beside))
            @if !operate && !edit {
                h2 { "Profile" }
                pre.preview { (text) }
                form.filters method="get" action="/profiles" {
                    (pair_fields(s, t))
                    input type="hidden" name="whatif" value="1";
                    button type="submit" { "What If" }
                }
            }
            @if operate || edit { (editor(chosen)) }
            h2 { "Why not matched?" }
            form.filters method="get" action="/profiles" {
                (pair_fields(s, t))
                label { "Source user or group (name, UPN, sAMAccountName, SID or GUID)" input name="user" value=(q.user.clone().unwrap_or_default()); }
                button type="submit" { "Explain" }
            }
            @match explanation {
                Some(Ok(x)) => {
                    p { strong { (x.source) } " (" (x.kind) ") under " code { (x.profile) } ": "
                        @if let Some(t) = &x.target { "matched " strong { (t) } } @else { "not matched" } }
                    table {
                        thead { tr { th { "Step" } th { "Source reads" } th { "Value" } th { "Target reads" } th { "Candidates" } th { "Verdict" } } }
                        tbody {
                            @for step in &x.steps {
                                @let v = serde_json::to_value(step).unwrap_or_default();
                                tr {
                                    td { (step.step.to_string()) }
                                    td { code { (step.source_expr) } }
                                    td { @if let Some(v) = &step.value { (v) } @else if let Some(n) = &step.no_value { span.muted { (n) } } }
                                    td { code { (step.target_expr) } }
                                    td { (step.candidate_count) @if !step.candidates.is_empty() { ": " (step.candidates.join(", ")) } }
                                    td { (v.get("verdict").and_then(|v| v.as_str()).unwrap_or_default().replace('_', " ")) }
                                }
                            }
                        }
                    }
                }
                Some(Err(e)) => { p.error role="alert" { (explain_error(e)) } }
                None => {}
            }
        } @else if posted && (operate || edit) {
            (errors.rest(beside))
            (editor(None))
        } @else {
            (errors.rest(&[]))
            p.muted { "Choose two different directories." }
        }
    })
}

fn what_if_text(w: &crate::directory::matching::WhatIf) -> Markup {
    html! {
        "What If: " strong { (w.summary.matched) } " would be paired, " (w.summary.unmatched) " unmatched, " (w.summary.ambiguous) " ambiguous; "
        (w.added) " rows added, " (w.changed) " changed, " (w.removed) " removed. Nothing was changed."
        @if !w.examples.is_empty() { ul { @for e in &w.examples { li { (e) } } } }
    }
}

fn explain_error(e: Error) -> String {
    match e {
        Error::Invalid(fields) => fields
            .into_iter()
            .map(|f| f.message)
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// `GET /profiles?source=&target=&user=`.
pub async fn profiles(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<PairQuery>,
) -> Result<Response> {
    if !viewer.may(Area::Sync, Access::Read) {
        return Ok(viewer.sync_page("Match profiles", html! {}));
    }
    let body = profile_page(&app, &viewer, &q, ProfileOutcome::default()).await?;
    Ok(viewer.sync_page("Match profiles", body))
}

/// The profile form.
#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    source: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    profile: String,
    #[serde(default)]
    action: String,
}

fn read_profile(text: &str) -> std::result::Result<MatchProfile, Errors> {
    let text = text.trim();
    if !text.starts_with('{') {
        return profile::preset(text).ok_or_else(|| {
            Errors::one("profile", "neither a JSON profile nor the name of a preset")
        });
    }
    serde_json::from_str(text).map_err(|e| Errors::one("profile", e.to_string()))
}

/// What the profile form's buttons ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProfileAction {
    WhatIf,
    Save,
    Match,
}

impl ProfileAction {
    fn parse(text: &str) -> Option<ProfileAction> {
        match text.trim() {
            "what-if" => Some(ProfileAction::WhatIf),
            "save" => Some(ProfileAction::Save),
            "match" => Some(ProfileAction::Match),
            _ => None,
        }
    }

    /// What Sync access the action needs.
    fn access(self) -> Access {
        match self {
            ProfileAction::WhatIf => Access::Read,
            ProfileAction::Save => Access::Edit,
            ProfileAction::Match => Access::Operate,
        }
    }
}

/// A posted profile form once every field reads.
struct ProfileRequest {
    source: DirectoryId,
    target: DirectoryId,
    action: ProfileAction,
    profile: MatchProfile,
}

/// The form read, or an error beside each field that does not read.
fn read_form(form: &ProfileForm) -> std::result::Result<ProfileRequest, Errors> {
    let mut errors = Vec::new();
    let mut directory = |field: &str, text: &str, message: &str| {
        let id = text.trim().parse::<DirectoryId>().ok();
        if id.is_none() {
            errors.push(FieldError::new(field, message));
        }
        id
    };
    let source = directory("source", &form.source, "choose a source directory");
    let target = directory("target", &form.target, "choose a target directory");
    let action = ProfileAction::parse(&form.action);
    if action.is_none() {
        errors.push(FieldError::new(
            "action",
            "press What If, Save profile or Save and match now",
        ));
    }
    let profile = match read_profile(&form.profile) {
        Ok(profile) => Some(profile),
        Err(Errors(mut refused)) => {
            errors.append(&mut refused);
            None
        }
    };
    match (source, target, action, profile) {
        (Some(source), Some(target), Some(action), Some(profile)) if errors.is_empty() => {
            Ok(ProfileRequest {
                source,
                target,
                action,
                profile,
            })
        }
        _ => Err(Errors(errors)),
    }
}

/// Carries out `request`: the notice to show, or the errors beside the fields.
async fn carry_out(
    app: &App,
    viewer: &Viewer,
    request: ProfileRequest,
) -> Result<std::result::Result<Markup, Errors>> {
    let ProfileRequest {
        source,
        target,
        action,
        profile,
    } = request;
    if action == ProfileAction::WhatIf {
        return Ok(
            match crate::directory::what_if(app, source, target, Some(profile)).await {
                Ok(w) => Ok(what_if_text(&w)),
                Err(e) => Err(Errors::from_error(e)?),
            },
        );
    }
    let stored = crate::directory::pair_profile(app, source, target).await?;
    if action == ProfileAction::Match && profile != stored && !viewer.may(Area::Sync, Access::Edit)
    {
        return Ok(Err(Errors::one(
            "profile",
            "matching with a changed profile saves it, which needs the Sync Admin role",
        )));
    }
    if let Err(e) = crate::directory::set_pair_profile(app, source, target, &profile).await {
        return Ok(Err(Errors::from_error(e)?));
    }
    if action == ProfileAction::Save {
        return Ok(Ok(html! { "Profile " code { (profile.name) } " saved." }));
    }
    Ok(
        match crate::directory::match_pair(app, source, target, None).await {
            Ok(s) => Ok(html! {
                "Matched: " strong { (s.matched) } " paired, " (s.unmatched) " unmatched, " (s.ambiguous) " ambiguous; "
                (s.rows_changed) " rows of the translation table changed."
                @if !s.unmatched_names.is_empty() { br; "Unmatched: " (s.unmatched_names.join(", ")) }
            }),
            Err(e) => Err(Errors::from_error(e)?),
        },
    )
}

/// `POST /profiles`: What If (Sync Viewer and up), save (Sync Admin), or save and match now
/// (Sync Operator may run matching with the stored profile; saving another needs Sync Admin).
/// A field that does not read, or a pair the domain refuses, shows the form again with the error
/// beside it.
pub async fn act(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Form(form): Form<ProfileForm>,
) -> Result<Response> {
    let access = ProfileAction::parse(&form.action).map_or(Access::Read, ProfileAction::access);
    let viewer = poster(pending, form.csrf.as_deref(), Area::Sync, access)?;
    let q = PairQuery {
        source: Some(form.source.clone()),
        target: Some(form.target.clone()),
        ..PairQuery::default()
    };
    let result = match read_form(&form) {
        Err(errors) => Err(errors),
        Ok(request) => carry_out(&app, &viewer, request).await?,
    };
    let (status, outcome) = match result {
        Ok(notice) => (
            StatusCode::OK,
            ProfileOutcome {
                notice: Some(notice),
                typed: Some(form.profile.clone()),
                ..ProfileOutcome::default()
            },
        ),
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ProfileOutcome {
                errors,
                typed: Some(form.profile.clone()),
                notice: None,
            },
        ),
    };
    let body = profile_page(&app, &viewer, &q, outcome).await?;
    Ok((status, viewer.layout("Match profiles", body)).into_response())
}
