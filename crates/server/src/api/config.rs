//! `/api/v1/runbooks` and `/api/v1/batches`: the migration configuration, checked as a whole
//! before anything is stored.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use model::batch::Batch;
use model::directory::Directory;
use model::ids::{BatchId, RunbookId};
use model::rules::PasswordPolicy;
use model::runbook::{check_prerequisites, Runbook, RunbookContext, SecretsSet};
use model::{FieldError, Validator};
use serde::de::DeserializeOwned;
use serde::Serialize;

use axum::body::Bytes;

use super::batches::{self, BatchView};
use super::{json_body, parse_id};
use crate::auth::{Access, Area, Caller};
use crate::{App, Error, Result};

/// Reads a body that is a model type minus its id, with `id` put in.
fn with_id<T: DeserializeOwned>(mut body: serde_json::Value, id: uuid::Uuid) -> Result<T> {
    let object = body
        .as_object_mut()
        .ok_or_else(|| Error::field("body", "a JSON object is expected"))?;
    object.insert("id".to_string(), serde_json::Value::String(id.to_string()));
    serde_json::from_value(body).map_err(|e| Error::field("body", e.to_string()))
}

/// The field errors of `result`, or the error itself when it is not about fields.
fn field_errors(result: model::Result<()>) -> Result<Vec<FieldError>> {
    match result {
        Ok(()) => Ok(Vec::new()),
        Err(model::Error::Invalid(errors)) => Ok(errors),
        Err(other) => Err(other.into()),
    }
}

/// What the server knows that the runbook's rules need: the target's kind and bulk token,
/// whether a prerequisite caches credentials, the password policy.
async fn runbook_context(
    app: &App,
    runbook: &Runbook,
    target: &Directory,
    stored: &[Runbook],
) -> Result<RunbookContext> {
    Ok(RunbookContext {
        target_kind: target.kind,
        target_has_bprt: app
            .store
            .has_valid_bulk_token(target.id, app.clock.now())
            .await?,
        prerequisite_caches_credentials: stored
            .iter()
            .filter(|r| runbook.prerequisites.contains(&r.id))
            .any(|r| r.device_state.cache_user_credentials),
        password_policy: PasswordPolicy::default(),
    })
}

/// Prerequisite errors that `runbook` causes among the stored runbooks, named on its own fields.
fn prerequisite_errors(runbook: &Runbook, stored: &[Runbook]) -> Vec<FieldError> {
    let mut all: Vec<Runbook> = stored
        .iter()
        .filter(|r| r.id != runbook.id)
        .cloned()
        .collect();
    let own = format!("runbooks[{}].", all.len());
    all.push(runbook.clone());
    let Err(model::Error::Invalid(errors)) = check_prerequisites(&all) else {
        return Vec::new();
    };
    errors
        .into_iter()
        .filter_map(|e| match e.field.strip_prefix(&own) {
            Some(field) => Some(FieldError::new(field, e.message)),
            // A circle closed on another runbook still runs through this one: the stored
            // runbooks had none before.
            None if e.message.contains("circle") => {
                Some(FieldError::new("prerequisites", e.message))
            }
            // A stored runbook naming a deleted prerequisite is not this save's problem.
            None => None,
        })
        .collect()
}

async fn check_runbook(app: &App, runbook: &Runbook) -> Result<()> {
    let mut v = Validator::default();
    for (i, d) in runbook.source_directories.iter().enumerate() {
        v.check(
            app.store.directory(*d).await?.is_some(),
            format!("source_directories[{}]", i),
            "no such directory",
        );
    }
    let stored = app.store.runbooks().await?;
    let mut errors = match app.store.directory(runbook.target_directory).await? {
        Some(target) => {
            let context = runbook_context(app, runbook, &target, &stored).await?;
            field_errors(runbook.validate_with(&context))?
        }
        None => {
            v.fail("target_directory", "no such directory");
            field_errors(runbook.validate())?
        }
    };
    errors.extend(field_errors(v.finish())?);
    errors.extend(crate::packages::check_runbook_packages(app, runbook).await?);
    errors.extend(prerequisite_errors(runbook, &stored));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

/// Adds a runbook after checking it; its name must be unique (ignoring case).
pub async fn create_runbook(app: &App, runbook: Runbook) -> Result<Runbook> {
    check_runbook(app, &runbook).await?;
    let runbook = Runbook {
        name: runbook.name.trim().to_string(),
        ..runbook
    };
    app.store.insert_runbook(&runbook, app.clock.now()).await?;
    Ok(runbook)
}

/// Replaces a runbook after checking it, and checks the batches using it still fit it.
/// A password left blank keeps the stored one.
pub async fn update_runbook(app: &App, mut runbook: Runbook) -> Result<Runbook> {
    runbook.keep_secrets(&app.store.runbook_secrets(runbook.id).await?);
    check_runbook(app, &runbook).await?;
    for batch in app.store.batches().await? {
        if !batch.assignments.iter().any(|a| a.runbook == runbook.id) {
            continue;
        }
        if let Some(problem) = misfit(&batch, &runbook) {
            return Err(Error::field(
                "source_directories",
                format!("batch {:?} uses this runbook and {}", batch.name, problem),
            ));
        }
    }
    let runbook = Runbook {
        name: runbook.name.trim().to_string(),
        ..runbook
    };
    if !app.store.update_runbook(&runbook, app.clock.now()).await? {
        return Err(Error::NotFound("runbook"));
    }
    Ok(runbook)
}

/// Why `runbook` cannot serve `batch`, if it cannot.
fn misfit(batch: &Batch, runbook: &Runbook) -> Option<&'static str> {
    if !runbook.source_directories.contains(&batch.source_directory) {
        Some("the runbook's source directories do not include the batch's source directory")
    } else if runbook.target_directory != batch.target_directory {
        Some("the runbook's target directory is not the batch's target directory")
    } else {
        None
    }
}

