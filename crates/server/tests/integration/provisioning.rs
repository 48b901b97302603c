//! Provisioning packages of an Entra target: uploaded raw by an agent administrator, stored
//! sealed, shown only as name, size, SHA-256 and upload time, replaced and deleted, recorded in
//! the audit trail without their bytes, and handed to a device only with its final check-in.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::Engine;
use chrono::Duration;
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::directory::{DirectoryKind, ObjectKind};
use model::ids::{BatchId, DirectoryId};
use serde_json::json;
use server::auth::Role;
use sqlx::Row;

use crate::agent_api::TestAgent;
use crate::directory::{directory, import, object};
use crate::support::{TestApp, TestResponse};

/// Bytes standing in for a package: the text is what a leak would show.
const PACKAGE: &[u8] = b"MSCF\0\0\0\0 Accounts/Azure/BPRT=eyJsecret-bprt-one";
const REPLACEMENT: &[u8] = b"MSCF\0\0\0\0 Accounts/Azure/BPRT=eyJsecret-bprt-two";

fn path(dst: DirectoryId) -> String {
    format!("/api/v1/directories/{dst}/provisioning-package")
}

async fn put(t: &TestApp, token: &str, uri: &str, bytes: Vec<u8>) -> TestResponse {
    let request = Request::builder()
        .method(Method::PUT)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(bytes))
        .expect("request");
    t.request(request).await
}

fn field_of(r: &TestResponse) -> String {
    r.json()["fields"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn leaks(text: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    text.contains("secret-bprt")
        || text.contains(&b64.encode(PACKAGE))
        || text.contains(&b64.encode(REPLACEMENT))
}

#[tokio::test]
async fn an_uploaded_package_is_sealed_shown_without_its_bytes_and_reaches_the_device_at_the_final_check_in(
) {
    let t = TestApp::new().await;
    let token = t.token_with_roles(&[Role::AgentAdmin]).await;
    let src = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let dst = directory(&t, "FABRIKAM", "fabrikam.test", DirectoryKind::EntraId).await;
    let pc = object(ObjectKind::Computer, "PC1", "PC1$", None);
    let pc1 = pc.guid;
    import(&t, src, "contoso.test", vec![pc]).await;
    let runbook = json!({
        "name": "Join Fabrikam",
        "source_directories": [src],
        "target_directory": dst,
        "device_state": {"remove_from": "ActiveDirectory", "domain_join": "Entra"},
    });

    // Without a token or a package an Entra join cannot be saved; nothing to show yet.
    let refused = t
        .post_json("/api/v1/runbooks", &token, runbook.clone())
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_of(&refused), "device_state.domain_join");
    assert_eq!(
        t.get(&path(dst), &token).await.status,
        StatusCode::NOT_FOUND
    );

    let uri = format!("{}?name=join-fabrikam.ppkg", path(dst));
    let stored = put(&t, &token, &uri, PACKAGE.to_vec()).await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());
    let sha = model::protocol::sha256_hex(PACKAGE);
    let shown = t.get(&path(dst), &token).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.json()["name"], "join-fabrikam.ppkg");
    assert_eq!(shown.json()["size"], PACKAGE.len());
    assert_eq!(shown.json()["sha256"], sha.as_str());
    assert_eq!(shown.json(), stored.json());
    assert!(!leaks(&shown.text()), "{}", shown.text());
    // A viewer of the migration side sees it too, and may not change it.
    let viewer = t.token_with_roles(&[Role::AgentViewer]).await;
    assert_eq!(t.get(&path(dst), &viewer).await.status, StatusCode::OK);
    let forbidden = put(&t, &viewer, &uri, REPLACEMENT.to_vec()).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        t.delete(&path(dst), &viewer).await.status,
        StatusCode::FORBIDDEN
    );

    // Stored sealed.
    let rows = sqlx::query("SELECT secret FROM provisioning_packages")
        .fetch_all(t.app.store.pool())
        .await
        .expect("raw rows");
    assert_eq!(rows.len(), 1);
    let sealed: String = rows[0].try_get(0).expect("text");
    assert!(sealed.starts_with("v1:") && !leaks(&sealed), "{sealed}");

    // The package lets the runbook save, and PC1 gets it with its final check-in only.
    let saved = t.post_json("/api/v1/runbooks", &token, runbook).await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.text());
    let psk = server::migration::keys::create_psk(&t.app, Default::default())
        .await
        .expect("psk")
        .key;
    server::migration::keys::create_certificate(&t.app, Default::default())
        .await
        .expect("certificate");
    let batch = Batch {
        id: BatchId::new(),
        name: "Wave 1".into(),
        source_directory: src,
        target_directory: dst,
        assignments: vec![Assignment {
            runbook: serde_json::from_value(saved.json()["id"].clone()).expect("id"),
            available_from: None,
            enforced_after: (crate::agent_api::now(&t) + Duration::days(1)).naive_utc(),
            timezone: ScheduleTimezone::Utc,
        }],
        computers: ComputerSelection {
            mode: SelectionMode::NoneExcept,
            computers: vec![pc1],
        },
    };
    server::migration::batches::create(&t.app, batch)
        .await
        .expect("batch");
    let mut agent = TestAgent::new("PC1");
    agent.register(&t, &psk).await.expect("registered");
    let waiting = agent.check_in(&t, false, vec![]).await.assignment;
    let waiting = waiting.expect("assigned");
    assert!(waiting.provisioning_package.is_none(), "not before the run");
    // The target was never imported: no tenant id, and its domain is what the join's account
    // is checked against.
    let first = agent
        .check_in(&t, true, vec![])
        .await
        .assignment
        .and_then(|a| a.provisioning_package.clone())
        .expect("the package");
    assert_eq!(
        (first.tenant_id, first.tenant_domains),
        (None, vec!["fabrikam.test".to_string()])
    );
    let delivered = |answer: model::protocol::CheckInResponse| {
        answer
            .assignment
            .expect("assigned")
            .provisioning_package
            .as_ref()
            .map(|p| (p.name.clone(), p.sha256.clone(), p.bytes()))
    };
    assert_eq!(
        delivered(agent.check_in(&t, true, vec![]).await),
        Some((
            "join-fabrikam.ppkg".to_string(),
            sha.clone(),
            Ok(PACKAGE.to_vec())
        ))
    );

    // A new upload replaces it, for devices too.
    t.clock.advance(Duration::minutes(5));
    let uri = format!("{}?name=join-fabrikam-v2.ppkg", path(dst));
    let replaced = put(&t, &token, &uri, REPLACEMENT.to_vec()).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text());
    let sha2 = model::protocol::sha256_hex(REPLACEMENT);
    assert_eq!(replaced.json()["sha256"], sha2.as_str());
    assert_ne!(replaced.json()["uploaded_at"], stored.json()["uploaded_at"]);
    assert_eq!(
        delivered(agent.check_in(&t, true, vec![]).await).map(|(_, sha, _)| sha),
        Some(sha2.clone())
    );

    // Deleted: nothing to show, nothing for devices, and a second delete finds nothing.
    assert_eq!(
        t.delete(&path(dst), &token).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.get(&path(dst), &token).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(delivered(agent.check_in(&t, true, vec![]).await), None);
    assert_eq!(
        t.delete(&path(dst), &token).await.status,
        StatusCode::NOT_FOUND
    );

    // The trail has the upload, the replacement and the deletion, by hash, never the bytes.
    let tenant = t.token_with_roles(&[Role::TenantAdmin]).await;
    let trail = t.get("/api/v1/audit", &tenant).await;
    let entries = trail.json();
    let ours: Vec<&serde_json::Value> = entries
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.contains("/provisioning-package"))
                && e["status"].as_u64().is_some_and(|s| s < 300)
        })
        .collect();
    let afters: Vec<String> = ours
        .iter()
        .map(|e| e["after"]["sha256"].as_str().unwrap_or("none").to_string())
        .collect();
    assert_eq!(ours.len(), 3, "{}", trail.text());
    for expected in [sha.as_str(), sha2.as_str(), "none"] {
        assert!(afters.iter().any(|a| a == expected), "{afters:?}");
    }
    assert!(!leaks(&trail.text()), "the trail holds the package");
}

