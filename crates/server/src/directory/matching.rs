//! Matching source users and groups to target ones, and keeping the translation table equal to
//! the result: each source object pairs with the one target object a rule finds, or gets a
//! message saying why not. Nothing is ever guessed. Only rows that differ from the last run are
//! written, so matching again after a small import is quick even for a million objects.

use std::borrow::Cow;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use model::directory::{ObjectKind, TranslationEntry, TranslationSide};
use model::ids::{DirectoryId, ObjectGuid};
use serde::Serialize;
use tokio::sync::Mutex;

use super::cache::{CachedObject, ObjectCache};
use super::match_index::PairIndex;
use super::profile::{self, Finding, MatchProfile, Matcher, Via};
use crate::store::translations::{MatchWrite, MessageLevel, ObjectMessage};
use crate::store::Store;
use crate::{Error, Result};

/// How many names each list of a [`MatchSummary`] shows.
pub const REPORTED_NAMES: usize = 100;

/// What matching found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MatchSummary {
    /// Source objects paired with exactly one target object.
    pub matched: u64,
    /// Source objects with no target object (or no value, or no SID to translate).
    pub unmatched: u64,
    /// Source objects with several candidates, or sharing their one candidate with another source.
    pub ambiguous: u64,
    /// Translation rows written or removed by this run.
    pub rows_changed: u64,
    /// Names of the first unmatched source objects.
    pub unmatched_names: Vec<String>,
    /// Names of the first ambiguous source objects.
    pub ambiguous_names: Vec<String>,
}

/// What became of one source object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pairing {
    /// Paired with the target object at this index of the target cache, by `rule`
    /// (`sIDHistory` or `rules[N]`).
    Matched {
        /// Index into the target cache's objects.
        target: usize,
        /// Which rule paired them.
        rule: String,
    },
    /// No target object: the message says why.
    Unmatched(String),
    /// Several possible target objects, or one wanted by several sources.
    Ambiguous(String),
}

/// Whether matching looks at an object at all: only users and groups are translated.
pub fn translatable(kind: ObjectKind) -> bool {
    matches!(kind, ObjectKind::User | ObjectKind::Group)
}

fn side(object: &CachedObject, directory: DirectoryId) -> Option<TranslationSide> {
    Some(TranslationSide {
        guid: object.guid,
        sid: object.sid()?,
        on_premises_sid: object.on_premises_sid(),
        sid_history: object.sid_history(),
        upn: object.get(super::cache::Attr::Upn).map(str::to_string),
        name: object.name().to_string(),
        directory,
    })
}

/// Where the target objects an outcome names are found: a list of them, or a cache's slots.
pub trait Targets {
    /// The target at `i`.
    fn target(&self, i: usize) -> Option<&CachedObject>;
}

impl Targets for [&CachedObject] {
    fn target(&self, i: usize) -> Option<&CachedObject> {
        self.get(i).copied()
    }
}

impl Targets for ObjectCache {
    fn target(&self, i: usize) -> Option<&CachedObject> {
        u32::try_from(i).ok().and_then(|i| self.at(i))
    }
}

/// What a run made of one source object, as its summary counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Class {
    /// Not a source of the pair (no object, or not a user or group).
    #[default]
    Absent,
    /// Paired, with a translation row.
    Matched,
    /// No target, or nothing to translate.
    Unmatched,
    /// Held back.
    Ambiguous,
}

impl MatchSummary {
    fn count(&mut self, class: Class, name: impl FnOnce() -> String) {
        let list = match class {
            Class::Absent => return,
            Class::Matched => {
                self.matched += 1;
                return;
            }
            Class::Unmatched => {
                self.unmatched += 1;
                &mut self.unmatched_names
            }
            Class::Ambiguous => {
                self.ambiguous += 1;
                &mut self.ambiguous_names
            }
        };
        if list.len() < REPORTED_NAMES {
            list.push(name());
        }
    }
}

/// What the store should hold for one source object after a run.
enum Wanted<'a> {
    Row {
        target: &'a CachedObject,
        rule: &'a str,
    },
    Message(MessageLevel, String),
}

/// Works out a run's writes against the fingerprints of what the store holds, bringing the
/// fingerprints to what the store will hold once the writes are made.
struct Planner<'s> {
    rows: &'s mut HashMap<ObjectGuid, u64>,
    messages: &'s mut HashMap<ObjectGuid, u64>,
    write: MatchWrite,
    source: DirectoryId,
    target: DirectoryId,
    now: chrono::DateTime<chrono::Utc>,
}