async fn check_batch(app: &App, batch: &Batch) -> Result<()> {
    batch.validate()?;
    let mut errors: Vec<FieldError> = Vec::new();
    if app.store.directory(batch.source_directory).await?.is_none() {
        errors.push(FieldError::new("source_directory", "no such directory"));
    }
    if app.store.directory(batch.target_directory).await?.is_none() {
        errors.push(FieldError::new("target_directory", "no such directory"));
    }
    for (i, a) in batch.assignments.iter().enumerate() {
        let field = format!("assignments[{}].runbook", i);
        match app.store.runbook(a.runbook).await? {
            None => errors.push(FieldError::new(field, "no such runbook")),
            Some(runbook) => {
                if let Some(problem) = misfit(batch, &runbook) {
                    errors.push(FieldError::new(field, problem));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

/// Adds a batch after checking it and its runbooks.
pub async fn create_batch(app: &App, batch: Batch) -> Result<Batch> {
    check_batch(app, &batch).await?;
    let batch = Batch {
        name: batch.name.trim().to_string(),
        ..batch
    };
    app.store.insert_batch(&batch, app.clock.now()).await?;
    Ok(batch)
}

/// Replaces a batch after checking it.
pub async fn update_batch(app: &App, batch: Batch) -> Result<Batch> {
    check_batch(app, &batch).await?;
    let batch = Batch {
        name: batch.name.trim().to_string(),
        ..batch
    };
    if !app.store.update_batch(&batch, app.clock.now()).await? {
        return Err(Error::NotFound("batch"));
    }
    Ok(batch)
}

/// A runbook as the API shows it: its passwords are write-only, so only whether each is set.
#[derive(Debug, Serialize)]
pub struct RunbookView {
    /// The runbook (its JSON never holds a password).
    #[serde(flatten)]
    pub runbook: Runbook,
    /// Which passwords are stored.
    pub secrets_set: SecretsSet,
}

async fn view(app: &App, runbook: Runbook) -> Result<RunbookView> {
    let secrets_set = app.store.runbook_secrets_set(runbook.id).await?;
    Ok(RunbookView {
        runbook,
        secrets_set,
    })
}

/// `GET /runbooks`.
#[utoipa::path(
    get,
    path = "/runbooks",
    tag = "runbooks",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "Every runbook; passwords are never shown.", body = [crate::api::openapi::schemas::RunbookView])
    )
)]
pub async fn list_runbooks(
    caller: Caller,
    State(app): State<App>,
) -> Result<Json<Vec<RunbookView>>> {
    caller.require(Area::Agent, Access::Read)?;
    let mut views = Vec::new();
    for runbook in app.store.runbooks().await? {
        views.push(view(&app, runbook).await?);
    }
    Ok(Json(views))
}

/// `POST /runbooks` with a runbook without `id`.
#[utoipa::path(
    post,
    path = "/runbooks",
    tag = "runbooks",
    description = crate::api::openapi::access::AGENT_EDIT,
    request_body = crate::api::openapi::schemas::Runbook,
    responses(
        (status = 201, description = "The new runbook.", body = crate::api::openapi::schemas::RunbookView),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 409, description = "A runbook with this name already exists.", body = crate::error::ErrorBody)
    )
)]
pub async fn create_runbook_route(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<(StatusCode, Json<RunbookView>)> {
    caller.require(Area::Agent, Access::Edit)?;
    let body: serde_json::Value = json_body(&body)?;
    let runbook: Runbook = with_id(body, RunbookId::new().0)?;
    let runbook = create_runbook(&app, runbook).await?;
    Ok((StatusCode::CREATED, Json(view(&app, runbook).await?)))
}

/// `GET /runbooks/{id}`.
#[utoipa::path(
    get,
    path = "/runbooks/{id}",
    tag = "runbooks",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The runbook's id.")),
    responses(
        (status = 200, description = "The runbook.", body = crate::api::openapi::schemas::RunbookView),
        (status = 404, description = "No such runbook.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn get_runbook(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<RunbookView>> {
    caller.require(Area::Agent, Access::Read)?;
    let runbook = app
        .store
        .runbook(parse_id("id", &id)?)
        .await?
        .ok_or(Error::NotFound("runbook"))?;
    Ok(Json(view(&app, runbook).await?))
}

/// `PUT /runbooks/{id}` with the whole runbook (its `id` is the path's).
#[utoipa::path(
    put,
    path = "/runbooks/{id}",
    tag = "runbooks",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("id" = String, Path, description = "The runbook's id.")),
    request_body = crate::api::openapi::schemas::Runbook,
    responses(
        (status = 200, description = "The runbook as changed; passwords left out keep their values.", body = crate::api::openapi::schemas::RunbookView),
        (status = 404, description = "No such runbook.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody),
        (status = 409, description = "A runbook with this name already exists.", body = crate::error::ErrorBody)
    )
)]
pub async fn update_runbook_route(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<RunbookView>> {
    caller.require(Area::Agent, Access::Edit)?;
    let body: serde_json::Value = json_body(&body)?;
    let id: RunbookId = parse_id("id", &id)?;
    let runbook = update_runbook(&app, with_id(body, id.0)?).await?;
    Ok(Json(view(&app, runbook).await?))
}

/// `DELETE /runbooks/{id}`; refused while a batch assigns it.
#[utoipa::path(
    delete,
    path = "/runbooks/{id}",
    tag = "runbooks",
    description = crate::api::openapi::access::AGENT_EDIT,
    params(("id" = String, Path, description = "The runbook's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such runbook.", body = crate::error::ErrorBody),
        (status = 409, description = "A batch still uses the runbook.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn delete_runbook(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Agent, Access::Edit)?;
    let id: RunbookId = parse_id("id", &id)?;
    if let Some(batch) = app
        .store
        .batches()
        .await?
        .into_iter()
        .find(|b| b.assignments.iter().any(|a| a.runbook == id))
    {
        return Err(Error::Conflict(format!(
            "batch {:?} assigns this runbook; remove it there first",
            batch.name
        )));
    }
    if app.store.delete_runbook(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound("runbook"))
    }
}

/// `GET /batches`, in batch order, each with the computers another batch takes too.
#[utoipa::path(
    get,
    path = "/batches",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    responses(
        (status = 200, description = "Every batch.", body = [crate::api::openapi::schemas::BatchView])
    )
)]
pub async fn list_batches(caller: Caller, State(app): State<App>) -> Result<Json<Vec<BatchView>>> {
    caller.require(Area::Agent, Access::Read)?;
    Ok(Json(batches::views(&app).await?))
}

