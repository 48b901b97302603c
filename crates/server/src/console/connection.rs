//! A directory's connection and import object types, edited on the directory's page. The
//! bind password or client secret is write-only: the form never shows it, an empty field keeps
//! the stored one, and the domain layer decides whether it may be kept (the same rules as the
//! API: a Sync admin who changes where it is sent must give it again).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use model::directory::{Directory, DirectoryKind, ObjectKind};

use super::directories::{directory, directory_page};
use super::forms::{poster, Errors};
use super::Viewer;
use crate::auth::{Access, Area, CsrfPending};
use crate::directory::connection::{self, ConnectionSettings};
use crate::directory::import_kinds;
use crate::{App, Error, Result};

/// The connection form as typed: every field of every kind, the checkboxes present when ticked.
pub type Fields = Vec<(String, String)>;

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .unwrap_or_default()
}

fn number<T: std::str::FromStr>(
    fields: &Fields,
    name: &str,
    default: T,
    errors: &mut Vec<model::FieldError>,
) -> T {
    let text = field(fields, name);
    if text.is_empty() {
        return default;
    }
    text.parse().unwrap_or_else(|_| {
        errors.push(model::FieldError::new(name, "a whole number is expected"));
        default
    })
}

/// The settings and the secret typed into the form.
fn read(fields: &Fields) -> std::result::Result<(ConnectionSettings, Option<String>), Errors> {
    let mut errors = Vec::new();
    let optional = |name: &str| Some(field(fields, name).to_string()).filter(|s| !s.is_empty());
    let (settings, secret) = match field(fields, "kind") {
        "ldap" => (
            ConnectionSettings::Ldap {
                url: field(fields, "url").to_string(),
                starttls: !field(fields, "starttls").is_empty(),
                accept_invalid_certs: !field(fields, "accept_invalid_certs").is_empty(),
                bind_dn: field(fields, "bind_dn").to_string(),
                base_dns: field(fields, "base_dns")
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
                filter: optional("filter"),
                page_size: number(fields, "page_size", 1000, &mut errors),
                timeout_seconds: number(fields, "timeout_seconds", 60, &mut errors),
            },
            optional("password"),
        ),
        "graph" => (
            ConnectionSettings::Graph {
                tenant_id: field(fields, "tenant_id").to_string(),
                client_id: field(fields, "client_id").to_string(),
                authority_url: optional("authority_url")
                    .unwrap_or_else(|| crate::directory::graph::DEFAULT_AUTHORITY_URL.to_string()),
                graph_url: optional("graph_url")
                    .unwrap_or_else(|| crate::directory::graph::DEFAULT_GRAPH_URL.to_string()),
                scope: optional("scope")
                    .unwrap_or_else(|| crate::directory::graph::DEFAULT_SCOPE.to_string()),
                page_size: number(fields, "page_size", 999, &mut errors),
                timeout_seconds: number(fields, "timeout_seconds", 60, &mut errors),
                max_retries: number(fields, "max_retries", 5, &mut errors),
            },
            optional("client_secret"),
        ),
        "file" => (
            ConnectionSettings::File {
                path: field(fields, "path").to_string(),
            },
            None,
        ),
        _ => return Err(Errors::one("kind", "choose how the directory is read")),
    };
    if errors.is_empty() {
        Ok((settings, secret))
    } else {
        Err(Errors(errors))
    }
}

/// The form's fields as the stored connection has them (never the secret).
fn stored_fields(settings: &ConnectionSettings) -> Fields {
    let pair = |k: &str, v: String| (k.to_string(), v);
    match settings {
        ConnectionSettings::Ldap {
            url,
            starttls,
            accept_invalid_certs,
            bind_dn,
            base_dns,
            filter,
            page_size,
            timeout_seconds,
        } => {
            let mut out = vec![
                pair("kind", "ldap".into()),
                pair("url", url.clone()),
                pair("bind_dn", bind_dn.clone()),
                pair("base_dns", base_dns.join("\n")),
                pair("filter", filter.clone().unwrap_or_default()),
                pair("page_size", page_size.to_string()),
                pair("timeout_seconds", timeout_seconds.to_string()),
            ];
            if *starttls {
                out.push(pair("starttls", "on".into()));
            }
            if *accept_invalid_certs {
                out.push(pair("accept_invalid_certs", "on".into()));
            }
            out
        }
        ConnectionSettings::Graph {
            tenant_id,
            client_id,
            authority_url,
            graph_url,
            scope,
            page_size,
            timeout_seconds,
            max_retries,
        } => vec![
            pair("kind", "graph".into()),
            pair("tenant_id", tenant_id.clone()),
            pair("client_id", client_id.clone()),
            pair("authority_url", authority_url.clone()),
            pair("graph_url", graph_url.clone()),
            pair("scope", scope.clone()),
            pair("page_size", page_size.to_string()),
            pair("timeout_seconds", timeout_seconds.to_string()),
            pair("max_retries", max_retries.to_string()),
        ],
        ConnectionSettings::File { path } => {
            vec![pair("kind", "file".into()), pair("path", path.clone())]
        }
    }
}

