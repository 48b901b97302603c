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

use super::view::{View, ViewObject};
use crate::store::translations::{MatchWrite, ObjectMessage};
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
pub enum Outcome {
    /// Paired with the target object at this index of the target view, by `rule`
    /// (`sIDHistory` or `rules[N]`).
    Matched {
        /// Index into the target view's objects.
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

fn side(object: &ViewObject, directory: DirectoryId) -> Option<TranslationSide> {
    Some(TranslationSide {
        guid: object.guid,
        sid: object.sid.clone()?,
        upn: object.get(super::view::Attr::Upn).map(str::to_string),
        name: object.name().to_string(),
        directory,
    })
}

/// What the store should hold for one source object after a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Wanted {
    Row(TranslationEntry, String),
    Message(&'static str, String),
}

fn fingerprint(wanted: &Wanted) -> u64 {
    // Only ever compared within this process, so the hasher need not be stable across builds.
    let mut h = DefaultHasher::new();
    wanted.hash(&mut h);
    h.finish()
}

/// What the store holds for one source and target pair, as fingerprints per source object.
#[derive(Debug, Default)]
struct PairState {
    generation: i64,
    rows: HashMap<ObjectGuid, u64>,
    messages: HashMap<ObjectGuid, u64>,
}

/// The state of every pair this replica has matched, so a run writes only what changed without
/// reading the whole table back.
#[derive(Default)]
pub struct PairCache {
    pairs: Mutex<HashMap<(DirectoryId, DirectoryId), Arc<Mutex<PairState>>>>,
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
        let guid = entry.source.guid;
        state
            .rows
            .insert(guid, fingerprint(&Wanted::Row(entry, rule)));
    }
    for m in store.stage_messages(source, &stage(target)).await? {
        let level = level_name(&m.level);
        state
            .messages
            .insert(m.guid, fingerprint(&Wanted::Message(level, m.message)));
    }
    Ok(state)
}

fn level_name(level: &str) -> &'static str {
    match level {
        "error" => "error",
        "info" => "info",
        _ => "warning",
    }
}

