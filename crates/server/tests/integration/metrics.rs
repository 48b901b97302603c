//! `GET /metrics`: who may read it, and that what it counts moves with what the server does.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use server::auth::Role;
use server::{jobs, Settings};

use crate::support::{TestApp, TestResponse};

async fn scrape(t: &TestApp, bearer: &str) -> TestResponse {
    t.request(
        Request::builder()
            .method(Method::GET)
            .uri("/metrics")
            .header(header::AUTHORIZATION, format!("Bearer {}", bearer))
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

/// The value of the sample `line` starts with, e.g. `rehome_devices{status="Completed"}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
}

#[tokio::test]
async fn tenant_admins_and_the_scrape_token_read_metrics_and_others_do_not() {
    let t = TestApp::with_settings(Settings {
        metrics_token_sha256: Some(server::metrics::token_digest("scrape-secret-token")),
        ..Settings::default()
    })
    .await;
    assert_eq!(t.get("/metrics", "").await.status, StatusCode::UNAUTHORIZED);
    let agent_admin = t.token_with_roles(&[Role::AgentAdmin]).await;
    assert_eq!(
        t.get("/metrics", &agent_admin).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        scrape(&t, "not-the-token").await.status,
        StatusCode::UNAUTHORIZED
    );

    let tenant_admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let by_admin = t.get("/metrics", &tenant_admin).await;
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.text());
    let by_token = scrape(&t, "scrape-secret-token").await;
    assert_eq!(by_token.status, StatusCode::OK, "{}", by_token.text());
    assert!(by_token
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    let text = by_token.text();
    for name in [
        "rehome_agent_check_ins_total",
        "rehome_agent_events_stored_total",
        "rehome_failed_communications_total",
        "rehome_devices",
        "rehome_lease_held",
        "rehome_directory_import_duration_seconds",
        "rehome_match_duration_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {} ", name)),
            "{} missing:\n{}",
            name,
            text
        );
    }
    assert_eq!(
        sample(&text, "rehome_devices{status=\"Completed\"}"),
        Some(0.0)
    );
    assert!(!text.contains("scrape-secret-token"));
}

#[tokio::test]
async fn refused_agent_requests_and_lease_holders_show_in_metrics() {
    let t = TestApp::new().await;
    let admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let before = t.get("/metrics", &admin).await.text();
    assert_eq!(
        sample(&before, "rehome_failed_communications_total"),
        Some(0.0)
    );
    assert!(!before.contains("rehome_lease_held{"), "{}", before);

    let refused = t
        .request(
            Request::builder()
                .method(Method::POST)
                .uri("/agent/check-in")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{\"not\":\"an envelope\"}"))
                .expect("request"),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(jobs::round(&t.app).await.expect("round").held);

    let after = t.get("/metrics", &admin).await.text();
    assert_eq!(
        sample(&after, "rehome_failed_communications_total"),
        Some(1.0)
    );
    let held = format!(
        "rehome_lease_held{{lease=\"jobs\",holder=\"{}\"}}",
        t.app.settings.replica
    );
    assert_eq!(sample(&after, &held), Some(1.0), "{}", after);
}
