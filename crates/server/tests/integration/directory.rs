//! Directories: full import from a JSON document, matching into the translation table, and the
//! store underneath on the backend under test.

use model::directory::{Directory, DirectoryKind, DirectoryObject, MatchAttribute, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid};
use server::directory::file::{DirectoryDocument, FileSource};
use server::Error;

use crate::support::TestApp;

/// A user, group or computer for a test document.
pub fn object(kind: ObjectKind, name: &str, sam: &str, sid: Option<&str>) -> DirectoryObject {
    let mut o = DirectoryObject::new(ObjectGuid::new(), kind, name);
    o.sid = sid.map(|s| s.parse().expect("test SID"));
    o.upn = Some(format!("{}@example.test", sam));
    o.sam_account_name = Some(sam.to_string());
    o.operating_system =
        (kind == ObjectKind::Computer).then(|| "Windows 11 Enterprise".to_string());
    o
}

/// Creates a directory named `name` for `domain`.
pub async fn directory(t: &TestApp, name: &str, domain: &str, kind: DirectoryKind) -> DirectoryId {
    let d = Directory {
        id: DirectoryId::new(),
        name: name.to_string(),
        kind,
        domain: domain.to_string(),
        domain_id: None,
    };
    server::directory::create(&t.app, d)
        .await
        .expect("create directory")
        .id
}

/// Imports `objects` as the whole of `directory`.
pub async fn import(
    t: &TestApp,
    directory: DirectoryId,
    domain: &str,
    objects: Vec<DirectoryObject>,
) -> server::directory::ImportSummary {
    let doc = DirectoryDocument {
        domain: domain.to_string(),
        domain_sid: Some("S-1-5-21-1-2-3".into()),
        objects,
    };
    server::directory::import(&t.app, directory, &FileSource::from_document(doc))
        .await
        .expect("import")
}

#[tokio::test]
async fn dollar_placeholders_work_on_this_backend() {
    let t = TestApp::new().await;
    // $2 before $1 and $1 twice: SQLite must bind by number, not by position.
    let (a, b): (String, i64) = sqlx::query_as("SELECT $2 || $1 || $2, $3")
        .bind("x")
        .bind("y")
        .bind(7_i64)
        .fetch_one(t.app.store.pool())
        .await
        .expect("query with $N placeholders");
    assert_eq!((a.as_str(), b), ("yxy", 7));
}

#[tokio::test]
async fn full_import_counts_added_changed_deleted_and_records_the_run() {
    let t = TestApp::new().await;
    let dir = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let alice = object(
        ObjectKind::User,
        "Alice",
        "alice",
        Some("S-1-5-21-1-2-3-1001"),
    );
    let bob = object(ObjectKind::User, "Bob", "bob", Some("S-1-5-21-1-2-3-1002"));
    let pc = object(
        ObjectKind::Computer,
        "PC1",
        "PC1$",
        Some("S-1-5-21-1-2-3-2001"),
    );
    let first = import(
        &t,
        dir,
        "contoso.test",
        vec![alice.clone(), bob.clone(), pc.clone()],
    )
    .await;
    assert_eq!(
        (first.total, first.added, first.changed, first.deleted),
        (3, 3, 0, 0)
    );
    assert_eq!((first.users, first.computers), (2, 1));

    let mut alice2 = alice.clone();
    alice2.mail = Some("alice@contoso.test".into());
    let carol = object(
        ObjectKind::Group,
        "Carol's group",
        "carols",
        Some("S-1-5-21-1-2-3-1003"),
    );
    let second = import(
        &t,
        dir,
        "CONTOSO.test",
        vec![alice2.clone(), pc.clone(), carol],
    )
    .await;
    assert_eq!(
        (second.total, second.added, second.changed, second.deleted),
        (3, 1, 1, 1)
    );

    let stored = t
        .app
        .store
        .object(dir, alice.guid)
        .await
        .expect("read")
        .expect("alice is there");
    assert_eq!(stored, alice2);
    assert!(t
        .app
        .store
        .object(dir, bob.guid)
        .await
        .expect("read")
        .is_none());
    let runs = t.app.store.import_runs(dir).await.expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(
        t.app
            .store
            .directory(dir)
            .await
            .expect("read")
            .expect("dir")
            .domain_id
            .as_deref(),
        Some("S-1-5-21-1-2-3")
    );
    let found = t.app.store.computers_named("pc1").await.expect("lookup");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.guid, pc.guid);
}

#[tokio::test]
async fn a_document_of_another_domain_or_with_duplicate_guids_changes_nothing() {
    let t = TestApp::new().await;
    let dir = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let alice = object(
        ObjectKind::User,
        "Alice",
        "alice",
        Some("S-1-5-21-1-2-3-1001"),
    );
    let doc = DirectoryDocument {
        domain: "fabrikam.test".into(),
        domain_sid: None,
        objects: vec![alice.clone()],
    };
    let err = server::directory::import(&t.app, dir, &FileSource::from_document(doc))
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, Error::Invalid(f) if f[0].field == "domain"),
        "{err:?}"
    );
    let doc = DirectoryDocument {
        domain: "contoso.test".into(),
        domain_sid: None,
        objects: vec![alice.clone(), alice],
    };
    let err = server::directory::import(&t.app, dir, &FileSource::from_document(doc))
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, Error::Invalid(f) if f[0].field == "objects[1].guid"),
        "{err:?}"
    );
    assert!(t
        .app
        .store
        .objects(dir, None)
        .await
        .expect("read")
        .is_empty());
    assert!(t.app.store.import_runs(dir).await.expect("runs").is_empty());
}

