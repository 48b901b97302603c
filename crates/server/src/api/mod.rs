//! The admin JSON API under `/api/v1/`: directories, import, matching and the translation table;
//! PSKs and agent certificates; runbooks and batches; reports. Every route names the area and
//! access it needs through [`crate::auth::Caller::require`]; the pub functions beside the handlers
//! are the same operations for the `rehome` binary.

pub mod batches;
pub mod connections;
pub mod directories;
pub mod directory_sync;
pub mod enrollment;
pub mod keys;
pub mod licences;
pub mod matching;
pub mod objects;
pub mod openapi;
pub mod packages;
pub mod reports;
pub mod runbooks;

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
        .route(
            "/directories/{id}/sync",
            post(directory_sync::sync_directory),
        )
        .route(
            "/sync/schedule",
            get(directory_sync::get_schedule).put(directory_sync::put_schedule),
        )
        .route("/sync/run", post(directory_sync::run_cycle))
        .route("/match", post(matching::match_route))
        .route(
            "/match/profile",
            get(matching::get_profile).put(matching::put_profile),
        )
        .route("/match/run", post(matching::run))
        .route("/match/what-if", post(matching::what_if))
        .route("/match/explain", get(matching::explain))
        .route("/objects", get(objects::search))
        .route("/objects/{directory}/{guid}", get(objects::report))
        .route("/translations", get(directories::translations))
        .route("/translations.csv", get(directories::translations_csv))
        .route("/psks", get(keys::list_psks).post(keys::create_psk_route))
        .route("/psks/{id}", axum::routing::delete(keys::delete_psk))
        .route(
            "/agent-certificates",
            get(keys::list_certificates).post(keys::create_certificate_route),
        )
        .route(
            "/runbooks",
            get(runbooks::list_runbooks).post(runbooks::create_runbook_route),
        )
        .route(
            "/runbooks/{id}",
            get(runbooks::get_runbook)
                .put(runbooks::update_runbook_route)
                .delete(runbooks::delete_runbook),
        )
        .route(
            "/batches",
            get(batches::list_batches).post(batches::create_batch_route),
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
            get(batches::get_batch)
                .put(batches::update_batch_route)
                .delete(batches::delete_batch),
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

/// Reads a body that is a model type minus its id, with `id` put in.
pub fn with_id<T: DeserializeOwned>(
    mut body: serde_json::Value,
    id: uuid::Uuid,
) -> Result<T, Error> {
    let object = body
        .as_object_mut()
        .ok_or_else(|| Error::field("body", "a JSON object is expected"))?;
    object.insert("id".to_string(), serde_json::Value::String(id.to_string()));
    serde_json::from_value(body).map_err(|e| Error::field("body", e.to_string()))
}
