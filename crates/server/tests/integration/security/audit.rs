//! The audit trail: changes with who, where, before and after; sign-ins; no secrets; filters,
//! CSV, the console page, Tenant admins only, and retention.

use axum::body::Body;
use axum::http::{header, Method, Request};
use chrono::Duration;
use serde_json::{json, Value};
use server::auth::Role;

use crate::auth::console_session;
use crate::support::TestApp;

async fn admin(t: &TestApp) -> (String, String) {
    let (name, password) = t.user_with_roles(&[Role::TenantAdmin]).await;
    let r = t
        .post_json(
            "/api/v1/auth/login",
            "",
            json!({"name": name, "password": password}),
        )
        .await;
    (name, r.json()["token"].as_str().expect("token").to_string())
}

fn entries(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn changes_are_recorded_with_who_where_before_and_after_and_never_a_secret() {
    let t = TestApp::new().await;
    let (name, token) = admin(&t).await;
    let created = t
        .request_from(
            "203.0.113.5".parse().expect("ip"),
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/users")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"name": "dora", "password": "Secret-Created-9x", "roles": ["SyncViewer"]})
                        .to_string(),
                ))
                .expect("request"),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().expect("id").to_string();
    let updated = t
        .put_json(
            &format!("/api/v1/users/{id}"),
            &token,
            json!({"roles": ["SyncAdmin"], "password": "Secret-Updated-9x"}),
        )
        .await;
    assert_eq!(updated.status, 200);

    let trail = t.get("/api/v1/audit", &token).await;
    assert_eq!(trail.status, 200, "{}", trail.text());
    let all = entries(&trail.json());
    let post = all
        .iter()
        .find(|e| e["action"] == "POST /api/v1/users")
        .expect("the creation is recorded");
    assert_eq!(post["actor"], name.as_str());
    assert_eq!(post["address"], "203.0.113.5");
    assert_eq!(post["status"], 201);
    assert_eq!(post["after"]["name"], "dora");
    let put = all
        .iter()
        .find(|e| e["action"] == format!("PUT /api/v1/users/{id}"))
        .expect("the update is recorded");
    assert_eq!(put["before"]["roles"], json!(["SyncViewer"]));
    assert_eq!(put["after"]["roles"], json!(["SyncAdmin"]));
    assert!(all
        .iter()
        .any(|e| e["action"] == "sign-in" && e["actor"] == name.as_str()));

    let csv = t.get("/api/v1/audit.csv", &token).await;
    assert_eq!(csv.status, 200);
    assert!(csv
        .text()
        .starts_with("at,actor,address,action,status,before,after"));
    for text in [trail.text(), csv.text()] {
        for secret in ["Secret-Created-9x", "Secret-Updated-9x", token.as_str()] {
            assert!(!text.contains(secret), "the trail holds a secret: {text}");
        }
    }
}

#[tokio::test]
async fn sign_ins_refusals_and_lockouts_are_recorded_and_filtered() {
    let t = TestApp::new().await;
    let (_, token) = admin(&t).await;
    let (name, _) = t.user_with_roles(&[Role::AgentViewer]).await;
    let typed = "Typed-A-Password-Here-1";
    let login = |n: String, p: &'static str| {
        let t = &t;
        async move {
            t.post_json("/api/v1/auth/login", "", json!({"name": n, "password": p}))
                .await
        }
    };
    login(typed.to_string(), "whatever-it-is").await;
    for _ in 0..5 {
        login(name.clone(), "guess-guess-guess").await;
    }
    let refused = t
        .get("/api/v1/audit?action=sign-in%20refused", &token)
        .await;
    let refused = entries(&refused.json());
    assert_eq!(refused.len(), 6, "{refused:?}");
    assert!(refused.iter().all(|e| e["action"] == "sign-in refused"));
    assert_eq!(
        refused
            .iter()
            .filter(|e| e["actor"] == name.as_str())
            .count(),
        5
    );
    let locked = t
        .get(&format!("/api/v1/audit?action=locked&actor={name}"), &token)
        .await;
    assert_eq!(entries(&locked.json()).len(), 1);
    // The filter is text to find: `%` and `_` match only themselves.
    for wildcard in ["%25", "sign_in", "sign-in%25refused"] {
        let none = t
            .get(&format!("/api/v1/audit?action={wildcard}"), &token)
            .await;
        assert!(
            entries(&none.json()).is_empty(),
            "{wildcard}: {}",
            none.text()
        );
    }
    let everything = t.get("/api/v1/audit?limit=1000", &token).await.text();
    assert!(!everything.contains(typed), "{everything}");
    assert!(everything.contains(&server::auth::accounts::name_fingerprint(typed)));
}

