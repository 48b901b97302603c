//! Dialog preview: each User Experience dialog of a runbook in a chosen culture, as a device will
//! show it — title, message with its placeholders filled in, the buttons and labels, and the
//! anchored help URL its QR code carries — before any device runs it. Cultures are copied here
//! too (Copy To), to translate a copy.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, PreEscaped};
use model::ids::RunbookId;
use model::rules::Dialog;
use model::runbook::{dialog_key, labels_of, Runbook};
use serde::Deserialize;

use super::forms::{poster, Errors};
use super::table::link;
use super::Viewer;
use crate::auth::{Access, Area, CsrfPending};
use crate::migration::runbooks;
use crate::{App, Error, Result};

/// The minutes a countdown preview shows.
const COUNTDOWN_MINUTES: &str = "60";

/// The choice of culture.
#[derive(Default, Deserialize)]
pub struct CultureQuery {
    #[serde(default)]
    culture: Option<String>,
}

fn title_of(dialog: Dialog) -> &'static str {
    match dialog {
        Dialog::CacheCredentials => "Cache credentials",
        Dialog::MigrationAvailable => "Migration available",
        Dialog::MigrationStarting => "Migration starting (countdown)",
        Dialog::MigrationInProgress => "Migration in progress",
        Dialog::MigrationComplete => "Migration complete",
        Dialog::ServiceUnavailable => "Service unavailable",
    }
}

/// `text` with each `{name}` placeholder replaced by its escaped sample value.
fn fill(text: &str, values: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (name, value) in values {
        let escaped = maud::html! { (value) }.into_string();
        out = out.replace(&format!("{{{name}}}"), &escaped);
    }
    out
}

/// The URL a dialog's QR code carries: the help page with the dialog's anchor.
pub fn anchored(url: &str, dialog: Dialog) -> Option<String> {
    let url = url.trim();
    (!url.is_empty()).then(|| format!("{}#{}", url, dialog.anchor()))
}

async fn preview_page(
    app: &App,
    viewer: &Viewer,
    runbook: &Runbook,
    culture: &str,
    errors: &Errors,
) -> Result<Markup> {
    let ux = &runbook.user_experience;
    let shown = ux
        .culture(culture)
        .or_else(|| ux.culture(&ux.default_culture))
        .ok_or(Error::NotFound("culture"))?;
    let target = app.store.directory(runbook.target_directory).await?;
    let start = app
        .store
        .batches()
        .await?
        .iter()
        .flat_map(|b| b.assignments.iter())
        .filter(|a| a.runbook == runbook.id)
        .map(|a| a.enforced_after)
        .min();
    let values = [
        ("TargetDomain", target.map(|d| d.domain).unwrap_or_default()),
        (
            "StartDate",
            start
                .map(|s| s.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "(the Enforced After of its batch)".to_string()),
        ),
        ("0", COUNTDOWN_MINUTES.to_string()),
    ];
    let base = format!("/runbooks/{}", runbook.id);
    let edit = viewer.may(Area::Agent, Access::Edit);
    Ok(html! {
        h1 { "Runbook " (runbook.name) }
        nav.tabs aria-label="Runbook tabs" {
            a href=(base) { "General" }
            @for (key, title) in super::runbooks::TABS {
                a href=(link(&base, &[("tab", key)])) { (title) }
            }
            a href=(format!("{base}/preview")) aria-current="page" { "Dialog preview" }
        }
        form.filters method="get" action=(format!("{base}/preview")) {
            label { "Culture" select name="culture" {
                @for c in &ux.cultures { option value=(c.code) selected[c.code == shown.code] { (c.code) @if c.code == ux.default_culture { " (default)" } } }
            } }
            button type="submit" { "Show" }
        }
        @if shown.code != culture && !culture.is_empty() {
            p.notice { "This runbook has no texts for " (culture) "; a device with that culture shows the default culture, " (shown.code) "." }
        }
        div.dialogs {
            @for dialog in Dialog::ALL {
                @let t = shown.dialogs.get(dialog);
                section.device-dialog aria-label=(title_of(dialog)) id=(dialog_key(dialog)) {
                    p.muted { (title_of(dialog)) }
                    div.window {
                        div.titlebar { (fill(&t.title, &values)) }
                        div.body {
                            div.message { (PreEscaped(fill(t.message.as_str(), &values))) }
                            @if !labels_of(dialog).is_empty() {
                                div.labels {
                                    @for key in labels_of(dialog) {
                                        @let label = t.labels.get(*key).cloned().unwrap_or_default();
                                        @if key.ends_with("_button") { span.fake-button { (label) } }
                                        @else { span.fake-label { (label) } }
                                    }
                                }
                            }
                            @if let Some(url) = anchored(&ux.qr_code_url, dialog) {
                                (super::qr::svg(&url, 96, &format!("QR code of {url}")))
                                p.qr { "QR code: " a href=(url) rel="noreferrer" { (url) } }
                            }
                        }
                    }
                }
            }
        }
        @if edit {
            h2 { "Copy To" }
            p.muted { "Copies the shown culture's texts to a new culture, to translate them on the User Experience tab." }
            (errors.rest(&["user_experience.copy_to"]))
            form.editor method="post" action=(format!("{base}/cultures")) {
                (viewer.csrf())
                input type="hidden" name="from" value=(shown.code);
                label for="to" { "New culture (e.g. fr-FR)" }
                input #to name="to" required;
                (errors.at("user_experience.copy_to"))
                p { button type="submit" { "Copy " (shown.code) } }
            }
        }
    })
}

fn runbook_id(id: &str) -> Result<RunbookId> {
    id.parse().map_err(|_| Error::NotFound("runbook"))
}

/// `GET /runbooks/{id}/preview?culture=`.
pub async fn preview(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<CultureQuery>,
) -> Result<Response> {
    if !viewer.may(Area::Agent, Access::Read) {
        return Ok(viewer.agent_page("Dialog preview", html! {}));
    }
    let runbook = app
        .store
        .runbook(runbook_id(&id)?)
        .await?
        .ok_or(Error::NotFound("runbook"))?;
    let culture = q.culture.unwrap_or_default();
    let body = preview_page(&app, &viewer, &runbook, culture.trim(), &Errors::default()).await?;
    Ok(viewer.agent_page(&format!("Runbook {}", runbook.name), body))
}

/// The Copy To form.
#[derive(Deserialize)]
pub struct CopyForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// `POST /runbooks/{id}/cultures`: copies a culture and shows the copy.
pub async fn copy_culture(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(id): Path<String>,
    Form(form): Form<CopyForm>,
) -> Result<Response> {
    let viewer = poster(pending, form.csrf.as_deref(), Area::Agent, Access::Edit)?;
    let original = app
        .store
        .runbook(runbook_id(&id)?)
        .await?
        .ok_or(Error::NotFound("runbook"))?;
    let mut changed = original.clone();
    let to = form.to.trim().to_string();
    let errors = match changed.user_experience.copy_culture(form.from.trim(), &to) {
        Err(e) => Errors::from_error(e.into())?,
        Ok(()) => match runbooks::update(&app, changed).await {
            Ok(saved) => {
                let to_page = link(
                    &format!("/runbooks/{}/preview", saved.id),
                    &[("culture", &to)],
                );
                return Ok(Redirect::to(&to_page).into_response());
            }
            Err(e) => Errors::from_error(e)?,
        },
    };
    let body = preview_page(&app, &viewer, &original, form.from.trim(), &errors).await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        viewer.layout(&format!("Runbook {}", original.name), body),
    )
        .into_response())
}
