//! Import: reading a [`DirectorySource`] in full or by delta and making the stored objects of a
//! directory and its in-memory cache equal to what was read, recording the run.

use std::collections::HashSet;

use model::directory::{Directory, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use model::FieldError;
use serde::Serialize;

use super::cache::{CachedObject, ObjectCache};
use super::file;
use super::source::{Changes, DirectorySource, Snapshot};
use crate::store::directories::{CursorUpdate, ImportKind, ImportRun};
use crate::{App, Error, Result};

/// Whether an import reads everything or only what changed since the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Read every object; objects not seen are deleted.
    Full,
    /// Read the changes since the stored cursor; a full read when there is none or the source
    /// cannot read changes.
    Incremental,
}

/// What an import changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// What was actually read.
    pub kind: ImportKind,
    /// Objects in the directory now.
    pub total: u64,
    /// New objects.
    pub added: u64,
    /// Objects whose attributes changed.
    pub changed: u64,
    /// Objects no longer in the directory.
    pub deleted: u64,
    /// Users now.
    pub users: u64,
    /// Groups now.
    pub groups: u64,
    /// Computers now.
    pub computers: u64,
    /// Contacts now.
    pub contacts: u64,
    /// How long it took.
    pub duration_ms: i64,
}

/// Reads `source` in full and makes the stored objects of `directory` equal to it, recording the
/// import run. A snapshot of another domain, or with duplicate GUIDs, changes nothing.
pub async fn import(
    app: &App,
    directory: DirectoryId,
    source: &dyn DirectorySource,
) -> Result<ImportSummary> {
    import_with(app, directory, source, ImportMode::Full).await
}

/// What an import read from its source.
enum Read {
    /// The changes since the stored cursor.
    Changes(Changes),
    /// Everything.
    Full(Snapshot),
}

