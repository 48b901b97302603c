//! A pair's match index, kept between runs so a run after a small import re-matches only what
//! the import touched: the source objects that changed, the ones whose keys equal a changed
//! target's (before or after the change), and those whose one candidate gained or lost another
//! claimant. Everything else keeps the outcome it had, which is exactly what a full run would give
//! it, since an outcome depends on nothing else.
//!
//! Keys are held as 64-bit prints of their text; every candidate found by a print is checked
//! against the key itself, so a collision of prints never pairs anything.

use std::borrow::Cow;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use model::ids::ObjectGuid;
use secdesc::Sid;

use super::cache::{CachedObject, Change, ObjectCache};
use super::matching::translatable;
use super::profile::{self, Attributes, Candidates, MatchProfile, Proposal};

/// Passes through keys that already are hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type Prehash = BuildHasherDefault<Prehashed>;

/// Print of a key or SID → slots of the objects that have it. Most prints name one object, so
/// those take a slot number alone (16 bytes an entry where a list would take 32, at a million
/// objects per map); prints of several objects keep their list, in GUID order, apart.
#[derive(Debug, Default)]
struct PrintMap {
    one: HashMap<u64, u32, Prehash>,
    many: HashMap<u64, Vec<u32>, Prehash>,
}

impl PrintMap {
    fn get(&self, print: u64) -> &[u32] {
        match self.one.get(&print) {
            Some(slot) => std::slice::from_ref(slot),
            None => self.many.get(&print).map_or(&[], Vec::as_slice),
        }
    }

    fn add(&mut self, print: u64, slot: u32) {
        if let Some(all) = self.many.get_mut(&print) {
            all.push(slot);
        } else if let Some(first) = self.one.remove(&print) {
            self.many.insert(print, vec![first, slot]);
        } else {
            self.one.insert(print, slot);
        }
    }

    fn remove(&mut self, print: u64, slot: u32) {
        if self.one.get(&print) == Some(&slot) {
            self.one.remove(&print);
            return;
        }
        let Some(all) = self.many.get_mut(&print) else {
            return;
        };
        all.retain(|&s| s != slot);
        match all.as_slice() {
            [] => {
                self.many.remove(&print);
            }
            [one] => {
                let one = *one;
                self.many.remove(&print);
                self.one.insert(print, one);
            }
            _ => {}
        }
    }

    /// The lists of several slots, to keep in GUID order.
    fn lists_mut(&mut self) -> impl Iterator<Item = &mut Vec<u32>> {
        self.many.values_mut()
    }
}

fn print(value: &(impl Hash + ?Sized)) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// Which print map of a side: a rule's keys, or SIDs (sIDHistory on the target side, the
/// object's own SID on the source side); and users (false) or groups (true).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Place {
    rule: Option<usize>,
    group: bool,
}

/// The print maps of one side of a pair.
#[derive(Debug, Default)]
struct Prints {
    keys: Vec<[PrintMap; 2]>,
    sids: [PrintMap; 2],
}

impl Prints {
    fn new(rules: usize) -> Prints {
        Prints {
            keys: (0..rules).map(|_| Default::default()).collect(),
            sids: Default::default(),
        }
    }

    /// The prints of every object of `cache`, on `side`.
    fn of(profile: &MatchProfile, side: Side, cache: &ObjectCache) -> Prints {
        let mut prints = Prints::new(profile.rules.len());
        for (slot, object) in cache.slotted() {
            for (place, p) in prints_of(profile, side, object) {
                prints.add(place, p, slot);
            }
        }
        prints
    }

    fn map(&self, place: Place) -> Option<&PrintMap> {
        let g = usize::from(place.group);
        match place.rule {
            Some(r) => self.keys.get(r).map(|k| &k[g]),
            None => Some(&self.sids[g]),
        }
    }

    fn map_mut(&mut self, place: Place) -> Option<&mut PrintMap> {
        let g = usize::from(place.group);
        match place.rule {
            Some(r) => self.keys.get_mut(r).map(|k| &mut k[g]),
            None => Some(&mut self.sids[g]),
        }
    }

