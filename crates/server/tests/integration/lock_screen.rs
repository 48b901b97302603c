//! Lock-screen images: uploads checked by their bytes, stored once by hash, runbooks naming only
//! stored images, deletion refused while a runbook shows one, and the agent fetching the image
//! of its runbook and nothing else.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use model::protocol::{kinds, CommandPackageRequest, CommandPackageResponse};
use serde_json::json;
use server::auth::Role;

use crate::agent_api::{world, TestAgent};
use crate::support::{TestApp, TestResponse};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR migration in progress";

async fn upload(t: &TestApp, token: &str, name: &str, bytes: &[u8]) -> TestResponse {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/lock-screen-images?name={name}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(bytes.to_vec()))
        .expect("request");
    t.request(request).await
}

fn field(r: &TestResponse) -> String {
    r.json()["fields"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_lock_screen_image_is_stored_once_named_by_runbooks_and_served_to_their_devices_only() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let token = t.token_with_roles(&[Role::AgentAdmin]).await;

    // Refusals name the field; a viewer may not upload.
    let r = upload(&t, &token, "notes.txt", PNG).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(field(&r), "name");
    let r = upload(&t, &token, "fake.png", b"GIF89a not a png").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(field(&r), "body");
    let viewer = t.token_with_roles(&[Role::AgentViewer]).await;
    assert_eq!(
        upload(&t, &viewer, "a.png", PNG).await.status,
        StatusCode::FORBIDDEN
    );

    // The same bytes twice are one image, under the first name.
    let first = upload(&t, &token, "migration.png", PNG).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let again = upload(&t, &token, "copy.png", PNG).await;
    assert_eq!(again.status, StatusCode::OK);
    let sha = first.json()["sha256"].as_str().expect("hash").to_string();
    assert_eq!(sha, model::protocol::sha256_hex(PNG));
    assert_eq!(again.json()["name"], "migration.png");
    let listed = t.get("/api/v1/lock-screen-images", &viewer).await.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let other = upload(&t, &token, "other.bmp", b"BM other image").await;
    let other_sha = other.json()["sha256"].as_str().expect("hash").to_string();

    // A runbook may only show a stored image.
    let path = format!("/api/v1/runbooks/{}", w.runbook.id);
    let mut body = t.get(&path, &token).await.json();
    body["startup"]["lock_screen_image"] =
        json!({"kind": "Custom", "name": "missing.png", "sha256": "cd".repeat(32)});
    let r = t.put_json(&path, &token, body.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(field(&r), "startup.lock_screen_image.sha256");
    body["startup"]["lock_screen_image"] =
        json!({"kind": "Custom", "name": "migration.png", "sha256": sha});
    let r = t.put_json(&path, &token, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // Listed with the runbook that shows it, and kept while it does.
    let listed = t.get("/api/v1/lock-screen-images", &token).await.json();
    let image = listed
        .as_array()
        .and_then(|l| l.iter().find(|p| p["sha256"] == json!(sha)).cloned())
        .expect("listed");
    assert_eq!(image["used_by"][0]["name"], "Move to Fabrikam");
    let refused = t
        .delete(&format!("/api/v1/lock-screen-images/{sha}"), &token)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());

    // PC1 runs that runbook: it gets the image, and not another.
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");
    let got: CommandPackageResponse = pc1
        .call(
            &t,
            kinds::LOCK_SCREEN_IMAGE,
            &CommandPackageRequest {
                sha256: sha.clone(),
            },
        )
        .await
        .expect("image");
    assert_eq!(got.verified_bytes(&sha).expect("hash matches"), PNG);
    let (status, refusal) = pc1
        .call::<_, CommandPackageResponse>(
            &t,
            kinds::LOCK_SCREEN_IMAGE,
            &CommandPackageRequest {
                sha256: other_sha.clone(),
            },
        )
        .await
        .expect_err("not its image");
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refusal.code, "not_assigned");

    // Once no runbook shows it, it can go.
    body["startup"]["lock_screen_image"] = json!({"kind": "Builtin"});
    assert_eq!(t.put_json(&path, &token, body).await.status, StatusCode::OK);
    let deleted = t
        .delete(&format!("/api/v1/lock-screen-images/{sha}"), &token)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = t
        .delete(&format!("/api/v1/lock-screen-images/{sha}"), &token)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}
