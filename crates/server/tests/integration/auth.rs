//! Users, roles, sessions and tokens: `/api/v1/auth/…` and `/api/v1/users`.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Method, Request};
use chrono::Duration;
use serde_json::{json, Value};
use server::auth::session::{start_session, NewSession, SessionKind};
use server::auth::{bootstrap_admin, reset_password, Role};

use crate::support::{TestApp, TestResponse};

async fn login(app: &TestApp, name: &str, password: &str) -> TestResponse {
    app.post_json(
        "/api/v1/auth/login",
        "",
        json!({"name": name, "password": password}),
    )
    .await
}

async fn login_token(app: &TestApp, name: &str, password: &str) -> String {
    let r = login(app, name, password).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["token"].as_str().expect("token").to_string()
}

/// A console session for a new user with `roles`, as the console's login form makes it.
pub async fn console_session(app: &TestApp, roles: &[Role]) -> NewSession {
    let (name, _) = app.user_with_roles(roles).await;
    let user = app
        .app
        .store
        .user_by_name(&name)
        .await
        .expect("read")
        .expect("user");
    start_session(&app.app, user.id, SessionKind::Console)
        .await
        .expect("session")
}

/// Sends `method path` with the session cookie, and the CSRF header when `csrf` is given.
pub async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> TestResponse {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, format!("rehome_session={cookie}"));
    if let Some(csrf) = csrf {
        builder = builder.header("x-csrf-token", csrf);
    }
    let body = match body {
        Some(json) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    app.request(builder.body(body).expect("request")).await
}

#[tokio::test]
async fn login_whoami_logout() {
    let app = TestApp::new().await;
    let (name, password) = app.user_with_roles(&[Role::AgentViewer]).await;
    let token = login_token(&app, &name, &password).await;
    let me = app.get("/api/v1/auth/whoami", &token).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["name"], name.as_str());
    assert_eq!(me.json()["roles"], json!(["AgentViewer"]));
    // Names are matched without regard to case.
    login_token(&app, &name.to_uppercase(), &password).await;
    assert_eq!(
        app.post_json("/api/v1/auth/logout", &token, json!({}))
            .await
            .status,
        204
    );
    assert_eq!(app.get("/api/v1/auth/whoami", &token).await.status, 401);
    assert_eq!(app.get("/api/v1/auth/whoami", "").await.status, 401);
    assert_eq!(
        app.get("/api/v1/auth/whoami", "not-a-token").await.status,
        401
    );
}

#[tokio::test]
async fn first_login_forces_a_password_change() {
    let app = TestApp::new().await;
    let password = bootstrap_admin(&app.app)
        .await
        .expect("bootstrap")
        .expect("first start");
    assert!(password.len() >= 20);
    assert_eq!(bootstrap_admin(&app.app).await.expect("second start"), None);

    let token = login_token(&app, "admin", &password).await;
    let r = app.get("/api/v1/users", &token).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], "password_change_required");
    let me = app.get("/api/v1/auth/whoami", &token).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["must_change_password"], true);

    for (new, why) in [("short", "too short"), ("ADMINadmin12", "ok length")] {
        let r = app
            .post_json(
                "/api/v1/auth/password",
                &token,
                json!({"current": password, "new": new}),
            )
            .await;
        if why == "too short" {
            assert_eq!(r.status, 422, "{}", r.text());
            assert_eq!(r.json()["fields"][0]["field"], "new");
        } else {
            assert_eq!(r.status, 204, "{}", r.text());
        }
    }
    assert_eq!(app.get("/api/v1/users", &token).await.status, 200);
    assert_eq!(login(&app, "admin", &password).await.status, 401);
    login_token(&app, "admin", "ADMINadmin12").await;
}

