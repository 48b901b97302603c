//! Directory sync beyond one full import: incremental imports through a source's cursor, match
//! profiles with messages and explanations, What If, pairs kept across renames, replicas that
//! see each other's imports, and the Single Object Report.

use std::sync::Mutex;

use model::directory::{DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use serde_json::json;
use server::auth::Role;
use server::directory::{BoxFuture, Changes, DirectorySource, ImportMode, Snapshot};
use server::store::directories::ImportKind;

use crate::directory::{directory, object};
use crate::support::TestApp;

/// A source that hands out a full snapshot or the next change set, and records the cursors it
/// was asked to continue from.
struct Scripted {
    snapshot: Snapshot,
    changes: Mutex<Vec<Changes>>,
    asked: Mutex<Vec<String>>,
}

impl DirectorySource for Scripted {
    fn read(&self) -> BoxFuture<'_, server::Result<Snapshot>> {
        Box::pin(async move { Ok(self.snapshot.clone()) })
    }

    fn read_changes<'a>(
        &'a self,
        cursor: &'a str,
    ) -> BoxFuture<'a, server::Result<Option<Changes>>> {
        Box::pin(async move {
            self.asked.lock().expect("lock").push(cursor.to_string());
            let mut changes = self.changes.lock().expect("lock");
            Ok(if changes.is_empty() {
                None
            } else {
                Some(changes.remove(0))
            })
        })
    }
}

fn user(name: &str, sam: &str, upn: &str, sid: &str) -> DirectoryObject {
    let mut o = object(ObjectKind::User, name, sam, Some(sid));
    o.upn = Some(upn.to_string());
    o
}

