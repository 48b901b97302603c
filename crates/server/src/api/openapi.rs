//! The OpenAPI 3 document of the admin API, generated from the handlers.
//!
//! How to document a route: put `#[utoipa::path(method, path = "/…", tag = "…", description =
//! access::…, params(…), request_body = …, responses(…))]` on its handler (see any handler in
//! `api/`), with the path as
//! the router writes it under `/api/v1`; name the handler in [`ApiDoc`]'s `paths(…)`; add a GET
//! route to [`super::READ_ROUTES`] (a changing one already goes to `MUTATING_ROUTES`). Bodies
//! that are server types derive `utoipa::ToSchema`; `model` types stay free of utoipa and are
//! named here with [`opaque_schema!`]. 401 and 403 are added to every signed-in operation by
//! [`Guarded`]; write the 404, 409 and 422 (field errors, as [`ErrorBody`]) a handler can answer.
//! The integration test `openapi` checks every route is documented and every documented path is
//! routed.

use std::borrow::Cow;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::auth::Caller;
use crate::error::ErrorBody;
use crate::Result;

/// Access phrases for the `description` of operations, one per area and level.
pub mod access {
    /// Reads the directory side.
    pub const SYNC_READ: &str =
        "Access: Sync read (SyncViewer, SyncOperator, SyncAdmin, TenantAdmin).";
    /// Runs imports and matching.
    pub const SYNC_OPERATE: &str = "Access: Sync operate (SyncOperator, SyncAdmin, TenantAdmin).";
    /// Edits directories.
    pub const SYNC_EDIT: &str = "Access: Sync edit (SyncAdmin, TenantAdmin).";
    /// Reads the migration side.
    pub const AGENT_READ: &str =
        "Access: Agent read (AgentViewer, AgentOperator, AgentAdmin, TenantAdmin).";
    /// Schedules batches.
    pub const AGENT_OPERATE: &str =
        "Access: Agent operate (AgentOperator, AgentAdmin, TenantAdmin).";
    /// Edits runbooks, PSKs, certificates, packages and tokens.
    pub const AGENT_EDIT: &str = "Access: Agent edit (AgentAdmin, TenantAdmin).";
    /// Users and licences.
    pub const TENANT_READ: &str = "Access: Tenant read (TenantAdmin).";
    /// Users and licences.
    pub const TENANT_EDIT: &str = "Access: Tenant edit (TenantAdmin).";
}