    fn slots(&self, place: Place, print: u64) -> &[u32] {
        self.map(place).map_or(&[], |m| m.get(print))
    }

    fn add(&mut self, place: Place, print: u64, slot: u32) {
        if let Some(map) = self.map_mut(place) {
            map.add(print, slot);
        }
    }

    fn remove(&mut self, place: Place, print: u64, slot: u32) {
        if let Some(map) = self.map_mut(place) {
            map.remove(print, slot);
        }
    }

    /// Keeps every list of several slots in the order of their objects' GUIDs.
    fn order_by_guid(&mut self, objects: &ObjectCache) {
        let guid = |s: &u32| objects.at(*s).map(|o| o.guid);
        for map in self
            .sids
            .iter_mut()
            .chain(self.keys.iter_mut().flat_map(|k| k.iter_mut()))
        {
            for all in map.lists_mut() {
                all.sort_by_key(guid);
            }
        }
    }
}

/// Which side of a pair an object is on: the side decides which expression of a rule gives its
/// key, and which of its SIDs are indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Target,
}

/// Every print `object` is indexed under on `side`.
fn prints_of(profile: &MatchProfile, side: Side, object: &CachedObject) -> Vec<(Place, u64)> {
    let mut out = Vec::new();
    if !translatable(object.kind) {
        return out;
    }
    let group = object.is_group();
    if profile.sid_history {
        let place = Place { rule: None, group };
        match side {
            Side::Source => {
                if let Some(sid) = object.sid() {
                    out.push((place, print(&sid)));
                }
            }
            Side::Target => {
                for sid in object.sid_history() {
                    out.push((place, print(&sid)));
                }
            }
        }
    }
    for (i, rule) in profile.rules.iter().enumerate() {
        if !rule.applies_to.covers(group) {
            continue;
        }
        let expr = match side {
            Side::Source => &rule.source,
            Side::Target => &rule.target,
        };
        if let Some(k) = profile::key(expr, object, rule.ignore_case) {
            out.push((
                Place {
                    rule: Some(i),
                    group,
                },
                print(k.as_ref()),
            ));
        }
    }
    out
}

/// The targets of a pair as [`profile::propose`] looks them up.
struct Lookup<'a> {
    profile: &'a MatchProfile,
    prints: &'a Prints,
    targets: &'a ObjectCache,
}

impl Lookup<'_> {
    fn checked(&self, place: Place, print: u64, fits: impl Fn(&CachedObject) -> bool) -> Vec<u32> {
        self.prints
            .slots(place, print)
            .iter()
            .copied()
            .filter(|&s| self.targets.at(s).is_some_and(&fits))
            .collect()
    }
}

impl Candidates for Lookup<'_> {
    fn by_sid_history(&self, group: bool, sid: &Sid) -> Cow<'_, [u32]> {
        let place = Place { rule: None, group };
        Cow::Owned(self.checked(place, print(sid), |t| t.sid_history().contains(sid)))
    }

    fn by_key(&self, rule: usize, group: bool, key: &str) -> Cow<'_, [u32]> {
        let Some(r) = self.profile.rules.get(rule) else {
            return Cow::Borrowed(&[]);
        };
        let place = Place {
            rule: Some(rule),
            group,
        };
        Cow::Owned(self.checked(place, print(key), |t| {
            profile::key(&r.target, t, r.ignore_case).is_some_and(|k| k == key)
        }))
    }
}

/// No target proposed.
const NONE: u32 = u32::MAX;

/// What a run must look at again, after [`PairIndex::update`] or [`PairIndex::build`].
#[derive(Debug)]
pub struct Touched {
    /// The source slots to plan again with their proposals, in slot order.
    pub proposals: Vec<(u32, Proposal)>,
    /// Slots and GUIDs of source objects gone from the pair (removed, or no longer a user or
    /// group).
    pub gone: Vec<(u32, ObjectGuid)>,
}

