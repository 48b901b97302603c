//! Signing in under attack: bounded password hashing, the lockout under parallel guesses, the
//! throttle per address, equal work for every refusal, the log, login CSRF, the password policy.

use std::net::IpAddr;

use axum::body::Body;
use axum::http::{header, Method, Request};
use chrono::Duration;
use serde_json::json;
use server::auth::gate::PasswordGate;
use server::auth::Role;
use server::limits::Limits;

use crate::auth::capture_logs;
use crate::support::{TestApp, TestResponse};

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

fn login_request(name: &str, password: &str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/api/v1/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"name": name, "password": password}).to_string(),
        ))
        .expect("request")
}

async fn login(t: &TestApp, name: &str, password: &str) -> TestResponse {
    t.request(login_request(name, password)).await
}

async fn login_from(t: &TestApp, from: &str, name: &str, password: &str) -> TestResponse {
    t.request_from(ip(from), login_request(name, password))
        .await
}

/// A gate that queues every test request instead of answering busy.
fn roomy() -> Limits {
    Limits {
        passwords: PasswordGate::new(2, 500),
        ..Limits::default()
    }
}

#[tokio::test]
async fn excess_password_checks_are_answered_busy_while_other_requests_are_served() {
    let t = TestApp::new().await;
    let (name, password) = t.user_with_roles(&[Role::AgentViewer]).await;
    let token = t.token_with_roles(&[Role::AgentViewer]).await;
    // Fill the workers and the queue, as a burst of logins would.
    let mut held = Vec::new();
    while let Ok(permit) = t.app.limits.passwords.admit() {
        held.push(permit);
        assert!(held.len() < 1_000, "the gate must be bounded");
    }
    let busy = login(&t, &name, &password).await;
    assert_eq!(busy.status, 503, "{}", busy.text());
    assert_eq!(busy.json()["code"], "busy");
    assert_eq!(busy.header("retry-after").as_deref(), Some("1"));
    // Requests that need no password are answered as usual.
    assert_eq!(t.get("/api/v1/auth/whoami", &token).await.status, 200);
    assert_eq!(t.get("/api/v1/users", &token).await.status, 403);
    // A busy answer counted nothing against the account.
    let user = t
        .app
        .store
        .user_by_name(&name)
        .await
        .expect("read")
        .expect("user");
    assert_eq!(user.failed_logins, 0);
    drop(held);
    assert_eq!(login(&t, &name, &password).await.status, 200);
}

#[tokio::test]
async fn a_hundred_parallel_attempts_take_only_five() {
    let t = TestApp::new().await;
    let (name, _) = t.user_with_roles(&[Role::AgentViewer]).await;
    let user = t
        .app
        .store
        .user_by_name(&name)
        .await
        .expect("read")
        .expect("user");
    let now = t.app.clock.now();
    let until = now + chrono::Duration::minutes(5);
    let attempts = (0..100).map(|_| {
        t.app
            .store
            .take_login_attempt(user.id, now, 5, until, false)
    });
    let taken = futures_util::future::join_all(attempts).await;
    let granted = taken
        .into_iter()
        .filter(|r| matches!(r, Ok(Some(_))))
        .count();
    assert_eq!(granted, 5);
}

#[tokio::test]
async fn attempts_cut_short_leave_the_account_locked_only_for_the_lockout() {
    let t = TestApp::new().await;
    let (name, password) = t.user_with_roles(&[Role::AgentViewer]).await;
    let user = t
        .app
        .store
        .user_by_name(&name)
        .await
        .expect("read")
        .expect("user");
    // Five attempts taken and never finished, as when the server stops mid-check.
    let now = t.app.clock.now();
    let until = now + server::auth::accounts::lockout();
    for _ in 0..5 {
        t.app
            .store
            .take_login_attempt(user.id, now, 5, until, false)
            .await
            .expect("take")
            .expect("granted");
    }
    assert_eq!(login(&t, &name, &password).await.status, 401);
    t.clock.advance(server::auth::accounts::lockout());
    assert_eq!(login(&t, &name, &password).await.status, 200);
}

