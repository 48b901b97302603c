//! Matching after small imports re-matches only what they touched, and leaves the translation
//! table and the matching messages exactly as a full match would, on the backend under test.

use model::directory::{DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::directory::profile::{Expr, MatchProfile, MatchRule};

use crate::directory::{directory, import};
use crate::support::TestApp;

/// Few distinct names, so keys collide: conflicts, several candidates, shared candidates.
fn random_object(rng: &mut StdRng, domain: u32, rid: &mut u32) -> DirectoryObject {
    *rid += 1;
    let kind = if rng.gen_range(0..8) == 0 {
        ObjectKind::Group
    } else {
        ObjectKind::User
    };
    let sam = format!("person{}", rng.gen_range(0..30));
    let mut o = DirectoryObject::new(ObjectGuid::new(), kind, format!("Person {}", *rid));
    if rng.gen_range(0..10) > 0 {
        o.sid = Some(secdesc::Sid::new(5, &[21, domain, domain, domain, *rid]).expect("valid SID"));
    }
    if rng.gen_range(0..5) > 0 {
        o.upn = Some(format!("{}.{}@example.test", sam, rng.gen_range(0..2)));
    }
    if rng.gen_range(0..6) > 0 {
        o.sam_account_name = Some(sam);
    }
    // A target may carry the SID of an earlier source object in its history.
    if domain == 2 && *rid > 1001 && rng.gen_range(0..5) == 0 {
        let old = rng.gen_range(1001..*rid);
        o.sid_history = vec![secdesc::Sid::new(5, &[21, 1, 1, 1, old]).expect("valid SID")];
    }
    o
}

/// Adds, renames (some onto another object's name), and removes a few of `objects`.
fn change(rng: &mut StdRng, objects: &mut Vec<DirectoryObject>, domain: u32, rid: &mut u32) {
    for _ in 0..rng.gen_range(1..6) {
        match rng.gen_range(0..4) {
            0 => objects.push(random_object(rng, domain, rid)),
            1 if !objects.is_empty() => {
                let i = rng.gen_range(0..objects.len());
                objects.swap_remove(i);
            }
            _ if !objects.is_empty() => {
                let i = rng.gen_range(0..objects.len());
                let o = &mut objects[i];
                match rng.gen_range(0..3) {
                    0 => o.sam_account_name = Some(format!("person{}", rng.gen_range(0..30))),
                    1 => o.name = format!("Renamed {}", rng.gen_range(0..1000)),
                    _ => o.upn = None,
                }
            }
            _ => {}
        }
    }
}

async fn table(
    t: &TestApp,
    source: DirectoryId,
    target: DirectoryId,
) -> (
    Vec<(model::directory::TranslationEntry, String)>,
    Vec<server::store::translations::ObjectMessage>,
) {
    let mut rows = t
        .app
        .store
        .pair_translations(source, target)
        .await
        .expect("rows");
    rows.sort_by_key(|(e, _)| e.source.guid);
    let mut messages = t
        .app
        .store
        .stage_messages(source, &server::directory::matching::stage(target))
        .await
        .expect("messages");
    messages.sort_by_key(|m| m.guid);
    (rows, messages)
}

#[tokio::test]
async fn matching_after_random_deltas_equals_a_full_match() {
    let t = TestApp::new().await;
    let (sd, td) = ("source.test", "target.test");
    let src = directory(&t, "SOURCE", sd, DirectoryKind::ActiveDirectory).await;
    let dst = directory(&t, "TARGET", td, DirectoryKind::ActiveDirectory).await;
    let expr = |text: &str| Expr::parse(text).expect("expression");
    let profile = MatchProfile {
        name: "sam then upn".into(),
        rules: vec![
            MatchRule::new(expr("sAMAccountName"), expr("sAMAccountName")),
            MatchRule::new(
                expr("localpart(userPrincipalName)"),
                expr("localpart(userPrincipalName)"),
            ),
        ],
        sid_history: true,
    };
    let mut rng = StdRng::seed_from_u64(42);
    let (mut source_rid, mut target_rid) = (1000, 1000);
    let mut sources: Vec<DirectoryObject> = (0..80)
        .map(|_| random_object(&mut rng, 1, &mut source_rid))
        .collect();
    let mut targets: Vec<DirectoryObject> = (0..80)
        .map(|_| random_object(&mut rng, 2, &mut target_rid))
        .collect();
    import(&t, src, sd, sources.clone()).await;
    import(&t, dst, td, targets.clone()).await;
    server::directory::match_pair(&t.app, src, dst, Some(profile))
        .await
        .expect("first match");
    for round in 0..10 {
        change(&mut rng, &mut sources, 1, &mut source_rid);
        import(&t, src, sd, sources.clone()).await;
        if round % 2 == 0 {
            change(&mut rng, &mut targets, 2, &mut target_rid);
            import(&t, dst, td, targets.clone()).await;
        }
        let summary = server::directory::match_pair(&t.app, src, dst, None)
            .await
            .expect("match");
        // A full run over the same directories would change no row.
        let what = server::directory::what_if(&t.app, src, dst, None)
            .await
            .expect("what if");
        assert_eq!(
            (what.added, what.changed, what.removed),
            (0, 0, 0),
            "round {round}: {:?}",
            what.examples
        );
        assert_eq!(
            (
                what.summary.matched,
                what.summary.unmatched,
                what.summary.ambiguous
            ),
            (summary.matched, summary.unmatched, summary.ambiguous),
            "round {round}"
        );
    }
    let before = table(&t, src, dst).await;
    assert!(!before.0.is_empty() && !before.1.is_empty());
    // Another server over the same store reads both directories afresh and matches in full.
    let fresh = server::App::new(
        t.app.store.clone(),
        std::sync::Arc::new(t.clock.clone()),
        server::Settings::default(),
    );
    let full = server::directory::match_pair(&fresh, src, dst, None)
        .await
        .expect("full match");
    assert_eq!(full.rows_changed, 0);
    assert_eq!(table(&t, src, dst).await, before);
}