impl Planner<'_> {
    /// Plans `outcome` for `object`; matched outcomes name a target of `targets`.
    fn one<T: Targets + ?Sized>(
        &mut self,
        object: &CachedObject,
        outcome: &Pairing,
        targets: &T,
    ) -> Result<Class> {
        let (class, wanted) = match outcome {
            Pairing::Matched { target: t, rule } => {
                let t = targets.target(*t).ok_or_else(|| {
                    Error::Internal(format!("a match of {:?} names no target", object.name()))
                })?;
                match (object.sid(), t.sid()) {
                    (Some(_), Some(_)) => (Class::Matched, Wanted::Row { target: t, rule }),
                    // Without both SIDs there is nothing to translate on a device.
                    (None, _) => (
                        Class::Unmatched,
                        Wanted::Message(
                            MessageLevel::Warning,
                            "has no SID, so there is nothing to translate on a device".into(),
                        ),
                    ),
                    (_, None) => (
                        Class::Unmatched,
                        Wanted::Message(
                            MessageLevel::Warning,
                            format!(
                                "matches {:?} by {}, which has no SID to translate to",
                                t.name(),
                                rule
                            ),
                        ),
                    ),
                }
            }
            Pairing::Unmatched(why) => (
                Class::Unmatched,
                Wanted::Message(MessageLevel::Warning, why.clone()),
            ),
            Pairing::Ambiguous(why) => (
                Class::Ambiguous,
                Wanted::Message(MessageLevel::Error, why.clone()),
            ),
        };
        let guid = object.guid;
        match wanted {
            Wanted::Row { target: t, rule } => {
                let (Some(sk), Some(tk)) = (side_key(object), side_key(t)) else {
                    self.gone(guid);
                    return Ok(class);
                };
                let print = row_print(object.kind, sk, tk, rule);
                let before = self.rows.insert(guid, print);
                if before != Some(print) {
                    if let (Some(source), Some(target)) =
                        (side(object, self.source), side(t, self.target))
                    {
                        // A source with no row yet has none to remove first: a first run into
                        // a growing table deletes nothing.
                        if before.is_some() {
                            self.write.delete_rows.push(guid);
                        }
                        self.write.insert_rows.push((
                            TranslationEntry {
                                kind: object.kind,
                                source,
                                target,
                            },
                            rule.to_string(),
                        ));
                    }
                }
                if self.messages.remove(&guid).is_some() {
                    self.write.delete_messages.push(guid);
                }
            }
            Wanted::Message(level, message) => {
                let print = message_print(level, &message);
                if self.rows.remove(&guid).is_some() {
                    self.write.delete_rows.push(guid);
                }
                if self.messages.insert(guid, print) != Some(print) {
                    self.write.upsert_messages.push(ObjectMessage {
                        guid,
                        level,
                        message,
                        at: self.now,
                    });
                }
            }
        }
        Ok(class)
    }

    /// The object is no longer a source of the pair: its row and message go.
    fn gone(&mut self, guid: ObjectGuid) {
        if self.rows.remove(&guid).is_some() {
            self.write.delete_rows.push(guid);
        }
        if self.messages.remove(&guid).is_some() {
            self.write.delete_messages.push(guid);
        }
    }

    /// After every source was planned: what the store holds for any other object goes.
    fn only(&mut self, keep: impl Fn(&ObjectGuid) -> bool) {
        let gone: Vec<ObjectGuid> = self
            .rows
            .keys()
            .chain(self.messages.keys())
            .filter(|g| !keep(g))
            .copied()
            .collect();
        for guid in gone {
            self.gone(guid);
        }
    }
}

/// One side of a row as fingerprinted: GUID, SIDs (own, on-premises, history), UPN, name. The
/// SIDs are borrowed from a stored row and decoded from a cached object, and print alike.
type SideKey<'a> = (
    &'a ObjectGuid,
    (
        Cow<'a, secdesc::Sid>,
        Option<Cow<'a, secdesc::Sid>>,
        Cow<'a, [secdesc::Sid]>,
    ),
    Option<&'a str>,
    &'a str,
);

// Fingerprints are only ever compared within this process, so the hasher need not be stable
// across builds. Rows are fingerprinted from borrowed parts, so an unchanged row costs no copy.
fn row_print(kind: ObjectKind, source: SideKey<'_>, target: SideKey<'_>, rule: &str) -> u64 {
    let mut h = DefaultHasher::new();
    (0u8, kind, source, target, rule).hash(&mut h);
    h.finish()
}

