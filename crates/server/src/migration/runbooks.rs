//! Runbooks: each checked as a whole, against the stored directories, runbooks, command packages
//! and the batches that assign it, before anything is stored.

use model::directory::Directory;
use model::ids::RunbookId;
use model::rules::PasswordPolicy;
use model::runbook::{check_prerequisites, Runbook, RunbookContext, SecretsSet};
use model::{FieldError, Validator};
use serde::Serialize;

use super::batches::misfit;
use crate::{App, Error, Result};

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
        // A provisioning package embeds a token of its own: either lets devices join.
        target_has_bprt: app
            .store
            .has_valid_bulk_token(target.id, app.clock.now())
            .await?
            || app
                .store
                .provisioning_package_info(target.id)
                .await?
                .is_some(),
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

/// Checks `runbook` against what is stored; every problem is a field error.
async fn check(app: &App, runbook: &Runbook) -> Result<()> {
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
    errors.extend(crate::lock_screen::check_runbook_image(app, runbook).await?);
    errors.extend(prerequisite_errors(runbook, &stored));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

/// Adds a runbook after checking it; its name must be unique (ignoring case).
pub async fn create(app: &App, runbook: Runbook) -> Result<Runbook> {
    check(app, &runbook).await?;
    let runbook = Runbook {
        name: runbook.name.trim().to_string(),
        ..runbook
    };
    app.store.insert_runbook(&runbook, app.clock.now()).await?;
    Ok(runbook)
}

/// Replaces a runbook after checking it, and checks the batches using it still fit it.
/// A password left blank keeps the stored one.
pub async fn update(app: &App, mut runbook: Runbook) -> Result<Runbook> {
    runbook.keep_secrets(&app.store.runbook_secrets(runbook.id).await?);
    check(app, &runbook).await?;
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

/// A runbook as the API shows it: its passwords are write-only, so only whether each is set.
#[derive(Debug, Serialize)]
pub struct RunbookView {
    /// The runbook (its JSON never holds a password).
    #[serde(flatten)]
    pub runbook: Runbook,
    /// Which passwords are stored.
    pub secrets_set: SecretsSet,
}

/// `runbook` with which of its passwords are stored.
pub async fn view(app: &App, runbook: Runbook) -> Result<RunbookView> {
    let secrets_set = app.store.runbook_secrets_set(runbook.id).await?;
    Ok(RunbookView {
        runbook,
        secrets_set,
    })
}

/// Every runbook, passwords shown only as whether each is set.
pub async fn list(app: &App) -> Result<Vec<RunbookView>> {
    let mut views = Vec::new();
    for runbook in app.store.runbooks().await? {
        views.push(view(app, runbook).await?);
    }
    Ok(views)
}

/// The runbook `id`.
pub async fn get(app: &App, id: RunbookId) -> Result<RunbookView> {
    let runbook = app
        .store
        .runbook(id)
        .await?
        .ok_or(Error::NotFound("runbook"))?;
    view(app, runbook).await
}

/// Deletes the runbook `id`; refused while a batch assigns it.
pub async fn delete(app: &App, id: RunbookId) -> Result<()> {
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
        Ok(())
    } else {
        Err(Error::NotFound("runbook"))
    }
}