#[tokio::test]
async fn password_policy_names_the_field() {
    let app = TestApp::new().await;
    let (name, password) = app.user_with_roles(&[Role::SyncViewer]).await;
    let token = login_token(&app, &name, &password).await;
    let change = |current: String, new: String| {
        let token = token.clone();
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/password",
                &token,
                json!({"current": current, "new": new}),
            )
            .await
        }
    };
    let r = change("wrong-current-pw".into(), "a-fine-new-password".into()).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["fields"][0]["field"].clone()),
        (422, json!("current"))
    );
    for bad in [name.clone(), password.clone(), "elevenchars".to_string()] {
        let r = change(password.clone(), bad).await;
        assert_eq!(
            (r.status.as_u16(), r.json()["fields"][0]["field"].clone()),
            (422, json!("new"))
        );
    }
    // A change ends the user's other sessions but keeps the one that made it.
    let other = login_token(&app, &name, &password).await;
    assert_eq!(
        change(password.clone(), "a-fine-new-password".into())
            .await
            .status,
        204
    );
    assert_eq!(app.get("/api/v1/auth/whoami", &token).await.status, 200);
    assert_eq!(app.get("/api/v1/auth/whoami", &other).await.status, 401);
}

#[tokio::test]
async fn wrong_credentials_do_not_say_which_part_and_lock_briefly() {
    let app = TestApp::new().await;
    let (name, password) = app.user_with_roles(&[Role::AgentViewer]).await;
    let unknown = login(&app, "nobody-here", &password).await;
    let wrong = login(&app, &name, "not-the-password").await;
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.json(), wrong.json());
    let message = wrong.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(message.contains("user name or password"), "{message}");

    // Four more wrong tries (five in all) lock the account: even the right password is refused.
    for _ in 0..4 {
        assert_eq!(login(&app, &name, "not-the-password").await.status, 401);
    }
    let locked = login(&app, &name, &password).await;
    assert_eq!(locked.status, 401);
    assert_eq!(locked.json(), wrong.json());
    app.clock.advance(Duration::minutes(6));
    login_token(&app, &name, &password).await;
}

