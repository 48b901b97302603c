//! DirSync export: the third step of the Import → Sync → Export cycle. For each source and target
//! pair with Create-or-Update sync profiles, users, contacts and then groups in scope are matched
//! first (the translation table, or the anchor rehome keeps on each object it wrote); what has a
//! target is updated in only the attributes that differ, what has none is created, and group
//! membership follows as the translation of the source members. The same plan is What If's answer,
//! so What If shows exactly what a run writes.
//!
//! A run that fails half way leaves every object it created carrying its anchor, so the next run
//! finds them and creates nothing twice.

pub mod graph;
pub mod ldap;
pub mod password;
pub mod plan;
pub mod profile;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use model::directory::{Directory, DirectoryKind, DirectoryObject};
use model::ids::{DirectoryId, ObjectGuid};
use model::licence::{self, Product};
use serde::Serialize;
use uuid::Uuid;

use self::plan::{Change, Inputs, Plan, Refusal, TargetEntry};
use self::profile::{
    default_flow, ExportKind, ProfileBody, SourceReader, SyncMode, SyncProfile, SyncProfileId,
};
use super::connection::Connection;
use super::BoxFuture;
use crate::store::exports::message;
use crate::store::translations::{MessageLevel, ObjectMessage};
use crate::{App, Error, Result};

/// The attribute of a target object that holds the GUID of the source object it was written
/// from, so a later run finds it even before the target is imported and matched again.
pub const ANCHOR_ATTRIBUTE: &str = "adminDescription";
const ANCHOR_PREFIX: &str = "rehome:";

/// The anchor text of `source`.
pub fn anchor_value(source: ObjectGuid) -> String {
    format!("{}{}", ANCHOR_PREFIX, source)
}

/// The source GUID of an anchor text.
pub fn parse_anchor(text: &str) -> Option<ObjectGuid> {
    text.strip_prefix(ANCHOR_PREFIX)?.parse().ok()
}

/// The stage name of export messages into `target`.
pub fn stage(target: DirectoryId) -> String {
    format!("export:{}", target)
}

/// What a writer did with one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Written; a create gives the new object's id.
    Done(Option<ObjectGuid>),
    /// The target refused this object's change; the run goes on with the next.
    Refused(String),
}

/// Writes one target directory. An `Err` means the target cannot be written at all (the
/// connection failed): the run stops there.
pub trait TargetWriter: Send + Sync {
    /// The target's objects of `kind`, with `attributes`, the anchor, members and account state.
    fn read<'a>(
        &'a self,
        kind: ExportKind,
        attributes: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<TargetEntry>>>;
    /// Writes one change; `created` maps source GUIDs this run created to their new ids.
    fn apply<'a>(
        &'a self,
        change: &'a Change,
        created: &'a HashMap<ObjectGuid, ObjectGuid>,
    ) -> BoxFuture<'a, Result<Applied>>;
    /// Requests sent so far.
    fn operations(&self) -> u64;
}

/// One export run of a pair, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExportRun {
    /// Its id.
    #[schema(value_type = String)]
    pub id: Uuid,
    /// Source directory.
    #[schema(value_type = String)]
    pub source: DirectoryId,
    /// Target directory.
    #[schema(value_type = String)]
    pub target: DirectoryId,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// Objects created.
    pub created: u64,
    /// Objects whose attributes were changed.
    pub updated: u64,
    /// Objects renamed or moved.
    pub moved: u64,
    /// Accounts disabled by the deletion policy.
    pub disabled: u64,
    /// Groups whose membership was changed.
    pub memberships: u64,
    /// Objects the target or the plan refused.
    pub refused: u64,
    /// Objects already as they should be.
    pub unchanged: u64,
    /// Requests sent to the target (reads and writes).
    pub operations: u64,
    /// Why the run stopped before the end, if it did.
    pub error: Option<String>,
}

/// What a run of a pair would write, profile by profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExportPreview {
    /// Per profile, in the order a run exports them.
    pub profiles: Vec<ProfilePreview>,
}

/// What a run would write for one profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProfilePreview {
    /// The profile's name.
    pub profile: String,
    /// Its kind.
    pub kind: ExportKind,
    /// Adds, modifies, moves, membership changes and disables, with old and new values.
    pub changes: Vec<Change>,
    /// Objects that would be held back, and why.
    pub refused: Vec<Refusal>,
    /// Objects already as they should be.
    pub unchanged: u64,
}

