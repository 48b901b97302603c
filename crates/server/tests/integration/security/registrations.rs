//! PSKs limited to a batch and a date, and registrations from an address that had been refused.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::Duration;
use serde_json::json;
use server::auth::Role;

use crate::agent_api::device::{world, TestAgent};
use crate::auth::console_session;
use crate::support::TestApp;

fn register_request(body: &serde_json::Value) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/agent/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

#[tokio::test]
async fn a_psk_limited_to_a_batch_and_a_date_registers_only_those_computers_until_then() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let admin = t.token_with_roles(&[Role::AgentAdmin]).await;
    let expires = t.app.clock.now() + Duration::hours(1);
    let past = t
        .post_json(
            "/api/v1/psks",
            &admin,
            json!({"expires_at": t.app.clock.now() - Duration::hours(1)}),
        )
        .await;
    assert_eq!(past.status, 422, "{}", past.text());
    assert_eq!(past.json()["fields"][0]["field"], "expires_at");
    let created = t
        .post_json(
            "/api/v1/psks",
            &admin,
            json!({"expires_at": expires, "batch": w.batch.id}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let psk = created.json()["key"].as_str().expect("key").to_string();
    let listed = t.get("/api/v1/psks", &admin).await.json();
    let mine = listed
        .as_array()
        .and_then(|l| l.iter().find(|p| p["id"] == created.json()["id"]).cloned())
        .expect("listed");
    assert_eq!(mine["batch"], json!(w.batch.id));
    assert!(mine["expires_at"].is_string(), "{mine}");
    assert!(mine.get("key").is_none());

    // PC3 is in no batch: refused. PC1 is in the batch: registered.
    let mut pc3 = TestAgent::new("PC3");
    let (status, refused) = pc3.register(&t, &psk).await.expect_err("not in the batch");
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refused.code, "psk_wrong_batch");
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &psk).await.expect("in the batch");
    // After the date, not even the batch's computers.
    t.clock.advance(Duration::hours(2));
    let mut pc2 = TestAgent::new("PC2");
    let (_, refused) = pc2.register(&t, &psk).await.expect_err("expired");
    assert_eq!(refused.code, "psk_expired");
    // The unlimited PSK of the world still registers it.
    pc2.register(&t, &w.psk).await.expect("unlimited PSK");
}

#[tokio::test]
async fn a_registration_from_an_address_refused_before_is_pointed_out() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let prober: std::net::IpAddr = "198.51.100.9".parse().expect("ip");
    let guess = TestAgent::new("PC1");
    let body = serde_json::to_value(guess.registration(&t, "a-guessed-psk")).expect("json");
    assert_eq!(
        t.request_from(prober, register_request(&body)).await.status,
        403
    );
    t.clock.advance(Duration::minutes(1));
    let pc1 = TestAgent::new("PC1");
    let body = serde_json::to_value(pc1.registration(&t, &w.psk)).expect("json");
    let registered = t.request_from(prober, register_request(&body)).await;
    assert_eq!(registered.status, 200, "{}", registered.text());
    let pc2 = TestAgent::new("PC2");
    let body = serde_json::to_value(pc2.registration(&t, &w.psk)).expect("json");
    let clean = "198.51.100.10".parse().expect("ip");
    assert_eq!(
        t.request_from(clean, register_request(&body)).await.status,
        200
    );

    let session = console_session(&t, &[Role::AgentViewer]).await;
    let page = |name: &'static str| {
        let t = &t;
        let token = session.token.clone();
        async move {
            let agents = t.app.store.agents().await.expect("agents");
            let agent = agents
                .iter()
                .find(|a| a.computer_name == name)
                .expect("registered");
            t.request(
                Request::builder()
                    .uri(format!("/agents/{}", agent.id))
                    .header(header::COOKIE, format!("rehome_session={token}"))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .text()
        }
    };
    let flagged = page("PC1").await;
    assert!(flagged.contains("198.51.100.9"), "{flagged}");
    assert!(flagged.contains("had been refused before"), "{flagged}");
    let fine = page("PC2").await;
    assert!(fine.contains("198.51.100.10"), "{fine}");
    assert!(!fine.contains("had been refused before"), "{fine}");
}
