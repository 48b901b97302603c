//! Matching a whole source directory against a target one under a profile, in time linear in
//! their sizes: the target keys of every rule are hashed once, then each source looks its keys up.

use std::borrow::Cow;
use std::collections::HashMap;

use secdesc::Sid;
use serde::Serialize;

use super::expr::{lower, Expr};
use super::{Attributes, MatchProfile};

/// How many candidate indexes an ambiguous outcome keeps (the count says how many there were).
pub const KEPT_CANDIDATES: usize = 10;

/// What decided a source's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A target's sIDHistory holds the source's SID.
    SidHistory,
    /// The rule at this index of the profile.
    Rule(usize),
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::SidHistory => f.write_str("sIDHistory"),
            Via::Rule(i) => write!(f, "rules[{i}]"),
        }
    }
}

/// What became of one source object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Finding {
    /// Paired with the target at this index.
    Matched {
        /// Index into the targets.
        target: usize,
        /// sIDHistory or the rule that decided.
        via: Via,
    },
    /// It had a key (or a SID to look for) but no target fits.
    Unmatched,
    /// Held back: several targets fit, or (`shared`) its one target is claimed by another source.
    Ambiguous {
        /// sIDHistory or the rule that decided.
        via: Via,
        /// Indexes of the first [`KEPT_CANDIDATES`] candidates.
        candidates: Vec<usize>,
        /// How many candidates there were.
        candidate_count: usize,
        /// Whether its one candidate is claimed by other sources too.
        shared: bool,
    },
    /// No rule could compute a key for it: the attributes they read are empty.
    NoValue,
}

/// Target indexes with one key: almost always one, so that case allocates nothing.
#[derive(Debug, Clone)]
pub(crate) enum Hits {
    One(u32),
    Many(Vec<u32>),
}

impl Hits {
    pub(crate) fn push(&mut self, index: u32) {
        match self {
            Hits::One(first) => *self = Hits::Many(vec![*first, index]),
            Hits::Many(all) => all.push(index),
        }
    }

    pub(crate) fn as_slice(&self) -> &[u32] {
        match self {
            Hits::One(one) => std::slice::from_ref(one),
            Hits::Many(all) => all,
        }
    }
}

/// A source's first decision, before one-to-one is enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Proposal {
    Target(usize, Via),
    /// Several candidates: the way found, the first few and how many there were; boxed, as this
    /// is rare and a first run keeps a proposal per source.
    Several(Box<(Via, Vec<usize>, usize)>),
    Nothing {
        had_key: bool,
    },
}

/// A profile with its target indexes built, ready to match or explain any number of sources.
pub struct Matcher<'a, T> {
    pub(super) profile: &'a MatchProfile,
    pub(super) targets: &'a [T],
    /// Per kind (user 0, group 1): SID in sIDHistory → targets.
    sid_history: [HashMap<Sid, Hits>; 2],
    /// Per rule, per kind (user 0, group 1): key → targets.
    keys: Vec<[HashMap<String, Hits>; 2]>,
}

/// The key of `object` under one side of a rule.
pub(crate) fn key<'e, A: Attributes + ?Sized>(
    expr: &'e Expr,
    object: &'e A,
    ignore_case: bool,
) -> Option<Cow<'e, str>> {
    let value = expr.evaluate(object)?;
    Some(if ignore_case { lower(value) } else { value })
}

fn insert<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Hits>, key: K, index: u32) {
    match map.entry(key) {
        std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().push(index),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(Hits::One(index));
        }
    }
}

impl<'a, T: Attributes> Matcher<'a, T> {
    /// Indexes `targets` under every rule of `profile`.
    ///
    /// # Panics
    /// With more than `u32::MAX` targets.
    pub fn new(profile: &'a MatchProfile, targets: &'a [T]) -> Matcher<'a, T> {
        assert!(u32::try_from(targets.len()).is_ok(), "too many targets");
        let mut sid_history = [HashMap::new(), HashMap::new()];
        let mut keys: Vec<[HashMap<String, Hits>; 2]> = profile
            .rules
            .iter()
            .map(|_| [HashMap::new(), HashMap::new()])
            .collect();
        for (index, target) in targets.iter().enumerate() {
            let index = index as u32;
            let group = target.is_group();
            if profile.sid_history {
                for sid in target.sid_history().iter() {
                    insert(&mut sid_history[usize::from(group)], sid.clone(), index);
                }
            }
            for (rule, maps) in profile.rules.iter().zip(keys.iter_mut()) {
                if !rule.applies_to.covers(group) {
                    continue;
                }
                if let Some(k) = key(&rule.target, target, rule.ignore_case) {
                    insert(&mut maps[usize::from(group)], k.into_owned(), index);
                }
            }
        }
        let guid = |i: &u32| targets[*i as usize].object_guid();
        let lists = sid_history
            .iter_mut()
            .flat_map(|m| m.values_mut())
            .chain(keys.iter_mut().flatten().flat_map(|m| m.values_mut()));
        for hits in lists {
            if let Hits::Many(all) = hits {
                all.sort_by_key(guid);
            }
        }
        Matcher {
            profile,
            targets,
            sid_history,
            keys,
        }
    }

    /// Targets of the source's kind whose sIDHistory holds `sid`.
    pub(super) fn by_sid_history(&self, group: bool, sid: &Sid) -> &[u32] {
        self.sid_history[usize::from(group)]
            .get(sid)
            .map_or(&[], Hits::as_slice)
    }

    /// Targets of the given kind whose key under rule `rule` is `key`.
    pub(super) fn by_key(&self, rule: usize, group: bool, key: &str) -> &[u32] {
        self.keys[rule][usize::from(group)]
            .get(key)
            .map_or(&[], Hits::as_slice)
    }

    /// The first decision for `source`: sIDHistory, then the rules in order.
    pub(super) fn propose<S: Attributes>(&self, source: &S) -> Proposal {
        propose(self.profile, self, source)
    }

    /// One outcome per source, in order; no target is given to two sources.
    pub fn match_all<S: Attributes>(&self, sources: &[S]) -> Vec<Finding> {
        let proposals: Vec<Proposal> = sources.iter().map(|s| self.propose(s)).collect();
        let mut claims = vec![0u32; self.targets.len()];
        for p in &proposals {
            if let Proposal::Target(t, _) = p {
                claims[*t] += 1;
            }
        }
        proposals
            .into_iter()
            .map(|p| finalize(p, |t| claims[t]))
            .collect()
    }
}