/// Adds a profile (`id` `None`) or replaces one, after checking it against both directories.
pub async fn put_profile(
    app: &App,
    id: Option<SyncProfileId>,
    body: ProfileBody,
) -> Result<SyncProfile> {
    if let Some(id) = id {
        app.store
            .sync_profile(id)
            .await?
            .ok_or(Error::NotFound("sync profile"))?;
    }
    let profile = body.with_id(id.unwrap_or_default());
    let source = app
        .store
        .directory(profile.source)
        .await?
        .ok_or_else(|| Error::field("source", "no such directory"))?;
    let target = app
        .store
        .directory(profile.target)
        .await?
        .ok_or_else(|| Error::field("target", "no such directory"))?;
    profile.validate(target.kind)?;
    // The check every run makes, made before the profile is stored. A source without a
    // connection yet will be read as its kind is: Active Directory over LDAP, Entra over Graph.
    let reader = match super::connection::stored(app, source.id).await? {
        Some(connection) => reader_of(Some(&connection)),
        None => match source.kind {
            DirectoryKind::ActiveDirectory => SourceReader::Ldap,
            DirectoryKind::EntraId => SourceReader::Graph,
        },
    };
    profile.scope.check_reader(reader)?;
    if target.kind == DirectoryKind::EntraId
        && profile.kind == ExportKind::Contacts
        && profile.mode == SyncMode::CreateOrUpdate
    {
        return Err(Error::field(
            "kind",
            "Microsoft Graph cannot create contacts in Entra ID; export contacts to Active Directory",
        ));
    }
    if target.kind == DirectoryKind::EntraId
        && profile.kind == ExportKind::Groups
        && profile
            .flow
            .iter()
            .any(|r| r.target.trim().eq_ignore_ascii_case(graph::GROUP_ANCHOR))
    {
        return Err(Error::field(
            "flow",
            "an Entra ID group's description holds the anchor rehome keeps on it; flow the text into another property",
        ));
    }
    app.store
        .put_sync_profile(&profile, app.clock.now())
        .await?;
    // A profile matches first: the cycle matches every pair with a match profile, so a pair
    // without one gets the default, which an engineer may change like any other.
    if app
        .store
        .pair_profile(profile.source, profile.target)
        .await?
        .is_none()
    {
        super::set_pair_profile(app, profile.source, profile.target, &Default::default()).await?;
    }
    Ok(profile)
}

/// Every sync profile.
pub async fn profiles(app: &App) -> Result<Vec<SyncProfile>> {
    app.store.sync_profiles().await
}

/// One sync profile.
pub async fn profile(app: &App, id: SyncProfileId) -> Result<SyncProfile> {
    app.store
        .sync_profile(id)
        .await?
        .ok_or(Error::NotFound("sync profile"))
}

/// Deletes a profile; the objects it wrote stay as they are.
pub async fn delete_profile(app: &App, id: SyncProfileId) -> Result<()> {
    if app.store.delete_sync_profile(id).await? {
        Ok(())
    } else {
        Err(Error::NotFound("sync profile"))
    }
}

/// The latest export runs of a pair, newest first.
pub async fn runs(app: &App, source: DirectoryId, target: DirectoryId) -> Result<Vec<ExportRun>> {
    app.store.export_runs(source, target, 50).await
}

/// Refuses an export into a domain no DirSync licence covers, when the server enforces licences.
pub async fn check_licence(app: &App, source: &Directory, target: &Directory) -> Result<()> {
    let trusted = &app.settings.licence_issuers;
    if trusted.is_empty() {
        return Ok(());
    }
    let now = app.clock.now();
    for stored in app.store.licences().await? {
        if let Ok(l) = licence::open(&stored.text, trusted) {
            if l.covers(Product::Sync, &source.domain, &target.domain, now) {
                return Ok(());
            }
        }
    }
    Err(Error::Conflict(format!(
        "no licence for domain {}: export needs a valid DirSync (sync) licence naming {} as a source and {} as a target domain; imports and matching go on without one",
        target.domain, source.domain, target.domain
    )))
}

/// A pair's Create-or-Update profiles with what a run reads once.
struct Prepared {
    source: Directory,
    target: Directory,
    profiles: Vec<SyncProfile>,
    objects: HashMap<ObjectGuid, DirectoryObject>,
    matched: HashMap<ObjectGuid, ObjectGuid>,
    source_connection: Option<Connection>,
}

