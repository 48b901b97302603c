//! Licences: applied by tenant administrators under `/api/v1/licences`, and enforced when an
//! agent would start a migration runbook, but only when the server trusts an issuer.

use axum::http::StatusCode;
use chrono::Duration;
use model::ids::LicenceId;
use model::licence::{issue, IssuerKey, Licence, Product};
use model::protocol::CheckInResponse;
use server::auth::Role;
use server::Settings;

use crate::agent_api::{now, world, TestAgent};
use crate::support::TestApp;

/// An app that trusts `key` as a licence issuer.
async fn licensed_app(key: &IssuerKey) -> TestApp {
    TestApp::with_settings(Settings {
        licence_issuers: vec![key.public()],
        ..Settings::default()
    })
    .await
}

/// A licence issued now by the test app's clock, for the world's domains.
fn licence(t: &TestApp, products: &[Product], devices: u32) -> Licence {
    Licence {
        id: LicenceId::new(),
        customer: "Contoso Ltd".into(),
        products: products.to_vec(),
        source_domains: vec!["contoso.test".into()],
        target_domains: vec!["fabrikam.test".into(), "fabrikam.onmicrosoft.com".into()],
        devices,
        issued_at: now(t),
        expires_at: now(t) + Duration::days(365),
        issuer: model::envelope::Key32([0; 32]),
    }
}

fn migration(t: &TestApp, devices: u32) -> Licence {
    licence(t, &[Product::Migration], devices)
}

async fn apply(t: &TestApp, token: &str, text: &str) -> crate::support::TestResponse {
    t.post_json(
        "/api/v1/licences",
        token,
        serde_json::json!({ "licence": text }),
    )
    .await
}

fn blocked_code(answer: &CheckInResponse) -> Option<&str> {
    answer.blocked.as_ref().map(|b| b.code.as_str())
}

#[tokio::test]
async fn tenant_admins_apply_list_and_remove_licences() {
    let key = IssuerKey::generate();
    let t = licensed_app(&key).await;
    let admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let agent_admin = t.token_with_roles(&[Role::AgentAdmin]).await;
    let viewer = t.token_with_roles(&[Role::SyncViewer]).await;
    let text = issue(&key, &licence(&t, &[Product::Sync, Product::Migration], 40)).expect("issue");

    let refused = apply(&t, &agent_admin, &text).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let applied = apply(&t, &admin, &format!("\n{}\n", text)).await;
    assert_eq!(applied.status, StatusCode::CREATED, "{}", applied.text());
    let body = applied.json();
    assert_eq!(body["products"], serde_json::json!(["sync", "migration"]));
    assert_eq!(
        body["target_domains"],
        serde_json::json!(["fabrikam.onmicrosoft.com", "fabrikam.test"])
    );
    assert_eq!(
        (body["devices"].as_u64(), body["devices_used"].as_u64()),
        (Some(40), Some(0))
    );
    assert_eq!(body["status"], "valid");
    assert_eq!(body["customer"], "Contoso Ltd");

    let again = apply(&t, &admin, &text).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.json()["fields"][0]["field"], "licence");
    assert!(again.text().contains("applied already"), "{}", again.text());

    let listed = t.get("/api/v1/licences", &viewer).await;
    assert_eq!(listed.status, StatusCode::OK);
    let listed = listed.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], body["id"]);

    let path = format!("/api/v1/licences/{}", body["id"].as_str().expect("id"));
    assert_eq!(
        t.delete(&path, &agent_admin).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(t.delete(&path, &admin).await.status, StatusCode::NO_CONTENT);
    assert_eq!(t.delete(&path, &admin).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        t.get("/api/v1/licences", &admin).await.json(),
        serde_json::json!([])
    );
}

#[tokio::test]
async fn a_bad_licence_is_refused_naming_the_field_and_the_reason() {
    let key = IssuerKey::generate();
    let t = licensed_app(&key).await;
    let admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let field_error = |r: &crate::support::TestResponse| {
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(r.json()["fields"][0]["field"], "licence");
        r.json()["fields"][0]["message"]
            .as_str()
            .expect("message")
            .to_string()
    };

    let garbage = apply(&t, &admin, "REHOME-LICENCE-1.nonsense").await;
    assert!(field_error(&garbage).contains("not a valid licence"));

    let stranger = IssuerKey::generate();
    let foreign = issue(&stranger, &migration(&t, 5)).expect("issue");
    let untrusted = apply(&t, &admin, &foreign).await;
    assert!(field_error(&untrusted).contains(&stranger.public_text()));

    // Issued 30 days and one minute ago: too late to apply, and the message gives the date.
    let mut old = migration(&t, 5);
    old.issued_at = now(&t) - Duration::days(30) - Duration::minutes(1);
    let late = apply(&t, &admin, &issue(&key, &old).expect("issue")).await;
    let message = field_error(&late);
    assert!(message.contains("within 30 days"), "{}", message);
    assert!(message.contains("2025-01-06 08:59:00 UTC"), "{}", message);

    let mut expired = migration(&t, 5);
    expired.issued_at = now(&t) - Duration::days(2);
    expired.expires_at = now(&t) - Duration::days(1);
    let gone = apply(&t, &admin, &issue(&key, &expired).expect("issue")).await;
    assert!(field_error(&gone).contains("expired"));

    let missing = t
        .post_json("/api/v1/licences", &admin, serde_json::json!({}))
        .await;
    assert_eq!(missing.json()["fields"][0]["field"], "body");

    // Nothing was stored.
    assert_eq!(
        t.get("/api/v1/licences", &admin).await.json(),
        serde_json::json!([])
    );
}

