//! Directories: the [`DirectorySource`] trait with its implementations, full import into the store,
//! and matching source users and groups to target ones into the translation table.

pub mod file;
pub mod graph;
pub mod ldap;
pub mod matching;
pub mod profile;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use model::directory::{Directory, DirectoryObject, ObjectKind};
use model::ids::DirectoryId;
use model::FieldError;
use serde::Serialize;

pub use matching::{match_objects, MatchSummary};

use crate::store::directories::ImportRun;
use crate::{App, Error, Result};

/// A boxed future, so [`DirectorySource`] stays object-safe without an async-trait macro.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything a directory holds at one moment, as one full import reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The DNS domain (AD) or primary domain (Entra) the source says it is.
    pub domain: String,
    /// The domain SID (AD) or tenant id (Entra), when the source knows it.
    pub domain_id: Option<String>,
    /// Users, groups and computers.
    pub objects: Vec<DirectoryObject>,
}

/// Somewhere directory objects are read from: a JSON file now; LDAP and Microsoft Graph later.
pub trait DirectorySource: Send + Sync {
    /// Reads every object.
    fn read(&self) -> BoxFuture<'_, Result<Snapshot>>;
}

/// What a full import changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
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
    /// How long it took.
    pub duration_ms: i64,
}

/// Adds a directory after checking its fields; its id is the one given.
pub async fn create(app: &App, directory: Directory) -> Result<Directory> {
    directory.validate()?;
    let directory = Directory {
        name: directory.name.trim().to_string(),
        ..directory
    };
    app.store
        .insert_directory(&directory, app.clock.now())
        .await?;
    Ok(directory)
}

/// Reads `source` in full and makes the stored objects of `directory` equal to it, recording the
/// import run. A snapshot of another domain, or with duplicate GUIDs, changes nothing.
pub async fn import(
    app: &App,
    directory: DirectoryId,
    source: &dyn DirectorySource,
) -> Result<ImportSummary> {
    let started = app.clock.now();
    let timer = std::time::Instant::now();
    let dir = app
        .store
        .directory(directory)
        .await?
        .ok_or(Error::NotFound("directory"))?;
    let snapshot = source.read().await?;
    check_snapshot(&dir, &snapshot)?;
    let mut previous: HashMap<_, _> = app
        .store
        .objects(directory, None)
        .await?
        .into_iter()
        .map(|o| (o.guid, o))
        .collect();
    let mut summary = ImportSummary {
        total: snapshot.objects.len() as u64,
        added: 0,
        changed: 0,
        deleted: 0,
        users: 0,
        groups: 0,
        computers: 0,
        duration_ms: 0,
    };
    let mut upserts = Vec::new();
    for object in &snapshot.objects {
        // Taking each seen object out leaves exactly the deleted ones behind.
        match previous.remove(&object.guid) {
            None => {
                summary.added += 1;
                upserts.push(object);
            }
            Some(old) if &old != object => {
                summary.changed += 1;
                upserts.push(object);
            }
            Some(_) => {}
        }
        match object.kind {
            ObjectKind::User => summary.users += 1,
            ObjectKind::Group => summary.groups += 1,
            ObjectKind::Computer => summary.computers += 1,
        }
    }
    // In GUID order the primary key index is written front to back.
    upserts.sort_unstable_by_key(|o| o.guid);
    let mut deleted: Vec<_> = previous.into_keys().collect();
    deleted.sort_unstable();
    summary.deleted = deleted.len() as u64;
    summary.duration_ms = i64::try_from(timer.elapsed().as_millis()).unwrap_or(i64::MAX);
    let run = ImportRun {
        directory,
        kind: "full".to_string(),
        started_at: started,
        duration_ms: summary.duration_ms,
        total: summary.total as i64,
        added: summary.added as i64,
        changed: summary.changed as i64,
        deleted: summary.deleted as i64,
    };
    app.store
        .apply_import(
            directory,
            snapshot.domain_id.as_deref(),
            &upserts,
            &deleted,
            &run,
        )
        .await?;
    tracing::info!(directory = %dir.name, total = summary.total, added = summary.added,
        changed = summary.changed, deleted = summary.deleted, "directory imported");
    Ok(summary)
}

/// Imports the JSON document at `path` (see [`file::FileSource`]) into `directory`.
pub async fn import_file(
    app: &App,
    directory: DirectoryId,
    path: &std::path::Path,
) -> Result<ImportSummary> {
    import(app, directory, &file::FileSource::from_path(path)).await
}

/// Matches the users and groups of `source` to those of `target` by `attribute` (ignoring case),
/// one to one, and replaces the translation table between the two with the result.
pub async fn match_users(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    attribute: model::directory::MatchAttribute,
) -> Result<MatchSummary> {
    if source == target {
        return Err(Error::field(
            "target",
            "the target directory must differ from the source directory",
        ));
    }
    app.store
        .directory(source)
        .await?
        .ok_or_else(|| Error::field("source", "no such directory"))?;
    app.store
        .directory(target)
        .await?
        .ok_or_else(|| Error::field("target", "no such directory"))?;
    let source_objects = app.store.objects(source, None).await?;
    let target_objects = app.store.objects(target, None).await?;
    let (entries, summary) =
        match_objects(source, &source_objects, target, &target_objects, attribute);
    app.store
        .replace_translations(source, target, &entries, app.clock.now())
        .await?;
    Ok(summary)
}

fn check_snapshot(directory: &Directory, snapshot: &Snapshot) -> Result<()> {
    let mut errors = Vec::new();
    if !snapshot.domain.eq_ignore_ascii_case(&directory.domain) {
        errors.push(FieldError::new(
            "domain",
            format!(
                "the document is for {:?} but directory {:?} is {:?}; import it into the matching directory",
                snapshot.domain, directory.name, directory.domain
            ),
        ));
    }
    let mut seen = HashMap::new();
    for (i, object) in snapshot.objects.iter().enumerate() {
        if let Some(first) = seen.insert(object.guid, i) {
            errors.push(FieldError::new(
                format!("objects[{}].guid", i),
                format!("the same GUID as objects[{}]", first),
            ));
        }
        if object.name.trim().is_empty() {
            errors.push(FieldError::new(
                format!("objects[{}].name", i),
                "an object needs a name",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}