async fn prepare(app: &App, source: DirectoryId, target: DirectoryId) -> Result<Prepared> {
    let source_dir = app
        .store
        .directory(source)
        .await?
        .ok_or_else(|| Error::field("source", "no such directory"))?;
    let target_dir = app
        .store
        .directory(target)
        .await?
        .ok_or_else(|| Error::field("target", "no such directory"))?;
    let mut profiles: Vec<SyncProfile> = app
        .store
        .sync_profiles()
        .await?
        .into_iter()
        .filter(|p| p.source == source && p.target == target && p.mode == SyncMode::CreateOrUpdate)
        .collect();
    profiles.sort_by_key(|p| p.kind);
    let mut objects = HashMap::new();
    for kind in ExportKind::ALL {
        for o in app.store.objects(source, Some(kind.object_kind())).await? {
            objects.insert(o.guid, o);
        }
    }
    let matched = app
        .store
        .pair_translations(source, target)
        .await?
        .into_iter()
        .map(|(e, _)| (e.source.guid, e.target.guid))
        .collect();
    let source_connection = super::connection::stored(app, source).await?;
    Ok(Prepared {
        source: source_dir,
        target: target_dir,
        profiles,
        objects,
        matched,
        source_connection,
    })
}

/// The writer for `target`'s stored connection.
pub async fn writer_for(
    app: &App,
    target: DirectoryId,
    profiles: &[SyncProfile],
) -> Result<Box<dyn TargetWriter>> {
    let connection = super::connection::stored(app, target).await?.ok_or_else(|| {
        Error::field(
            "connection",
            "the target directory has no connection to write through; set one (PUT /directories/{id}/connection)",
        )
    })?;
    match connection {
        Connection::Ldap(config) => {
            let mut bases: Vec<String> = Vec::new();
            for p in profiles {
                bases.extend(p.containers.iter().map(|c| c.container.clone()));
                bases.extend(p.default_container.clone());
                if let profile::DeletionPolicy::Move { container } = &p.deletion {
                    bases.push(container.clone());
                }
            }
            bases.sort();
            bases.dedup();
            Ok(Box::new(ldap::LdapWriter::new(config, bases)?))
        }
        Connection::Graph(config) => Ok(Box::new(graph::GraphWriter::new(
            config,
            app.clock.clone(),
            app.sleeper.clone(),
        )?)),
        Connection::File { .. } => Err(Error::field(
            "connection",
            "a directory document cannot be written; give the target an LDAP connection",
        )),
    }
}

/// How a source with `connection` is read, for the check of a scope's filters.
fn reader_of(connection: Option<&Connection>) -> SourceReader {
    match connection {
        Some(Connection::Ldap(_)) => SourceReader::Ldap,
        Some(Connection::Graph(_)) => SourceReader::Graph,
        Some(Connection::File { .. }) | None => SourceReader::Other,
    }
}

/// The source objects of `profile`'s kind in its scope.
async fn in_scope<'a>(
    app: &App,
    prepared: &'a Prepared,
    profile: &SyncProfile,
) -> Result<Vec<&'a DirectoryObject>> {
    let kind = profile.kind.object_kind();
    let scope = &profile.scope;
    let members = if scope.groups.is_empty() {
        None
    } else {
        // Members of the listed groups, through nested groups; each group visited once.
        let mut found = HashSet::new();
        let mut queue: Vec<ObjectGuid> = scope.groups.clone();
        let mut visited = HashSet::new();
        while let Some(g) = queue.pop() {
            if !visited.insert(g) {
                continue;
            }
            if let Some(group) = prepared.objects.get(&g) {
                for m in &group.members {
                    found.insert(*m);
                    queue.push(*m);
                }
            }
        }
        Some(found)
    };
    scope.check_reader(reader_of(prepared.source_connection.as_ref()))?;
    // Past the check, a filter is there only when the source is read by the system it is for.
    let filtered = match (scope.ldap_filter(), &prepared.source_connection) {
        (Some(filter), Some(Connection::Ldap(config))) => {
            Some(ldap::guids_matching(config.clone(), profile.kind, filter).await?)
        }
        _ => None,
    };
    let graph_filtered = match (scope.graph_filter(), &prepared.source_connection) {
        (Some(filter), Some(Connection::Graph(config))) => Some(
            graph::ids_matching(
                config.clone(),
                app.clock.clone(),
                app.sleeper.clone(),
                profile.kind,
                filter,
            )
            .await?,
        ),
        _ => None,
    };
    let mut out: Vec<&DirectoryObject> = prepared
        .objects
        .values()
        .filter(|o| o.kind == kind)
        .filter(|o| {
            scope.ous.is_empty()
                || o.dn
                    .as_deref()
                    .is_some_and(|dn| scope.ous.iter().any(|ou| plan::is_within(dn, ou)))
        })
        .filter(|o| members.as_ref().is_none_or(|m| m.contains(&o.guid)))
        .filter(|o| filtered.as_ref().is_none_or(|f| f.contains(&o.guid)))
        .filter(|o| graph_filtered.as_ref().is_none_or(|f| f.contains(&o.guid)))
        .collect();
    out.sort_by_key(|o| o.guid);
    Ok(out)
}

