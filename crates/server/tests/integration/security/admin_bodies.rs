//! The admin API's large bodies (directory documents, command packages) are read only for a
//! caller whose role may send them, so a signed-in user with any role cannot make the server
//! hold hundreds of megabytes.

use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request, StatusCode};
use server::auth::Role;

use crate::support::TestApp;

/// A body that fails after its first chunk: a handler that reads it cannot answer for the role.
fn failing_body() -> Body {
    let chunks = vec![
        Ok(Bytes::from(vec![b' '; 64 * 1024])),
        Err(std::io::Error::other("the client went away")),
    ];
    Body::from_stream(futures_util::stream::iter(chunks))
}

async fn post(t: &TestApp, path: &str, token: &str) -> StatusCode {
    t.request(
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(failing_body())
            .expect("request"),
    )
    .await
    .status
}

#[tokio::test]
async fn large_bodies_are_read_only_for_callers_allowed_to_send_them() {
    let t = TestApp::new().await;
    let import = format!("/api/v1/directories/{}/import", uuid::Uuid::new_v4());
    let upload = "/api/v1/command-packages?name=tools.zip";

    // Refused on the role alone: the body was never read.
    let viewer = t
        .token_with_roles(&[Role::SyncViewer, Role::AgentViewer])
        .await;
    assert_eq!(post(&t, &import, &viewer).await, StatusCode::FORBIDDEN);
    assert_eq!(post(&t, upload, &viewer).await, StatusCode::FORBIDDEN);

    // Allowed: the body is read, and its failure is reported.
    let operator = t
        .token_with_roles(&[Role::SyncOperator, Role::AgentAdmin])
        .await;
    assert_eq!(
        post(&t, &import, &operator).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        post(&t, upload, &operator).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
