//! The OpenAPI 3 document of the admin API, generated from the handlers.
//!
//! How to add a route: put `#[utoipa::path(method, path = "/…", tag = "…", description =
//! access::…, params(…), request_body = …, responses(…))]` on its handler (see any handler in
//! `api/`), with the path as it reads under `/api/v1`, and name the handler in a `routes!` of
//! [`super::routes`]: that one table makes the router, this document and the route lists the RBAC
//! and OpenAPI tests walk. Request and answer bodies derive `utoipa::ToSchema`; a body of a `model`
//! type (`model` stays free of utoipa) is named by its schema in [`schemas`]. 401 and 403 are added
//! to every signed-in operation by [`Guarded`]; write the 404, 409 and 422 (field errors, as
//! [`ErrorBody`]) a handler can answer.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::Result;

pub mod access;
pub mod schemas;

/// Adds the answers every signed-in operation can give, and the bearer scheme.
pub struct Guarded;

/// Operations anyone may call.
const OPEN: &[&str] = &["/auth/login"];

impl Modify for Guarded {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The token from POST /api/v1/auth/login, or the console's session cookie.",
                    ))
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                // Handlers in different modules share names (`list`, `delete`): prefix the tag.
                if let (Some(tag), Some(id)) = (
                    operation.tags.as_ref().and_then(|t| t.first()),
                    operation.operation_id.as_mut(),
                ) {
                    *id = format!("{}_{}", tag, id);
                }
                if !OPEN.contains(&path.as_str()) {
                    guard(operation);
                }
            }
        }
    }
}

fn guard(operation: &mut Operation) {
    let error = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::content::Content::new(Some(RefOr::Ref(
                    utoipa::openapi::Ref::from_schema_name("ErrorBody"),
                ))),
            )
            .build()
    };
    let responses = &mut operation.responses.responses;
    responses
        .entry("401".to_string())
        .or_insert_with(|| error("Not signed in, or the token or session is not valid.").into());
    responses.entry("403".to_string()).or_insert_with(|| {
        error(
            "Signed in but not allowed: no role of the caller grants this, the password must be \
             changed first, or a console request lacks its CSRF token.",
        )
        .into()
    });
    operation.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new::<
        &str,
        [&str; 0],
        &str,
    >("bearer", [])]);
}

/// The head of the document and the sign-in and user operations, which [`crate::auth`] routes
/// itself; [`super::routes`] adds every other operation.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "rehome admin API",
        description = "The JSON API under /api/v1 that the console and scripts use. Input errors answer 422 with the fields named."
    ),
    servers((url = "/api/v1")),
    components(schemas(ErrorBody)),
    paths(
        crate::auth::routes::login,
        crate::auth::routes::logout,
        crate::auth::routes::whoami,
        crate::auth::routes::change_password,
        crate::auth::routes::list_users,
        crate::auth::routes::create_user,
        crate::auth::routes::get_user,
        crate::auth::routes::update_user,
        crate::auth::routes::delete_user,
    )
)]
pub struct ApiDoc;

/// The whole document: [`ApiDoc`] with the operations of [`super::routes`], each signed-in one
/// with its 401 and 403 answers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = OpenApiRouter::<crate::App>::with_openapi(ApiDoc::openapi())
        .merge(super::routes())
        .split_for_parts();
    Guarded.modify(&mut doc);
    doc
}

/// The document as pretty JSON, for `GET /openapi.json` and `rehome openapi`; built once.
pub fn json() -> String {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{}\"}}", e))
    })
    .clone()
}

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    description = "Access: any signed-in user.",
    responses((status = 200, description = "The OpenAPI 3 document.", content_type = "application/json"))
)]
pub async fn document(_caller: Caller) -> Result<impl IntoResponse> {
    Ok(([(header::CONTENT_TYPE, "application/json")], json()))
}