fn flow_of(prepared: &Prepared, profile: &SyncProfile) -> Vec<profile::FlowRule> {
    if profile.flow.is_empty() {
        default_flow(
            profile.kind,
            prepared.source.kind,
            prepared.target.kind,
            &prepared.target.domain,
        )
    } else {
        profile.flow.clone()
    }
}

/// What a run of `source` → `target` would write, without writing anything.
pub async fn what_if(app: &App, source: DirectoryId, target: DirectoryId) -> Result<ExportPreview> {
    let prepared = prepare(app, source, target).await?;
    if prepared.profiles.is_empty() {
        return Ok(ExportPreview {
            profiles: Vec::new(),
        });
    }
    let writer = writer_for(app, target, &prepared.profiles).await?;
    what_if_with(app, &prepared, writer.as_ref()).await
}

async fn what_if_with(
    app: &App,
    prepared: &Prepared,
    writer: &dyn TargetWriter,
) -> Result<ExportPreview> {
    let mut resolved = prepared.matched.clone();
    let mut pending = HashMap::new();
    let mut previews = Vec::new();
    let mut groups: Option<(usize, Vec<&DirectoryObject>, Vec<TargetEntry>)> = None;
    for profile in &prepared.profiles {
        let flow = flow_of(prepared, profile);
        let sources = in_scope(app, prepared, profile).await?;
        let attributes: Vec<String> = flow.iter().map(|r| r.target.clone()).collect();
        let targets = writer.read(profile.kind, &attributes).await?;
        for t in &targets {
            if let Some(a) = t.anchor() {
                resolved.entry(a).or_insert(t.id);
            }
        }
        let plan = plan::plan_objects(
            profile,
            &Inputs {
                target_kind: prepared.target.kind,
                flow: &flow,
                sources: &sources,
                targets: &targets,
                matched: &prepared.matched,
            },
        );
        for c in &plan.changes {
            if let Change::Create { source, name, .. } = c {
                pending.insert(*source, name.clone());
            }
        }
        previews.push(ProfilePreview {
            profile: profile.name.clone(),
            kind: profile.kind,
            changes: plan.changes,
            refused: plan.refused,
            unchanged: plan.unchanged,
        });
        if profile.kind == ExportKind::Groups {
            groups = Some((previews.len() - 1, sources, targets));
        }
    }
    if let Some((index, sources, targets)) = groups {
        let names = names(prepared);
        let (changes, notes) = plan::plan_members(&sources, &targets, &resolved, &pending, &names);
        previews[index].changes.extend(changes);
        previews[index].refused.extend(notes);
    }
    Ok(ExportPreview { profiles: previews })
}

fn names(prepared: &Prepared) -> HashMap<ObjectGuid, String> {
    prepared
        .objects
        .values()
        .map(|o| (o.guid, o.name.clone()))
        .collect()
}

/// Exports `source` → `target` through the target's connection, after the licence check, and
/// records the run.
pub async fn run(app: &App, source: DirectoryId, target: DirectoryId) -> Result<ExportRun> {
    let prepared = prepare(app, source, target).await?;
    check_licence(app, &prepared.source, &prepared.target).await?;
    let writer = writer_for(app, target, &prepared.profiles).await?;
    run_prepared(app, &prepared, writer.as_ref()).await
}

