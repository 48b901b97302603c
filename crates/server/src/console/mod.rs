//! The web console: server-rendered pages (maud escapes every value, and names and messages come
//! from devices), a stylesheet and a small script embedded in the binary. Every page works for
//! every role that may read the migration agent area. The forms that change something (users,
//! one's own password) are recorded in the audit trail with the state before and after, read
//! through the API: [`form_subject`] names what each form changes.

mod agent_actions;
mod audit;
mod batches;
mod bulk_tokens;
mod connection;
mod data;
mod directories;
mod download;
mod filter_form;
mod forms;
pub mod headers;
mod keys;
mod login;
mod logs;
mod multipart;
mod nav;
mod objects;
mod origin;
mod pages;
mod preview;
mod progress;
mod provisioning;
mod qr;
mod readiness;
mod reports;
mod runbooks;
mod settings;
mod tab_form;
mod table;
mod translations;
mod users;

use axum::extract::FromRequestParts;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use crate::auth::{Access, Area, Authenticated, Caller};
use crate::{App, Error};

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// Routes of the console.
pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(progress::dashboard))
        .route("/devices", get(progress::list))
        .route("/devices.csv", get(progress::csv))
        .route("/download", get(download::page))
        .route("/download/files/{name}", get(download::file))
        .route("/psks", get(keys::psks).post(keys::create_psk))
        .route("/psks/{id}/delete", post(keys::delete_psk))
        .route(
            "/certificates",
            get(keys::certificates).post(keys::create_certificate),
        )
        .route(
            "/certificates/{id}/delete",
            post(agent_actions::delete_certificate),
        )
        .route("/runbooks", get(runbooks::list).post(runbooks::create))
        .route("/runbooks/{id}", get(runbooks::one))
        .route("/runbooks/{id}/general", post(runbooks::save_general))
        .route("/runbooks/{id}/tabs/{tab}", post(runbooks::save_tab))
        .route("/runbooks/{id}/delete", post(runbooks::delete))
        .route("/runbooks/{id}/preview", get(preview::preview))
        .route("/runbooks/{id}/cultures", post(preview::copy_culture))
        .route(
            "/directories",
            get(directories::list).post(directories::create),
        )
        .route("/directories/{id}", get(directories::one))
        .route("/directories/{id}/import", post(directories::import))
        .route("/directories/{id}/connection", post(connection::save))
        .route("/directories/{id}/kinds", post(connection::save_kinds))
        .route(
            "/profiles",
            get(directories::profiles).post(directories::act),
        )
        .route("/reports/profiles", get(reports::profiles))
        .route("/reports/profiles.csv", get(reports::profiles_csv))
        .route("/reports/agent-details", get(reports::agent_details))
        .route(
            "/reports/agent-details.csv",
            get(reports::agent_details_csv),
        )
        .route("/sync-messages", get(reports::messages))
        .route("/sync-messages.csv", get(reports::messages_csv))
        .route("/objects.csv", get(objects::search_csv))
        .route("/logs", get(logs::page))
        .route("/logs.csv", get(logs::csv))
        .route("/objects", get(objects::search))
        .route("/objects/{directory}/{guid}", get(objects::report))
        .route(
            "/objects/{directory}/{guid}/report.csv",
            get(objects::report_csv),
        )
        .route("/translations", get(translations::page))
        .route("/translations.csv", get(translations::csv))
        .route(
            "/schedule",
            get(settings::schedule).post(settings::set_schedule),
        )
        .route(
            "/licences",
            get(settings::licences).post(settings::apply_licence),
        )
        .route("/bulk-tokens", get(bulk_tokens::list))
        .route(
            "/directories/{id}/provisioning-package",
            get(provisioning::page).post(provisioning::upload).layer(
                axum::extract::DefaultBodyLimit::max(provisioning::BODY_LIMIT),
            ),
        )
        .route(
            "/directories/{id}/provisioning-package/delete",
            post(provisioning::delete),
        )
        .route("/bulk-tokens/{directory}/flows", post(bulk_tokens::start))
        .route(
            "/bulk-tokens/{directory}/flows/{flow}/poll",
            post(bulk_tokens::poll),
        )
        .route(
            "/bulk-tokens/{directory}/{token}/delete",
            post(bulk_tokens::delete),
        )
        .route("/batches", get(batches::list).post(batches::create))
        .route("/batches/{id}", get(batches::one))
        .route("/batches/{id}/assignments", post(batches::assign))
        .route(
            "/batches/{id}/assignments/{index}/delete",
            post(batches::unassign),
        )
        .route("/batches/{id}/computers", post(batches::add_computer))
        .route("/batches/{id}/suggest", get(batches::suggest))
        .route("/batches/{id}/import", post(batches::import))
        .route("/batches/{id}/computers.csv", get(batches::export))
        .route("/batches/{id}/delete", post(batches::delete))
        .route("/batches/{id}/readiness", get(readiness::batch))
        .route("/batches/{id}/readiness.csv", get(readiness::batch_csv))
        .route("/agents/{id}/readiness", get(readiness::agent))
        .route("/agents/{id}/readiness/request", post(readiness::request))
        .route(
            "/agents/{id}/readiness/{runbook}/waive",
            post(readiness::waive),
        )
        .route("/agents", get(pages::agents))
        .route("/agents.csv", get(pages::agents_csv))
        .route("/agents/{id}", get(pages::agent))
        .route("/agents/{id}/logs", get(pages::logs))
        .route("/agents/{id}/plan", get(agent_actions::plan))
        .route("/agents/{id}/delete", post(agent_actions::delete))
        .route(
            "/agents/{id}/runs/{runbook}/retry",
            post(agent_actions::retry),
        )
        .route("/communications", get(pages::failed_communications))
        .route("/communications.csv", get(pages::failed_communications_csv))
        .route("/audit", get(audit::page))
        .route("/login", get(login::login_page).post(login::login))
        .route(
            "/password",
            get(login::password_page).post(login::change_password),
        )
        .route("/logout", axum::routing::post(login::logout))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}/delete", axum::routing::post(users::delete))
        .route(
            "/assets/console.css",
            get(|| async { asset("text/css; charset=utf-8", CSS) }),
        )
        .route(
            "/assets/console.js",
            get(|| async { asset("text/javascript; charset=utf-8", JS) }),
        )
        .layer(axum::middleware::from_fn(errors_as_pages))
}

