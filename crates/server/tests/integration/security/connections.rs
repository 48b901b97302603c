//! Directory connections: a stored secret goes only where it was sent, and file connections read
//! only what the server was told they may.

use model::directory::DirectoryKind;
use serde_json::json;
use server::auth::Role;
use server::directory::connection::{self, Connection};
use server::Settings;

use crate::directory::directory;
use crate::support::TestApp;

const PASSWORD: &str = "bind-pass-Zq81xv";

#[tokio::test]
async fn a_sync_admin_cannot_send_a_stored_secret_to_another_server() {
    let t = TestApp::new().await;
    let ad = directory(&t, "CORP", "corp.test", DirectoryKind::ActiveDirectory).await;
    let entra = directory(&t, "CLOUD", "cloud.test", DirectoryKind::EntraId).await;
    let sync_admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let tenant_admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let ldap = format!("/api/v1/directories/{ad}/connection");
    let set = |url: &str, accept_invalid: bool, password: Option<&str>| {
        let mut body = json!({"kind": "ldap", "url": url, "bind_dn": "CN=svc,DC=corp,DC=test",
            "accept_invalid_certs": accept_invalid});
        if let Some(p) = password {
            body["password"] = json!(p);
        }
        body
    };
    let first = t
        .put_json(
            &ldap,
            &sync_admin,
            set("ldaps://dc1.corp.test", false, Some(PASSWORD)),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text());

    for moved in [
        set("ldap://collector.evil.example", false, None),
        set("ldaps://dc1.corp.test", true, None),
    ] {
        let r = t.put_json(&ldap, &sync_admin, moved).await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert_eq!(r.json()["fields"][0]["field"], "password");
    }
    match connection::stored(&t.app, ad).await.expect("read") {
        Some(Connection::Ldap(c)) => assert_eq!(c.url, "ldaps://dc1.corp.test"),
        other => panic!("an LDAP connection, not {other:?}"),
    }
    // With the password given again, or by a Tenant admin, the server may change.
    let again = set("ldaps://dc2.corp.test", false, Some(PASSWORD));
    assert_eq!(t.put_json(&ldap, &sync_admin, again).await.status, 200);
    let moved = set("ldaps://dc3.corp.test", false, None);
    assert_eq!(t.put_json(&ldap, &tenant_admin, moved).await.status, 200);

    // Graph: the token authority is where the client secret goes.
    let graph = format!("/api/v1/directories/{entra}/connection");
    let body = json!({"kind": "graph", "tenant_id": "cloud.test", "client_id": "11111111-2222-3333-4444-555555555555",
        "client_secret": "client-s3cret"});
    let r = t.put_json(&graph, &sync_admin, body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let redirected = json!({"kind": "graph", "tenant_id": "cloud.test", "client_id": "11111111-2222-3333-4444-555555555555",
        "authority_url": "https://login.evil.example"});
    let r = t.put_json(&graph, &sync_admin, redirected).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["fields"][0]["field"], "client_secret");
}

#[tokio::test]
async fn file_connections_stay_inside_the_documents_folder() {
    let documents = tempdir();
    let t = TestApp::with_settings(Settings {
        directory_documents: Some(documents.clone()),
        ..Settings::default()
    })
    .await;
    let ad = directory(&t, "CORP", "corp.test", DirectoryKind::ActiveDirectory).await;
    let sync_admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let tenant_admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let path = format!("/api/v1/directories/{ad}/connection");
    let file = |p: &str| json!({"kind": "file", "path": p});

    for outside in [
        "/etc/shadow".to_string(),
        "/dev/zero".to_string(),
        format!("{}/../escape.json", documents.display()),
    ] {
        let r = t.put_json(&path, &sync_admin, file(&outside)).await;
        assert_eq!(r.status, 422, "{outside}: {}", r.text());
        // The same answer whether the file exists or not: no existence oracle.
        assert!(!r.text().contains("No such file"), "{}", r.text());
    }
    let inside = documents.join("corp.json");
    std::fs::write(&inside, r#"{"domain": "corp.test", "objects": []}"#).expect("write");
    let ok = t
        .put_json(&path, &sync_admin, file(&inside.display().to_string()))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());

    // A Tenant admin may name any file, but devices and folders are refused before any reading.
    let device = t.put_json(&path, &tenant_admin, file("/dev/zero")).await;
    assert_eq!(device.status, 200, "{}", device.text());
    let sync = t
        .post_json(
            &format!("/api/v1/directories/{ad}/sync"),
            &tenant_admin,
            json!({"mode": "full"}),
        )
        .await;
    assert_eq!(sync.status, 422, "{}", sync.text());
    assert!(
        sync.text().contains("not a regular file"),
        "{}",
        sync.text()
    );
    let _ = std::fs::remove_dir_all(&documents);
}

#[tokio::test]
async fn without_a_documents_folder_only_tenant_admins_set_file_connections() {
    let t = TestApp::new().await;
    let ad = directory(&t, "CORP", "corp.test", DirectoryKind::ActiveDirectory).await;
    let sync_admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let tenant_admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let path = format!("/api/v1/directories/{ad}/connection");
    let body = json!({"kind": "file", "path": "/srv/corp.json"});
    assert_eq!(
        t.put_json(&path, &sync_admin, body.clone()).await.status,
        403
    );
    assert_eq!(t.put_json(&path, &tenant_admin, body).await.status, 200);
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rehome-docs-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("create");
    dir
}

#[tokio::test]
async fn a_directory_name_cannot_forge_a_log_line() {
    let logs = crate::auth::capture_logs();
    let t = TestApp::new().await;
    let forged = "CORP\nINFO server: user created by=admin user=eve-forged";
    // Such a name is refused now; one stored before that still reaches the log.
    let ad = model::ids::DirectoryId::new();
    let stored = model::directory::Directory {
        id: ad,
        name: forged.to_string(),
        kind: DirectoryKind::ActiveDirectory,
        domain: "corp.test".to_string(),
        domain_id: None,
    };
    t.app
        .store
        .insert_directory(&stored, t.app.clock.now())
        .await
        .expect("stored as an older version would have");
    let sync_admin = t.token_with_roles(&[Role::SyncAdmin]).await;
    let body = json!({"kind": "ldap", "url": "ldaps://dc.corp.test", "bind_dn": "CN=svc,DC=corp,DC=test",
        "password": PASSWORD});
    let r = t
        .put_json(
            &format!("/api/v1/directories/{ad}/connection"),
            &sync_admin,
            body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = logs.text();
    assert!(text.contains("directory connection set"), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("INFO server: user created by=admin user=eve-forged")),
        "{text}"
    );
    assert!(!text.contains(PASSWORD));
}
