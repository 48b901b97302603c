//! The index kept between runs gives, after any delta, exactly what a full run gives.

use std::collections::HashMap;

use model::directory::{DirectoryObject, ObjectKind};
use model::ids::ObjectGuid;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::directory::profile::{Expr, Finding, MatchRule, Matcher, Via};

/// An outcome told by GUIDs, so runs over differently ordered lists compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Told {
    Matched(ObjectGuid, Via),
    Ambiguous(Via, Vec<ObjectGuid>, usize, bool),
    Unmatched,
    NoValue,
}

fn tell(finding: Finding, guid_of: impl Fn(usize) -> ObjectGuid) -> Told {
    match finding {
        Finding::Matched { target, via } => Told::Matched(guid_of(target), via),
        Finding::Ambiguous {
            via,
            candidates,
            candidate_count,
            shared,
        } => Told::Ambiguous(
            via,
            candidates.into_iter().map(guid_of).collect(),
            candidate_count,
            shared,
        ),
        Finding::Unmatched => Told::Unmatched,
        Finding::NoValue => Told::NoValue,
    }
}

/// What a full run over the caches gives each source user and group.
fn full(
    profile: &MatchProfile,
    sources: &ObjectCache,
    targets: &ObjectCache,
) -> HashMap<ObjectGuid, Told> {
    let s: Vec<&CachedObject> = sources.objects().filter(|o| translatable(o.kind)).collect();
    let t: Vec<&CachedObject> = targets.objects().filter(|o| translatable(o.kind)).collect();
    let findings = Matcher::new(profile, &t).match_all(&s);
    s.iter()
        .zip(findings)
        .map(|(o, f)| (o.guid, tell(f, |i| t[i].guid)))
        .collect()
}

/// Folds what the index hands back into the outcomes kept from earlier runs.
fn fold(
    kept: &mut HashMap<ObjectGuid, Told>,
    index: &PairIndex,
    touched: Touched,
    sources: &ObjectCache,
    targets: &ObjectCache,
) {
    for (_, guid) in touched.gone {
        kept.remove(&guid);
    }
    for (slot, proposal) in touched.proposals {
        let source = sources.at(slot).expect("a proposed source lives");
        let finding = profile::finalize(proposal, |t| index.claims(t));
        let told = tell(finding, |i| {
            targets.at(i as u32).expect("a candidate target lives").guid
        });
        kept.insert(source.guid, told);
    }
}

/// Few distinct names, so keys collide often: conflicts, several candidates, shared claims.
fn random_object(rng: &mut StdRng, domain: u32, rid: &mut u32) -> DirectoryObject {
    let kind = match rng.gen_range(0..10) {
        0 => ObjectKind::Group,
        1 => ObjectKind::Computer,
        _ => ObjectKind::User,
    };
    *rid += 1;
    let sam = format!("user{}", rng.gen_range(0..40));
    let mut o = DirectoryObject::new(ObjectGuid::new(), kind, format!("Name {}", sam));
    if rng.gen_range(0..12) > 0 {
        o.sid = Some(
            secdesc::Sid::new(5, &[21, domain, domain, domain, *rid]).expect("a valid test SID"),
        );
    }
    if rng.gen_range(0..6) > 0 {
        o.upn = Some(format!("{}@d{}.test", sam, rng.gen_range(0..2)));
    }
    if rng.gen_range(0..8) > 0 {
        o.sam_account_name = Some(sam);
    }
    if domain == 2 && rng.gen_range(0..5) == 0 {
        // A target migrated from the source domain earlier: a source RID in sIDHistory.
        let old = rng.gen_range(1000..1000 + *rid);
        o.sid_history = vec![secdesc::Sid::new(5, &[21, 1, 1, 1, old]).expect("a valid SID")];
    }
    o
}