/// One pair's index over both of its directories' caches, at the generations it was last
/// brought up to.
#[derive(Debug)]
pub struct PairIndex {
    profile: MatchProfile,
    source_at: (u64, i64),
    target_at: (u64, i64),
    targets: Prints,
    sources: Prints,
    /// Per source slot: the target slot it proposes alone, or [`NONE`].
    claim: Vec<u32>,
    /// Per target slot: how many sources propose it.
    claims: Vec<u32>,
}

/// What a scoped thread returned; its panic, if it panicked, goes on in the caller.
fn joined<T>(thread: std::thread::ScopedJoinHandle<'_, T>) -> T {
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

impl PairIndex {
    /// Indexes both sides and proposes every source. The work is shared between two threads: a
    /// first match run waits for it before it writes anything, and its writer's thread is idle
    /// meanwhile (at a million users per side it took 1.4 s on one thread).
    pub fn build(
        profile: &MatchProfile,
        sources: &ObjectCache,
        targets: &ObjectCache,
    ) -> (PairIndex, Touched) {
        let (target_prints, source_prints) = std::thread::scope(|scope| {
            let source_side = scope.spawn(|| Prints::of(profile, Side::Source, sources));
            let mut prints = Prints::of(profile, Side::Target, targets);
            prints.order_by_guid(targets);
            (prints, joined(source_side))
        });
        let mut index = PairIndex {
            profile: profile.clone(),
            source_at: (sources.epoch(), sources.generation),
            target_at: (targets.epoch(), targets.generation),
            targets: target_prints,
            sources: source_prints,
            claim: vec![NONE; sources.slot_count()],
            claims: vec![0; targets.slot_count()],
        };
        // The sources in two halves by slot, each proposed on a thread of its own, in order.
        let half = u32::try_from(sources.slot_count() / 2).unwrap_or(u32::MAX);
        let propose_from = |proposals: &mut Vec<(u32, Proposal)>, first: bool| {
            let in_half = |slot: u32| (slot < half) == first;
            for (slot, object) in sources.slotted() {
                if in_half(slot) && translatable(object.kind) {
                    proposals.push((slot, index.propose(targets, object)));
                }
            }
        };
        let mut proposals = Vec::with_capacity(sources.len());
        let rest = std::thread::scope(|scope| {
            let rest = scope.spawn(|| {
                let mut rest = Vec::with_capacity(sources.len() / 2 + 1);
                propose_from(&mut rest, false);
                rest
            });
            propose_from(&mut proposals, true);
            joined(rest)
        });
        proposals.extend(rest);
        for (slot, proposal) in &proposals {
            index.claim_for(*slot, proposal);
        }
        let touched = Touched {
            proposals,
            gone: Vec::new(),
        };
        (index, touched)
    }

    /// What a target claim count is, for [`profile::finalize`].
    pub fn claims(&self, target: usize) -> u32 {
        self.claims.get(target).copied().unwrap_or(0)
    }

    fn propose(&self, targets: &ObjectCache, source: &CachedObject) -> Proposal {
        let lookup = Lookup {
            profile: &self.profile,
            prints: &self.targets,
            targets,
        };
        profile::propose(&self.profile, &lookup, source)
    }

    /// Records `proposal` as the claim of source `slot`, which has none.
    fn claim_for(&mut self, slot: u32, proposal: &Proposal) {
        if let Proposal::Target(t, _) = proposal {
            if let (Some(c), Some(n)) = (self.claim.get_mut(slot as usize), self.claims.get_mut(*t))
            {
                *c = *t as u32;
                *n += 1;
            }
        }
    }

    /// Brings the index up to the caches' current generations from their journals; `None`
    /// when it cannot (another profile, a cache read afresh, changes no longer kept), and the
    /// index must be built again.
    pub fn update(
        &mut self,
        profile: &MatchProfile,
        sources: &ObjectCache,
        targets: &ObjectCache,
    ) -> Option<Touched> {
        if *profile != self.profile
            || sources.epoch() != self.source_at.0
            || targets.epoch() != self.target_at.0
        {
            return None;
        }
        let source_changes = sources.changes_after(self.source_at.1)?;
        let target_changes = targets.changes_after(self.target_at.1)?;
        self.claim.resize(sources.slot_count(), NONE);
        self.claims.resize(targets.slot_count(), 0);
        let mut affected: HashSet<u32> = HashSet::new();
        // Targets first: the sources whose keys equal a changed target's, before or after.
        let mut places: HashSet<(Place, u64)> = HashSet::new();
        for (slot, old) in first_of_each(target_changes) {
            if let Some(old) = old {
                for (place, p) in prints_of(&self.profile, Side::Target, old) {
                    self.targets.remove(place, p, slot);
                    places.insert((place, p));
                }
            }
            if let Some(new) = targets.at(slot) {
                for (place, p) in prints_of(&self.profile, Side::Target, new) {
                    self.targets.add(place, p, slot);
                    places.insert((place, p));
                }
            }
        }
        for &(place, p) in &places {
            affected.extend(self.sources.slots(place, p));
        }
        for map in self
            .targets
            .sids
            .iter_mut()
            .chain(self.targets.keys.iter_mut().flat_map(|k| k.iter_mut()))
        {
            for &(_, p) in places.iter() {
                if let Some(all) = map.many.get_mut(&p) {
                    all.sort_by_key(|s| targets.at(*s).map(|o| o.guid));
                }
            }
        }
        let mut gone = Vec::new();
        for (slot, old) in first_of_each(source_changes) {
            if let Some(old) = old {
                for (place, p) in prints_of(&self.profile, Side::Source, old) {
                    self.sources.remove(place, p, slot);
                }
            }
            let new = sources.at(slot).filter(|o| translatable(o.kind));
            match new {
                Some(new) => {
                    for (place, p) in prints_of(&self.profile, Side::Source, new) {
                        self.sources.add(place, p, slot);
                    }
                }
                None => {
                    if let Some(old) = old.filter(|o| translatable(o.kind)) {
                        gone.push((slot, old.guid));
                    }
                }
            }
            affected.insert(slot);
        }
        // Propose the affected sources again, moving their claims.
        let mut touched_targets = HashSet::new();
        let mut proposals = Vec::with_capacity(affected.len());
        for &slot in &affected {
            let before = std::mem::replace(&mut self.claim[slot as usize], NONE);
            if before != NONE {
                self.claims[before as usize] -= 1;
                touched_targets.insert(before);
            }
            let Some(object) = sources.at(slot).filter(|o| translatable(o.kind)) else {
                continue;
            };
            let proposal = self.propose(targets, object);
            if let Proposal::Target(t, _) = proposal {
                touched_targets.insert(t as u32);
            }
            self.claim_for(slot, &proposal);
            proposals.push((slot, proposal));
        }
        // Whoever else claims a target whose count moved may now be alone, or no longer.
        for t in touched_targets {
            let Some(target) = targets.at(t) else {
                continue;
            };
            let mut claimants = Vec::new();
            for (place, p) in prints_of(&self.profile, Side::Target, target) {
                claimants.extend(
                    self.sources
                        .slots(place, p)
                        .iter()
                        .copied()
                        .filter(|s| self.claim[*s as usize] == t && !affected.contains(s)),
                );
            }
            for slot in claimants {
                if affected.insert(slot) {
                    if let Some(object) = sources.at(slot) {
                        proposals.push((slot, self.propose(targets, object)));
                    }
                }
            }
        }
        proposals.sort_unstable_by_key(|(slot, _)| *slot);
        self.source_at.1 = sources.generation;
        self.target_at.1 = targets.generation;
        Some(Touched { proposals, gone })
    }
}

/// Each slot a journal names once, with the object it held before the first of its changes.
fn first_of_each(changes: &[Change]) -> Vec<(u32, Option<&CachedObject>)> {
    let mut seen = HashSet::new();
    changes
        .iter()
        .filter(|c| seen.insert(c.slot))
        .map(|c| (c.slot, c.old.as_deref()))
        .collect()
}

#[cfg(test)]
mod tests;