/// Imports `directory` from `source`: everything, or only the changes since the stored cursor.
pub async fn import_with(
    app: &App,
    directory: DirectoryId,
    source: &dyn DirectorySource,
    mode: ImportMode,
) -> Result<ImportSummary> {
    let started = app.clock.now();
    let timer = std::time::Instant::now();
    let dir = app
        .store
        .directory(directory)
        .await?
        .ok_or(Error::NotFound("directory"))?;
    let cursor = match mode {
        ImportMode::Full => None,
        ImportMode::Incremental => app.store.directory_cursor(directory).await?,
    };
    let changes = match &cursor {
        Some(cursor) => source.read_changes(cursor).await?,
        None => None,
    };
    // Read the source before taking the cache's write lock: an LDAP or Graph read can take
    // minutes, and matching reads the cache meanwhile.
    let kinds = super::import_kinds::import_kinds(app, directory).await?;
    let read = match changes {
        Some(mut changes) => {
            super::import_kinds::keep_kinds(&mut changes.objects, &kinds);
            Read::Changes(changes)
        }
        None => {
            let mut snapshot = source.read().await?;
            check_domain(&dir, &snapshot.domain)?;
            super::import_kinds::keep_kinds(&mut snapshot.objects, &kinds);
            Read::Full(snapshot)
        }
    };
    let slot = app.caches.current(&app.store, directory).await?;
    let mut view = slot.write().await;
    let (kind, domain_id, upserts, deleted, added, next_cursor) = match read {
        Read::Changes(changes) => {
            check_objects(&changes.objects, "objects")?;
            let (upserts, added) = new_or_changed(&view, changes.objects, |_| {});
            let mut seen = HashSet::new();
            let deleted: Vec<ObjectGuid> = changes
                .deleted
                .into_iter()
                .filter(|g| view.get(g).is_some() && seen.insert(*g))
                .collect();
            (
                ImportKind::Incremental,
                None,
                upserts,
                deleted,
                added,
                CursorUpdate::Set(changes.cursor),
            )
        }
        Read::Full(snapshot) => {
            check_objects(&snapshot.objects, "objects")?;
            let mut seen = HashSet::with_capacity(snapshot.objects.len());
            let (upserts, added) = new_or_changed(&view, snapshot.objects, |o| {
                seen.insert(o.guid);
            });
            let deleted: Vec<ObjectGuid> = view
                .guids()
                .filter(|g| !seen.contains(g))
                .copied()
                .collect();
            let cursor = snapshot
                .cursor
                .map(CursorUpdate::Set)
                .unwrap_or(CursorUpdate::Clear);
            (
                ImportKind::Full,
                snapshot.domain_id,
                upserts,
                deleted,
                added,
                cursor,
            )
        }
    };
    let mut upserts = upserts;
    let mut deleted = deleted;
    // In GUID order the primary key index is written front to back.
    upserts.sort_unstable_by_key(|o| o.guid);
    deleted.sort_unstable();
    let changed = upserts.len() as u64 - added;
    let total = view.len() as u64 + added - deleted.len() as u64;
    let duration_ms = i64::try_from(timer.elapsed().as_millis()).unwrap_or(i64::MAX);
    let run = ImportRun {
        directory,
        kind,
        started_at: started,
        duration_ms,
        total: total as i64,
        added: added as i64,
        changed: changed as i64,
        deleted: deleted.len() as i64,
    };
    let (upserts, deleted) = (std::sync::Arc::new(upserts), std::sync::Arc::new(deleted));
    let generation = app
        .store
        .apply_import(
            directory,
            domain_id.as_deref(),
            upserts.clone(),
            deleted.clone(),
            &run,
            &next_cursor,
        )
        .await?;
    let follows = generation == view.generation + 1;
    view.apply(generation, &deleted, upserts.iter().map(CachedObject::new));
    drop(upserts);
    // Another replica wrote in between: this copy is incomplete, so read it again next time.
    if !follows {
        view.generation = -1;
    }
    let mut summary = ImportSummary {
        kind,
        total,
        added,
        changed,
        deleted: deleted.len() as u64,
        users: 0,
        groups: 0,
        computers: 0,
        contacts: 0,
        duration_ms: i64::try_from(timer.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    for object in view.objects() {
        match object.kind {
            ObjectKind::User => summary.users += 1,
            ObjectKind::Group => summary.groups += 1,
            ObjectKind::Computer => summary.computers += 1,
            ObjectKind::Contact => summary.contacts += 1,
        }
    }
    tracing::info!(directory = ?dir.name, kind = kind.as_str(), total = summary.total, added = summary.added,
        changed = summary.changed, deleted = summary.deleted, "directory imported");
    Ok(summary)
}

/// The objects that are new or differ from `cache`, and how many of them are new; `each` sees
/// every object read.
fn new_or_changed(
    cache: &ObjectCache,
    objects: Vec<DirectoryObject>,
    mut each: impl FnMut(&DirectoryObject),
) -> (Vec<DirectoryObject>, u64) {
    let mut upserts = Vec::new();
    let mut added = 0u64;
    for object in objects {
        each(&object);
        match cache.digest(&object.guid) {
            None => {
                added += 1;
                upserts.push(object);
            }
            Some(d) if d != object.digest() => upserts.push(object),
            Some(_) => {}
        }
    }
    (upserts, added)
}

/// Imports the JSON document at `path` (see [`file::FileSource`]) into `directory`.
pub async fn import_file(
    app: &App,
    directory: DirectoryId,
    path: &std::path::Path,
) -> Result<ImportSummary> {
    import(app, directory, &file::FileSource::from_path(path)).await
}

fn check_domain(directory: &Directory, domain: &str) -> Result<()> {
    if domain.eq_ignore_ascii_case(&directory.domain) {
        return Ok(());
    }
    Err(Error::field(
        "domain",
        format!(
            "the source is {:?} but directory {:?} is {:?}; import it into the matching directory",
            domain, directory.name, directory.domain
        ),
    ))
}

/// Refuses a read whose objects repeat a GUID or lack a name, naming each offender.
fn check_objects(objects: &[DirectoryObject], field: &str) -> Result<()> {
    let mut errors = Vec::new();
    let mut seen = std::collections::HashMap::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        if let Some(first) = seen.insert(object.guid, i) {
            errors.push(FieldError::new(
                format!("{}[{}].guid", field, i),
                format!("the same GUID as {}[{}]", field, first),
            ));
        }
        if object.name.trim().is_empty() {
            errors.push(FieldError::new(
                format!("{}[{}].name", field, i),
                "an object needs a name",
            ));
        }
        if errors.len() >= 100 {
            break;
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}
