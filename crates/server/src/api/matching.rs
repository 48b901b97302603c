//! `/api/v1/match` and `/api/v1/match/…`: matching by one attribute, match profiles, running and
//! trying them, and why a user did not match.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::Json;
use model::directory::MatchAttribute;
use model::ids::DirectoryId;
use serde::{Deserialize, Serialize};

use super::json_body;
use crate::auth::{Access, Area, Caller};
use crate::directory::matching::WhatIf;
use crate::directory::profile::{preset, Explanation, MatchProfile};
use crate::directory::MatchSummary;
use crate::{App, Error, Result};

/// A source and target directory, as query parameters.
#[derive(Debug, Deserialize)]
pub struct Pair {
    /// Source directory.
    pub source: DirectoryId,
    /// Target directory.
    pub target: DirectoryId,
}

/// The body of `PUT /match/profile`, `POST /match/run` and `POST /match/what-if`.
#[derive(Debug, Deserialize)]
pub struct ProfileRequest {
    /// Source directory.
    pub source: DirectoryId,
    /// Target directory.
    pub target: DirectoryId,
    /// The profile; absent means the pair's stored one.
    #[serde(default)]
    pub profile: Option<serde_json::Value>,
    /// Or a preset's name (`sAMAccountName`, `upn`, `mail`, `employeeID`, `upn-localpart`).
    #[serde(default)]
    pub preset: Option<String>,
}

fn chosen(request: &ProfileRequest) -> Result<Option<MatchProfile>> {
    match (&request.profile, &request.preset) {
        (Some(_), Some(_)) => Err(Error::field(
            "preset",
            "give a profile or a preset, not both",
        )),
        (Some(value), None) => {
            let input: crate::directory::profile::ProfileInput =
                serde_json::from_value(value.clone())
                    .map_err(|e| Error::field("profile", e.to_string()))?;
            Ok(Some(input.into_profile().map_err(|e| {
                match e {
                    Error::Invalid(fields) => Error::Invalid(
                        fields
                            .into_iter()
                            .map(|f| {
                                model::FieldError::new(format!("profile.{}", f.field), f.message)
                            })
                            .collect(),
                    ),
                    other => other,
                }
            })?))
        }
        (None, Some(name)) => preset(name).map(Some).ok_or_else(|| {
            Error::field(
                "preset",
                "one of sAMAccountName, upn, mail, employeeID, upn-localpart",
            )
        }),
        (None, None) => Ok(None),
    }
}

