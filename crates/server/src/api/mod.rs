//! The admin JSON API under `/api/v1/`: directories, import, matching and the translation table;
//! PSKs and agent certificates; runbooks and batches; reports. Every route names the area and
//! access it needs through [`crate::auth::Caller::require`]; the pub functions beside the handlers
//! are the same operations for the `rehome` binary.

pub mod batches;
pub mod config;
pub mod connections;
pub mod directories;
pub mod enrollment;
pub mod licences;
pub mod openapi;
pub mod packages;
pub mod reports;
pub mod secrets;
pub mod sync;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;

use crate::{App, Error};

/// Largest directory document `POST /directories/{id}/import` accepts.
pub const IMPORT_BODY_LIMIT: usize = 512 * 1024 * 1024;

/// Routes of the admin API, relative to `/api/v1`.
pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/directories",
            get(directories::list).post(directories::create_route),
        )
        .route("/directories/{id}", get(directories::get_one))
        // Whole directories arrive in one document: far beyond the 2 MB default.
        .route(
            "/directories/{id}/import",
            post(directories::import_route).layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/directories/{id}/imports", get(directories::imports))
        .route(
            "/directories/{id}/connection",
            get(connections::get_connection).put(connections::put_connection),
        )
        .route("/directories/{id}/sync", post(connections::sync_directory))
        .route(
            "/sync/schedule",
            get(connections::get_schedule).put(connections::put_schedule),
        )
        .route("/sync/run", post(connections::run_cycle))
        .route("/match", post(directories::match_route))
        .route(
            "/match/profile",
            get(sync::get_profile).put(sync::put_profile),
        )
        .route("/match/run", post(sync::run))
        .route("/match/what-if", post(sync::what_if))
        .route("/match/explain", get(sync::explain))
        .route("/objects", get(sync::search))
        .route("/objects/{directory}/{guid}", get(sync::report))
        .route("/translations", get(directories::translations))
        .route("/translations.csv", get(directories::translations_csv))
        .route(
            "/psks",
            get(secrets::list_psks).post(secrets::create_psk_route),
        )
        .route("/psks/{id}", axum::routing::delete(secrets::delete_psk))
        .route(
            "/agent-certificates",
            get(secrets::list_certificates).post(secrets::create_certificate_route),
        )
        .route(
            "/runbooks",
            get(config::list_runbooks).post(config::create_runbook_route),
        )
        .route(
            "/runbooks/{id}",
            get(config::get_runbook)
                .put(config::update_runbook_route)
                .delete(config::delete_runbook),
        )
        .route(
            "/batches",
            get(config::list_batches).post(config::create_batch_route),
        )
        .route(
            "/batches/compatible-runbooks",
            get(batches::compatible_runbooks),
        )
        .route(
            "/batches/{id}/computers.csv",
            get(batches::export_csv).put(batches::import_csv),
        )
        .route("/computers", get(batches::computers))
        .route(
            "/batches/{id}",
            get(config::get_batch)
                .put(config::update_batch_route)
                .delete(config::delete_batch),
        )
        .route("/agents", get(reports::agents))
        .route("/agents/{id}", get(reports::agent_details))
        .route("/agents/{id}/events", get(reports::agent_events))
        .route(
            "/failed-communications",
            get(reports::failed_communications),
        )
        .route("/progress", get(reports::progress_route))
        .route(
            "/licences",
            get(licences::list_route).post(licences::apply_route),
        )
        .route(
            "/licences/{id}",
            axum::routing::delete(licences::delete_route),
        )
        .route("/directories/{id}/bulk-tokens", get(enrollment::list))
        .route(
            "/directories/{id}/bulk-tokens/flows",
            post(enrollment::start),
        )
        .route(
            "/directories/{id}/bulk-tokens/flows/{flow}/poll",
            post(enrollment::poll),
        )
        .route(
            "/directories/{id}/bulk-tokens/flows/{flow}/complete",
            post(enrollment::complete),
        )
        .route(
            "/directories/{id}/bulk-tokens/{token}",
            axum::routing::delete(enrollment::delete),
        )
        .route(
            "/command-packages",
            get(packages::list)
                .post(packages::upload)
                .layer(DefaultBodyLimit::max(crate::packages::MAX_UPLOAD_BYTES)),
        )
        .route(
            "/command-packages/{sha256}",
            axum::routing::delete(packages::delete),
        )
        .route("/openapi.json", get(openapi::document))
}

/// Every route of this API that changes something, as (method, path under `/api/v1` with `{id}`
/// for an id). The RBAC test walks this list, so a new mutating route belongs here.
pub const MUTATING_ROUTES: &[(&str, &str)] = &[
    ("POST", "/directories"),
    ("POST", "/directories/{id}/import"),
    ("POST", "/match"),
    ("PUT", "/match/profile"),
    ("POST", "/match/run"),
    ("POST", "/psks"),
    ("DELETE", "/psks/{id}"),
    ("POST", "/agent-certificates"),
    ("POST", "/runbooks"),
    ("PUT", "/runbooks/{id}"),
    ("DELETE", "/runbooks/{id}"),
    ("POST", "/batches"),
    ("PUT", "/batches/{id}"),
    ("DELETE", "/batches/{id}"),
    ("PUT", "/batches/{id}/computers.csv"),
    ("POST", "/licences"),
    ("DELETE", "/licences/{id}"),
    ("POST", "/directories/{id}/bulk-tokens/flows"),
    ("POST", "/directories/{id}/bulk-tokens/flows/{id}/poll"),
    ("POST", "/directories/{id}/bulk-tokens/flows/{id}/complete"),
    ("DELETE", "/directories/{id}/bulk-tokens/{id}"),
    ("PUT", "/directories/{id}/connection"),
    ("POST", "/directories/{id}/sync"),
    ("PUT", "/sync/schedule"),
    ("POST", "/sync/run"),
    ("POST", "/command-packages"),
    ("DELETE", "/command-packages/{id}"),
];

/// Every GET route of this API, as in [`MUTATING_ROUTES`]. The OpenAPI test checks the document
/// against both lists, so a new route belongs in one of them and in [`openapi::ApiDoc`].
pub const READ_ROUTES: &[&str] = &[
    "/audit",
    "/audit.csv",
    "/directories/{id}/connection",
    "/sync/schedule",
    "/match/profile",
    "/match/explain",
    "/objects",
    "/objects/{id}/{id}",
    "/directories",
    "/directories/{id}",
    "/directories/{id}/imports",
    "/translations",
    "/translations.csv",
    "/psks",
    "/agent-certificates",
    "/runbooks",
    "/runbooks/{id}",
    "/batches",
    "/batches/compatible-runbooks",
    "/batches/{id}/computers.csv",
    "/computers",
    "/batches/{id}",
    "/agents",
    "/agents/{id}",
    "/agents/{id}/events",
    "/failed-communications",
    "/progress",
    "/licences",
    "/directories/{id}/bulk-tokens",
    "/command-packages",
    "/openapi.json",
];

/// Reads a JSON request body; errors name `body`, like every other input error. Handlers call it
/// after `caller.require`, so a caller without the role learns nothing about what a body needs.
pub fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::field("body", format!("not the expected JSON: {}", e)))
}

/// Parses an id from a path segment, naming it on failure.
pub fn parse_id<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, Error> {
    text.parse()
        .map_err(|_| Error::field(field, "not a valid id"))
}