/// Writes `outcomes` (one per source object of `source_view`, in order; `None` for objects that
/// are not matched at all) as the translation table and messages from `source` into `target`.
#[allow(clippy::too_many_arguments)]
pub async fn persist(
    store: &Store,
    cache: &PairCache,
    source: DirectoryId,
    target: DirectoryId,
    source_view: &View,
    target_view: &View,
    outcomes: &[Option<Outcome>],
    profile: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<MatchSummary> {
    let slot = cache
        .pairs
        .lock()
        .await
        .entry((source, target))
        .or_default()
        .clone();
    let mut state = slot.lock().await;
    let generation = store.pair_generation(source, target).await?;
    if state.generation != generation || generation == 0 {
        *state = load_pair(store, source, target, generation).await?;
    }
    let mut summary = MatchSummary::default();
    let mut write = MatchWrite::default();
    let mut rows = HashMap::with_capacity(state.rows.len());
    let mut messages = HashMap::new();
    for (object, outcome) in source_view.objects().iter().zip(outcomes) {
        let Some(outcome) = outcome else { continue };
        let wanted = match outcome {
            Outcome::Matched { target: t, rule } => {
                let t = &target_view.objects()[*t];
                match (side(object, source), side(t, target)) {
                    (Some(s), Some(t)) => {
                        summary.matched += 1;
                        Wanted::Row(
                            TranslationEntry {
                                kind: object.kind,
                                source: s,
                                target: t,
                            },
                            rule.clone(),
                        )
                    }
                    // Without both SIDs there is nothing to translate on a device.
                    (None, _) => {
                        summary.unmatched += 1;
                        MatchSummary::note(&mut summary.unmatched_names, object.name());
                        Wanted::Message(
                            "warning",
                            "has no SID, so there is nothing to translate on a device".into(),
                        )
                    }
                    (_, None) => {
                        summary.unmatched += 1;
                        MatchSummary::note(&mut summary.unmatched_names, object.name());
                        Wanted::Message(
                            "warning",
                            format!(
                                "matches {:?} by {}, which has no SID to translate to",
                                t.name(),
                                rule
                            ),
                        )
                    }
                }
            }
            Outcome::Unmatched(why) => {
                summary.unmatched += 1;
                MatchSummary::note(&mut summary.unmatched_names, object.name());
                Wanted::Message("warning", why.clone())
            }
            Outcome::Ambiguous(why) => {
                summary.ambiguous += 1;
                MatchSummary::note(&mut summary.ambiguous_names, object.name());
                Wanted::Message("error", why.clone())
            }
        };
        let print = fingerprint(&wanted);
        match wanted {
            Wanted::Row(entry, rule) => {
                let guid = entry.source.guid;
                if state.rows.remove(&guid) != Some(print) {
                    write.delete_rows.push(guid);
                    write.insert_rows.push((entry, rule));
                }
                if state.messages.remove(&guid).is_some() {
                    write.delete_messages.push(guid);
                }
                rows.insert(guid, print);
            }
            Wanted::Message(level, message) => {
                let guid = object.guid;
                if state.rows.remove(&guid).is_some() {
                    write.delete_rows.push(guid);
                }
                if state.messages.remove(&guid) != Some(print) {
                    write.upsert_messages.push(ObjectMessage {
                        guid,
                        level: level.to_string(),
                        message,
                        at: now,
                    });
                }
                messages.insert(guid, print);
            }
        }
    }
    // Whatever is left belongs to objects gone from the source, or no longer matched at all.
    write.delete_rows.extend(state.rows.keys().copied());
    write.delete_messages.extend(state.messages.keys().copied());
    summary.rows_changed = (write.delete_rows.len() + write.insert_rows.len()) as u64;
    let generation = store
        .write_match(source, target, &stage(target), profile, &write, now)
        .await?;
    *state = PairState {
        generation,
        rows,
        messages,
    };
    Ok(summary)
}

/// One rule of the interim single-attribute matching: compare `attr` ignoring case.
pub fn match_by_attribute(
    source: &View,
    target: &View,
    attr: super::view::Attr,
    sid_history: bool,
) -> Vec<Option<Outcome>> {
    let key = |o: &ViewObject| -> Option<(ObjectKind, String)> {
        let value = o.get(attr)?.trim();
        (!value.is_empty()).then(|| (o.kind, value.to_lowercase()))
    };
    let mut candidates: HashMap<(ObjectKind, String), Vec<usize>> = HashMap::new();
    let mut by_history: HashMap<&secdesc::Sid, Vec<usize>> = HashMap::new();
    for (i, o) in target.objects().iter().enumerate() {
        if !translatable(o.kind) {
            continue;
        }
        if let Some(k) = key(o) {
            candidates.entry(k).or_default().push(i);
        }
        if sid_history {
            for sid in o.sid_history.iter() {
                by_history.entry(sid).or_default().push(i);
            }
        }
    }
    let mut first: Vec<Option<Outcome>> = source
        .objects()
        .iter()
        .map(|o| {
            if !translatable(o.kind) {
                return None;
            }
            if let Some(found) = o.sid.as_ref().and_then(|s| by_history.get(s)) {
                return Some(match found.as_slice() {
                    [one] => Outcome::Matched {
                        target: *one,
                        rule: "sIDHistory".into(),
                    },
                    _ => Outcome::Ambiguous(format!(
                        "{} target objects hold its SID in sIDHistory",
                        found.len()
                    )),
                });
            }
            let Some(k) = key(o) else {
                return Some(Outcome::Unmatched(format!("{} is empty", attr_name(attr))));
            };
            Some(match candidates.get(&k).map(Vec::as_slice).unwrap_or(&[]) {
                [] => Outcome::Unmatched(format!(
                    "no target {} has {} {:?}",
                    kind_name(o.kind),
                    attr_name(attr),
                    k.1
                )),
                [one] => Outcome::Matched {
                    target: *one,
                    rule: "rules[0]".into(),
                },
                several => Outcome::Ambiguous(format!(
                    "{} target objects have {} {:?}",
                    several.len(),
                    attr_name(attr),
                    k.1
                )),
            })
        })
        .collect();
    one_to_one(&mut first, source);
    first
}

/// Holds back every source whose target another source also got: a target is never given to two.
pub fn one_to_one(outcomes: &mut [Option<Outcome>], source: &View) {
    let mut taken: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        if let Some(Outcome::Matched { target, .. }) = outcome {
            taken.entry(*target).or_default().push(i);
        }
    }
    for sources in taken.values().filter(|s| s.len() > 1) {
        let names: Vec<&str> = sources
            .iter()
            .take(5)
            .map(|&s| source.objects()[s].name())
            .collect();
        for &s in sources {
            outcomes[s] = Some(Outcome::Ambiguous(format!(
                "{} source objects match the same target object ({})",
                sources.len(),
                names.join(", ")
            )));
        }
    }
}