/// A console address a browser opens that fails with the API's JSON error (an id that is not
/// there, a refusal) is answered as a page that says the same, with a way back. Scripts, which do
/// not ask for HTML, still get the JSON.
async fn errors_as_pages(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let wants_page = request
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let response = next.run(request).await;
    let json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !wants_page
        || !json
        || !(response.status().is_client_error() || response.status().is_server_error())
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let title = parts.status.canonical_reason().unwrap_or("Error");
    let message = axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|error| error["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| title.to_string());
    let body = html! {
        main.frame {
            h1 { (title) }
            p.notice { (message) }
            p { a href="/" { "Back to the console" } }
        }
    };
    let mut page = (parts.status, page(title, body)).into_response();
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            page.headers_mut().insert(name.clone(), value.clone());
        }
    }
    page
}

/// The API path of what a console form changes, read before and after it for the audit trail:
/// every form that changes something is listed here.
pub(crate) fn form_subject(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["users", id, "delete"] => id
            .parse::<model::ids::UserId>()
            .ok()
            .map(|id| format!("/api/v1/users/{id}")),
        ["password"] => Some(crate::audit::WHOAMI.to_string()),
        _ => None,
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A signed-in console user who may see pages: not signed in redirects to the login page, a
/// pending password change to the password page.
pub struct Viewer {
    caller: Caller,
    csrf_token: String,
}

impl FromRequestParts<App> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Viewer, Response> {
        match Authenticated::from_request_parts(parts, app).await {
            Ok(session) if session.must_change_password() => {
                Err(Redirect::to("/password").into_response())
            }
            Ok(session) => Ok(Viewer {
                csrf_token: session.csrf_token().to_string(),
                caller: session.caller().clone(),
            }),
            Err(Error::Unauthenticated) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

impl Viewer {
    /// The page when the viewer may read the agent area; a refusal page otherwise.
    fn agent_page(&self, title: &str, body: Markup) -> Response {
        if self.caller.require(Area::Agent, Access::Read).is_err() {
            return self.refusal(
                title,
                "None of your roles includes the migration agent area. Ask a tenant administrator for the Agent Viewer role.",
            );
        }
        self.layout(title, body).into_response()
    }

    /// The page when the viewer may read the sync area; a refusal page otherwise.
    fn sync_page(&self, title: &str, body: Markup) -> Response {
        if !self.may(Area::Sync, Access::Read) {
            return self.refusal(
                title,
                "None of your roles includes the directory (Sync) area. Ask a tenant administrator for the Sync Viewer role.",
            );
        }
        self.layout(title, body).into_response()
    }

    /// A 403 page that says why and what to ask for.
    fn refusal(&self, title: &str, why: &str) -> Response {
        let body = html! {
            h1 { (title) }
            p.notice { (why) }
        };
        (StatusCode::FORBIDDEN, self.layout(title, body)).into_response()
    }

    /// Whether one of the viewer's roles grants `access` in `area`.
    fn may(&self, area: Area, access: Access) -> bool {
        self.caller.require(area, access).is_ok()
    }

    /// The hidden CSRF field every posting form carries.
    fn csrf(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf_token); }
    }

    /// The common frame: navigation by product area (only the areas the viewer's roles reach),
    /// who is signed in, and a logout form carrying the CSRF token.
    fn layout(&self, title: &str, body: Markup) -> Markup {
        let roles: Vec<&str> = self.caller.roles.iter().map(|r| r.as_str()).collect();
        page(
            title,
            html! {
                header {
                    a.brand href="/" { "rehome" }
                    div.who {
                        span title=(roles.join(", ")) { (self.caller.name) " · " (roles.join(", ")) }
                        a href="/password" { "Change password" }
                        form method="post" action="/logout" {
                            (self.csrf())
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                div.frame {
                    nav.areas aria-label="Product areas" {
                        @for (area, heading, links) in nav::AREAS {
                            @if self.may(*area, Access::Read) {
                                h2 { (heading) }
                                ul {
                                    @for (href, label) in *links {
                                        li { a href=(href) aria-current=[(nav::is_current(title, label)).then_some("page")] { (label) } }
                                    }
                                }
                            }
                        }
                    }
                    main { (body) }
                }
            },
        )
    }
}

/// A whole HTML document.
fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · rehome" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body { (body) }
        }
    }
}

/// An instant as the console shows it.
fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
