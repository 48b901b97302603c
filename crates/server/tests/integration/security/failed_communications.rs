//! Refused registrations: repeats aggregate, the table is capped, an address is throttled.

use axum::body::Body;
use axum::http::{header, Method, Request};
use chrono::Duration;
use server::store::communications::{FailedCommunication, MAX_FAILED_COMMUNICATIONS};

use crate::agent_api::device::{world, TestAgent};
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
async fn bad_psk_registrations_from_one_address_are_one_row_and_then_throttled() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let attacker: std::net::IpAddr = "198.51.100.7".parse().expect("ip");
    let limit = server::limits::REFUSED_REGISTRATIONS_PER_ADDRESS;
    for i in 0..limit {
        let pc = TestAgent::new(&format!("MADE-UP-{i}"));
        let body = serde_json::to_value(pc.registration(&t, "not-the-psk")).expect("json");
        let r = t.request_from(attacker, register_request(&body)).await;
        assert_eq!(r.status, 403, "{}", r.text());
    }
    let sources = t.app.store.failed_sources(100).await.expect("read");
    assert_eq!(sources.len(), 1, "{sources:?}");
    assert_eq!(sources[0].repeats, i64::from(limit));
    assert_eq!(
        sources[0].last.remote_address.as_deref(),
        Some("198.51.100.7")
    );
    assert_eq!(
        sources[0].last.computer_name.as_deref(),
        Some(format!("MADE-UP-{}", limit - 1).as_str())
    );

    // Past the limit the address is turned away unread and unrecorded.
    let pc = TestAgent::new("ONE-MORE");
    let body = serde_json::to_value(pc.registration(&t, "not-the-psk")).expect("json");
    let r = t.request_from(attacker, register_request(&body)).await;
    assert_eq!(r.status, 429, "{}", r.text());
    let sources = t.app.store.failed_sources(100).await.expect("read");
    assert_eq!(sources[0].repeats, i64::from(limit));
    // Another address still registers.
    let good = TestAgent::new("PC1");
    let body = serde_json::to_value(good.registration(&t, &w.psk)).expect("json");
    let r = t
        .request_from("198.51.100.8".parse().expect("ip"), register_request(&body))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The window ends.
    t.clock
        .advance(server::limits::registration_window() + Duration::seconds(1));
    let r = t.request_from(attacker, register_request(&body)).await;
    assert_ne!(r.status, 429);
}

#[tokio::test]
async fn the_table_keeps_at_most_its_cap() {
    let t = TestApp::new().await;
    let start = t.app.clock.now();
    let cap = MAX_FAILED_COMMUNICATIONS as usize;
    for i in 0..cap + 25 {
        let f = FailedCommunication {
            at: start + Duration::milliseconds(i as i64),
            computer_name: None,
            remote_address: Some(format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)),
            code: "bad_psk".into(),
            message: "refused".into(),
        };
        t.app
            .store
            .insert_failed_communication(&f)
            .await
            .expect("insert");
    }
    let kept = t.app.store.failed_sources(1000).await.expect("read");
    assert_eq!(
        kept[0].last.remote_address.as_deref(),
        Some(format!("10.0.{}.{}", (cap + 24) / 256, (cap + 24) % 256)).as_deref()
    );
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM failed_communications")
        .fetch_one(t.app.store.pool())
        .await
        .expect("count");
    assert_eq!(count, MAX_FAILED_COMMUNICATIONS);
}