/// What the connection section shows after a post: the typed fields and their errors.
#[derive(Default)]
pub struct Outcome {
    /// The connection form as typed.
    pub typed: Option<Fields>,
    /// The connection form's errors.
    pub errors: Errors,
    /// The import object types form's errors.
    pub kind_errors: Errors,
}

fn text_input(fields: &Fields, errors: &Errors, name: &str, label: &str, edit: bool) -> Markup {
    let id = format!("connection-{name}");
    html! {
        label for=(id) { (label) }
        input id=(id) name=(name) value=(field(fields, name)) readonly[!edit];
        (errors.at(name))
    }
}

fn check_input(fields: &Fields, errors: &Errors, name: &str, label: &str, edit: bool) -> Markup {
    html! {
        label.check { input type="checkbox" name=(name) value="on" checked[!field(fields, name).is_empty()] disabled[!edit]; " " (label) }
        (errors.at(name))
    }
}

fn secret_input(errors: &Errors, name: &str, label: &str, stored: bool, edit: bool) -> Markup {
    let id = format!("connection-{name}");
    let hint = if stored {
        "stored, never shown: leave empty to keep it"
    } else {
        "none stored"
    };
    html! {
        label for=(id) { (label) }
        input id=(id) type="password" name=(name) autocomplete="new-password" placeholder=(hint) readonly[!edit];
        (errors.at(name))
    }
}

/// The connection and import object types of `d`, as forms for Sync admins and read-only for
/// everyone else.
pub async fn section(
    app: &App,
    viewer: &Viewer,
    d: &Directory,
    outcome: &Outcome,
) -> Result<Markup> {
    let edit = viewer.may(Area::Sync, Access::Edit);
    let info = connection::connection(app, d.id).await?;
    let has_secret = info.as_ref().is_some_and(|i| i.has_secret);
    let fields = match (&outcome.typed, &info) {
        (Some(typed), _) => typed.clone(),
        (None, Some(info)) => stored_fields(&info.settings),
        (None, None) => Vec::new(),
    };
    let errors = &outcome.errors;
    let kind = match field(&fields, "kind") {
        "" if d.kind == DirectoryKind::EntraId => "graph",
        "" => "ldap",
        k => k,
    };
    let network = if d.kind == DirectoryKind::EntraId {
        "graph"
    } else {
        "ldap"
    };
    let kinds = import_kinds::import_kinds(app, d.id).await?;
    let all = ["ldap", "graph", "file"];
    let names = [
        "url",
        "starttls",
        "accept_invalid_certs",
        "bind_dn",
        "base_dns",
        "filter",
        "page_size",
        "timeout_seconds",
        "password",
        "tenant_id",
        "client_id",
        "authority_url",
        "graph_url",
        "scope",
        "max_retries",
        "client_secret",
        "path",
        "kind",
    ];
    let connection_fields = html! {
            fieldset {
                legend { "Read the directory" }
                @for k in all.iter().filter(|k| **k == network || **k == "file") {
                    label.check {
                        input type="radio" name="kind" value=(k) checked[kind == *k] disabled[!edit];
                        " " (match *k { "ldap" => "Over LDAP (Active Directory)", "graph" => "Over Microsoft Graph (Entra ID)", _ => "From a directory document on the server" })
                    }
                }
                (errors.at("kind"))
            }
            @if network == "ldap" {
                fieldset {
                    legend { "LDAP" }
                    (text_input(&fields, errors, "url", "Server URL (ldap:// or ldaps://)", edit))
                    (check_input(&fields, errors, "starttls", "StartTLS on an ldap:// URL", edit))
                    (check_input(&fields, errors, "accept_invalid_certs", "Accept a self-signed certificate", edit))
                    (text_input(&fields, errors, "bind_dn", "Bind account (DN)", edit))
                    (secret_input(errors, "password", "Bind password", has_secret && kind == "ldap", edit))
                    label for="connection-base_dns" { "Search bases (one DN a line; empty for the whole domain)" }
                    textarea #connection-base_dns name="base_dns" rows="3" readonly[!edit] { (field(&fields, "base_dns")) }
                    (errors.at("base_dns"))
                    (text_input(&fields, errors, "filter", "Extra LDAP filter", edit))
                    (text_input(&fields, errors, "page_size", "Objects per page", edit))
                    (text_input(&fields, errors, "timeout_seconds", "Timeout (seconds)", edit))
                }
            } @else {
                fieldset {
                    legend { "Microsoft Graph" }
                    (text_input(&fields, errors, "tenant_id", "Tenant id or domain", edit))
                    (text_input(&fields, errors, "client_id", "Application (client) id", edit))
                    (secret_input(errors, "client_secret", "Client secret", has_secret && kind == "graph", edit))
                    (text_input(&fields, errors, "authority_url", "Token authority URL (empty: the public cloud)", edit))
                    (text_input(&fields, errors, "graph_url", "Graph URL (empty: the public cloud)", edit))
                    (text_input(&fields, errors, "scope", "Token scope (empty: the default)", edit))
                    (text_input(&fields, errors, "page_size", "Objects per page", edit))
                    (text_input(&fields, errors, "timeout_seconds", "Timeout (seconds)", edit))
                    (text_input(&fields, errors, "max_retries", "Retries of a throttled request", edit))
                }
            }
            fieldset {
                legend { "Directory document" }
                (text_input(&fields, errors, "path", "Path on the server", edit))
            }
    };
    let kind_fields = html! {
            fieldset {
                legend { "Object types each import keeps (a migration needs users, groups and computers)" }
                @for k in import_kinds::ALL {
                    label.check { input type="checkbox" name="kind" value=(k.as_str()) checked[kinds.contains(&k)] disabled[!edit]; " " (kind_label(k)) }
                }
                (outcome.kind_errors.at("kinds"))
            }
    };
    Ok(html! {
        h2 { "Connection" }
        @if let Some(i) = &info {
            p { "Read " (how_read(&i.settings)) @if has_secret { "; a secret is stored (never shown)." } @else { "." } }
        } @else {
            p.muted { "No connection yet: the directory can only be imported from a pasted document." }
        }
        (errors.rest(&names))
        @if edit {
            form.editor #connection method="post" action=(format!("/directories/{}/connection", d.id)) {
                (viewer.csrf())
                (connection_fields)
                p { button type="submit" { "Save connection" } }
            }
        } @else {
            div.editor #connection { (connection_fields) }
        }
        h2 { "Import object types" }
        (outcome.kind_errors.rest(&["kinds"]))
        @if edit {
            form.editor #import-kinds method="post" action=(format!("/directories/{}/kinds", d.id)) {
                (viewer.csrf())
                (kind_fields)
                p { button type="submit" { "Save object types" } }
            }
        } @else {
            div.editor #import-kinds { (kind_fields) }
        }
    })
}

