//! Agent request bodies: strangers get no more than a registration's worth of memory.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use model::ids::AgentId;
use model::protocol::{kinds, TranslateRequest, TranslateResponse};
use server::agent_api::{MAX_REGISTER_BYTES, MAX_UPLOAD_BYTES};

use crate::agent_api::device::{world, TestAgent};
use crate::support::{TestApp, TestResponse};

async fn post(t: &TestApp, path: &str, body: Vec<u8>) -> TestResponse {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    t.request(request).await
}

#[tokio::test]
async fn large_bodies_are_read_only_for_a_registered_agent() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc = TestAgent::new("PC1");
    pc.register(&t, &w.psk).await.expect("registered");
    let junk = || vec![b'x'; MAX_REGISTER_BYTES * 2];

    for path in [
        "/agent/events".to_string(),
        format!("/agent/events?agent={}", AgentId::new()),
        "/agent/check-in?agent=not-an-id".to_string(),
    ] {
        let r = post(&t, &path, junk()).await;
        assert_eq!(
            r.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{path}: {}",
            r.text()
        );
        assert_eq!(r.json()["code"], "too_large");
    }
    // Named by a registered agent, the body is read and then judged as an envelope.
    let r = post(&t, &format!("/agent/events?agent={}", pc.id()), junk()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert_eq!(r.json()["code"], "malformed");
    // Small bodies need no name.
    let r = post(&t, "/agent/events", b"{}".to_vec()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    // Past the upload limit nothing is read for anyone.
    let r = post(
        &t,
        &format!("/agent/events?agent={}", pc.id()),
        vec![b'x'; MAX_UPLOAD_BYTES + 1],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);

    // A real large request of the agent goes through.
    let sids = (0..6_000)
        .map(|i| {
            format!("S-1-5-21-9-9-9-{}", 10_000 + i)
                .parse()
                .expect("sid")
        })
        .collect();
    let got: TranslateResponse = pc
        .call(&t, kinds::TRANSLATE, &TranslateRequest { sids })
        .await
        .expect("translate");
    assert!(got.translations.is_empty());
}

#[tokio::test]
async fn large_bodies_wait_for_a_place_and_are_refused_busy_meanwhile() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc = TestAgent::new("PC1");
    pc.register(&t, &w.psk).await.expect("registered");
    // The agent already has a large body in flight.
    let held = t.app.limits.uploads.admit(pc.id(), None).expect("a place");
    let r = post(
        &t,
        &format!("/agent/events?agent={}", pc.id()),
        vec![b'x'; MAX_REGISTER_BYTES * 2],
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text());
    assert_eq!(r.json()["code"], "busy");
    drop(held);
    let r = post(
        &t,
        &format!("/agent/events?agent={}", pc.id()),
        vec![b'x'; MAX_REGISTER_BYTES * 2],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