/// `GET /match/profile?source&target`: the profile the pair matches with.
#[utoipa::path(
    get,
    path = "/match/profile",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(("source" = String, Query, description = "Source directory id."), ("target" = String, Query, description = "Target directory id.")),
    responses(
        (status = 200, description = "The pair's profile (sAMAccountName by default).", body = crate::api::openapi::schemas::MatchProfile),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn get_profile(
    caller: Caller,
    State(app): State<App>,
    Query(pair): Query<Pair>,
) -> Result<Json<MatchProfile>> {
    caller.require(Area::Sync, Access::Read)?;
    Ok(Json(
        crate::directory::pair_profile(&app, pair.source, pair.target).await?,
    ))
}

/// `PUT /match/profile`: stores the pair's profile without running it.
#[utoipa::path(
    put,
    path = "/match/profile",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_EDIT,
    request_body = crate::api::openapi::schemas::ProfileRequest,
    responses(
        (status = 200, description = "The stored profile.", body = crate::api::openapi::schemas::MatchProfile),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn put_profile(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<MatchProfile>> {
    caller.require(Area::Sync, Access::Edit)?;
    let request: ProfileRequest = json_body(&body)?;
    let profile =
        chosen(&request)?.ok_or_else(|| Error::field("profile", "give a profile or a preset"))?;
    crate::directory::set_pair_profile(&app, request.source, request.target, &profile).await?;
    Ok(Json(profile))
}

/// `POST /match/run`: matches the pair (with the given profile, which is then stored).
#[utoipa::path(
    post,
    path = "/match/run",
    tag = "sync",
    description = "Access: Sync operate to run the stored profile; Sync edit to give one.",
    request_body = crate::api::openapi::schemas::ProfileRequest,
    responses(
        (status = 200, description = "What matching found.", body = crate::api::openapi::schemas::MatchSummary),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn run(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<MatchSummary>> {
    caller.require(Area::Sync, Access::Operate)?;
    let request: ProfileRequest = json_body(&body)?;
    let profile = chosen(&request)?;
    if profile.is_some() {
        // Choosing the profile is an edit; running the stored one is not.
        caller.require(Area::Sync, Access::Edit)?;
    }
    Ok(Json(
        crate::directory::match_pair(&app, request.source, request.target, profile).await?,
    ))
}

/// `POST /match/what-if`: what a run would change, changing nothing.
#[utoipa::path(
    post,
    path = "/match/what-if",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    request_body = crate::api::openapi::schemas::ProfileRequest,
    responses(
        (status = 200, description = "What a run would change; nothing is changed.", body = crate::api::openapi::schemas::WhatIf),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn what_if(caller: Caller, State(app): State<App>, body: Bytes) -> Result<Json<WhatIf>> {
    caller.require(Area::Sync, Access::Read)?;
    let request: ProfileRequest = json_body(&body)?;
    let profile = chosen(&request)?;
    Ok(Json(
        crate::directory::what_if(&app, request.source, request.target, profile).await?,
    ))
}

/// The query of `GET /match/explain`.
#[derive(Debug, Deserialize)]
pub struct ExplainQuery {
    /// Source directory.
    pub source: DirectoryId,
    /// Target directory.
    pub target: DirectoryId,
    /// The source user or group: GUID, SID, UPN, sAMAccountName, mail or name.
    pub user: String,
}

/// Why not matched, as text and steps.
#[derive(Debug, Serialize)]
pub struct ExplainResponse {
    /// The explanation as readable lines.
    pub text: String,
    /// The same, step by step.
    #[serde(flatten)]
    pub explanation: Explanation,
}

/// `GET /match/explain?source&target&user`: why that source object matched or did not.
#[utoipa::path(
    get,
    path = "/match/explain",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_READ,
    params(("source" = String, Query, description = "Source directory id."), ("target" = String, Query, description = "Target directory id."), ("user" = String, Query, description = "GUID, SID, UPN, sAMAccountName, mail or name of the source object.")),
    responses(
        (status = 200, description = "Why it matched or not, rule by rule.", body = crate::api::openapi::schemas::Explanation),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn explain(
    caller: Caller,
    State(app): State<App>,
    Query(query): Query<ExplainQuery>,
) -> Result<Json<ExplainResponse>> {
    caller.require(Area::Sync, Access::Read)?;
    let explanation =
        crate::directory::explain_match(&app, query.source, query.target, &query.user).await?;
    Ok(Json(ExplainResponse {
        text: explanation.to_string(),
        explanation,
    }))
}

/// The body of `POST /match`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MatchRequest {
    /// Source directory.
    #[schema(value_type = uuid::Uuid)]
    pub source: DirectoryId,
    /// Target directory.
    #[schema(value_type = uuid::Uuid)]
    pub target: DirectoryId,
    /// The attribute compared, e.g. `sAMAccountName` or `mail`.
    pub attribute: String,
}

/// `POST /match`: matches users and groups one to one by one attribute.
#[utoipa::path(
    post,
    path = "/match",
    tag = "sync",
    description = crate::api::openapi::access::SYNC_OPERATE,
    request_body = MatchRequest,
    responses(
        (status = 200, description = "What matching found.", body = crate::api::openapi::schemas::MatchSummary),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn match_route(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<Json<MatchSummary>> {
    caller.require(Area::Sync, Access::Operate)?;
    let body: MatchRequest = json_body(&body)?;
    let attribute = MatchAttribute::parse(&body.attribute).ok_or_else(|| {
        Error::field(
            "attribute",
            "one of sAMAccountName, userPrincipalName, mail, employeeID, name",
        )
    })?;
    Ok(Json(
        crate::directory::match_users(&app, body.source, body.target, attribute).await?,
    ))
}
