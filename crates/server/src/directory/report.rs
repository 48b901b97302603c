//! The Single Object Report: everything rehome knows of one user, group, computer or contact —
//! its attributes as imported, what import and matching said of it, its translation rows, the
//! devices its profile was found on and the batches that concern it — and the same report for
//! the object it becomes in the target directory.

use model::batch::Batch;
use model::directory::{Directory, DirectoryObject, ObjectKind};
use model::ids::{BatchId, DirectoryId, ObjectGuid};
use serde::Serialize;

use crate::store::directories::{ObjectHit, ProfileSeen};
use crate::{App, Error, Result};

/// Most hits one search returns.
pub const MAX_HITS: i64 = 200;

/// One message on the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportMessage {
    /// `import`, or `match:<target directory id>`.
    pub stage: String,
    /// How much it matters.
    pub level: crate::store::translations::MessageLevel,
    /// What was said.
    pub message: String,
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A translation row the object is part of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportTranslation {
    /// Whether the object is the row's source (else its target).
    pub as_source: bool,
    /// The row.
    pub entry: model::directory::TranslationEntry,
    /// The rule that paired the two.
    pub rule: String,
}

/// A batch that concerns the object: it takes the computer, or a computer holding the user's
/// profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportBatch {
    /// The batch.
    pub id: BatchId,
    /// Its name.
    pub name: String,
    /// Through which computer.
    pub computer: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectReport {
    /// The directory the object is in.
    pub directory: Directory,
    /// The object as last imported.
    pub object: DirectoryObject,
    /// What import and matching said of it.
    pub messages: Vec<ReportMessage>,
    /// Translation rows it is part of.
    pub translations: Vec<ReportTranslation>,
    /// Devices its profile was found on (users).
    pub profiles: Vec<ProfileSeen>,
    /// Batches that concern it.
    pub batches: Vec<ReportBatch>,
    /// The object it becomes in a target directory, to open the same report as that object.
    pub target_object: Option<(DirectoryId, ObjectGuid)>,
}

/// Objects whose name, UPN, sAMAccountName or mail is `search` (ignoring case; `*` matches any
/// characters), optionally in one directory.
pub async fn search(
    app: &App,
    search: &str,
    directory: Option<DirectoryId>,
) -> Result<Vec<ObjectHit>> {
    let search = search.trim();
    if search.is_empty() || search.chars().all(|c| c == '*') {
        return Err(Error::field(
            "search",
            "type a name or UPN; * stands for any characters, e.g. ada* or *@contoso.com",
        ));
    }
    app.store.search_objects(search, directory, MAX_HITS).await
}

fn takes(batch: &Batch, directory: DirectoryId, guid: &ObjectGuid) -> bool {
    model::assignment::batch_takes(batch, directory, guid)
}

/// The report on object `guid` of `directory`.
pub async fn object_report(
    app: &App,
    directory: DirectoryId,
    guid: ObjectGuid,
) -> Result<ObjectReport> {
    let dir = app
        .store
        .directory(directory)
        .await?
        .ok_or(Error::NotFound("directory"))?;
    let object = app
        .store
        .object(directory, guid)
        .await?
        .ok_or(Error::NotFound("object"))?;
    let messages = app
        .store
        .object_messages(directory, guid)
        .await?
        .into_iter()
        .map(|(stage, m)| ReportMessage {
            stage,
            level: m.level,
            message: m.message,
            at: m.at,
        })
        .collect();
    let translations: Vec<ReportTranslation> = app
        .store
        .translations_of(directory, guid)
        .await?
        .into_iter()
        .map(|(entry, rule)| ReportTranslation {
            as_source: entry.source.directory == directory && entry.source.guid == guid,
            entry,
            rule,
        })
        .collect();
    let target_object = translations
        .iter()
        .find(|t| t.as_source)
        .map(|t| (t.entry.target.directory, t.entry.target.guid));
    // A user's profile may be held under any of its SIDs: AD, Entra, or one from sIDHistory.
    let mut profiles = Vec::new();
    if object.kind == ObjectKind::User {
        for sid in object.sids() {
            profiles.extend(app.store.profiles_of(sid).await?);
        }
    }
    let all_batches = app.store.batches().await?;
    let mut batches = Vec::new();
    if object.kind == ObjectKind::Computer {
        for b in all_batches.iter().filter(|b| takes(b, directory, &guid)) {
            batches.push(ReportBatch {
                id: b.id,
                name: b.name.clone(),
                computer: object.name.clone(),
            });
        }
    }
    for p in &profiles {
        for b in all_batches
            .iter()
            .filter(|b| takes(b, p.computer_directory, &p.computer_guid))
        {
            batches.push(ReportBatch {
                id: b.id,
                name: b.name.clone(),
                computer: p.computer_name.clone(),
            });
        }
    }
    Ok(ObjectReport {
        directory: dir,
        object,
        messages,
        translations,
        profiles,
        batches,
        target_object,
    })
}