/// `POST /batches` with a batch without `id`. Operators schedule batches, so Operate suffices.
#[utoipa::path(
    post,
    path = "/batches",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_OPERATE,
    request_body = crate::api::openapi::schemas::Batch,
    responses(
        (status = 201, description = "The new batch.", body = crate::api::openapi::schemas::BatchView),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn create_batch_route(
    caller: Caller,
    State(app): State<App>,
    body: Bytes,
) -> Result<(StatusCode, Json<BatchView>)> {
    caller.require(Area::Agent, Access::Operate)?;
    let body: serde_json::Value = json_body(&body)?;
    let batch: Batch = with_id(body, BatchId::new().0)?;
    let batch = create_batch(&app, batch).await?;
    Ok((StatusCode::CREATED, Json(batches::view(&app, batch).await?)))
}

/// `GET /batches/{id}`, with the computers another batch takes too.
#[utoipa::path(
    get,
    path = "/batches/{id}",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The batch's id.")),
    responses(
        (status = 200, description = "The batch.", body = crate::api::openapi::schemas::BatchView),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn get_batch(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<BatchView>> {
    caller.require(Area::Agent, Access::Read)?;
    let batch = app
        .store
        .batch(parse_id("id", &id)?)
        .await?
        .ok_or(Error::NotFound("batch"))?;
    Ok(Json(batches::view(&app, batch).await?))
}

/// `PUT /batches/{id}` with the whole batch.
#[utoipa::path(
    put,
    path = "/batches/{id}",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_OPERATE,
    params(("id" = String, Path, description = "The batch's id.")),
    request_body = crate::api::openapi::schemas::Batch,
    responses(
        (status = 200, description = "The batch as changed.", body = crate::api::openapi::schemas::BatchView),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn update_batch_route(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<BatchView>> {
    caller.require(Area::Agent, Access::Operate)?;
    let body: serde_json::Value = json_body(&body)?;
    let id: BatchId = parse_id("id", &id)?;
    let batch = update_batch(&app, with_id(body, id.0)?).await?;
    Ok(Json(batches::view(&app, batch).await?))
}

/// `DELETE /batches/{id}`.
#[utoipa::path(
    delete,
    path = "/batches/{id}",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_OPERATE,
    params(("id" = String, Path, description = "The batch's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn delete_batch(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require(Area::Agent, Access::Operate)?;
    if app.store.delete_batch(parse_id("id", &id)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound("batch"))
    }
}
