//! Matching source users and groups to target ones, and keeping the translation table equal to
//! the result: each source object pairs with the one target object a rule finds, or gets a
//! message saying why not. Nothing is ever guessed. Only rows that differ from the last run are
//! written, so matching again after a small import is quick even for a million objects.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use model::directory::{ObjectKind, TranslationEntry, TranslationSide};
use model::ids::{DirectoryId, ObjectGuid};
use serde::Serialize;
use tokio::sync::Mutex;

use super::cache::CachedObject;
use super::profile::Finding;
use super::profile::{MatchProfile, Matcher, Via};
use crate::store::translations::{MatchWrite, MessageLevel, ObjectMessage};
use crate::store::Store;
use crate::Result;

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

impl MatchSummary {
    fn note(list: &mut Vec<String>, name: &str) {
        if list.len() < REPORTED_NAMES {
            list.push(name.to_string());
        }
    }
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
        sid: object.sid.clone()?,
        on_premises_sid: object.on_premises_sid.as_deref().cloned(),
        sid_history: object.sid_history.to_vec(),
        upn: object.get(super::cache::Attr::Upn).map(str::to_string),
        name: object.name().to_string(),
        directory,
    })
}

/// What the store should hold for one source object after a run.
enum Wanted<'a> {
    Row {
        source: &'a CachedObject,
        target: &'a CachedObject,
        rule: &'a str,
    },
    Message(MessageLevel, String),
}

/// One side of a row as fingerprinted: GUID, SIDs (own, on-premises, history), UPN, name.
type SideKey<'a> = (
    &'a ObjectGuid,
    (
        &'a secdesc::Sid,
        Option<&'a secdesc::Sid>,
        &'a [secdesc::Sid],
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
            object.sid.as_ref()?,
            object.on_premises_sid.as_deref(),
            &object.sid_history,
        ),
        object.get(super::cache::Attr::Upn),
        object.name(),
    ))
}

fn entry_key(side: &TranslationSide) -> SideKey<'_> {
    (
        &side.guid,
        (&side.sid, side.on_premises_sid.as_ref(), &side.sid_history),
        side.upn.as_deref(),
        side.name.as_str(),
    )
}

/// What the store holds for one source and target pair, as fingerprints per source object.
#[derive(Debug, Default)]
struct PairState {
    generation: i64,
    rows: HashMap<ObjectGuid, u64>,
    messages: HashMap<ObjectGuid, u64>,
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
    rows: HashMap<ObjectGuid, u64>,
    messages: HashMap<ObjectGuid, u64>,
}

