//! Directory connections (secrets go in, never out) and the import and match schedule on a manual
//! clock, with two replicas on one store.

use std::sync::Arc;

use chrono::Duration;
use model::directory::{DirectoryKind, ObjectKind};
use serde_json::json;
use server::auth::Role;
use server::directory::connection::{self, Connection};
use server::directory::file::DirectoryDocument;
use server::directory::schedule::{self, CycleOutcome};
use server::{App, Settings};
use sqlx::Row;

use crate::auth::capture_logs;
use crate::directory::{directory, object};
use crate::support::TestApp;

const PASSWORD: &str = "bind-pass-Zq81xv";

#[tokio::test]
async fn a_bind_password_given_on_put_never_comes_back_in_answers_logs_or_the_row() {
    let logs = capture_logs();
    let t = TestApp::new().await;
    let ad = directory(&t, "CORP", "corp.test", DirectoryKind::ActiveDirectory).await;
    let admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let viewer = t.token_with_roles(&[Role::SyncViewer]).await;
    let path = format!("/api/v1/directories/{}/connection", ad);
    let body = json!({"kind": "ldap", "url": "ldaps://dc1.corp.test",
        "bind_dn": "CN=svc,DC=corp,DC=test", "base_dns": ["OU=Staff,DC=corp,DC=test"],
        "password": PASSWORD});

    let refused = t.put_json(&path, &viewer, body.clone()).await;
    assert_eq!(refused.status, 403);
    let put = t.put_json(&path, &admin, body).await;
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["has_secret"], true);
    let got = t.get(&path, &viewer).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["bind_dn"], "CN=svc,DC=corp,DC=test");
    assert_eq!(got.json()["base_dns"][0], "OU=Staff,DC=corp,DC=test");

    // Edited without the password, on the same server: the stored one is kept.
    let edit = json!({"kind": "ldap", "url": "ldaps://dc1.corp.test",
        "bind_dn": "CN=svc,DC=corp,DC=test", "base_dns": ["OU=All,DC=corp,DC=test"]});
    let edited = t.put_json(&path, &admin, edit).await;
    assert_eq!(edited.status, 200, "{}", edited.text());
    assert_eq!(edited.json()["has_secret"], true);
    match connection::stored(&t.app, ad).await.expect("read") {
        Some(Connection::Ldap(c)) => {
            assert_eq!(c.password, PASSWORD);
            assert_eq!(c.base_dns, vec!["OU=All,DC=corp,DC=test".to_string()]);
        }
        other => panic!("an LDAP connection, not {:?}", other),
    }

    let row = sqlx::query("SELECT connection, connection_secret FROM directories WHERE id = $1")
        .bind(ad.to_string())
        .fetch_one(t.app.store.pool())
        .await
        .expect("row");
    let settings: String = row.try_get("connection").expect("connection");
    let sealed: String = row.try_get("connection_secret").expect("secret");
    for (what, text) in [
        ("PUT answer", put.text()),
        ("edit answer", edited.text()),
        ("GET answer", got.text()),
        ("connection column", settings),
        ("secret column", sealed),
        ("logs", logs.text()),
    ] {
        assert!(!text.contains(PASSWORD), "the password is in the {}", what);
    }
}

#[tokio::test]
async fn a_connection_that_does_not_fit_is_refused_naming_the_field_and_nothing_is_stored() {
    let t = TestApp::new().await;
    let entra = directory(&t, "CLOUD", "cloud.test", DirectoryKind::EntraId).await;
    let admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let path = format!("/api/v1/directories/{}/connection", entra);
    let ldap = json!({"kind": "ldap", "url": "ldaps://dc1", "bind_dn": "CN=x", "password": "p"});
    let r = t.put_json(&path, &admin, ldap).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains("\"kind\""), "{}", r.text());
    let bad = json!({"kind": "graph", "tenant_id": "", "client_id": "app", "client_secret": "s"});
    let r = t.put_json(&path, &admin, bad).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains("tenant_id"), "{}", r.text());
    assert_eq!(t.get(&path, &admin).await.status, 404, "nothing stored");
}

fn document(domain: &str, sid: &str, users: &[&str]) -> DirectoryDocument {
    DirectoryDocument {
        domain: domain.to_string(),
        domain_sid: Some(sid.to_string()),
        objects: users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let sid = format!("{}-{}", sid, 1100 + i);
                object(ObjectKind::User, u, u, Some(&sid))
            })
            .collect(),
    }
}