/// A named schema for a body whose type lives in `model` (which does not depend on utoipa): an
/// object, described in words.
macro_rules! opaque_schema {
    ($name:ident, $description:literal) => {
        #[doc = $description]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::Object))
                    .description(Some($description))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

/// Schemas for bodies the server does not define itself.
pub mod schemas {
    use super::*;

    /// A field of the input that is wrong, as `model::FieldError` serialises it.
    #[derive(ToSchema)]
    pub struct FieldError {
        /// Dotted path of the field, e.g. `assignments[0].enforced_after`.
        pub field: String,
        /// What is wrong and what would be right.
        pub message: String,
    }

    opaque_schema!(
        Directory,
        "A directory: id, name, kind (ActiveDirectory or EntraId), domain and its settings."
    );
    opaque_schema!(
        DirectoryDocument,
        "A whole directory as a JSON document of users, groups and computers, replacing the last import."
    );
    opaque_schema!(
        ImportSummary,
        "Counts of what an import added, changed and removed."
    );
    opaque_schema!(
        ImportRun,
        "One past import of a directory, with its counts and outcome."
    );
    opaque_schema!(
        MatchSummary,
        "Counts of what matching paired, left alone or found ambiguous."
    );
    opaque_schema!(
        ConnectionRequest,
        "How a directory is read: {kind: ldap|graph|file, …settings}, with the bind password or client secret as a write-only `secret` (left out, the stored one is kept)."
    );
    opaque_schema!(
        ConnectionInfo,
        "A directory's connection without its secret, and has_secret."
    );
    opaque_schema!(
        SyncRequest,
        "{mode: full|incremental}: read everything, or the changes since the stored cursor."
    );
    opaque_schema!(
        SyncSchedule,
        "The import and match cycle: enabled (off by default), interval_minutes (5 to 10080), last_started, last_finished, last_error."
    );
    opaque_schema!(
        SyncOutcome,
        "What one import and match cycle did, directory by directory and pair by pair."
    );
    opaque_schema!(
        MatchProfile,
        "A match profile: name, sid_history (true: a target holding the source SID matches first) and ordered rules, each {applies_to: users|groups|both, source, target, ignore_case} with expressions such as lower(localpart(userPrincipalName))."
    );
    opaque_schema!(
        ProfileRequest,
        "source and target directory ids, and either profile (a match profile) or preset (sAMAccountName, upn, mail, employeeID, upn-localpart); neither means the pair's stored profile."
    );
    opaque_schema!(
        WhatIf,
        "What a match run would do: its summary and how many translation rows it would add, change and remove, with examples."
    );
    opaque_schema!(
        Explanation,
        "Why one source object matched or not: text (readable lines), outcome, target, and steps (sIDHistory then each rule, with values, candidates and verdict)."
    );
    opaque_schema!(
        ObjectHit,
        "An object found by search: directory, guid, kind, name, upn, sam_account_name."
    );
    opaque_schema!(
        ObjectReport,
        "The Single Object Report: directory, object (every attribute), messages, translations, profiles, batches and target_object."
    );
    opaque_schema!(
        TranslationEntry,
        "A row of the translation table: a source object and the target it maps to."
    );
    opaque_schema!(
        PskInfo,
        "A pre-shared key as listed: its id and dates, never the key."
    );
    opaque_schema!(
        CertificateInfo,
        "An agent certificate: id, name, subject, validity and the PEM of the certificate."
    );
    opaque_schema!(
        Runbook,
        "A runbook: its steps, settings and assignments; passwords in it are write-only."
    );
    opaque_schema!(
        RunbookView,
        "A runbook as stored, with `secrets_set` telling which write-only passwords are set."
    );
    opaque_schema!(
        Batch,
        "A batch: name, runbook, schedule and the computers it selects."
    );
    opaque_schema!(
        BatchView,
        "A batch with the computers it shares with other batches (`overlaps`) and `warnings`."
    );
    opaque_schema!(
        ComputerEntry,
        "A computer of a directory, with the batch it is in, if any."
    );
    opaque_schema!(AgentEvent, "One entry of an agent's log.");
    opaque_schema!(UserProfile, "A user profile found on an agent's computer.");
    opaque_schema!(
        FailedCommunication,
        "Requests from one address the server refused for one reason: at (the latest), first_at, repeats, computer_name (the latest claimed), remote_address, code, message."
    );
    opaque_schema!(
        LicenceView,
        "A licence: its holder, limits and validity; never the signature."
    );
    opaque_schema!(
        StartedFlow,
        "A started sign-in: the flow id, its kind, expiry, and the device code or browser URL."
    );
    opaque_schema!(
        PollOutcome,
        "Either `pending` with `poll_after`, or `created` with the token as listed."
    );
    opaque_schema!(
        BulkTokenView,
        "A bulk enrollment token as listed: never the token itself."
    );
    opaque_schema!(
        PackageView,
        "A command package: its SHA-256, name, size and when it was uploaded."
    );
    /// A file sent as the raw request body.
    pub struct Binary;

    impl PartialSchema for Binary {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                .into()
        }
    }

    impl ToSchema for Binary {}

    opaque_schema!(
        StartRequest,
        "`display_name`, `days_valid` (1 to 180), `flow` (`device_code` or `authorization_code`) and `redirect_uri`."
    );
}

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

/// The document: every admin API operation.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "rehome admin API",
        description = "The JSON API under /api/v1 that the console and scripts use. Input errors answer 422 with the fields named."
    ),
    servers((url = "/api/v1")),
    modifiers(&Guarded),
    components(schemas(ErrorBody)),
    paths(
        document,
        crate::auth::routes::login,
        crate::auth::routes::logout,
        crate::auth::routes::whoami,
        crate::auth::routes::change_password,
        crate::auth::routes::list_users,
        crate::auth::routes::create_user,
        crate::auth::routes::get_user,
        crate::auth::routes::update_user,
        crate::auth::routes::delete_user,
        super::directories::list,
        super::directories::create_route,
        super::directories::get_one,
        super::directories::import_route,
        super::directories::imports,
        super::directories::match_route,
        super::connections::get_connection,
        super::connections::put_connection,
        super::connections::sync_directory,
        super::connections::get_schedule,
        super::connections::put_schedule,
        super::connections::run_cycle,
        super::sync::get_profile,
        super::sync::put_profile,
        super::sync::run,
        super::sync::what_if,
        super::sync::explain,
        super::sync::search,
        super::sync::report,
        super::directories::translations,
        super::directories::translations_csv,
        super::secrets::list_psks,
        super::secrets::create_psk_route,
        super::secrets::delete_psk,
        super::secrets::list_certificates,
        super::secrets::create_certificate_route,
        super::config::list_runbooks,
        super::config::create_runbook_route,
        super::config::get_runbook,
        super::config::update_runbook_route,
        super::config::delete_runbook,
        super::config::list_batches,
        super::config::create_batch_route,
        super::config::get_batch,
        super::config::update_batch_route,
        super::config::delete_batch,
        super::batches::compatible_runbooks,
        super::batches::computers,
        super::batches::export_csv,
        super::batches::import_csv,
        super::reports::agents,
        super::reports::agent_details,
        super::reports::agent_events,
        super::reports::failed_communications,
        super::reports::progress_route,
        super::licences::list_route,
        super::licences::apply_route,
        super::licences::delete_route,
        super::enrollment::list,
        super::enrollment::start,
        super::enrollment::poll,
        super::enrollment::complete,
        super::enrollment::delete,
        super::packages::list,
        super::packages::upload,
        super::packages::delete,
        crate::audit::routes::list,
        crate::audit::routes::csv,
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON, for `rehome openapi`.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{}\"}}", e))
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