fn message_print(level: MessageLevel, message: &str) -> u64 {
    let mut h = DefaultHasher::new();
    (1u8, level, message).hash(&mut h);
    h.finish()
}

fn side_key(object: &CachedObject) -> Option<SideKey<'_>> {
    Some((
        &object.guid,
        (
            Cow::Owned(object.sid()?),
            object.on_premises_sid().map(Cow::Owned),
            Cow::Owned(object.sid_history()),
        ),
        object.get(super::cache::Attr::Upn),
        object.name(),
    ))
}

fn entry_key(side: &TranslationSide) -> SideKey<'_> {
    (
        &side.guid,
        (
            Cow::Borrowed(&side.sid),
            side.on_premises_sid.as_ref().map(Cow::Borrowed),
            Cow::Borrowed(side.sid_history.as_slice()),
        ),
        side.upn.as_deref(),
        side.name.as_str(),
    )
}

/// What the store holds for one source and target pair, as fingerprints per source object,
/// with the pair's match index and what each source came to at the last run.
#[derive(Debug, Default)]
struct PairState {
    generation: i64,
    rows: HashMap<ObjectGuid, u64>,
    messages: HashMap<ObjectGuid, u64>,
    index: Option<PairIndex>,
    /// Per source slot of the index's source cache.
    class: Vec<Class>,
}

/// One pair's state, locked while a run of that pair works on it.
type PairSlot = Arc<Mutex<PairState>>;

/// The state of every pair this replica has matched, so a run writes only what changed without
/// reading the whole table back.
#[derive(Default)]
pub struct PairCache {
    pairs: Mutex<HashMap<(DirectoryId, DirectoryId), PairSlot>>,
}

impl std::fmt::Debug for PairCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairCache")
    }
}

/// The stage name of matching messages into `target`.
pub fn stage(target: DirectoryId) -> String {
    format!("match:{}", target)
}

async fn load_pair(
    store: &Store,
    source: DirectoryId,
    target: DirectoryId,
    generation: i64,
) -> Result<PairState> {
    let mut state = PairState {
        generation,
        ..PairState::default()
    };
    for (entry, rule) in store.pair_translations(source, target).await? {
        let print = row_print(
            entry.kind,
            entry_key(&entry.source),
            entry_key(&entry.target),
            &rule,
        );
        state.rows.insert(entry.source.guid, print);
    }
    for m in store.stage_messages(source, &stage(target)).await? {
        let print = message_print(m.level, &m.message);
        state.messages.insert(m.guid, print);
    }
    Ok(state)
}

/// What one run changes, worked out against what the store holds, without writing anything.
struct Plan {
    write: MatchWrite,
    summary: MatchSummary,
}

fn plan(
    state: &PairState,
    pair: (DirectoryId, DirectoryId),
    sources: &[&CachedObject],
    targets: &[&CachedObject],
    outcomes: &[Pairing],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Plan> {
    let (mut rows, mut messages) = (state.rows.clone(), state.messages.clone());
    let mut planner = Planner {
        rows: &mut rows,
        messages: &mut messages,
        write: MatchWrite::default(),
        source: pair.0,
        target: pair.1,
        now,
    };
    let mut summary = MatchSummary::default();
    for (object, outcome) in sources.iter().zip(outcomes) {
        let class = planner.one(object, outcome, targets)?;
        summary.count(class, || object.name().to_string());
    }
    let kept: std::collections::HashSet<ObjectGuid> = sources.iter().map(|o| o.guid).collect();
    planner.only(|g| kept.contains(g));
    let write = planner.write;
    summary.rows_changed = (write.delete_rows.len() + write.insert_rows.len()) as u64;
    Ok(Plan { write, summary })
}

/// The state of a pair, read again when another run (here or on another replica) wrote since.
async fn pair_state(
    store: &Store,
    cache: &PairCache,
    source: DirectoryId,
    target: DirectoryId,
) -> Result<(PairSlot, bool)> {
    let slot = cache
        .pairs
        .lock()
        .await
        .entry((source, target))
        .or_default()
        .clone();
    let reloaded = {
        let mut state = slot.lock().await;
        let generation = store.pair_generation(source, target).await?;
        let stale = state.generation != generation || generation == 0;
        if stale {
            *state = load_pair(store, source, target, generation).await?;
        }
        stale
    };
    Ok((slot, reloaded))
}

/// What a run would change in the translation table, had it written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WhatIf {
    /// What matching would find.
    pub summary: MatchSummary,
    /// Rows that would be added: source objects paired for the first time.
    pub added: u64,
    /// Rows that would be rewritten: another target, or changed names, UPNs or SIDs.
    pub changed: u64,
    /// Rows that would be removed.
    pub removed: u64,
    /// The first rows that would be added or changed, as source → target names.
    pub examples: Vec<String>,
}