#[allow(clippy::too_many_arguments)]
fn plan(
    state: &PairState,
    source: DirectoryId,
    target: DirectoryId,
    sources: &[&CachedObject],
    targets: &[&CachedObject],
    outcomes: &[Pairing],
    now: chrono::DateTime<chrono::Utc>,
) -> Plan {
    let mut summary = MatchSummary::default();
    let mut write = MatchWrite::default();
    let mut rows = HashMap::with_capacity(state.rows.len());
    let mut messages = HashMap::new();
    for (object, outcome) in sources.iter().zip(outcomes) {
        let wanted = match outcome {
            Pairing::Matched { target: t, rule } => {
                let t = targets[*t];
                match (object.sid.as_ref(), t.sid.as_ref()) {
                    (Some(_), Some(_)) => {
                        summary.matched += 1;
                        Wanted::Row {
                            source: object,
                            target: t,
                            rule,
                        }
                    }
                    // Without both SIDs there is nothing to translate on a device.
                    (None, _) => {
                        summary.unmatched += 1;
                        MatchSummary::note(&mut summary.unmatched_names, object.name());
                        Wanted::Message(
                            MessageLevel::Warning,
                            "has no SID, so there is nothing to translate on a device".into(),
                        )
                    }
                    (_, None) => {
                        summary.unmatched += 1;
                        MatchSummary::note(&mut summary.unmatched_names, object.name());
                        Wanted::Message(
                            MessageLevel::Warning,
                            format!(
                                "matches {:?} by {}, which has no SID to translate to",
                                t.name(),
                                rule
                            ),
                        )
                    }
                }
            }
            Pairing::Unmatched(why) => {
                summary.unmatched += 1;
                MatchSummary::note(&mut summary.unmatched_names, object.name());
                Wanted::Message(MessageLevel::Warning, why.clone())
            }
            Pairing::Ambiguous(why) => {
                summary.ambiguous += 1;
                MatchSummary::note(&mut summary.ambiguous_names, object.name());
                Wanted::Message(MessageLevel::Error, why.clone())
            }
        };
        match wanted {
            Wanted::Row {
                source: s,
                target: t,
                rule,
            } => {
                let (Some(sk), Some(tk)) = (side_key(s), side_key(t)) else {
                    continue;
                };
                let print = row_print(s.kind, sk, tk, rule);
                let guid = s.guid;
                if state.rows.get(&guid) != Some(&print) {
                    if let (Some(source), Some(target)) = (side(s, source), side(t, target)) {
                        write.delete_rows.push(guid);
                        write.insert_rows.push((
                            TranslationEntry {
                                kind: s.kind,
                                source,
                                target,
                            },
                            rule.to_string(),
                        ));
                    }
                }
                if state.messages.contains_key(&guid) {
                    write.delete_messages.push(guid);
                }
                rows.insert(guid, print);
            }
            Wanted::Message(level, message) => {
                let print = message_print(level, &message);
                let guid = object.guid;
                if state.rows.contains_key(&guid) {
                    write.delete_rows.push(guid);
                }
                if state.messages.get(&guid) != Some(&print) {
                    write.upsert_messages.push(ObjectMessage {
                        guid,
                        level,
                        message,
                        at: now,
                    });
                }
                messages.insert(guid, print);
            }
        }
    }
    // What the store holds for objects gone from the source, or no longer matched at all.
    let gone = |g: &&ObjectGuid| !rows.contains_key(*g) && !messages.contains_key(*g);
    write
        .delete_rows
        .extend(state.rows.keys().filter(gone).copied());
    write
        .delete_messages
        .extend(state.messages.keys().filter(gone).copied());
    summary.rows_changed = (write.delete_rows.len() + write.insert_rows.len()) as u64;
    Plan {
        write,
        summary,
        rows,
        messages,
    }
}

/// The state of a pair, read again when another run (here or on another replica) wrote since.
async fn pair_state(
    store: &Store,
    cache: &PairCache,
    source: DirectoryId,
    target: DirectoryId,
) -> Result<PairSlot> {
    let slot = cache
        .pairs
        .lock()
        .await
        .entry((source, target))
        .or_default()
        .clone();
    {
        let mut state = slot.lock().await;
        let generation = store.pair_generation(source, target).await?;
        if state.generation != generation || generation == 0 {
            *state = load_pair(store, source, target, generation).await?;
        }
    }
    Ok(slot)
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

/// Works out what [`persist`] would change, without changing anything.
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
    let slot = pair_state(store, cache, source, target).await?;
    let state = slot.lock().await;
    let plan = plan(&state, source, target, sources, targets, outcomes, now);
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

/// Writes `outcomes` (one per object of `sources`, in order; matched ones index `targets`) as the
/// translation table and messages from `source` into `target`.
#[allow(clippy::too_many_arguments)]
pub async fn persist(
    store: &Store,
    cache: &PairCache,
    source: DirectoryId,
    target: DirectoryId,
    sources: &[&CachedObject],
    targets: &[&CachedObject],
    outcomes: &[Pairing],
    profile: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<MatchSummary> {
    let slot = pair_state(store, cache, source, target).await?;
    let mut state = slot.lock().await;
    let Plan {
        write,
        summary,
        rows,
        messages,
    } = plan(&state, source, target, sources, targets, outcomes, now);
    let generation = store
        .write_match(source, target, &stage(target), profile, write, now)
        .await?;
    *state = PairState {
        generation,
        rows,
        messages,
    };
    Ok(summary)
}

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

fn describe(
    profile: &MatchProfile,
    source: &CachedObject,
    targets: &[&CachedObject],
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
            let names: Vec<&str> = candidates.iter().map(|&i| targets[i].name()).collect();
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
