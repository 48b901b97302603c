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
pub mod lock_screen;
pub mod matching;
pub mod objects;
pub mod openapi;
pub mod packages;
pub mod provisioning;
pub mod readiness;
pub mod reports;
pub mod runbooks;
pub mod sync_profiles;
pub mod translations;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{App, Error};

/// Largest directory document `POST /directories/{id}/import` accepts.
pub const IMPORT_BODY_LIMIT: usize = 512 * 1024 * 1024;

/// Every route of the admin API, relative to `/api/v1`, each with its OpenAPI operation: the one
/// table the router, the document and the route lists of the tests are derived from. A handler
/// listed here carries `#[utoipa::path]` with its method and path; handlers of one path go in one
/// `routes!`.
pub fn routes() -> OpenApiRouter<App> {
    // Whole directories arrive in one document: far beyond the 2 MB default.
    let imports = OpenApiRouter::new()
        .routes(routes!(directories::import_route))
        .layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT));
    let packages = OpenApiRouter::new()
        .routes(routes!(packages::list, packages::upload))
        .layer(DefaultBodyLimit::max(crate::packages::MAX_UPLOAD_BYTES));
    let images = OpenApiRouter::new()
        .routes(routes!(lock_screen::list, lock_screen::upload))
        .layer(DefaultBodyLimit::max(crate::lock_screen::MAX_IMAGE_BYTES));
    let provisioning_packages = OpenApiRouter::new()
        .routes(routes!(
            provisioning::upload_provisioning_package,
            provisioning::show_provisioning_package,
            provisioning::delete_provisioning_package
        ))
        .layer(DefaultBodyLimit::max(
            crate::enrollment::provisioning::MAX_PACKAGE_BYTES,
        ));
    OpenApiRouter::new()
        .routes(routes!(directories::list, directories::create_route))
        .routes(routes!(directories::get_one))
        .merge(imports)
        .routes(routes!(directories::imports))
        .routes(routes!(
            connections::get_connection,
            connections::put_connection
        ))
        .routes(routes!(
            connections::get_import_kinds,
            connections::put_import_kinds
        ))
        .routes(routes!(directory_sync::sync_directory))
        .routes(routes!(
            directory_sync::get_schedule,
            directory_sync::put_schedule
        ))
        .routes(routes!(directory_sync::run_cycle))
        .routes(routes!(
            sync_profiles::list_sync_profiles,
            sync_profiles::create_sync_profile
        ))
        .routes(routes!(
            sync_profiles::get_sync_profile,
            sync_profiles::update_sync_profile,
            sync_profiles::delete_sync_profile
        ))
        .routes(routes!(sync_profiles::run_export))
        .routes(routes!(sync_profiles::export_what_if))
        .routes(routes!(sync_profiles::export_runs))
        .routes(routes!(matching::match_route))
        .routes(routes!(matching::get_profile, matching::put_profile))
        .routes(routes!(matching::run))
        .routes(routes!(matching::what_if))
        .routes(routes!(matching::explain))
        .routes(routes!(objects::search))
        .routes(routes!(objects::report))
        .routes(routes!(translations::translations))
        .routes(routes!(translations::translations_csv))
        .routes(routes!(keys::list_psks, keys::create_psk_route))
        .routes(routes!(keys::delete_psk))
        .routes(routes!(
            keys::list_certificates,
            keys::create_certificate_route
        ))
        .routes(routes!(
            runbooks::list_runbooks,
            runbooks::create_runbook_route
        ))
        .routes(routes!(
            runbooks::get_runbook,
            runbooks::update_runbook_route,
            runbooks::delete_runbook
        ))
        .routes(routes!(batches::list_batches, batches::create_batch_route))
        .routes(routes!(batches::compatible_runbooks))
        .routes(routes!(batches::export_csv, batches::import_csv))
        .routes(routes!(batches::computers))
        .routes(routes!(
            batches::get_batch,
            batches::update_batch_route,
            batches::delete_batch
        ))
        .routes(routes!(reports::agents))
        .routes(routes!(reports::agent_details))
        .routes(routes!(reports::agent_events))
        .routes(routes!(reports::retry_run))
        .routes(routes!(reports::agent_plan))
        .routes(routes!(readiness::batch_readiness))
        .routes(routes!(readiness::batch_readiness_csv))
        .routes(routes!(readiness::agent_readiness))
        .routes(routes!(readiness::request_readiness))
        .routes(routes!(readiness::waive))
        .routes(routes!(reports::failed_communications))
        .routes(routes!(reports::progress_route))
        .routes(routes!(licences::list_route, licences::apply_route))
        .routes(routes!(licences::delete_route))
        .routes(routes!(enrollment::list))
        .routes(routes!(enrollment::start))
        .routes(routes!(enrollment::poll))
        .routes(routes!(enrollment::complete))
        .routes(routes!(enrollment::delete))
        .merge(provisioning_packages)
        .merge(packages)
        .routes(routes!(packages::delete))
        .merge(images)
        .routes(routes!(lock_screen::delete))
        .routes(routes!(crate::audit::routes::list))
        .routes(routes!(crate::audit::routes::csv))
        .routes(routes!(openapi::document))
}

/// The routes of the admin API, relative to `/api/v1`.
pub fn router() -> Router<App> {
    routes().split_for_parts().0
}

/// Every operation of the admin API (without the sign-in and user routes of [`crate::auth`]), as
/// (METHOD, path under `/api/v1` as documented, e.g. `/batches/{id}`).
pub fn operations() -> Vec<(String, String)> {
    let (_, doc) = routes().split_for_parts();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, operation) in [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("PATCH", &item.patch),
        ] {
            if operation.is_some() {
                out.push((method.to_string(), path.clone()));
            }
        }
    }
    out
}