async fn pair(t: &TestApp) -> (DirectoryId, DirectoryId) {
    let s = directory(t, "CONTOSO", "contoso.test", DirectoryKind::ActiveDirectory).await;
    let d = directory(
        t,
        "FABRIKAM",
        "fabrikam.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    (s, d)
}

async fn load(t: &TestApp, dir: DirectoryId, domain: &str, objects: Vec<DirectoryObject>) {
    let source = Scripted {
        snapshot: Snapshot {
            domain: domain.into(),
            domain_id: None,
            objects,
            cursor: None,
        },
        changes: Mutex::new(Vec::new()),
        asked: Mutex::new(Vec::new()),
    };
    server::directory::import(&t.app, dir, &source)
        .await
        .expect("full import");
}

#[tokio::test]
async fn incremental_imports_continue_from_the_stored_cursor_and_apply_only_the_changes() {
    let t = TestApp::new().await;
    let (dir, _) = pair(&t).await;
    let alice = user(
        "Alice",
        "alice",
        "alice@contoso.test",
        "S-1-5-21-1-2-3-1001",
    );
    let bob = user("Bob", "bob", "bob@contoso.test", "S-1-5-21-1-2-3-1002");
    let mut alice2 = alice.clone();
    alice2.mail = Some("alice@contoso.test".into());
    let carol = user(
        "Carol",
        "carol",
        "carol@contoso.test",
        "S-1-5-21-1-2-3-1003",
    );
    let source = Scripted {
        snapshot: Snapshot {
            domain: "contoso.test".into(),
            domain_id: Some("S-1-5-21-1-2-3".into()),
            objects: vec![alice.clone(), bob.clone()],
            cursor: Some("usn:100".into()),
        },
        changes: Mutex::new(vec![Changes {
            // Alice changed, Carol is new, Bob is gone, and an unknown GUID deleted is ignored.
            objects: vec![alice2.clone(), carol.clone()],
            deleted: vec![bob.guid, ObjectGuid::new()],
            cursor: "usn:200".into(),
        }]),
        asked: Mutex::new(Vec::new()),
    };
    // No cursor yet: an incremental import reads everything.
    let first = server::directory::import_with(&t.app, dir, &source, ImportMode::Incremental)
        .await
        .expect("first import");
    assert_eq!(
        (first.kind.as_str(), first.added, first.total),
        ("full", 2, 2)
    );
    assert!(source.asked.lock().expect("lock").is_empty());

    let second = server::directory::import_with(&t.app, dir, &source, ImportMode::Incremental)
        .await
        .expect("second import");
    assert_eq!(source.asked.lock().expect("lock").as_slice(), ["usn:100"]);
    assert_eq!(
        (
            second.kind,
            second.added,
            second.changed,
            second.deleted,
            second.total
        ),
        (ImportKind::Incremental, 1, 1, 1, 2)
    );
    let stored = t.app.store.objects(dir, None).await.expect("objects");
    let names: Vec<&str> = stored.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(stored.len(), 2, "{:?}", names);
    assert!(stored.contains(&alice2) && stored.contains(&carol));
    assert_eq!(
        t.app
            .store
            .directory_cursor(dir)
            .await
            .expect("cursor")
            .as_deref(),
        Some("usn:200")
    );
    let runs = t.app.store.import_runs(dir).await.expect("runs");
    assert_eq!(runs.len(), 2);
    assert!(runs
        .iter()
        .any(|r| r.kind == ImportKind::Incremental && r.deleted == 1));
}

#[tokio::test]
async fn a_profile_matches_by_transformed_attributes_and_every_unmatched_user_says_why() {
    let t = TestApp::new().await;
    let (s, d) = pair(&t).await;
    load(
        &t,
        s,
        "contoso.test",
        vec![
            user(
                "Ada Lovelace",
                "alovelace",
                "ada.lovelace@contoso.test",
                "S-1-5-21-1-1-1-1001",
            ),
            user(
                "Grace Hopper",
                "ghopper",
                "grace.hopper@contoso.test",
                "S-1-5-21-1-1-1-1002",
            ),
            user(
                "Alan Turing",
                "aturing",
                "alan.turing@contoso.test",
                "S-1-5-21-1-1-1-1003",
            ),
        ],
    )
    .await;
    load(
        &t,
        d,
        "fabrikam.test",
        vec![
            // The target names accounts after the source UPN's local part.
            user(
                "Ada L.",
                "ada.lovelace",
                "ada@fabrikam.test",
                "S-1-5-21-2-2-2-2001",
            ),
            user(
                "Grace H.",
                "Grace.Hopper",
                "grace@fabrikam.test",
                "S-1-5-21-2-2-2-2002",
            ),
        ],
    )
    .await;
    let admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let profile = json!({
        "name": "UPN local part",
        "rules": [{"source": "lower(localpart(userPrincipalName))", "target": "sAMAccountName"}],
    });

    // What If changes nothing and says what a run would add.
    let what = t
        .post_json(
            "/api/v1/match/what-if",
            &admin,
            json!({"source": s, "target": d, "profile": profile}),
        )
        .await;
    assert_eq!(what.status, 200, "{}", what.text());
    let what = what.json();
    assert_eq!(
        (what["added"].as_u64(), what["removed"].as_u64()),
        (Some(2), Some(0))
    );
    assert!(t
        .app
        .store
        .translations(None)
        .await
        .expect("table")
        .is_empty());

    let run = t
        .post_json(
            "/api/v1/match/run",
            &admin,
            json!({"source": s, "target": d, "profile": profile}),
        )
        .await;
    assert_eq!(run.status, 200, "{}", run.text());
    assert_eq!(run.json()["matched"], 2);
    assert_eq!(run.json()["unmatched"], 1);
    let table = t.app.store.translations(None).await.expect("table");
    let grace = table
        .iter()
        .find(|e| e.source.name == "Grace Hopper")
        .expect("Grace is in the table");
    assert_eq!(grace.target.sid.to_string(), "S-1-5-21-2-2-2-2002");

    // The profile is stored: the pair's next run uses it without being told.
    let stored = t
        .get(
            &format!("/api/v1/match/profile?source={}&target={}", s, d),
            &admin,
        )
        .await;
    assert_eq!(stored.json()["name"], "UPN local part");

    let why = t
        .get(
            &format!(
                "/api/v1/match/explain?source={}&target={}&user=aturing",
                s, d
            ),
            &admin,
        )
        .await;
    assert_eq!(why.status, 200, "{}", why.text());
    let text = why.json()["text"].as_str().unwrap_or_default().to_string();
    assert!(
        text.contains("alan.turing"),
        "the computed value is shown:\n{}",
        text
    );
    assert!(
        text.contains("lower(localpart(userPrincipalName))"),
        "{}",
        text
    );

    // Alan's object carries the matching message.
    let alan = t.get("/api/v1/objects?search=alan*", &admin).await.json();
    let alan_guid = alan[0]["guid"].as_str().expect("found").to_string();
    let report = t
        .get(&format!("/api/v1/objects/{}/{}", s, alan_guid), &admin)
        .await
        .json();
    assert_eq!(report["messages"][0]["level"], "warning");
    assert!(report["target_object"].is_null());

    // What If with nothing changed finds nothing to do.
    let again = t
        .post_json(
            "/api/v1/match/what-if",
            &admin,
            json!({"source": s, "target": d}),
        )
        .await
        .json();
    assert_eq!(
        (
            again["added"].as_u64(),
            again["changed"].as_u64(),
            again["removed"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
}

#[tokio::test]
async fn bad_profiles_and_searches_are_refused_naming_the_field() {
    let t = TestApp::new().await;
    let (s, d) = pair(&t).await;
    let admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let bad = t
        .put_json(
            "/api/v1/match/profile",
            &admin,
            json!({"source": s, "target": d, "profile": {"name": "x", "rules": [{"source": "lower(", "target": "mail"}]}}),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(
        bad.text().contains("profile.rules[0].source"),
        "{}",
        bad.text()
    );
    let preset = t
        .put_json(
            "/api/v1/match/profile",
            &admin,
            json!({"source": s, "target": d, "preset": "nope"}),
        )
        .await;
    assert!(preset.text().contains("preset"), "{}", preset.text());
    let everything = t.get("/api/v1/objects?search=*", &admin).await;
    assert_eq!(everything.status, 422);
    assert!(everything.text().contains("search"));
    let viewer = t.token_with_roles(&[Role::SyncViewer]).await;
    let run = t
        .post_json(
            "/api/v1/match/run",
            &viewer,
            json!({"source": s, "target": d}),
        )
        .await;
    assert_eq!(run.status, 403);
}

#[tokio::test]
async fn sid_history_pairs_and_renames_keep_the_pair_by_guid() {
    let t = TestApp::new().await;
    let (s, d) = pair(&t).await;
    let eve = user("Eve", "eve", "eve@contoso.test", "S-1-5-21-1-1-1-1010");
    let mut moved = user(
        "Eve Adams",
        "eadams",
        "eadams@fabrikam.test",
        "S-1-5-21-2-2-2-2010",
    );
    moved.sid_history = vec!["S-1-5-21-1-1-1-1010".parse().expect("sid")];
    load(&t, s, "contoso.test", vec![eve.clone()]).await;
    load(&t, d, "fabrikam.test", vec![moved.clone()]).await;
    let summary = server::directory::match_pair(&t.app, s, d, None)
        .await
        .expect("match");
    assert_eq!(summary.matched, 1);
    let table = t.app.store.pair_translations(s, d).await.expect("table");
    assert_eq!(table[0].1, "sIDHistory");

    // Renamed on both sides: same GUIDs, so the same pair, with the new names.
    let mut eve2 = eve.clone();
    eve2.name = "Eve Smith".into();
    let mut moved2 = moved.clone();
    moved2.name = "Eve Smith-Adams".into();
    load(&t, s, "contoso.test", vec![eve2]).await;
    load(&t, d, "fabrikam.test", vec![moved2]).await;
    let again = server::directory::match_pair(&t.app, s, d, None)
        .await
        .expect("match again");
    assert_eq!((again.matched, again.rows_changed), (1, 2));
    let table = t.app.store.translations(None).await.expect("table");
    assert_eq!(table.len(), 1);
    assert_eq!(
        (table[0].source.name.as_str(), table[0].target.name.as_str()),
        ("Eve Smith", "Eve Smith-Adams")
    );
    assert_eq!(table[0].target.guid, moved.guid);
}

#[tokio::test]
async fn a_replica_sees_the_imports_another_replica_made() {
    let t = TestApp::new().await;
    let (s, d) = pair(&t).await;
    load(
        &t,
        s,
        "contoso.test",
        vec![user(
            "Ada",
            "ada",
            "ada@contoso.test",
            "S-1-5-21-1-1-1-1001",
        )],
    )
    .await;
    load(
        &t,
        d,
        "fabrikam.test",
        vec![user(
            "Ada T",
            "ada",
            "ada@fabrikam.test",
            "S-1-5-21-2-2-2-2001",
        )],
    )
    .await;
    let first = server::directory::match_pair(&t.app, s, d, None)
        .await
        .expect("match");
    assert_eq!(first.matched, 1);
    // A second replica on the same store, with its own in-memory copies.
    let other = server::App::new(
        t.app.store.clone(),
        t.app.clock.clone(),
        server::Settings::default(),
    );
    let grace = user(
        "Grace",
        "grace",
        "grace@contoso.test",
        "S-1-5-21-1-1-1-1002",
    );
    let grace_t = user(
        "Grace T",
        "grace",
        "grace@fabrikam.test",
        "S-1-5-21-2-2-2-2002",
    );
    let src = Scripted {
        snapshot: Snapshot {
            domain: "contoso.test".into(),
            domain_id: None,
            objects: vec![
                user("Ada", "ada", "ada@contoso.test", "S-1-5-21-1-1-1-1001"),
                grace.clone(),
            ],
            cursor: None,
        },
        changes: Mutex::new(Vec::new()),
        asked: Mutex::new(Vec::new()),
    };
    // The first import's Ada has another GUID: the second replica's import replaces her.
    server::directory::import(&other, s, &src)
        .await
        .expect("import elsewhere");
    load(&t, d, "fabrikam.test", vec![grace_t]).await;
    let again = server::directory::match_pair(&t.app, s, d, None)
        .await
        .expect("match");
    assert_eq!((again.matched, again.unmatched), (1, 1), "{:?}", again);
    let table = t.app.store.translations(None).await.expect("table");
    assert_eq!(table.len(), 1);
    assert_eq!(table[0].source.guid, grace.guid);
    // And the other replica's run agrees and finds nothing to write.
    let theirs = server::directory::match_pair(&other, s, d, None)
        .await
        .expect("match");
    assert_eq!((theirs.matched, theirs.rows_changed), (1, 0));
}

#[tokio::test]
async fn the_single_object_report_shows_translations_profiles_and_the_target_object() {
    let t = TestApp::new().await;
    let (s, d) = pair(&t).await;
    let ada = user(
        "Ada Lovelace",
        "ada",
        "ada@contoso.test",
        "S-1-5-21-1-1-1-1001",
    );
    let ada_t = user("Ada L.", "ada", "ada@fabrikam.test", "S-1-5-21-2-2-2-2001");
    let mut contact =
        DirectoryObject::new(ObjectGuid::new(), ObjectKind::Contact, "Ada (external)");
    contact.mail = Some("ada@partner.test".into());
    load(&t, s, "contoso.test", vec![ada.clone(), contact]).await;
    load(&t, d, "fabrikam.test", vec![ada_t.clone()]).await;
    server::directory::match_pair(&t.app, s, d, None)
        .await
        .expect("match");
    let viewer = t.token_with_roles(&[Role::SyncViewer]).await;

    let hits = t.get("/api/v1/objects?search=ADA*", &viewer).await;
    assert_eq!(hits.status, 200, "{}", hits.text());
    let names: Vec<String> = hits
        .json()
        .as_array()
        .expect("list")
        .iter()
        .map(|h| h["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["Ada (external)", "Ada L.", "Ada Lovelace"]);
    let by_upn = t
        .get(
            &format!("/api/v1/objects?search=*@contoso.test&directory={}", s),
            &viewer,
        )
        .await
        .json();
    assert_eq!(by_upn.as_array().map(Vec::len), Some(1));

    let report = t
        .get(&format!("/api/v1/objects/{}/{}", s, ada.guid), &viewer)
        .await;
    assert_eq!(report.status, 200, "{}", report.text());
    let report = report.json();
    assert_eq!(report["object"]["sam_account_name"], "ada");
    assert_eq!(report["translations"][0]["as_source"], true);
    assert_eq!(report["translations"][0]["rule"], "rules[0]");
    assert_eq!(report["target_object"][0], json!(d));
    assert_eq!(report["target_object"][1], json!(ada_t.guid));
    // View as target object: the same report, from the other side.
    let target = t
        .get(&format!("/api/v1/objects/{}/{}", d, ada_t.guid), &viewer)
        .await
        .json();
    assert_eq!(target["translations"][0]["as_source"], false);
    assert_eq!(
        target["translations"][0]["entry"]["source"]["name"],
        "Ada Lovelace"
    );
    let missing = t
        .get(
            &format!("/api/v1/objects/{}/{}", s, ObjectGuid::new()),
            &viewer,
        )
        .await;
    assert_eq!(missing.status, 404);
}

/// A source whose full read comes in pages, the last page possibly failing part way.
struct Paged {
    pages: Vec<Vec<DirectoryObject>>,
    fail_after: Option<usize>,
}

/// The pages of one read of [`Paged`].
struct PagesOf {
    pages: std::vec::IntoIter<Vec<DirectoryObject>>,
    left_before_failure: Option<usize>,
}

impl server::directory::Pages for PagesOf {
    fn next_page(&mut self) -> BoxFuture<'_, server::Result<Option<Vec<DirectoryObject>>>> {
        let next = match self.left_before_failure.as_mut() {
            Some(0) => Err(server::Error::Internal("the DC went away".into())),
            Some(n) => {
                *n -= 1;
                Ok(self.pages.next())
            }
            None => Ok(self.pages.next()),
        };
        Box::pin(async move { next })
    }

    fn cursor(&mut self) -> Option<String> {
        Some("after-paged-read".into())
    }
}

impl DirectorySource for Paged {
    fn read(&self) -> BoxFuture<'_, server::Result<Snapshot>> {
        Box::pin(async move { Err(server::Error::Internal("read in pages only".into())) })
    }

    fn read_pages(&self) -> BoxFuture<'_, server::Result<server::directory::PagedSnapshot<'_>>> {
        Box::pin(async move {
            Ok(server::directory::PagedSnapshot {
                domain: "contoso.test".into(),
                domain_id: Some("S-1-5-21-7-7-7".into()),
                pages: Box::new(PagesOf {
                    pages: self.pages.clone().into_iter(),
                    left_before_failure: self.fail_after,
                }),
            })
        })
    }
}

#[tokio::test]
async fn a_read_in_pages_imports_like_a_whole_one_and_a_failed_or_bad_page_writes_nothing() {
    let t = TestApp::new().await;
    let (s, _) = pair(&t).await;
    let ada = user("Ada", "ada", "ada@contoso.test", "S-1-5-21-7-7-7-1001");
    let bob = user("Bob", "bob", "bob@contoso.test", "S-1-5-21-7-7-7-1002");
    let cy = user("Cy", "cy", "cy@contoso.test", "S-1-5-21-7-7-7-1003");
    let ws = object(
        ObjectKind::Computer,
        "WS-1",
        "ws-1$",
        Some("S-1-5-21-7-7-7-1004"),
    );
    let source = Paged {
        pages: vec![
            vec![ada.clone(), bob.clone()],
            vec![cy.clone()],
            vec![ws.clone()],
        ],
        fail_after: None,
    };
    let first = server::directory::import(&t.app, s, &source)
        .await
        .expect("paged import");
    assert_eq!(
        (first.total, first.added, first.users, first.computers),
        (4, 4, 3, 1)
    );
    assert_eq!(
        t.app
            .store
            .directory_cursor(s)
            .await
            .expect("cursor")
            .as_deref(),
        Some("after-paged-read")
    );

    // Bob renamed, Cy gone, Dee new: only those are written.
    let mut bob2 = bob.clone();
    bob2.name = "Bob Renamed".into();
    let dee = user("Dee", "dee", "dee@contoso.test", "S-1-5-21-7-7-7-1005");
    let second_pages = vec![
        vec![ada.clone()],
        vec![bob2.clone(), dee.clone()],
        vec![ws.clone()],
    ];
    let second = server::directory::import(
        &t.app,
        s,
        &Paged {
            pages: second_pages.clone(),
            fail_after: None,
        },
    )
    .await
    .expect("second paged import");
    assert_eq!(
        (second.total, second.added, second.changed, second.deleted),
        (4, 1, 1, 1)
    );
    let stored = |objects: Vec<DirectoryObject>| {
        let mut names: Vec<String> = objects.into_iter().map(|o| o.name).collect();
        names.sort();
        names
    };
    let after_second = stored(t.app.store.objects(s, None).await.expect("objects"));
    assert_eq!(after_second, ["Ada", "Bob Renamed", "Dee", "WS-1"]);

    // The read fails after its first page: nothing of it is kept, not even that page's change.
    let mut ada2 = ada.clone();
    ada2.name = "Ada Changed".into();
    let failed = server::directory::import(
        &t.app,
        s,
        &Paged {
            pages: vec![vec![ada2.clone()], vec![bob2.clone()]],
            fail_after: Some(1),
        },
    )
    .await;
    assert!(
        failed.is_err(),
        "a read that fails part way fails the import"
    );
    // A GUID on two pages is refused, named by its place in the whole read.
    let repeated = server::directory::import(
        &t.app,
        s,
        &Paged {
            pages: vec![
                vec![ada2.clone(), bob2.clone()],
                vec![dee.clone(), ada2.clone()],
            ],
            fail_after: None,
        },
    )
    .await;
    match repeated {
        Err(server::Error::Invalid(errors)) => {
            assert_eq!(errors[0].field, "objects[3].guid", "{:?}", errors);
            assert!(errors[0].message.contains("objects[0]"), "{:?}", errors);
        }
        other => panic!("a repeated GUID across pages: {:?}", other.map(|s| s.total)),
    }
    assert_eq!(
        stored(t.app.store.objects(s, None).await.expect("objects")),
        after_second
    );
    assert_eq!(t.app.store.import_runs(s).await.expect("runs").len(), 2);
    // The cache was left as the store is: the same read again changes nothing.
    let again = server::directory::import(
        &t.app,
        s,
        &Paged {
            pages: second_pages,
            fail_after: None,
        },
    )
    .await
    .expect("the same read again");
    assert_eq!((again.added, again.changed, again.deleted), (0, 0, 0));
}