#[tokio::test]
async fn parallel_wrong_guesses_lock_the_account_and_the_right_password_then_fails() {
    let t = TestApp::with_limits(roomy()).await;
    let (name, password) = t.user_with_roles(&[Role::AgentViewer]).await;
    let guesses = (0..99).map(|i| {
        let name = name.clone();
        let t = &t;
        async move { login(t, &name, &format!("wrong-guess-{i}")).await.status }
    });
    let answers = futures_util::future::join_all(guesses).await;
    assert!(answers.iter().all(|s| *s == 401), "{answers:?}");
    // The audit trail says why each was refused: only five passwords were checked at all.
    let filter = server::store::audit::AuditFilter {
        actor: Some(name.clone()),
        action: Some("sign-in refused".into()),
        limit: 1000,
        ..Default::default()
    };
    let refused = t.app.store.audit(&filter).await.expect("trail");
    assert_eq!(refused.len(), 99);
    let checked = refused
        .iter()
        .filter(|e| {
            e.after
                .as_ref()
                .is_some_and(|a| a["reason"] == "wrong password")
        })
        .count();
    assert_eq!(checked, 5, "wrong passwords checked");
    assert_eq!(login(&t, &name, &password).await.status, 401);
    t.clock.advance(Duration::minutes(6));
    assert_eq!(login(&t, &name, &password).await.status, 200);
}