/// Every operation of [`operations`] that changes something: not a GET, and documented with an
/// access above read (`POST /match/what-if` only reads). The RBAC test walks this list.
pub fn mutating_routes() -> Vec<(String, String)> {
    let (_, doc) = routes().split_for_parts();
    operations()
        .into_iter()
        .filter(|(method, path)| {
            let item = &doc.paths.paths[path];
            let operation = match method.as_str() {
                "PUT" => &item.put,
                "POST" => &item.post,
                "DELETE" => &item.delete,
                "PATCH" => &item.patch,
                _ => return false,
            };
            let description = operation
                .as_ref()
                .and_then(|o| o.description.as_deref())
                .unwrap_or_default();
            !description.contains(" read ")
        })
        .collect()
}

/// Reads the body of `request`, up to `limit` bytes. A route that accepts a large body takes the
/// request whole and calls this after `caller.require`, so that only a caller allowed to send
/// such a body makes the server hold it (an extracted `Bytes` is read before the handler runs).
pub async fn body_after_check(
    request: axum::extract::Request,
    limit: usize,
) -> Result<Bytes, Error> {
    use futures_util::StreamExt;
    let mut stream = request.into_body().into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Error::field("body", "the body could not be read whole"))?;
        if bytes.len() + chunk.len() > limit {
            return Err(Error::TooLarge(limit / (1024 * 1024)));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(bytes))
}

/// Reads a JSON request body. A value of the wrong type or shape is named by where it is
/// (`assignments[0].mode`); broken JSON, and anything wrong with the body as a whole, by `body`.
/// Handlers call it after `caller.require`, so a caller without the role learns nothing about
/// what a body needs.
pub fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, Error> {
    let wrong = |field: String, e: serde_json::Error| {
        Error::field(field, format!("not the expected JSON: {}", e))
    };
    let mut reader = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
        let path = e.path().to_string();
        let e = e.into_inner();
        let in_a_field = e.classify() == serde_json::error::Category::Data && path != ".";
        wrong(if in_a_field { path } else { "body".to_string() }, e)
    })?;
    reader.end().map_err(|e| wrong("body".to_string(), e))?;
    Ok(value)
}

/// Parses an id from a path segment, naming it on failure.
pub fn parse_id<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, Error> {
    text.parse()
        .map_err(|_| Error::field(field, "not a valid id"))
}

/// Reads a body that is a model type minus its id, with `id` put in. A value of the wrong type
/// or shape is named by where it is, as [`json_body`] names it; a missing field, by `body`.
pub fn with_id<T: DeserializeOwned>(
    mut body: serde_json::Value,
    id: uuid::Uuid,
) -> Result<T, Error> {
    let object = body
        .as_object_mut()
        .ok_or_else(|| Error::field("body", "a JSON object is expected"))?;
    object.insert("id".to_string(), serde_json::Value::String(id.to_string()));
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        Error::field(field, format!("not the expected JSON: {}", e.into_inner()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        mode: Mode,
    }

    #[derive(Debug, serde::Deserialize)]
    enum Mode {
        Quiet,
    }

    fn field_of(json: &str) -> String {
        match json_body::<Body>(&Bytes::from(json.to_string())) {
            Err(Error::Invalid(fields)) => fields[0].field.clone(),
            other => panic!("{json} was read: {other:?}"),
        }
    }

    #[test]
    fn a_wrong_value_is_named_by_where_it_is_and_broken_json_by_body() {
        assert_eq!(field_of(r#"{"name": 5, "items": []}"#), "name");
        let second = r#"{"name": "x", "items": [{"mode": "Quiet"}, {"mode": "Loud"}]}"#;
        assert_eq!(field_of(second), "items[1].mode");
        assert_eq!(field_of(r#"{"name": "x"}"#), "body");
        assert_eq!(field_of(r#"{"name": "x", "items": []} and more"#), "body");
        assert_eq!(field_of(r#"{"name": "x", "items": ["#), "body");
        assert_eq!(field_of(""), "body");
        let read: Body = json_body(&Bytes::from(r#"{"name": "x", "items": []}"#)).expect("read");
        assert_eq!(read.name, "x");
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct WithId {
        id: uuid::Uuid,
        name: String,
        items: Vec<Item>,
    }

    fn field_with_id(json: serde_json::Value) -> String {
        match with_id::<WithId>(json.clone(), uuid::Uuid::nil()) {
            Err(Error::Invalid(fields)) => fields[0].field.clone(),
            other => panic!("{json} was read: {other:?}"),
        }
    }

    #[test]
    fn a_body_given_its_id_names_a_wrong_value_by_where_it_is() {
        let second =
            serde_json::json!({"name": "x", "items": [{"mode": "Quiet"}, {"mode": "Loud"}]});
        assert_eq!(field_with_id(second), "items[1].mode");
        assert_eq!(
            field_with_id(serde_json::json!({"name": 5, "items": []})),
            "name"
        );
        assert_eq!(field_with_id(serde_json::json!({"name": "x"})), "body");
        assert_eq!(field_with_id(serde_json::json!(["x"])), "body");
        let read: WithId = with_id(
            serde_json::json!({"name": "x", "items": []}),
            uuid::Uuid::nil(),
        )
        .expect("read");
        assert_eq!((read.id, read.name.as_str()), (uuid::Uuid::nil(), "x"));
    }
}