/// Adds, renames, removes and collides a few objects of `cache`; returns the next generation.
fn random_delta(rng: &mut StdRng, cache: &mut ObjectCache, domain: u32, rid: &mut u32) {
    let guids: Vec<ObjectGuid> = cache.guids().copied().collect();
    let mut deleted = Vec::new();
    let mut upserts = Vec::new();
    for _ in 0..rng.gen_range(1..8) {
        match rng.gen_range(0..5) {
            0 => upserts.push(random_object(rng, domain, rid)),
            1 if !guids.is_empty() => deleted.push(guids[rng.gen_range(0..guids.len())]),
            _ if !guids.is_empty() => {
                let guid = guids[rng.gen_range(0..guids.len())];
                if deleted.contains(&guid) || upserts.iter().any(|o| o.guid == guid) {
                    continue;
                }
                let mut o = cache.get(&guid).expect("a listed object").to_object();
                match rng.gen_range(0..4) {
                    // A rename that may collide with another object's name.
                    0 => o.sam_account_name = Some(format!("user{}", rng.gen_range(0..40))),
                    1 => o.name = format!("Renamed {}", rng.gen_range(0..1000)),
                    2 => o.upn = None,
                    _ => o.sid_history.clear(),
                }
                upserts.push(o);
            }
            _ => {}
        }
    }
    let generation = cache.generation + 1;
    cache.apply(generation, &deleted, upserts.iter().map(CachedObject::new));
}

fn filled(rng: &mut StdRng, domain: u32, rid: &mut u32, count: usize) -> ObjectCache {
    let mut cache = ObjectCache::default();
    let objects: Vec<DirectoryObject> = (0..count)
        .map(|_| random_object(rng, domain, rid))
        .collect();
    cache.apply(1, &[], objects.iter().map(CachedObject::new));
    cache
}

fn profiles() -> Vec<MatchProfile> {
    let expr = |text: &str| Expr::parse(text).expect("a test expression");
    vec![
        MatchProfile::default(),
        MatchProfile {
            name: "two rules".into(),
            rules: vec![
                MatchRule::new(expr("sAMAccountName"), expr("sAMAccountName")),
                MatchRule::new(
                    expr("localpart(userPrincipalName)"),
                    expr("localpart(userPrincipalName)"),
                ),
            ],
            sid_history: true,
        },
    ]
}

#[test]
fn after_random_deltas_the_kept_outcomes_equal_a_full_run() {
    for (p, profile) in profiles().iter().enumerate() {
        for seed in 0..12u64 {
            let mut rng = StdRng::seed_from_u64(seed * 31 + p as u64);
            let (mut source_rid, mut target_rid) = (1000, 1000);
            let mut sources = filled(&mut rng, 1, &mut source_rid, 60);
            let mut targets = filled(&mut rng, 2, &mut target_rid, 60);
            let (mut index, touched) = PairIndex::build(profile, &sources, &targets);
            let mut kept = HashMap::new();
            fold(&mut kept, &index, touched, &sources, &targets);
            assert_eq!(kept, full(profile, &sources, &targets), "seed {}", seed);
            for round in 0..25 {
                if rng.gen_bool(0.6) {
                    random_delta(&mut rng, &mut sources, 1, &mut source_rid);
                }
                if rng.gen_bool(0.6) {
                    random_delta(&mut rng, &mut targets, 2, &mut target_rid);
                }
                let touched = index
                    .update(profile, &sources, &targets)
                    .expect("the journals cover a small delta");
                assert!(
                    touched.proposals.len() < sources.len(),
                    "seed {} round {}: a delta re-matched everything",
                    seed,
                    round
                );
                fold(&mut kept, &index, touched, &sources, &targets);
                assert_eq!(
                    kept,
                    full(profile, &sources, &targets),
                    "seed {} round {}",
                    seed,
                    round
                );
            }
        }
    }
}

#[test]
fn a_journal_that_no_longer_reaches_back_asks_for_a_full_build() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut rid = 1000;
    let sources = filled(&mut rng, 1, &mut rid, 10);
    let mut targets = filled(&mut rng, 2, &mut rid, 10);
    let profile = MatchProfile::default();
    let (mut index, _) = PairIndex::build(&profile, &sources, &targets);
    // Every target replaced at once: more than the journal keeps.
    let replaced: Vec<DirectoryObject> = (0..2000)
        .map(|_| random_object(&mut rng, 2, &mut rid))
        .collect();
    let gone: Vec<ObjectGuid> = targets.guids().copied().collect();
    targets.apply(2, &gone, replaced.iter().map(CachedObject::new));
    assert!(index.update(&profile, &sources, &targets).is_none());
    let other = MatchProfile {
        name: "another".into(),
        ..MatchProfile::default()
    };
    let (mut index, _) = PairIndex::build(&profile, &sources, &targets);
    assert!(index.update(&other, &sources, &targets).is_none());
}