impl<T: Attributes> Candidates for Matcher<'_, T> {
    fn by_sid_history(&self, group: bool, sid: &Sid) -> Cow<'_, [u32]> {
        Cow::Borrowed(Matcher::by_sid_history(self, group, sid))
    }

    fn by_key(&self, rule: usize, group: bool, key: &str) -> Cow<'_, [u32]> {
        Cow::Borrowed(Matcher::by_key(self, rule, group, key))
    }
}

/// Where a proposal finds its candidate targets: indexes, each list in the order of the targets'
/// GUIDs, so which candidates a message names never depends on how the targets were read.
pub(crate) trait Candidates {
    /// Targets of the kind whose sIDHistory holds `sid`.
    fn by_sid_history(&self, group: bool, sid: &Sid) -> Cow<'_, [u32]>;
    /// Targets of the kind whose key under rule `rule` is `key`.
    fn by_key(&self, rule: usize, group: bool, key: &str) -> Cow<'_, [u32]>;
}

/// The first decision for `source` under `profile`: sIDHistory, then the rules in order.
pub(crate) fn propose<S: Attributes, C: Candidates + ?Sized>(
    profile: &MatchProfile,
    candidates: &C,
    source: &S,
) -> Proposal {
    let group = source.is_group();
    let decide = |via: Via, found: &[u32]| match found {
        [] => None,
        [one] => Some(Proposal::Target(*one as usize, via)),
        many => Some(Proposal::Several(Box::new((
            via,
            many.iter()
                .take(KEPT_CANDIDATES)
                .map(|&i| i as usize)
                .collect(),
            many.len(),
        )))),
    };
    if profile.sid_history {
        if let Some(sid) = source.sid() {
            if let Some(p) = decide(Via::SidHistory, &candidates.by_sid_history(group, &sid)) {
                return p;
            }
        }
    }
    // "No value" only when some rule applies and none could compute a key.
    let (mut covered, mut had_key) = (false, false);
    for (i, rule) in profile.rules.iter().enumerate() {
        if !rule.applies_to.covers(group) {
            continue;
        }
        covered = true;
        let Some(k) = key(&rule.source, source, rule.ignore_case) else {
            continue;
        };
        had_key = true;
        if let Some(p) = decide(Via::Rule(i), &candidates.by_key(i, group, &k)) {
            return p;
        }
    }
    Proposal::Nothing {
        had_key: had_key || !covered,
    }
}

/// The outcome of a proposal once every source has proposed: `claims` counts the sources
/// proposing each target.
pub(crate) fn finalize(proposal: Proposal, claims: impl Fn(usize) -> u32) -> Finding {
    match proposal {
        Proposal::Target(target, via) if claims(target) == 1 => Finding::Matched { target, via },
        Proposal::Target(target, via) => Finding::Ambiguous {
            via,
            candidates: vec![target],
            candidate_count: 1,
            shared: true,
        },
        Proposal::Several(several) => {
            let (via, candidates, candidate_count) = *several;
            Finding::Ambiguous {
                via,
                candidates,
                candidate_count,
                shared: false,
            }
        }
        Proposal::Nothing { had_key: true } => Finding::Unmatched,
        Proposal::Nothing { had_key: false } => Finding::NoValue,
    }
}

/// Matches every source against `targets` under `profile`: one outcome per source, same order.
/// Linear in `sources.len() + targets.len()`.
pub fn match_all<S: Attributes, T: Attributes>(
    profile: &MatchProfile,
    sources: &[S],
    targets: &[T],
) -> Vec<Finding> {
    Matcher::new(profile, targets).match_all(sources)
}
