use base64::Engine;
use model::directory::{DirectoryObject, ObjectKind};
use model::ids::ObjectGuid;

use super::*;
use crate::directory::cache::CachedObject;
use crate::directory::graph::entra_sid;

fn ad(name: &str, own: &str) -> DirectoryObject {
    let mut o = DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, name);
    o.sid = Some(own.parse().expect("test SID"));
    o
}

/// The cloud object Entra Connect makes of `source`: its own id and SID, and both anchors.
fn synced(source: &DirectoryObject, name: &str) -> DirectoryObject {
    let guid = ObjectGuid::new();
    let mut o = DirectoryObject::new(guid, ObjectKind::User, name);
    o.sid = Some(entra_sid(guid));
    o.on_premises_sid = source.sid.clone();
    o.immutable_id =
        Some(base64::engine::general_purpose::STANDARD.encode(source.guid.0.to_bytes_le()));
    o
}

fn run(sources: &[DirectoryObject], targets: &[DirectoryObject]) -> Vec<Finding> {
    let s: Vec<CachedObject> = sources.iter().map(CachedObject::new).collect();
    let t: Vec<CachedObject> = targets.iter().map(CachedObject::new).collect();
    let profile = preset("hybrid-anchors").expect("the preset");
    let s: Vec<&CachedObject> = s.iter().collect();
    let t: Vec<&CachedObject> = t.iter().collect();
    match_all(&profile, &s, &t)
}

#[test]
fn each_ad_user_pairs_with_its_own_cloud_object_whatever_the_names() {
    let ada = ad("Ada", "S-1-5-21-1-2-3-1104");
    let bo = ad("Bo", "S-1-5-21-1-2-3-1105");
    // Names swapped on purpose, and a cloud-only namesake: only the anchors count.
    let targets = vec![
        synced(&bo, "Ada"),
        synced(&ada, "Bo"),
        DirectoryObject::new(ObjectGuid::new(), ObjectKind::User, "Ada"),
    ];
    let outcomes = run(&[ada, bo], &targets);
    assert_eq!(
        outcomes,
        vec![
            Finding::Matched {
                target: 1,
                via: Via::Rule(0)
            },
            Finding::Matched {
                target: 0,
                via: Via::Rule(0)
            },
        ]
    );
}

#[test]
fn the_immutable_id_pairs_when_the_on_premises_sid_is_missing_and_compares_with_case() {
    let ada = ad("Ada", "S-1-5-21-1-2-3-1104");
    let mut cloud = synced(&ada, "Ada Cloud");
    cloud.on_premises_sid = None;
    let outcomes = run(std::slice::from_ref(&ada), std::slice::from_ref(&cloud));
    assert_eq!(
        outcomes,
        vec![Finding::Matched {
            target: 0,
            via: Via::Rule(1)
        }]
    );
    // Base64 is case-sensitive: an anchor differing only in case is another object's.
    let mut other = cloud.clone();
    other.immutable_id = other.immutable_id.map(|id| id.to_lowercase());
    if other.immutable_id != cloud.immutable_id {
        assert_eq!(run(&[ada], &[other]), vec![Finding::Unmatched]);
    }
}

#[test]
fn base64_reads_only_guids_and_prints_back() {
    let expr = Expr::parse("base64(objectGUID)").expect("parses");
    assert_eq!(expr.to_string(), "base64(objectGUID)");
    let mut o = DirectoryObject::new(
        "e833a10a-5d78-40c9-8a7f-5b658fbbfde8"
            .parse()
            .expect("guid"),
        ObjectKind::User,
        "Ada",
    );
    o.sam_account_name = Some("not a guid".into());
    let cached = CachedObject::new(&o);
    // AD stores this objectGUID as 0a a1 33 e8 78 5d c9 40 8a 7f …, which Entra Connect
    // writes to onPremisesImmutableId in base64.
    assert_eq!(
        expr.evaluate(&cached).as_deref(),
        Some("CqEz6HhdyUCKf1tlj7v96A==")
    );
    let sam = Expr::parse("base64(sAMAccountName)").expect("parses");
    assert_eq!(sam.evaluate(&cached), None);
}