#[tokio::test]
async fn bad_uploads_name_what_is_wrong_and_change_nothing() {
    let t = TestApp::new().await;
    let token = t.token_with_roles(&[Role::AgentAdmin]).await;
    let ad = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let dst = directory(&t, "FABRIKAM", "fabrikam.test", DirectoryKind::EntraId).await;
    let named = |d: DirectoryId, name: &str| format!("{}?name={name}", path(d));
    for (uri, bytes, field) in [
        (path(dst), PACKAGE.to_vec(), "name"),
        (named(dst, "join.zip"), PACKAGE.to_vec(), "name"),
        (named(dst, "join.ppkg"), Vec::new(), "body"),
        (named(ad, "join.ppkg"), PACKAGE.to_vec(), "id"),
        (
            "/api/v1/directories/not-an-id/provisioning-package?name=join.ppkg".to_string(),
            PACKAGE.to_vec(),
            "id",
        ),
    ] {
        let r = put(&t, &token, &uri, bytes).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        assert_eq!(field_of(&r), field, "{uri}: {}", r.text());
    }
    let too_big = vec![7u8; server::enrollment::provisioning::MAX_PACKAGE_BYTES + 1];
    let r = put(&t, &token, &named(dst, "join.ppkg"), too_big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(r.text().contains("4 MiB"), "{}", r.text());
    let unknown = named(DirectoryId::new(), "join.ppkg");
    assert_eq!(
        put(&t, &token, &unknown, PACKAGE.to_vec()).await.status,
        StatusCode::NOT_FOUND
    );
    // None of it stored anything.
    assert_eq!(
        t.get(&path(dst), &token).await.status,
        StatusCode::NOT_FOUND
    );
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM provisioning_packages")
        .fetch_one(t.app.store.pool())
        .await
        .expect("count");
    assert_eq!(count, 0);
}