#[tokio::test]
async fn devices_within_the_count_run_and_the_next_device_is_held_back() {
    let key = IssuerKey::generate();
    let t = licensed_app(&key).await;
    let w = world(&t).await;
    let admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");
    let mut pc2 = TestAgent::new("pc2");
    pc2.register(&t, &w.psk).await.expect("registered");

    // No licence at all: held back with the reason.
    let answer = pc1.check_in(&t, false, vec![]).await;
    assert!(answer.assignment.is_none());
    let blocked = answer.blocked.expect("a reason");
    assert_eq!(
        (blocked.code.as_str(), blocked.runbook, blocked.batch),
        ("no_licence", w.runbook.id, w.batch.id)
    );
    assert!(blocked.message.contains("contoso.test") && blocked.message.contains("fabrikam.test"));

    let applied = apply(&t, &admin, &issue(&key, &migration(&t, 1)).expect("issue")).await;
    assert_eq!(applied.status, StatusCode::CREATED, "{}", applied.text());

    // A regular check-in gets the assignment without taking the slot; both devices could start.
    for pc in [&pc1, &pc2] {
        let answer = pc.check_in(&t, false, vec![]).await;
        assert!(answer.assignment.is_some() && answer.blocked.is_none());
    }
    let used =
        || async { t.get("/api/v1/licences", &admin).await.json()[0]["devices_used"].as_u64() };
    assert_eq!(used().await, Some(0));

    // pc1 starts first and takes the only slot; pc2's start is held back.
    t.clock.advance(Duration::hours(10));
    let answer = pc1.check_in(&t, true, vec![]).await;
    assert!(answer.assignment.is_some(), "{:?}", answer.blocked);
    assert_eq!(used().await, Some(1));
    let answer = pc2.check_in(&t, true, vec![]).await;
    assert!(answer.assignment.is_none());
    assert_eq!(blocked_code(&answer), Some("licence_full"));
    assert!(
        answer
            .blocked
            .as_ref()
            .expect("reason")
            .message
            .contains("allows 1 devices"),
        "{:?}",
        answer.blocked
    );
    let answer = pc2.check_in(&t, false, vec![]).await;
    assert_eq!(blocked_code(&answer), Some("licence_full"));

    // A counted device continues, is never counted twice, even with the licence removed.
    for _ in 0..2 {
        let answer = pc1.check_in(&t, true, vec![]).await;
        assert!(answer.assignment.is_some());
    }
    assert_eq!(used().await, Some(1));
    let id = applied.json()["id"].as_str().expect("id").to_string();
    t.delete(&format!("/api/v1/licences/{id}"), &admin).await;
    assert!(pc1.check_in(&t, true, vec![]).await.assignment.is_some());

    // Another licence with room lets pc2 start.
    let more = apply(&t, &admin, &issue(&key, &migration(&t, 5)).expect("issue")).await;
    assert_eq!(more.status, StatusCode::CREATED, "{}", more.text());
    assert!(pc2.check_in(&t, true, vec![]).await.assignment.is_some());
    assert_eq!(used().await, Some(1));
}

#[tokio::test]
async fn a_licence_for_other_domains_or_only_sync_does_not_count() {
    let key = IssuerKey::generate();
    let t = licensed_app(&key).await;
    let w = world(&t).await;
    let admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");

    let mut reversed = migration(&t, 10);
    reversed.source_domains = vec!["fabrikam.test".into()];
    reversed.target_domains = vec!["contoso.test".into()];
    let mut other = migration(&t, 10);
    other.source_domains = vec!["contoso.local".into()];
    for l in [reversed, other, licence(&t, &[Product::Sync], 10)] {
        let r = apply(&t, &admin, &issue(&key, &l).expect("issue")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    for final_check in [false, true] {
        let answer = pc1.check_in(&t, final_check, vec![]).await;
        assert!(answer.assignment.is_none());
        assert_eq!(blocked_code(&answer), Some("no_licence"));
    }
}

#[tokio::test]
async fn an_expired_licence_holds_new_devices_back() {
    let key = IssuerKey::generate();
    let t = licensed_app(&key).await;
    let w = world(&t).await;
    let admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let mut short = migration(&t, 10);
    short.expires_at = now(&t) + Duration::days(2);
    let r = apply(&t, &admin, &issue(&key, &short).expect("issue")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");
    assert!(pc1.check_in(&t, false, vec![]).await.assignment.is_some());

    // At the expiry instant a device not yet counted is held back.
    t.clock.advance(Duration::days(2));
    let mut pc2 = TestAgent::new("pc2");
    pc2.register(&t, &w.psk).await.expect("registered");
    let answer = pc2.check_in(&t, true, vec![]).await;
    assert!(answer.assignment.is_none());
    assert_eq!(blocked_code(&answer), Some("licence_expired"));
    assert!(answer
        .blocked
        .expect("reason")
        .message
        .contains("2025-01-08"));
    let listed = t.get("/api/v1/licences", &admin).await.json();
    assert_eq!(listed[0]["status"], "expired");
}

#[tokio::test]
async fn without_a_trusted_issuer_nothing_is_enforced_and_licences_are_not_taken() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");
    t.clock.advance(Duration::hours(10));
    let answer = pc1.check_in(&t, true, vec![]).await;
    assert!(answer.assignment.is_some() && answer.blocked.is_none());

    let admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let key = IssuerKey::generate();
    let r = apply(&t, &admin, &issue(&key, &migration(&t, 1)).expect("issue")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("unlicensed"), "{}", r.text());
}