#[tokio::test]
async fn only_tenant_admins_read_the_trail_and_old_entries_expire() {
    let t = TestApp::new().await;
    let (_, token) = admin(&t).await;
    let other = t
        .token_with_roles(&[Role::AgentAdmin, Role::SyncAdmin])
        .await;
    assert_eq!(t.get("/api/v1/audit", &other).await.status, 403);
    assert_eq!(t.get("/api/v1/audit.csv", &other).await.status, 403);
    assert_eq!(t.get("/api/v1/audit?limit=0", &token).await.status, 422);

    // The console page.
    let session = console_session(&t, &[Role::TenantAdmin]).await;
    let page = t
        .request(
            Request::builder()
                .uri("/audit")
                .header(header::COOKIE, format!("rehome_session={}", session.token))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("sign-in"), "{}", page.text());
    let viewer = console_session(&t, &[Role::AgentViewer]).await;
    let refused = t
        .request(
            Request::builder()
                .uri("/audit")
                .header(header::COOKIE, format!("rehome_session={}", viewer.token))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(refused.status, 403);

    // Past the retention period (365 days by default) the jobs delete entries.
    assert!(!entries(&t.get("/api/v1/audit", &token).await.json()).is_empty());
    t.clock.advance(Duration::days(366));
    let round = server::jobs::round(&t.app).await.expect("round");
    assert!(round.audit_swept >= 1);
    let token = t.token_with_roles(&[Role::TenantAdmin]).await;
    assert!(entries(&t.get("/api/v1/audit", &token).await.json()).is_empty());
}

/// Posts `fields` as the console's forms do, with the session cookie.
async fn console_form(
    t: &TestApp,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
) -> crate::support::TestResponse {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace('@', "%40")))
        .collect::<Vec<_>>()
        .join("&");
    t.request(
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::COOKIE, format!("rehome_session={cookie}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn console_changes_are_recorded_with_the_state_before_and_after() {
    let t = TestApp::new().await;
    let (_, token) = admin(&t).await;
    let console = console_session(&t, &[Role::TenantAdmin]).await;
    let first = "Console-First-7q-Zx";
    let added = console_form(
        &t,
        "/users",
        &console.token,
        &[
            ("csrf", &console.csrf_token),
            ("name", "erin"),
            ("password", first),
            ("role", "SyncViewer"),
        ],
    )
    .await;
    assert_eq!(added.status, 303, "{}", added.text());

    // Erin signs in to the console and chooses her own password.
    let erin = t
        .app
        .store
        .user_by_name("erin")
        .await
        .expect("read")
        .expect("erin exists");
    let session = server::auth::session::start_session(
        &t.app,
        erin.id,
        server::auth::session::SessionKind::Console,
    )
    .await
    .expect("session");
    let chosen = "Console-Chosen-4k-Wy";
    let changed = console_form(
        &t,
        "/password",
        &session.token,
        &[
            ("csrf", &session.csrf_token),
            ("current", first),
            ("new", chosen),
            ("confirm", chosen),
        ],
    )
    .await;
    assert_eq!(changed.status, 303, "{}", changed.text());

    let deleted = console_form(
        &t,
        &format!("/users/{}/delete", erin.id),
        &console.token,
        &[("csrf", &console.csrf_token)],
    )
    .await;
    assert_eq!(deleted.status, 303, "{}", deleted.text());

    let trail = t.get("/api/v1/audit", &token).await;
    let all = entries(&trail.json());
    let find = |action: &str| {
        all.iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("{action} is recorded: {all:?}"))
            .clone()
    };
    // The creation shows the user as the API does, not the form that was sent.
    let creation = find("POST /users");
    assert_eq!(creation["before"], Value::Null);
    assert_eq!(creation["after"]["id"], erin.id.to_string());
    assert_eq!(creation["after"]["name"], "erin");
    assert_eq!(creation["after"]["roles"], json!(["SyncViewer"]));
    assert_eq!(creation["after"]["must_change_password"], true);
    // The password change shows the pending change before and none after.
    let change = find("POST /password");
    assert_eq!(change["actor"], "erin");
    assert_eq!(change["before"]["must_change_password"], true);
    assert_eq!(change["after"]["must_change_password"], false);
    // The deletion shows who was deleted.
    let deletion = find(&format!("POST /users/{}/delete", erin.id));
    assert_eq!(deletion["before"]["name"], "erin");
    assert_eq!(deletion["before"]["roles"], json!(["SyncViewer"]));
    assert_eq!(deletion["after"], Value::Null);

    let text = trail.text() + &t.get("/api/v1/audit.csv", &token).await.text();
    for secret in [
        first,
        chosen,
        console.token.as_str(),
        console.csrf_token.as_str(),
        session.token.as_str(),
        session.csrf_token.as_str(),
    ] {
        assert!(!text.contains(secret), "the trail holds a secret: {text}");
    }
}

#[tokio::test]
async fn requests_without_a_session_leave_no_entry_and_refused_users_do() {
    let t = TestApp::new().await;
    let (_, token) = admin(&t).await;
    let filler = "x".repeat(200 * 1024);
    for bearer in ["", "not-a-session-token"] {
        for _ in 0..10 {
            let r = t
                .post_json(
                    "/api/v1/users",
                    bearer,
                    json!({"name": "trudy", "password": filler, "roles": []}),
                )
                .await;
            assert_eq!(r.status, 401);
        }
    }
    let viewer = t.token_with_roles(&[Role::AgentViewer]).await;
    let refused = t
        .post_json(
            "/api/v1/users",
            &viewer,
            json!({"name": "trudy", "password": "Refused-Secret-3z", "roles": []}),
        )
        .await;
    assert_eq!(refused.status, 403);

    let trail = t
        .get("/api/v1/audit?action=POST%20/api/v1/users", &token)
        .await;
    let all = entries(&trail.json());
    assert_eq!(all.len(), 1, "only the signed-in user's attempt: {all:?}");
    assert_eq!(all[0]["status"], 403);
    assert_ne!(all[0]["actor"], "anonymous");
    assert_eq!(all[0]["after"]["name"], "trudy");
}