fn write(
    t: &server::store::testing::TestDir,
    name: &str,
    doc: &DirectoryDocument,
) -> std::path::PathBuf {
    let path = t.path().join(name);
    std::fs::write(&path, serde_json::to_vec(doc).expect("json")).expect("write");
    path
}

fn replica(t: &TestApp, name: &str) -> App {
    App::new(
        t.app.store.clone(),
        Arc::new(t.clock.clone()),
        Settings {
            replica: name.to_string(),
            ..Settings::default()
        },
    )
}

#[tokio::test]
async fn the_schedule_runs_a_cycle_only_when_on_and_due_and_on_one_replica_at_a_time() {
    let t = TestApp::new().await;
    let files = server::store::testing::TestDir::new();
    let src = directory(&t, "SRC", "src.test", DirectoryKind::ActiveDirectory).await;
    let dst = directory(&t, "DST", "dst.test", DirectoryKind::EntraId).await;
    let src_file = write(
        &files,
        "src.json",
        &document("src.test", "S-1-5-21-1-2-3", &["ann", "bob", "cid"]),
    );
    let dst_file = write(
        &files,
        "dst.json",
        &document("dst.test", "S-1-5-21-4-5-6", &["ann", "bob"]),
    );
    connection::set_connection(&t.app, src, Connection::File { path: src_file })
        .await
        .expect("src connection");
    connection::set_connection(&t.app, dst, Connection::File { path: dst_file })
        .await
        .expect("dst connection");
    server::directory::set_pair_profile(&t.app, src, dst, &Default::default())
        .await
        .expect("pair");
    let (a, b) = (replica(&t, "a"), replica(&t, "b"));

    // Off by default: nothing runs, however long we wait.
    t.clock.advance(Duration::days(30));
    assert_eq!(
        schedule::run_due(&a).await.expect("run"),
        CycleOutcome::NotDue
    );
    assert!(t.app.store.import_runs(src).await.expect("runs").is_empty());

    let admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let too_short = json!({"enabled": true, "interval_minutes": 4});
    let r = t.put_json("/api/v1/sync/schedule", &admin, too_short).await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains("interval_minutes"), "{}", r.text());
    let on = json!({"enabled": true, "interval_minutes": 60});
    let r = t.put_json("/api/v1/sync/schedule", &admin, on).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Both replicas try at once: exactly one cycle runs.
    let (ra, rb) = tokio::join!(schedule::run_due(&a), schedule::run_due(&b));
    let ran: Vec<CycleOutcome> = [ra.expect("a"), rb.expect("b")]
        .into_iter()
        .filter(|o| matches!(o, CycleOutcome::Ran(_)))
        .collect();
    assert_eq!(ran.len(), 1, "one cycle, not two");
    match &ran[0] {
        CycleOutcome::Ran(c) => {
            assert_eq!(c.imported, ["DST", "SRC"]);
            assert_eq!(c.matched, ["SRC → DST"]);
            assert!(c.errors.is_empty(), "{:?}", c.errors);
        }
        _ => unreachable!(),
    }
    assert_eq!(t.app.store.import_runs(src).await.expect("runs").len(), 1);
    let translations = t.app.store.translations(None).await.expect("translations");
    assert_eq!(translations.len(), 2, "ann and bob matched");

    // Not again before the interval, on either replica.
    t.clock.advance(Duration::minutes(59));
    assert_eq!(
        schedule::run_due(&b).await.expect("run"),
        CycleOutcome::NotDue
    );
    assert_eq!(
        schedule::run_due(&a).await.expect("run"),
        CycleOutcome::NotDue
    );
    // While a replica holds the lease, the other does not run.
    t.clock.advance(Duration::minutes(1));
    assert!(t
        .app
        .store
        .acquire_lease(
            schedule::LEASE,
            "a",
            t.app.clock.now(),
            schedule::lease_ttl()
        )
        .await
        .expect("lease"));
    assert_eq!(
        schedule::run_due(&b).await.expect("run"),
        CycleOutcome::Busy
    );
    assert!(matches!(
        schedule::run_due(&a).await.expect("run"),
        CycleOutcome::Ran(_)
    ));
    assert_eq!(t.app.store.import_runs(src).await.expect("runs").len(), 2);

    // A directory that fails is recorded and the cycle goes on.
    std::fs::remove_file(files.path().join("src.json")).expect("remove");
    let r = t.post_json("/api/v1/sync/run", &admin, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["imported"], json!(["DST"]));
    let s = t.get("/api/v1/sync/schedule", &admin).await.json();
    assert!(
        s["last_error"].as_str().unwrap_or_default().contains("SRC"),
        "{}",
        s
    );
}

