//! Directories: the [`DirectorySource`] trait with its implementations, full import into the store,
//! and matching source users and groups to target ones into the translation table.

pub mod connection;
pub mod file;
pub mod graph;
pub mod guard;
pub mod ldap;
pub mod matching;
pub mod profile;
pub mod report;
pub mod schedule;
pub mod view;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

use model::directory::{Directory, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use model::FieldError;
use serde::Serialize;

pub use matching::MatchSummary;

use crate::store::directories::{CursorUpdate, ImportRun};
use crate::{App, Error, Result};
use profile::MatchProfile;
use view::ViewObject;

/// A boxed future, so [`DirectorySource`] stays object-safe without an async-trait macro.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything a directory holds at one moment, as one full import reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The DNS domain (AD) or primary domain (Entra) the source says it is.
    pub domain: String,
    /// The domain SID (AD) or tenant id (Entra), when the source knows it.
    pub domain_id: Option<String>,
    /// Users, groups, computers and contacts.
    pub objects: Vec<DirectoryObject>,
    /// Where an incremental read can start next time, for sources that can read changes.
    pub cursor: Option<String>,
}

/// What changed in a directory since a cursor, as one incremental import reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Objects added or changed, whole.
    pub objects: Vec<DirectoryObject>,
    /// GUIDs of objects deleted.
    pub deleted: Vec<ObjectGuid>,
    /// Where the next incremental read starts.
    pub cursor: String,
}

/// Somewhere directory objects are read from: a JSON document, LDAP or Microsoft Graph.
pub trait DirectorySource: Send + Sync {
    /// Reads every object.
    fn read(&self) -> BoxFuture<'_, Result<Snapshot>>;