/// [`run`] through a given writer (tests wrap the real one to fail half way).
pub async fn run_with(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
    writer: &dyn TargetWriter,
) -> Result<ExportRun> {
    let prepared = prepare(app, source, target).await?;
    check_licence(app, &prepared.source, &prepared.target).await?;
    run_prepared(app, &prepared, writer).await
}

/// Collects the messages a run leaves on source objects.
#[derive(Default)]
struct Messages {
    by_object: HashMap<ObjectGuid, (MessageLevel, Vec<String>)>,
}

impl Messages {
    fn say(&mut self, guid: ObjectGuid, level: MessageLevel, text: String) {
        let entry = self
            .by_object
            .entry(guid)
            .or_insert((MessageLevel::Info, Vec::new()));
        if level_rank(level) > level_rank(entry.0) {
            entry.0 = level;
        }
        entry.1.push(text);
    }

    fn into_messages(self, at: DateTime<Utc>) -> Vec<ObjectMessage> {
        self.by_object
            .into_iter()
            .map(|(guid, (level, texts))| message(guid, level, texts.join("; "), at))
            .collect()
    }
}

fn level_rank(level: MessageLevel) -> u8 {
    match level {
        MessageLevel::Info => 0,
        MessageLevel::Warning => 1,
        MessageLevel::Error => 2,
    }
}

async fn run_prepared(
    app: &App,
    prepared: &Prepared,
    writer: &dyn TargetWriter,
) -> Result<ExportRun> {
    let started_at = app.clock.now();
    let mut run = ExportRun {
        id: Uuid::new_v4(),
        source: prepared.source.id,
        target: prepared.target.id,
        started_at,
        finished_at: started_at,
        created: 0,
        updated: 0,
        moved: 0,
        disabled: 0,
        memberships: 0,
        refused: 0,
        unchanged: 0,
        operations: 0,
        error: None,
    };
    let mut messages = Messages::default();
    let outcome = export(app, prepared, writer, &mut run, &mut messages).await;
    run.operations = writer.operations();
    run.finished_at = app.clock.now();
    if let Err(e) = &outcome {
        run.error = Some(e.to_string());
    }
    app.store
        .put_object_messages(
            prepared.source.id,
            &stage(prepared.target.id),
            &messages.into_messages(run.finished_at),
        )
        .await?;
    app.store.insert_export_run(&run).await?;
    tracing::info!(source = %prepared.source.name, target = %prepared.target.name,
        created = run.created, updated = run.updated, moved = run.moved, disabled = run.disabled,
        memberships = run.memberships, refused = run.refused, error = run.error.is_some(),
        "export run finished");
    outcome.map(|_| run)
}

async fn export(
    app: &App,
    prepared: &Prepared,
    writer: &dyn TargetWriter,
    run: &mut ExportRun,
    messages: &mut Messages,
) -> Result<()> {
    let mut resolved = prepared.matched.clone();
    let mut created: HashMap<ObjectGuid, ObjectGuid> = HashMap::new();
    let mut groups = None;
    for profile in &prepared.profiles {
        let flow = flow_of(prepared, profile);
        let sources = in_scope(app, prepared, profile).await?;
        let attributes: Vec<String> = flow.iter().map(|r| r.target.clone()).collect();
        let targets = writer.read(profile.kind, &attributes).await?;
        for t in &targets {
            if let Some(a) = t.anchor() {
                resolved.entry(a).or_insert(t.id);
            }
        }
        let plan: Plan = plan::plan_objects(
            profile,
            &Inputs {
                target_kind: prepared.target.kind,
                flow: &flow,
                sources: &sources,
                targets: &targets,
                matched: &prepared.matched,
            },
        );
        run.unchanged += plan.unchanged;
        refuse(run, messages, &plan.refused);
        apply_all(writer, &plan.changes, &mut created, run, messages).await?;
        for change in &plan.changes {
            if let Change::Create { source, .. } = change {
                if let Some(id) = created.get(source) {
                    resolved.insert(*source, *id);
                }
            }
        }
        if profile.kind == ExportKind::Groups {
            groups = Some((sources, targets));
        }
    }
    if let Some((sources, targets)) = groups {
        let (changes, notes) = plan::plan_members(
            &sources,
            &targets,
            &resolved,
            &HashMap::new(),
            &names(prepared),
        );
        for note in &notes {
            messages.say(note.source, MessageLevel::Warning, note.reason.clone());
        }
        apply_all(writer, &changes, &mut created, run, messages).await?;
    }
    Ok(())
}