#[tokio::test]
async fn strangers_cannot_lock_out_an_account_from_the_addresses_it_signs_in_from() {
    let t = TestApp::new().await;
    let (name, password) = t.user_with_roles(&[Role::TenantAdmin]).await;
    let (owner, stranger, newcomer) = ("10.1.1.1", "10.6.6.6", "10.2.2.2");
    assert_eq!(login_from(&t, owner, &name, &password).await.status, 200);
    for _ in 0..5 {
        assert_eq!(
            login_from(&t, stranger, &name, "guess-guess").await.status,
            401
        );
    }
    // Locked: the right password from the stranger's address, or from an address that never
    // signed in, is refused; the owner's address still signs in.
    assert_eq!(login_from(&t, stranger, &name, &password).await.status, 401);
    assert_eq!(login_from(&t, newcomer, &name, &password).await.status, 401);
    assert_eq!(login_from(&t, owner, &name, &password).await.status, 200);
    // The administrator's way out for the rest.
    for _ in 0..5 {
        login_from(&t, stranger, &name, "guess-guess").await;
    }
    server::auth::accounts::unlock(&t.app, &name)
        .await
        .expect("unlock");
    assert_eq!(login_from(&t, newcomer, &name, &password).await.status, 200);
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_throttled_on_every_account() {
    let t = TestApp::with_limits(roomy()).await;
    let (name, password) = t.user_with_roles(&[Role::AgentViewer]).await;
    let attacker = "192.0.2.99";
    let limit = server::limits::SIGN_IN_FAILURES_PER_ADDRESS;
    for i in 0..limit {
        let r = login_from(&t, attacker, &format!("nobody-{i}"), "guess-guess").await;
        assert_eq!(r.status, 401);
    }
    let computations = t.app.limits.passwords.computations();
    let throttled = login_from(&t, attacker, &name, &password).await;
    assert_eq!(throttled.status, 429, "{}", throttled.text());
    assert_eq!(throttled.json()["code"], "throttled");
    assert_eq!(t.app.limits.passwords.computations(), computations);
    // Other addresses are not affected, and the window ends.
    assert_eq!(
        login_from(&t, "192.0.2.1", &name, &password).await.status,
        200
    );
    t.clock.advance(server::limits::sign_in_window());
    assert_eq!(login_from(&t, attacker, &name, &password).await.status, 200);
}

#[tokio::test]
async fn every_refused_login_costs_one_password_computation() {
    let t = TestApp::new().await;
    let (name, password) = t.user_with_roles(&[Role::AgentViewer]).await;
    let gate = &t.app.limits.passwords;
    let cost = |before: u64| gate.computations() - before;
    let before = gate.computations();
    assert_eq!(
        login(&t, "nobody-by-this-name", &password).await.status,
        401
    );
    assert_eq!(cost(before), 1, "unknown name");
    for _ in 0..5 {
        let before = gate.computations();
        assert_eq!(login(&t, &name, "guess-guess").await.status, 401);
        assert_eq!(cost(before), 1, "wrong password");
    }
    let before = gate.computations();
    let locked = login(&t, &name, &password).await;
    assert_eq!(locked.status, 401);
    assert_eq!(
        cost(before),
        1,
        "a locked account is refused after the same work"
    );
    assert_eq!(
        locked.json(),
        login(&t, "nobody-by-this-name", "x").await.json()
    );
}

#[tokio::test]
async fn failed_names_are_not_logged_verbatim_and_cannot_forge_lines() {
    let logs = capture_logs();
    let t = TestApp::new().await;
    let forged = "mallory\nINFO server: logged in user=admin";
    let typed_password = "Hunter2-typed-into-the-name-field";
    assert_eq!(login(&t, forged, "x-x-x-x-x-x").await.status, 401);
    assert_eq!(login(&t, typed_password, "x-x-x-x-x-x").await.status, 401);
    let (name, _) = t.user_with_roles(&[Role::AgentViewer]).await;
    assert_eq!(login(&t, &name, "guess-guess").await.status, 401);
    let text = logs.text();
    assert!(text.contains(&server::auth::accounts::name_fingerprint(typed_password)));
    assert!(!text.contains(typed_password), "{text}");
    assert!(!text.contains("mallory"), "{text}");
    assert!(
        !text.contains("\nINFO server: logged in user=admin"),
        "{text}"
    );
    // A known account's name is logged, quoted.
    assert!(text.contains(&format!("user=\"{name}\"")), "{text}");
}

#[tokio::test]
async fn the_password_policy_refuses_weak_passwords_through_the_api() {
    let t = TestApp::new().await;
    let admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    for (weak, rule) in [
        ("aaaaaaaaaaaa", "repeated"),
        ("123456789012", "repeated"),
        ("Password2024!", "common"),
        ("carol.jones", "at least"),
        ("carol.jones-1999", "user name"),
    ] {
        let r = t
            .post_json(
                "/api/v1/users",
                &admin,
                json!({"name": "carol.jones", "password": weak, "roles": []}),
            )
            .await;
        assert_eq!(r.status, 422, "{weak}: {}", r.text());
        let field = &r.json()["fields"][0];
        assert_eq!(field["field"], "password");
        let message = field["message"].as_str().unwrap_or_default();
        assert!(message.contains(rule), "{weak}: {message}");
    }
}

async fn console_login(t: &TestApp, origin: Option<&str>, password: &str) -> TestResponse {
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri("/login")
        .header(header::HOST, "rehome.corp:5000")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(origin) = origin {
        builder = builder.header(header::ORIGIN, origin);
    }
    let body = format!("name=admin&password={password}");
    t.request(builder.body(Body::from(body)).expect("request"))
        .await
}

#[tokio::test]
async fn another_sites_page_cannot_sign_a_browser_in() {
    let t = TestApp::new().await;
    let password = server::auth::bootstrap_admin(&t.app)
        .await
        .expect("bootstrap")
        .expect("first start");
    let foreign = console_login(&t, Some("https://evil.example"), &password).await;
    assert_eq!(foreign.status, 403);
    assert!(foreign.header("set-cookie").is_none());
    let own = console_login(&t, Some("http://rehome.corp:5000"), &password).await;
    assert_eq!(own.status, 303);
    assert!(own.header("set-cookie").is_some());
}

#[tokio::test]
async fn a_session_cannot_guess_its_password_through_the_password_change() {
    let t = TestApp::new().await;
    let (name, password) = t.user_with_roles(&[Role::AgentViewer]).await;
    let user = t
        .app
        .store
        .user_by_name(&name)
        .await
        .expect("read")
        .expect("user");
    let token = server::auth::issue_api_token(&t.app, user.id)
        .await
        .expect("token");
    let change = |current: String| {
        let t = &t;
        let token = token.clone();
        async move {
            t.post_json(
                "/api/v1/auth/password",
                &token,
                json!({"current": current, "new": "Brand-New-Phrase-8r"}),
            )
            .await
            .status
        }
    };
    for guess in 0..5 {
        assert_eq!(change(format!("guess-number-{guess}")).await, 422);
    }
    // The right one is no longer checked until the lock runs out.
    assert_eq!(change(password.clone()).await, 422);
    t.clock.advance(Duration::minutes(6));
    assert_eq!(change(password).await, 204);
}