#[tokio::test]
async fn import_reads_a_json_file() {
    let t = TestApp::new().await;
    let dir = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let tmp = server::store::testing::TestDir::new();
    let path = tmp.path().join("contoso.json");
    let doc = serde_json::json!({"domain": "contoso.test", "domain_sid": "S-1-5-21-1-2-3", "objects": [
        {"guid": ObjectGuid::new(), "kind": "User", "name": "Alice", "sid": "S-1-5-21-1-2-3-1001",
         "upn": "alice@contoso.test", "sam_account_name": "alice", "employee_id": "E1"},
        {"guid": ObjectGuid::new(), "kind": "Computer", "name": "PC1", "operating_system": "Windows 11 Pro"}
    ]});
    std::fs::write(&path, doc.to_string()).expect("write document");
    let summary = server::directory::import_file(&t.app, dir, &path)
        .await
        .expect("import");
    assert_eq!((summary.users, summary.computers), (1, 1));
    let err = server::directory::import_file(&t.app, dir, &tmp.path().join("missing.json"))
        .await
        .expect_err("no file");
    assert!(
        matches!(&err, Error::Invalid(f) if f[0].field == "path"),
        "{err:?}"
    );
}

#[tokio::test]
async fn matching_fills_the_translation_table_and_reports_the_rest() {
    let t = TestApp::new().await;
    let src = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let dst = directory(
        &t,
        "FABRIKAM",
        "fabrikam.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    import(
        &t,
        src,
        "contoso.test",
        vec![
            object(
                ObjectKind::User,
                "Alice",
                "alice",
                Some("S-1-5-21-1-2-3-1001"),
            ),
            object(ObjectKind::User, "Bob", "bob", Some("S-1-5-21-1-2-3-1002")),
            object(
                ObjectKind::Group,
                "Staff",
                "staff",
                Some("S-1-5-21-1-2-3-1003"),
            ),
        ],
    )
    .await;
    import(
        &t,
        dst,
        "fabrikam.test",
        vec![
            object(
                ObjectKind::User,
                "Alice F",
                "ALICE",
                Some("S-1-5-21-7-8-9-5001"),
            ),
            object(
                ObjectKind::Group,
                "Staff F",
                "staff",
                Some("S-1-5-21-7-8-9-5003"),
            ),
        ],
    )
    .await;
    let summary = server::directory::match_users(&t.app, src, dst, MatchAttribute::SamAccountName)
        .await
        .expect("match");
    assert_eq!(
        (summary.matched, summary.unmatched, summary.ambiguous),
        (2, 1, 0)
    );
    assert_eq!(summary.unmatched_names, vec!["Bob".to_string()]);
    let table = t.app.store.translations(None).await.expect("table");
    assert_eq!(table.len(), 2);
    let found = t
        .app
        .store
        .translations(Some("ALICE f"))
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].target.sid.to_string(), "S-1-5-21-7-8-9-5001");
    // Matching again replaces, never duplicates.
    server::directory::match_users(&t.app, src, dst, MatchAttribute::SamAccountName)
        .await
        .expect("match again");
    assert_eq!(
        t.app.store.translations(None).await.expect("table").len(),
        2
    );
    let only = t
        .app
        .store
        .translations_for_sids(
            dst,
            &[
                "S-1-5-21-1-2-3-1003".parse().expect("sid"),
                "S-1-5-21-1-2-3-9999".parse().expect("sid"),
            ],
        )
        .await
        .expect("by sid");
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].target.name, "Staff F");
}

/// A source whose full read tells the test it started, then waits until the test lets it go: a
/// slow LDAP or Graph read, without a clock.
struct GatedSource {
    document: DirectoryDocument,
    started: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    release: std::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
}

impl server::directory::DirectorySource for GatedSource {
    fn read(
        &self,
    ) -> server::directory::BoxFuture<'_, server::Result<server::directory::Snapshot>> {
        Box::pin(async move {
            let started = self.started.lock().expect("gate").take();
            if let Some(started) = started {
                let _ = started.send(());
            }
            let release = self.release.lock().expect("gate").take();
            if let Some(release) = release {
                let _ = release.await;
            }
            FileSource::from_document(self.document.clone())
                .read()
                .await
        })
    }
}