/// Works out what [`run_pair`] would change, without changing anything.
#[allow(clippy::too_many_arguments)]
pub async fn what_if(
    store: &Store,
    cache: &PairCache,
    source: DirectoryId,
    target: DirectoryId,
    sources: &[&CachedObject],
    targets: &[&CachedObject],
    outcomes: &[Pairing],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<WhatIf> {
    let (slot, _) = pair_state(store, cache, source, target).await?;
    let state = slot.lock().await;
    let plan = plan(&state, (source, target), sources, targets, outcomes, now)?;
    let mut what = WhatIf {
        summary: plan.summary,
        ..WhatIf::default()
    };
    let mut rewritten = std::collections::HashSet::new();
    for (entry, rule) in &plan.write.insert_rows {
        if state.rows.contains_key(&entry.source.guid) {
            what.changed += 1;
        } else {
            what.added += 1;
        }
        rewritten.insert(entry.source.guid);
        if what.examples.len() < REPORTED_NAMES {
            what.examples.push(format!(
                "{} → {} by {}",
                entry.source.name, entry.target.name, rule
            ));
        }
    }
    what.removed = plan
        .write
        .delete_rows
        .iter()
        .filter(|g| state.rows.contains_key(g) && !rewritten.contains(g))
        .count() as u64;
    Ok(what)
}

/// Matches the users and groups of the `sources` cache to those of `targets` under `profile` and
/// makes the translation table and messages from `source` into `target` equal to the result.
/// After a run of the same profile over the same caches, only what their imports touched since is
/// matched again; the result is the one a full run would give.
#[allow(clippy::too_many_arguments)]
pub async fn run_pair(
    store: &Store,
    cache: &PairCache,
    (source, target): (DirectoryId, DirectoryId),
    profile: &MatchProfile,
    profile_text: &str,
    sources: &ObjectCache,
    targets: &ObjectCache,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<MatchSummary> {
    let (slot, reloaded) = pair_state(store, cache, source, target).await?;
    let mut guard = slot.lock().await;
    let state = &mut *guard;
    let delta = match state.index.as_mut() {
        Some(index) if !reloaded => index.update(profile, sources, targets),
        _ => None,
    };
    let full = delta.is_none();
    let touched = match delta {
        Some(touched) => touched,
        None => {
            let (index, touched) = PairIndex::build(profile, sources, targets);
            state.index = Some(index);
            state.class = Vec::new();
            touched
        }
    };
    state.class.resize(sources.slot_count(), Class::Absent);
    let PairState {
        rows,
        messages,
        index,
        class,
        ..
    } = state;
    if full {
        // Grown once, not doubled while the old table is still held.
        rows.reserve(sources.len().saturating_sub(rows.len()));
    }
    let index = index
        .as_ref()
        .ok_or_else(|| Error::Internal("the match index was not built".into()))?;
    let mut planner = Planner {
        rows,
        messages,
        write: MatchWrite::default(),
        source,
        target,
        now,
    };
    let mut rows_changed = 0u64;
    let planned = async {
        let mut writer = store
            .begin_match(source, target, &stage(target), now)
            .await?;
        for (slot, guid) in touched.gone {
            planner.gone(guid);
            class[slot as usize] = Class::Absent;
        }
        for (slot, proposal) in touched.proposals {
            let Some(object) = sources.at(slot) else {
                continue;
            };
            let finding = profile::finalize(proposal, |t| index.claims(t));
            let pairing = describe(profile, object, targets, finding);
            class[slot as usize] = planner.one(object, &pairing, targets)?;
            // Written in parts, so a run that rewrites a million rows never holds them all.
            if planner.write.len() >= WRITE_PART {
                let part = std::mem::take(&mut planner.write);
                rows_changed += part.rows_changed();
                writer.write(part).await?;
            }
        }
        if full {
            planner.only(|g| sources.get(g).is_some_and(|o| translatable(o.kind)));
        }
        let part = std::mem::take(&mut planner.write);
        rows_changed += part.rows_changed();
        writer.write(part).await?;
        writer.finish(profile_text).await
    }
    .await;
    let mut summary = MatchSummary {
        rows_changed,
        ..MatchSummary::default()
    };
    for (slot, c) in class.iter().enumerate() {
        summary.count(*c, || {
            sources
                .at(slot as u32)
                .map(|o| o.name().to_string())
                .unwrap_or_default()
        });
    }
    match planned {
        Ok(generation) => {
            state.generation = generation;
            Ok(summary)
        }
        Err(e) => {
            // The fingerprints already say what was not written: read them again next time.
            state.generation = -1;
            state.index = None;
            Err(e)
        }
    }
}

/// Rows and messages a run writes at a time.
const WRITE_PART: usize = 5_000;

/// Matches `sources` to `targets` (users and groups only) under `profile`: one outcome per source,
/// with a message for every source left unpaired.
pub fn run_profile(
    profile: &MatchProfile,
    sources: &[&CachedObject],
    targets: &[&CachedObject],
) -> Vec<Pairing> {
    let matcher = Matcher::new(profile, targets);
    matcher
        .match_all(sources)
        .into_iter()
        .zip(sources)
        .map(|(outcome, source)| describe(profile, source, targets, outcome))
        .collect()
}

fn describe<T: Targets + ?Sized>(
    profile: &MatchProfile,
    source: &CachedObject,
    targets: &T,
    outcome: Finding,
) -> Pairing {
    let by = |via: Via| match via {
        Via::SidHistory => "sIDHistory".to_string(),
        Via::Rule(i) => match profile.rules.get(i) {
            Some(rule) => format!("rules[{}] ({} = {})", i, rule.source, rule.target),
            None => format!("rules[{}]", i),
        },
    };
    match outcome {
        Finding::Matched { target, via } => Pairing::Matched {
            target,
            rule: via.to_string(),
        },
        Finding::Unmatched => Pairing::Unmatched(format!(
            "no target {} fits any rule of profile {:?}",
            kind_name(source.kind),
            profile.name
        )),
        Finding::NoValue => Pairing::Unmatched(format!(
            "every attribute profile {:?} compares is empty on this {}",
            profile.name,
            kind_name(source.kind)
        )),
        Finding::Ambiguous {
            via,
            candidates,
            candidate_count,
            shared,
        } => {
            let names: Vec<&str> = candidates
                .iter()
                .filter_map(|&i| targets.target(i))
                .map(CachedObject::name)
                .collect();
            if shared {
                Pairing::Ambiguous(format!(
                    "its one candidate by {} ({}) is also another source object's; none is paired",
                    by(via),
                    names.join(", ")
                ))
            } else {
                Pairing::Ambiguous(format!(
                    "{} candidates by {}: {}{}",
                    candidate_count,
                    by(via),
                    names.join(", "),
                    if candidate_count > names.len() {
                        ", …"
                    } else {
                        ""
                    }
                ))
            }
        }
    }
}

fn kind_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::User => "user",
        ObjectKind::Group => "group",
        ObjectKind::Computer => "computer",
        ObjectKind::Contact => "contact",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::directory::DirectoryObject;

    fn user(name: &str, sam: &str, sid: &str) -> CachedObject {
        let mut o = DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, name);
        o.sid = Some(sid.parse().expect("test SID"));
        o.sam_account_name = Some(sam.to_string());
        CachedObject::new(&o)
    }

    #[test]
    fn every_unpaired_source_gets_a_message_naming_the_rule_and_candidates() {
        let sources = [
            user("Alice", "alice", "S-1-5-21-1-1-1-1001"),
            user("Bob", "bob", "S-1-5-21-1-1-1-1002"),
            user("Carol", "carol", "S-1-5-21-1-1-1-1003"),
        ];
        let targets = [
            user("Alice T", "ALICE", "S-1-5-21-2-2-2-2001"),
            user("Carol A", "carol", "S-1-5-21-2-2-2-2003"),
            user("Carol B", "Carol", "S-1-5-21-2-2-2-2004"),
        ];
        let s: Vec<&CachedObject> = sources.iter().collect();
        let t: Vec<&CachedObject> = targets.iter().collect();
        let outcomes = run_profile(&MatchProfile::default(), &s, &t);
        assert_eq!(
            outcomes[0],
            Pairing::Matched {
                target: 0,
                rule: "rules[0]".into()
            }
        );
        match &outcomes[1] {
            Pairing::Unmatched(why) => assert!(why.contains("no target user"), "{}", why),
            other => panic!("Bob: {:?}", other),
        }
        match &outcomes[2] {
            Pairing::Ambiguous(why) => {
                assert!(why.starts_with("2 candidates by rules[0]"), "{}", why);
                assert!(
                    why.contains("Carol A") && why.contains("Carol B"),
                    "{}",
                    why
                );
            }
            other => panic!("Carol: {:?}", other),
        }
    }
}