fn attr_name(attr: super::view::Attr) -> &'static str {
    use super::view::Attr;
    match attr {
        Attr::Name => "name",
        Attr::Upn => "userPrincipalName",
        Attr::Sam => "sAMAccountName",
        Attr::Mail => "mail",
        Attr::EmployeeId => "employeeID",
        Attr::Dn => "distinguishedName",
        Attr::GivenName => "givenName",
        Attr::Surname => "sn",
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
    use crate::directory::view::Attr;
    use model::directory::DirectoryObject;

    fn user(name: &str, sam: &str, sid: &str) -> DirectoryObject {
        let mut o = DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, name);
        o.sid = Some(sid.parse().expect("test SID"));
        o.sam_account_name = Some(sam.to_string());
        o
    }

    fn view(objects: &[DirectoryObject]) -> View {
        let mut v = View::default();
        for o in objects {
            v.upsert(ViewObject::new(o));
        }
        v
    }

    fn names(v: &View, outcomes: &[Option<Outcome>]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = v
            .objects()
            .iter()
            .zip(outcomes)
            .filter_map(|(o, r)| {
                let r = match r.as_ref()? {
                    Outcome::Matched { target, rule } => format!("matched {} {}", target, rule),
                    Outcome::Unmatched(_) => "unmatched".into(),
                    Outcome::Ambiguous(_) => "ambiguous".into(),
                };
                Some((o.name().to_string(), r))
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn pairs_one_to_one_ignoring_case_and_reports_the_rest() {
        let source = view(&[
            user("Alice", "alice", "S-1-5-21-1-1-1-1001"),
            user("Bob", "bob", "S-1-5-21-1-1-1-1002"),
            user("Carol", "carol", "S-1-5-21-1-1-1-1003"),
            user("Dave", "dave", "S-1-5-21-1-1-1-1004"),
            user("Dave Two", "DAVE", "S-1-5-21-1-1-1-1005"),
        ]);
        let target = view(&[
            user("Alice T", "ALICE", "S-1-5-21-2-2-2-2001"),
            user("Carol A", "carol", "S-1-5-21-2-2-2-2003"),
            user("Carol B", "Carol", "S-1-5-21-2-2-2-2004"),
            user("Dave T", "dave", "S-1-5-21-2-2-2-2005"),
        ]);
        let outcomes = match_by_attribute(&source, &target, Attr::Sam, true);
        let got = names(&source, &outcomes);
        assert_eq!(
            got[0],
            ("Alice".to_string(), "matched 0 rules[0]".to_string())
        );
        assert_eq!(got[1].1, "unmatched");
        assert_eq!(got[2].1, "ambiguous");
        assert_eq!(got[3].1, "ambiguous");
        assert_eq!(got[4].1, "ambiguous");
    }

    #[test]
    fn sid_history_wins_and_computers_are_not_matched() {
        let old = user("Eve", "eve", "S-1-5-21-1-1-1-1010");
        let mut moved = user("Eve Moved", "eve.m", "S-1-5-21-2-2-2-2010");
        moved.sid_history = vec!["S-1-5-21-1-1-1-1010".parse().expect("sid")];
        let mut computer = user("PC1", "pc1", "S-1-5-21-1-1-1-4000");
        computer.kind = ObjectKind::Computer;
        let source = view(&[old, computer.clone()]);
        let target = view(&[moved, computer]);
        let outcomes = match_by_attribute(&source, &target, Attr::Sam, true);
        let got = names(&source, &outcomes);
        assert_eq!(
            got,
            vec![("Eve".to_string(), "matched 0 sIDHistory".to_string())]
        );
    }
}