#[tokio::test]
async fn matching_runs_while_a_slow_directory_is_being_read() {
    let t = TestApp::new().await;
    let src = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let dst = directory(
        &t,
        "FABRIKAM",
        "fabrikam.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let alice = object(
        ObjectKind::User,
        "Alice",
        "alice",
        Some("S-1-5-21-1-2-3-1001"),
    );
    import(&t, src, "contoso.test", vec![alice.clone()]).await;
    import(
        &t,
        dst,
        "fabrikam.test",
        vec![object(
            ObjectKind::User,
            "Alice",
            "alice",
            Some("S-1-5-21-4-5-6-1001"),
        )],
    )
    .await;

    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel();
    let source = GatedSource {
        document: DirectoryDocument {
            domain: "contoso.test".into(),
            domain_sid: Some("S-1-5-21-1-2-3".into()),
            objects: vec![
                alice,
                object(ObjectKind::User, "Bob", "bob", Some("S-1-5-21-1-2-3-1002")),
            ],
        },
        started: std::sync::Mutex::new(Some(started_tx)),
        release: std::sync::Mutex::new(Some(release_rx)),
    };
    let app = t.app.clone();
    let reimport = tokio::spawn(async move { server::directory::import(&app, src, &source).await });
    started_rx.await.expect("the import started reading");

    // The source is still being read: matching the same directory must not wait for it. The
    // bound only turns a hang into a failure.
    let matched = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        server::directory::match_users(&t.app, src, dst, MatchAttribute::SamAccountName),
    )
    .await
    .expect("matching waited for the directory read")
    .expect("match");
    assert_eq!(matched.matched, 1);

    release_tx.send(()).expect("release the read");
    let summary = reimport.await.expect("import task").expect("import");
    assert_eq!((summary.added, summary.total), (1, 2));
}

/// The GUIDs the object search for `text*` finds in `directory`.
async fn found(t: &TestApp, directory: DirectoryId, text: &str) -> Vec<ObjectGuid> {
    let mut guids: Vec<ObjectGuid> = t
        .app
        .store
        .search_objects(&format!("{text}*"), Some(directory), 100)
        .await
        .expect("object search")
        .into_iter()
        .map(|h| h.guid)
        .collect();
    guids.sort();
    guids
}

/// A second import that changes one attribute of each object (the name, the UPN, the
/// sAMAccountName and mail, a column no index reads, the kind) stores every object exactly as
/// read, and the searches find each by its new values and none by the old.
#[tokio::test]
async fn an_import_stores_each_changed_attribute_and_searches_follow_it() {
    let t = TestApp::new().await;
    let dir = directory(
        &t,
        "CHANGES",
        "changes.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let mut objects: Vec<DirectoryObject> = (0..5)
        .map(|i| {
            let mut o = object(
                ObjectKind::User,
                &format!("Person {i}"),
                &format!("p{i}"),
                None,
            );
            o.mail = Some(format!("p{i}@mail.test"));
            o.employee_id = Some(format!("E{i}"));
            o
        })
        .collect();
    objects.push(object(ObjectKind::Computer, "PC-OLD", "PC-OLD$", None));
    import(&t, dir, "changes.test", objects.clone()).await;

    objects[0].name = "Renamed Person".into();
    objects[1].upn = Some("moved@example.test".into());
    objects[2].sam_account_name = Some("newsam".into());
    objects[2].mail = None;
    objects[3].employee_id = Some("E-CHANGED".into());
    objects[3].dn = Some("CN=Person 3,OU=Moved,DC=changes,DC=test".into());
    objects[4].kind = ObjectKind::Contact;
    objects[5].name = "PC-NEW".into();
    objects[5].sam_account_name = Some("PC-NEW$".into());
    objects[5].upn = None;
    let summary = import(&t, dir, "changes.test", objects.clone()).await;
    assert_eq!((summary.added, summary.changed, summary.deleted), (0, 6, 0));

    let mut expected = objects.clone();
    expected.sort_by_key(|o| o.guid);
    let stored = t.app.store.objects(dir, None).await.expect("objects");
    assert_eq!(stored, expected);
    let guid = |i: usize| vec![objects[i].guid];
    assert_eq!(found(&t, dir, "renamed").await, guid(0));
    assert_eq!(found(&t, dir, "person 0").await, Vec::new());
    assert_eq!(found(&t, dir, "moved@").await, guid(1));
    assert_eq!(found(&t, dir, "newsam").await, guid(2));
    assert_eq!(found(&t, dir, "p2@mail").await, Vec::new());
    assert_eq!(found(&t, dir, "person 3").await, guid(3));
    assert_eq!(found(&t, dir, "pc-new").await, guid(5));
    assert_eq!(found(&t, dir, "pc-old").await, Vec::new());
    let computers = t
        .app
        .store
        .computers_named("pc-new")
        .await
        .expect("computers");
    assert_eq!(computers.len(), 1);
    assert!(t
        .app
        .store
        .computers_named("PC-OLD")
        .await
        .expect("computers")
        .is_empty());
    let contacts = t
        .app
        .store
        .objects(dir, Some(ObjectKind::Contact))
        .await
        .expect("contacts");
    assert_eq!(contacts.iter().map(|o| o.guid).collect::<Vec<_>>(), guid(4));
}