    /// Reads what changed since `cursor` (from an earlier [`Snapshot`] or [`Changes`]); `None`
    /// when this source cannot, and a full read is needed.
    fn read_changes<'a>(&'a self, cursor: &'a str) -> BoxFuture<'a, Result<Option<Changes>>> {
        let _ = cursor;
        Box::pin(async { Ok(None) })
    }
}

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
    /// `full` or `incremental`: what was actually read.
    pub kind: String,
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
    import_with(app, directory, source, ImportMode::Full).await
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
    let slot = app.views.current(&app.store, directory).await?;
    let mut view = slot.write().await;
    let (kind, domain_id, upserts, deleted, added, next_cursor) = match changes {
        Some(changes) => {
            check_objects(&changes.objects, "objects")?;
            let mut upserts = Vec::new();
            let mut added = 0u64;
            for object in changes.objects {
                match view.digest(&object.guid) {
                    None => {
                        added += 1;
                        upserts.push(object);
                    }
                    Some(d) if d != object.digest() => upserts.push(object),
                    Some(_) => {}
                }
            }
            let mut seen = HashSet::new();
            let deleted: Vec<ObjectGuid> = changes
                .deleted
                .into_iter()
                .filter(|g| view.get(g).is_some() && seen.insert(*g))
                .collect();
            (
                "incremental",
                None,
                upserts,
                deleted,
                added,
                CursorUpdate::Set(changes.cursor),
            )
        }
        None => {
            let snapshot = source.read().await?;
            check_domain(&dir, &snapshot.domain)?;
            check_objects(&snapshot.objects, "objects")?;
            let mut seen = HashSet::with_capacity(snapshot.objects.len());
            let mut upserts = Vec::new();
            let mut added = 0u64;
            for object in snapshot.objects {
                seen.insert(object.guid);
                match view.digest(&object.guid) {
                    None => {
                        added += 1;
                        upserts.push(object);
                    }
                    Some(d) if d != object.digest() => upserts.push(object),
                    Some(_) => {}
                }
            }
            let deleted: Vec<ObjectGuid> = view
                .guids()
                .filter(|g| !seen.contains(g))
                .copied()
                .collect();
            let cursor = snapshot
                .cursor
                .map(CursorUpdate::Set)
                .unwrap_or(CursorUpdate::Clear);
            ("full", snapshot.domain_id, upserts, deleted, added, cursor)
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
        kind: kind.to_string(),
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
    for guid in deleted.iter() {
        view.remove(guid);
    }
    for object in upserts.iter() {
        view.upsert(ViewObject::new(object));
    }
    drop(upserts);
    // Another replica wrote in between: this copy is incomplete, so read it again next time.
    view.generation = if generation == view.generation + 1 {
        generation
    } else {
        -1
    };
    let mut summary = ImportSummary {
        kind: kind.to_string(),
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
    tracing::info!(directory = %dir.name, kind, total = summary.total, added = summary.added,
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

/// Matches by one attribute (ignoring case, sIDHistory first): [`match_pair`] with that profile.
pub async fn match_users(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    attribute: model::directory::MatchAttribute,
) -> Result<MatchSummary> {
    let attr = profile::Attribute::parse(attribute.as_str())
        .ok_or_else(|| Error::field("attribute", "not an attribute a profile can compare"))?;
    let profile = MatchProfile::by_attribute(attribute.as_str(), attr);
    match_pair(app, source, target, Some(profile)).await
}

async fn check_pair(app: &App, source: DirectoryId, target: DirectoryId) -> Result<()> {
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
    Ok(())
}

/// The profile a pair matches with: the one stored for it, else the default (sAMAccountName).
pub async fn pair_profile(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
) -> Result<MatchProfile> {
    match app.store.pair_profile(source, target).await? {
        Some(text) => crate::store::parse_json("match profile", &text),
        None => Ok(MatchProfile::default()),
    }
}

/// Stores the profile `source` → `target` matches with from now on, without running it.
pub async fn set_pair_profile(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    profile: &MatchProfile,
) -> Result<()> {
    check_pair(app, source, target).await?;
    profile.validate()?;
    app.store
        .set_pair_profile(
            source,
            target,
            &crate::store::to_json(profile)?,
            app.clock.now(),
        )
        .await
}

/// The users and groups of a view: the only objects matching looks at.
pub fn translatable(view: &view::View) -> Vec<&ViewObject> {
    view.objects()
        .iter()
        .filter(|o| matching::translatable(o.kind))
        .collect()
}

/// The profile a run of the pair uses, after checking the pair: `given`, checked, else the
/// pair's stored one.
async fn profile_for(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    given: Option<MatchProfile>,
) -> Result<MatchProfile> {
    check_pair(app, source, target).await?;
    match given {
        Some(profile) => {
            profile.validate()?;
            Ok(profile)
        }
        None => pair_profile(app, source, target).await,
    }
}

/// The current views of the pair's two directories.
async fn pair_slots(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
) -> Result<(view::ViewSlot, view::ViewSlot)> {
    Ok((
        app.views.current(&app.store, source).await?,
        app.views.current(&app.store, target).await?,
    ))
}

/// Matches the users and groups of `source` to those of `target` under `profile` (the pair's
/// stored one when `None`, which a given one replaces), one to one, and makes the translation
/// table between the two equal to the result, with a message on every source object left unpaired.
pub async fn match_pair(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    profile: Option<MatchProfile>,
) -> Result<MatchSummary> {
    let profile = profile_for(app, source, target, profile).await?;
    let (source_slot, target_slot) = pair_slots(app, source, target).await?;
    let source_view = source_slot.read().await;
    let target_view = target_slot.read().await;
    let sources = translatable(&source_view);
    let targets = translatable(&target_view);
    let outcomes = matching::run_profile(&profile, &sources, &targets);
    matching::persist(
        &app.store,
        &app.pairs,
        source,
        target,
        &sources,
        &targets,
        &outcomes,
        &crate::store::to_json(&profile)?,
        app.clock.now(),
    )
    .await
}

/// What matching `source` → `target` under `profile` (the stored one when `None`) would change in
/// the translation table, without changing it: try a profile before running it.
pub async fn what_if(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    profile: Option<MatchProfile>,
) -> Result<matching::WhatIf> {
    let profile = profile_for(app, source, target, profile).await?;
    let (source_slot, target_slot) = pair_slots(app, source, target).await?;
    let source_view = source_slot.read().await;
    let target_view = target_slot.read().await;
    let sources = translatable(&source_view);
    let targets = translatable(&target_view);
    let outcomes = matching::run_profile(&profile, &sources, &targets);
    matching::what_if(
        &app.store,
        &app.pairs,
        source,
        target,
        &sources,
        &targets,
        &outcomes,
        app.clock.now(),
    )
    .await
}

/// Why the source user or group `who` (GUID, SID, UPN, sAMAccountName or name, ignoring case)
/// matched or did not, rule by rule, under the pair's profile.
pub async fn explain_match(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    who: &str,
) -> Result<profile::Explanation> {
    let profile = profile_for(app, source, target, None).await?;
    let (source_slot, target_slot) = pair_slots(app, source, target).await?;
    let source_view = source_slot.read().await;
    let target_view = target_slot.read().await;
    let sources = translatable(&source_view);
    let targets = translatable(&target_view);
    let found: Vec<usize> = sources
        .iter()
        .enumerate()
        .filter(|(_, o)| is_called(o, who))
        .map(|(i, _)| i)
        .collect();
    let index = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(Error::field(
                "user",
                format!("no source user or group is called {:?}", who),
            ))
        }
        several => {
            let names: Vec<String> = several
                .iter()
                .take(5)
                .map(|&i| format!("{} ({})", sources[i].name(), sources[i].guid))
                .collect();
            return Err(Error::field(
                "user",
                format!(
                    "{} source objects are called {:?}: {}; give a GUID",
                    several.len(),
                    who,
                    names.join(", ")
                ),
            ));
        }
    };
    let matcher = profile::Matcher::new(&profile, &targets);
    let outcomes = matcher.match_all(&sources);
    Ok(matcher.explain(&sources, &outcomes, index))
}

fn is_called(object: &ViewObject, who: &str) -> bool {
    let who = who.trim();
    object.guid.to_string().eq_ignore_ascii_case(who)
        || object
            .sid
            .as_ref()
            .is_some_and(|s| s.to_string().eq_ignore_ascii_case(who))
        || [
            view::Attr::Upn,
            view::Attr::Sam,
            view::Attr::Name,
            view::Attr::Mail,
        ]
        .iter()
        .any(|a| object.get(*a).is_some_and(|v| v.eq_ignore_ascii_case(who)))
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