fn refuse(run: &mut ExportRun, messages: &mut Messages, refused: &[Refusal]) {
    for r in refused {
        run.refused += 1;
        messages.say(r.source, MessageLevel::Error, r.reason.clone());
    }
}

/// How many writes an export keeps in flight: the target works on one while the next travels,
/// and a target that serves several requests at once (Graph, a domain controller with several
/// workers) works on several. The changes of one step never depend on each other (members follow
/// in a step of their own).
pub const WRITES_IN_FLIGHT: usize = 8;

/// Applies one step's `changes`, [`WRITES_IN_FLIGHT`] at a time. After the first `Err` (the
/// target cannot be written) nothing more is sent; the writes in flight finish and are recorded,
/// and the error stops the run.
async fn apply_all(
    writer: &dyn TargetWriter,
    changes: &[Change],
    created: &mut HashMap<ObjectGuid, ObjectGuid>,
    run: &mut ExportRun,
    messages: &mut Messages,
) -> Result<()> {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    let mut results: Vec<(usize, Result<Applied>)> = Vec::with_capacity(changes.len());
    {
        let known = &*created;
        let mut waiting = changes.iter().enumerate();
        let mut in_flight = FuturesUnordered::new();
        let mut stopped = false;
        loop {
            while !stopped && in_flight.len() < WRITES_IN_FLIGHT {
                match waiting.next() {
                    Some((i, change)) => in_flight.push(apply_one(writer, i, change, known)),
                    None => break,
                }
            }
            match in_flight.next().await {
                Some((i, result)) => {
                    stopped |= result.is_err();
                    results.push((i, result));
                }
                None => break,
            }
        }
    }
    let mut first_error = None;
    for (i, result) in results {
        if let Err(e) = record(&changes[i], result, created, run, messages) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// One write, with its place in the step's list.
async fn apply_one(
    writer: &dyn TargetWriter,
    index: usize,
    change: &Change,
    created: &HashMap<ObjectGuid, ObjectGuid>,
) -> (usize, Result<Applied>) {
    (index, writer.apply(change, created).await)
}

/// Counts and describes what the writer did with one change.
fn record(
    change: &Change,
    result: Result<Applied>,
    created: &mut HashMap<ObjectGuid, ObjectGuid>,
    run: &mut ExportRun,
    messages: &mut Messages,
) -> Result<()> {
    match result {
        Ok(Applied::Done(id)) => {
            match change {
                Change::Create { source, .. } => {
                    run.created += 1;
                    if let Some(id) = id {
                        created.insert(*source, id);
                    }
                }
                Change::Update { .. } => run.updated += 1,
                Change::Move { .. } => run.moved += 1,
                Change::Members { .. } => run.memberships += 1,
                Change::Disable { .. } => run.disabled += 1,
            }
            messages.say(change.source(), MessageLevel::Info, change.describe());
            Ok(())
        }
        Ok(Applied::Refused(reason)) => {
            run.refused += 1;
            messages.say(change.source(), MessageLevel::Error, reason);
            Ok(())
        }
        Err(e) => {
            messages.say(
                change.source(),
                MessageLevel::Error,
                format!("not written: the export stopped here ({})", e),
            );
            Err(e)
        }
    }
}

/// Exports every pair with a Create-or-Update profile; the schedule's Export step. Each pair's
/// outcome is returned as a line: `Ok` with the pair's label, or `Err` with what failed.
pub async fn run_all(app: &App) -> Result<Vec<std::result::Result<String, String>>> {
    let mut out = Vec::new();
    for (source, target) in app.store.export_pairs().await? {
        let label = async {
            let name = |d: Option<Directory>, id: DirectoryId| {
                d.map(|d| d.name).unwrap_or_else(|| id.to_string())
            };
            format!(
                "{} → {}",
                name(app.store.directory(source).await.ok().flatten(), source),
                name(app.store.directory(target).await.ok().flatten(), target)
            )
        }
        .await;
        match run(app, source, target).await {
            Ok(_) => out.push(Ok(label)),
            Err(e) => {
                tracing::warn!(pair = %label, error = %e, "scheduled export failed");
                out.push(Err(format!("export {}: {}", label, e)));
            }
        }
    }
    Ok(out)
}