#[tokio::test]
async fn only_tenant_admins_manage_users() {
    let app = TestApp::new().await;
    let admin = app.token_with_roles(&[Role::TenantAdmin]).await;
    let created = app
        .post_json(
            "/api/v1/users",
            &admin,
            json!({"name": "target", "password": "first-password-1", "roles": ["AgentViewer"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/users/{id}");
    let others = [
        Role::SyncAdmin,
        Role::SyncOperator,
        Role::SyncViewer,
        Role::AgentAdmin,
        Role::AgentOperator,
        Role::AgentViewer,
    ];
    let body = json!({"name": "x-user", "password": "a-good-password", "roles": ["TenantAdmin"]});
    for role in others {
        let token = app
            .token_with_roles(
                &Role::ALL
                    .iter()
                    .copied()
                    .filter(|r| *r == role)
                    .collect::<Vec<_>>(),
            )
            .await;
        assert_eq!(
            app.get("/api/v1/users", &token).await.status,
            403,
            "{role:?}"
        );
        assert_eq!(app.get(&path, &token).await.status, 403, "{role:?}");
        assert_eq!(
            app.post_json("/api/v1/users", &token, body.clone())
                .await
                .status,
            403,
            "{role:?}"
        );
        let promote = json!({"roles": ["TenantAdmin"]});
        assert_eq!(
            app.put_json(&path, &token, promote).await.status,
            403,
            "{role:?}"
        );
        assert_eq!(app.delete(&path, &token).await.status, 403, "{role:?}");
    }
    // All six non-admin roles together still do not make a tenant admin.
    let all_others = app.token_with_roles(&others).await;
    assert_eq!(
        app.post_json("/api/v1/users", &all_others, body)
            .await
            .status,
        403
    );
    assert_eq!(
        app.get(&path, &admin).await.json()["roles"],
        json!(["AgentViewer"])
    );
}

#[tokio::test]
async fn tenant_admin_creates_updates_and_deletes_users() {
    let app = TestApp::new().await;
    let admin = app.token_with_roles(&[Role::TenantAdmin]).await;
    let create = |name: &str, roles: Value| json!({"name": name, "password": "first-password-1", "roles": roles});
    let r = app
        .post_json(
            "/api/v1/users",
            &admin,
            create("Operator.One", json!(["AgentOperator"])),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["must_change_password"], true);
    let id = r.json()["id"].as_str().expect("id").to_string();
    let dup = app
        .post_json("/api/v1/users", &admin, create("operator.one", json!([])))
        .await;
    assert_eq!(dup.status, 409);
    let bad = app
        .post_json("/api/v1/users", &admin, create("<b>", json!([])))
        .await;
    assert_eq!(
        (
            bad.status.as_u16(),
            bad.json()["fields"][0]["field"].clone()
        ),
        (422, json!("name"))
    );
    let weak = json!({"name": "weak", "password": "short", "roles": []});
    let r = app.post_json("/api/v1/users", &admin, weak).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["fields"][0]["field"].clone()),
        (422, json!("password"))
    );
    let unknown_role = app
        .post_json("/api/v1/users", &admin, create("x", json!(["Root"])))
        .await;
    assert!(unknown_role.status.is_client_error());

    let path = format!("/api/v1/users/{id}");
    let r = app
        .put_json(
            &path,
            &admin,
            json!({"roles": ["AgentAdmin", "SyncViewer"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["roles"], json!(["SyncViewer", "AgentAdmin"]));
    let list = app.get("/api/v1/users", &admin).await.json();
    assert!(list
        .as_array()
        .expect("list")
        .iter()
        .any(|u| u["name"] == "Operator.One"));

    // The only tenant admin can neither be demoted nor deleted, and nobody deletes themselves.
    let me = app.get("/api/v1/auth/whoami", &admin).await.json();
    let my_path = format!("/api/v1/users/{}", me["id"].as_str().expect("id"));
    assert_eq!(
        app.put_json(&my_path, &admin, json!({"roles": []}))
            .await
            .status,
        409
    );
    assert_eq!(app.delete(&my_path, &admin).await.status, 409);

    assert_eq!(app.delete(&path, &admin).await.status, 204);
    assert_eq!(app.get(&path, &admin).await.status, 404);
    assert_eq!(app.delete(&path, &admin).await.status, 404);
    assert_eq!(app.get("/api/v1/users/not-an-id", &admin).await.status, 404);
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_token_for_changes() {
    let app = TestApp::new().await;
    let session = console_session(&app, &[Role::TenantAdmin]).await;
    let body = json!({"name": "via-cookie", "password": "first-password-1", "roles": []});
    let get = with_cookie(
        &app,
        Method::GET,
        "/api/v1/users",
        &session.token,
        None,
        None,
    )
    .await;
    assert_eq!(get.status, 200);
    let no_token = with_cookie(
        &app,
        Method::POST,
        "/api/v1/users",
        &session.token,
        None,
        Some(body.clone()),
    )
    .await;
    assert_eq!(no_token.status, 403);
    let wrong = with_cookie(
        &app,
        Method::POST,
        "/api/v1/users",
        &session.token,
        Some("nope"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(wrong.status, 403);
    let delete = with_cookie(
        &app,
        Method::DELETE,
        "/api/v1/users/x",
        &session.token,
        None,
        None,
    )
    .await;
    assert_eq!(delete.status, 403);
    let ok = with_cookie(
        &app,
        Method::POST,
        "/api/v1/users",
        &session.token,
        Some(&session.csrf_token),
        Some(body),
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.text());
    // whoami tells a console page's script its CSRF token; a cookie is no bearer token.
    let me = with_cookie(
        &app,
        Method::GET,
        "/api/v1/auth/whoami",
        &session.token,
        None,
        None,
    )
    .await;
    assert_eq!(me.json()["csrf_token"], session.csrf_token.as_str());
    assert_eq!(
        app.get("/api/v1/auth/whoami", &session.token).await.status,
        401
    );
}

#[tokio::test]
async fn sessions_expire_on_the_clock() {
    let app = TestApp::new().await;
    let session = console_session(&app, &[Role::AgentViewer]).await;
    let whoami = || {
        with_cookie(
            &app,
            Method::GET,
            "/api/v1/auth/whoami",
            &session.token,
            None,
            None,
        )
    };
    // Idle expiry: each use within 8 hours extends the session.
    for _ in 0..3 {
        app.clock.advance(Duration::hours(7));
        assert_eq!(whoami().await.status, 200);
    }
    app.clock.advance(Duration::hours(8));
    assert_eq!(whoami().await.status, 401);

    // API tokens last 30 days from login, however often they are used.
    let token = app.token_with_roles(&[Role::AgentViewer]).await;
    app.clock.advance(Duration::days(29));
    assert_eq!(app.get("/api/v1/auth/whoami", &token).await.status, 200);
    app.clock.advance(Duration::days(1));
    assert_eq!(app.get("/api/v1/auth/whoami", &token).await.status, 401);
}

#[tokio::test]
async fn reset_password_issues_a_new_one_that_must_be_changed() {
    let app = TestApp::new().await;
    let (name, password) = app.user_with_roles(&[Role::TenantAdmin]).await;
    let token = login_token(&app, &name, &password).await;
    let new = reset_password(&app.app, &name).await.expect("reset");
    assert!(new.len() >= 20 && new != password);
    assert_eq!(app.get("/api/v1/auth/whoami", &token).await.status, 401);
    assert_eq!(login(&app, &name, &password).await.status, 401);
    let token = login_token(&app, &name, &new).await;
    let r = app.get("/api/v1/users", &token).await;
    assert_eq!(r.json()["code"], "password_change_required");
    assert!(reset_password(&app.app, "no-such-user").await.is_err());
}

/// Collects the log output of the whole test binary. Global rather than per-thread: tracing's
/// callsite cache loses events of a thread-local subscriber while other tests run in parallel.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything logged so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn capture_logs() -> LogBuffer {
    static LOGS: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            // Plain text whatever the terminal: the assertions search the words.
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        logs
    })
    .clone()
}

#[tokio::test]
async fn secrets_appear_only_in_the_login_answer_and_never_in_logs() {
    let logs = capture_logs();

    let app = TestApp::new().await;
    let bootstrap = bootstrap_admin(&app.app)
        .await
        .expect("bootstrap")
        .expect("first start");
    let admin = login(&app, "admin", &bootstrap).await;
    let admin_token = admin.json()["token"].as_str().expect("token").to_string();
    let r = app
        .post_json(
            "/api/v1/auth/password",
            &admin_token,
            json!({"current": bootstrap, "new": "secret-admin-pass-1"}),
        )
        .await;
    assert_eq!(r.status, 204);
    let user_password = "secret-user-pass-1";
    let mut bodies = Vec::new();
    let created = app
        .post_json(
            "/api/v1/users",
            &admin_token,
            json!({"name": "someone", "password": user_password, "roles": ["SyncViewer"]}),
        )
        .await;
    let id = created.json()["id"].as_str().expect("id").to_string();
    bodies.push(created.text());
    let new_pw = json!({"password": "another-secret-pw"});
    bodies.push(
        app.put_json(&format!("/api/v1/users/{id}"), &admin_token, new_pw)
            .await
            .text(),
    );
    bodies.push(app.get("/api/v1/users", &admin_token).await.text());
    bodies.push(
        app.get(&format!("/api/v1/users/{id}"), &admin_token)
            .await
            .text(),
    );
    bodies.push(app.get("/api/v1/auth/whoami", &admin_token).await.text());
    bodies.push(login(&app, "someone", "wrong-password-typed").await.text());
    let secrets = [
        bootstrap.as_str(),
        "secret-admin-pass-1",
        user_password,
        "another-secret-pw",
        admin_token.as_str(),
    ];
    for body in &bodies {
        for secret in secrets {
            assert!(!body.contains(secret), "{body} contains a secret");
        }
        assert!(!body.contains("argon2") && !body.contains("hash"), "{body}");
    }
    let logged =
        String::from_utf8_lossy(&logs.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert!(
        logged.contains("user created by=admin user=someone"),
        "the test must see the log: {logged}"
    );
    for secret in secrets.iter().chain([&"wrong-password-typed"]) {
        assert!(
            !logged.contains(secret),
            "the log contains a secret: {logged}"
        );
    }
}

#[tokio::test]
async fn the_sweep_removes_only_expired_sessions() {
    let app = TestApp::new().await;
    let console = console_session(&app, &[Role::AgentViewer]).await;
    let token = app.token_with_roles(&[Role::AgentViewer]).await;
    assert_eq!(
        server::auth::session::sweep_expired(&app.app)
            .await
            .expect("sweep"),
        0
    );
    app.clock.advance(Duration::hours(9));
    assert_eq!(
        server::auth::session::sweep_expired(&app.app)
            .await
            .expect("sweep"),
        1
    );
    assert_eq!(app.get("/api/v1/auth/whoami", &token).await.status, 200);
    let cookie = with_cookie(
        &app,
        Method::GET,
        "/api/v1/auth/whoami",
        &console.token,
        None,
        None,
    );
    assert_eq!(cookie.await.status, 401);
}

#[tokio::test]
async fn parallel_guesses_still_lock_the_account() {
    let app = TestApp::new().await;
    let (name, password) = app.user_with_roles(&[Role::AgentViewer]).await;
    let guess = || login(&app, &name, "not-the-password");
    let (a, b, c, d, e, f) = tokio::join!(guess(), guess(), guess(), guess(), guess(), guess());
    assert!([a, b, c, d, e, f].iter().all(|r| r.status == 401));
    assert_eq!(login(&app, &name, &password).await.status, 401);
}

#[tokio::test]
async fn debug_output_of_sessions_and_users_holds_no_secret() {
    let app = TestApp::new().await;
    let session = console_session(&app, &[Role::AgentViewer]).await;
    let debug = format!("{session:?}");
    assert!(
        !debug.contains(&session.token) && !debug.contains(&session.csrf_token),
        "{debug}"
    );
    let (name, _) = app.user_with_roles(&[Role::AgentViewer]).await;
    let user = app
        .app
        .store
        .user_by_name(&name)
        .await
        .expect("read")
        .expect("user");
    let debug = format!("{user:?}");
    assert!(
        debug.contains(&name) && !debug.contains(&user.password_hash),
        "{debug}"
    );
}

#[tokio::test]
async fn a_user_or_login_body_of_the_wrong_shape_is_refused_in_json_naming_the_field() {
    let app = TestApp::new().await;
    let admin = app.token_with_roles(&[Role::TenantAdmin]).await;
    let before = app.get("/api/v1/users", &admin).await.json();
    let raw = |path: &'static str, token: String, body: &'static str| {
        let app = &app;
        async move {
            let mut request = Request::builder()
                .method(Method::POST)
                .uri(path)
                .header(header::CONTENT_TYPE, "application/json");
            if !token.is_empty() {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            app.request(request.body(Body::from(body)).expect("request"))
                .await
        }
    };
    let cases = [
        (
            "/api/v1/users",
            admin.clone(),
            r#"{"name": "bob", "password": "first-password-1", "roles": ["Root"]}"#,
            "roles[0]",
        ),
        (
            "/api/v1/users",
            admin.clone(),
            r#"{"name": "bob", "password": 5, "roles": []}"#,
            "password",
        ),
        ("/api/v1/users", admin.clone(), r#"{"x":"#, "body"),
        (
            "/api/v1/auth/login",
            String::new(),
            r#"{"name": "admin"}"#,
            "body",
        ),
        ("/api/v1/auth/login", String::new(), "", "body"),
    ];
    for (path, token, body, field) in cases {
        let r = raw(path, token, body).await;
        assert_eq!(r.status, 422, "{path} {body}: {}", r.text());
        let content_type = r.headers.get(header::CONTENT_TYPE).expect("a content type");
        assert_eq!(content_type, "application/json", "{path} {body}");
        assert_eq!(r.json()["fields"][0]["field"], field, "{path} {body}");
    }
    assert_eq!(app.get("/api/v1/users", &admin).await.json(), before);
}