#[tokio::test]
async fn import_object_types_are_read_and_set_through_the_api_and_a_refusal_changes_nothing() {
    let t = TestApp::new().await;
    let ad = directory(&t, "CORP", "corp.test", DirectoryKind::ActiveDirectory).await;
    let admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let viewer = t.token_with_roles(&[Role::SyncViewer]).await;
    let path = format!("/api/v1/directories/{}/import-kinds", ad);

    let every = t.get(&path, &viewer).await;
    assert_eq!(every.status, 200, "{}", every.text());
    assert_eq!(
        every.json()["kinds"],
        json!(["User", "Group", "Computer", "Contact"])
    );
    let refused = t.put_json(&path, &viewer, json!({"kinds": ["User"]})).await;
    assert_eq!(refused.status, 403);
    let set = t
        .put_json(&path, &admin, json!({"kinds": ["Computer", "User"]}))
        .await;
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(set.json()["kinds"], json!(["User", "Computer"]));

    for bad in [json!({"kinds": []}), json!({"kinds": ["User", "Printer"]})] {
        let answer = t.put_json(&path, &admin, bad).await;
        assert_eq!(answer.status, 422, "{}", answer.text());
        assert!(answer.text().contains("\"kinds\""), "{}", answer.text());
    }
    let kept = t.get(&path, &viewer).await;
    assert_eq!(kept.json()["kinds"], json!(["User", "Computer"]));
    assert_eq!(
        server::directory::import_kinds::import_kinds(&t.app, ad)
            .await
            .expect("kinds"),
        vec![ObjectKind::User, ObjectKind::Computer]
    );
    let missing = format!(
        "/api/v1/directories/{}/import-kinds",
        model::ids::DirectoryId::new()
    );
    assert_eq!(t.get(&missing, &viewer).await.status, 404);
}

#[tokio::test]
async fn connection_timeouts_retries_and_urls_out_of_bounds_are_refused_and_nothing_is_stored() {
    let t = TestApp::new().await;
    let ad = directory(&t, "CORP", "corp.test", DirectoryKind::ActiveDirectory).await;
    let entra = directory(&t, "CLOUD", "cloud.test", DirectoryKind::EntraId).await;
    let admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let ldap_path = format!("/api/v1/directories/{}/connection", ad);
    let graph_path = format!("/api/v1/directories/{}/connection", entra);
    let fields = |r: &crate::support::TestResponse| -> Vec<String> {
        r.json()["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["field"].as_str().map(str::to_string))
            .collect()
    };
    let ldap = |url: &str, timeout: u64| {
        json!({"kind": "ldap", "url": url, "bind_dn": "CN=svc,DC=corp,DC=test",
            "password": PASSWORD, "timeout_seconds": timeout})
    };
    for (body, field) in [
        (ldap("ldaps://dc1.corp.test", 0), "timeout_seconds"),
        (ldap("ldaps://dc1.corp.test", 3601), "timeout_seconds"),
        (ldap("ldaps://dc1.corp.test ", 60), "url"),
    ] {
        let r = t.put_json(&ldap_path, &admin, body).await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert_eq!(fields(&r), [field]);
    }
    assert_eq!(
        t.get(&ldap_path, &admin).await.status,
        404,
        "nothing stored"
    );
    let graph = json!({"kind": "graph", "tenant_id": "cloud.test",
        "client_id": "72f988bf-86f1-41af-91ab-2d7cd011db47", "client_secret": "s",
        "graph_url": " https://graph.microsoft.com/v1.0",
        "timeout_seconds": u64::MAX, "max_retries": u32::MAX});
    let r = t.put_json(&graph_path, &admin, graph).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(fields(&r), ["graph_url", "timeout_seconds", "max_retries"]);
    assert_eq!(
        t.get(&graph_path, &admin).await.status,
        404,
        "nothing stored"
    );

    // The bounds themselves are accepted.
    let r = t
        .put_json(&ldap_path, &admin, ldap("ldaps://dc1.corp.test", 3600))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let graph = json!({"kind": "graph", "tenant_id": "cloud.test",
        "client_id": "72f988bf-86f1-41af-91ab-2d7cd011db47", "client_secret": "s",
        "timeout_seconds": 1, "max_retries": 20});
    let r = t.put_json(&graph_path, &admin, graph).await;
    assert_eq!(r.status, 200, "{}", r.text());
}
