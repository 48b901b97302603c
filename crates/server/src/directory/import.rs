//! Import: reading a [`DirectorySource`] in full or by delta and making the stored objects of a
//! directory and its in-memory cache equal to what was read, recording the run.

use std::collections::{HashMap, HashSet};

use model::directory::{Directory, DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use model::FieldError;
use serde::Serialize;

use super::cache::{CachedObject, ObjectCache};
use super::file;
use super::source::{Changes, DirectorySource, PagedSnapshot};
use crate::store::directories::{CursorUpdate, ImportKind, ImportRun};
use crate::store::imports::ImportWriter;
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

/// Imports `directory` from `source`: everything, or only the changes since the stored cursor.
/// A full read is taken page by page: each page is compared with the cache and what changed is
/// written as it comes, so the import holds one page of the source at a time.
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
    let kinds = super::import_kinds::import_kinds(app, directory).await?;
    // A source that reads everything before its first page (LDAP, Graph, a document) has read it
    // here, before the cache's write lock is taken: such a read can take minutes, and matching
    // reads the cache meanwhile.
    let read = match changes {
        Some(mut changes) => {
            super::import_kinds::keep_kinds(&mut changes.objects, &kinds);
            give_entra_sids(&dir, &mut changes.objects);
            check_objects(&changes.objects, 0, &mut HashMap::new())?;
            Read::Changes(changes)
        }
        None => {
            let paged = source.read_pages().await?;
            check_domain(&dir, &paged.domain)?;
            Read::Full(paged)
        }
    };
    let slot = app.caches.current(&app.store, directory).await?;
    let mut view = slot.write().await;
    let mut writer = app.store.begin_import(directory).await?;
    let written = match read {
        Read::Changes(changes) => {
            let mut seen = HashSet::new();
            let mut deleted: Vec<ObjectGuid> = changes
                .deleted
                .into_iter()
                .filter(|g| view.get(g).is_some() && seen.insert(*g))
                .collect();
            deleted.sort_unstable();
            writer.delete(deleted.clone()).await?;
            let mut written = Written::new(ImportKind::Incremental, deleted);
            written.page(&view, &mut writer, changes.objects).await?;
            written.cursor = CursorUpdate::Set(changes.cursor);
            written
        }
        Read::Full(mut paged) => {
            let mut written = Written::new(ImportKind::Full, Vec::new());
            let mut seen = HashMap::with_capacity(view.len());
            while let Some(mut page) = paged.pages.next_page().await? {
                super::import_kinds::keep_kinds(&mut page, &kinds);
                give_entra_sids(&dir, &mut page);
                check_objects(&page, seen.len(), &mut seen)?;
                written.page(&view, &mut writer, page).await?;
            }
            let mut deleted: Vec<ObjectGuid> = view
                .guids()
                .filter(|g| !seen.contains_key(*g))
                .copied()
                .collect();
            drop(seen);
            deleted.sort_unstable();
            writer.delete(deleted.clone()).await?;
            written.deleted = deleted;
            written.domain_id = paged.domain_id;
            written.cursor = paged
                .pages
                .cursor()
                .map(CursorUpdate::Set)
                .unwrap_or(CursorUpdate::Clear);
            written
        }
    };
    let Written {
        kind,
        domain_id,
        upserts,
        deleted,
        added,
        cursor: next_cursor,
    } = written;
    let changed = upserts.iter().map(Vec::len).sum::<usize>() as u64 - added;
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
    let generation = writer
        .finish(domain_id.as_deref(), &run, &next_cursor)
        .await?;
    let follows = generation == view.generation + 1;
    view.reserve(usize::try_from(added).unwrap_or(0));
    view.apply(generation, &deleted, upserts.into_iter().flatten());
    // Another replica wrote in between: this copy is incomplete, so read it again next time.
    if !follows {
        view.generation = -1;
    }
    let summary = ImportSummary {
        kind,
        total,
        added,
        changed,
        deleted: deleted.len() as u64,
        users: view.count(ObjectKind::User) as u64,
        groups: view.count(ObjectKind::Group) as u64,
        computers: view.count(ObjectKind::Computer) as u64,
        contacts: view.count(ObjectKind::Contact) as u64,
        duration_ms: i64::try_from(timer.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    tracing::info!(directory = ?dir.name, kind = kind.as_str(), total = summary.total, added = summary.added,
        changed = summary.changed, deleted = summary.deleted, "directory imported");
    Ok(summary)
}

/// What an import read from its source.
enum Read<'a> {
    /// The changes since the stored cursor.
    Changes(Changes),
    /// Everything, page by page.
    Full(PagedSnapshot<'a>),
}

/// What an import has written so far, for the cache once it commits: the new and changed objects
/// in the cache's packed form, a page at a time in the order written (one list would double, and
/// briefly hold two copies of, a million objects), and the GUIDs deleted.
struct Written {
    kind: ImportKind,
    domain_id: Option<String>,
    upserts: Vec<Vec<CachedObject>>,
    deleted: Vec<ObjectGuid>,
    added: u64,
    cursor: CursorUpdate,
}

impl Written {
    fn new(kind: ImportKind, deleted: Vec<ObjectGuid>) -> Written {
        Written {
            kind,
            domain_id: None,
            upserts: Vec::new(),
            deleted,
            added: 0,
            cursor: CursorUpdate::Keep,
        }
    }

    /// Writes the objects of `page` that are new or differ from `cache`.
    async fn page(
        &mut self,
        cache: &ObjectCache,
        writer: &mut ImportWriter,
        page: Vec<DirectoryObject>,
    ) -> Result<()> {
        let (mut upserts, added) = new_or_changed(cache, page);
        // In GUID order the primary key index is written front to back.
        upserts.sort_unstable_by_key(|o| o.guid);
        self.added += added;
        let cached: Vec<CachedObject> = upserts.iter().map(CachedObject::new).collect();
        let digested = upserts
            .into_iter()
            .zip(cached.iter().map(|c| c.digest))
            .collect();
        if !cached.is_empty() {
            self.upserts.push(cached);
        }
        writer.upsert_digested(digested).await
    }
}

/// The objects that are new or differ from `cache`, and how many of them are new.
fn new_or_changed(
    cache: &ObjectCache,
    objects: Vec<DirectoryObject>,
) -> (Vec<DirectoryObject>, u64) {
    let mut upserts = Vec::new();
    let mut added = 0u64;
    for object in objects {
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

/// Gives each user and group of an Entra tenant that came without a SID the one Entra derives
/// from its object id (`S-1-12-1-…`), as a read from Graph does: the SID an Entra-joined device
/// knows it by. A directory document need not carry it; without it the object could not be
/// matched or translated.
fn give_entra_sids(dir: &Directory, objects: &mut [DirectoryObject]) {
    if dir.kind != DirectoryKind::EntraId {
        return;
    }
    for o in objects {
        if o.sid.is_none() && matches!(o.kind, ObjectKind::User | ObjectKind::Group) {
            o.sid = Some(super::graph::entra_sid(o.guid));
        }
    }
}

/// Refuses a page of a read whose objects repeat a GUID (of this page or of `seen`, the earlier
/// pages' objects by position) or lack a name, naming each offender by its position in the read;
/// `first` is the position of the page's first object. Adds the page's objects to `seen`.
fn check_objects(
    objects: &[DirectoryObject],
    first: usize,
    seen: &mut HashMap<ObjectGuid, usize>,
) -> Result<()> {
    let mut errors = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        let i = first + i;
        if let Some(earlier) = seen.insert(object.guid, i) {
            seen.insert(object.guid, earlier);
            errors.push(FieldError::new(
                format!("objects[{}].guid", i),
                format!("the same GUID as objects[{}]", earlier),
            ));
        }
        if object.name.trim().is_empty() {
            errors.push(FieldError::new(
                format!("objects[{}].name", i),
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