fn how_read(settings: &ConnectionSettings) -> &'static str {
    match settings {
        ConnectionSettings::Ldap { .. } => "over LDAP",
        ConnectionSettings::Graph { .. } => "over Microsoft Graph",
        ConnectionSettings::File { .. } => "from a document on the server",
    }
}

fn kind_label(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::User => "Users",
        ObjectKind::Group => "Groups",
        ObjectKind::Computer => "Computers",
        ObjectKind::Contact => "Contacts",
    }
}

/// The directory's page with `outcome`, answered with `status`.
async fn answer(
    app: &App,
    viewer: &Viewer,
    d: &Directory,
    outcome: Outcome,
    status: StatusCode,
) -> Result<Response> {
    let section = section(app, viewer, d, &outcome).await?;
    let body = directory_page(app, viewer, d, &Errors::default(), None, "", section).await?;
    Ok((
        status,
        viewer.layout(&format!("Directory {}", d.name), body),
    )
        .into_response())
}

/// `POST /directories/{id}/connection`.
pub async fn save(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response> {
    let csrf = field(&fields, "csrf").to_string();
    let viewer = poster(pending, Some(&csrf), Area::Sync, Access::Edit)?;
    let d = directory(&app, &id).await?;
    let fields: Fields = fields.into_iter().filter(|(k, _)| k != "csrf").collect();
    let result = match read(&fields) {
        Err(errors) => Err(errors),
        Ok((settings, secret)) => {
            match connection::save_connection(&app, &viewer.caller, d.id, settings, secret).await {
                Ok(_) => Ok(()),
                Err(Error::Forbidden(message)) => Err(Errors::one("path", message)),
                Err(e) => Err(Errors::from_error(e)?),
            }
        }
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/directories/{}#connection", d.id)).into_response()),
        Err(errors) => {
            // The secret typed is never sent back.
            let typed = fields
                .into_iter()
                .filter(|(k, _)| k != "password" && k != "client_secret")
                .collect();
            let outcome = Outcome {
                typed: Some(typed),
                errors,
                ..Outcome::default()
            };
            answer(&app, &viewer, &d, outcome, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `POST /directories/{id}/kinds`.
pub async fn save_kinds(
    State(app): State<App>,
    pending: std::result::Result<CsrfPending, Error>,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response> {
    let csrf = field(&fields, "csrf").to_string();
    let viewer = poster(pending, Some(&csrf), Area::Sync, Access::Edit)?;
    let d = directory(&app, &id).await?;
    let mut unknown = false;
    let kinds: Vec<ObjectKind> = fields
        .iter()
        .filter(|(k, _)| k == "kind")
        .filter_map(|(_, v)| {
            let kind = ObjectKind::parse(v.trim());
            unknown |= kind.is_none();
            kind
        })
        .collect();
    let result = if unknown {
        Err(Errors::one("kinds", "an unknown object type was sent"))
    } else {
        match import_kinds::set_import_kinds(&app, &viewer.caller, d.id, &kinds).await {
            Ok(_) => Ok(()),
            Err(e) => Err(Errors::from_error(e)?),
        }
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/directories/{}#import-kinds", d.id)).into_response()),
        Err(kind_errors) => {
            let outcome = Outcome {
                kind_errors,
                ..Outcome::default()
            };
            answer(&app, &viewer, &d, outcome, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}
