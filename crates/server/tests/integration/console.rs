//! The web console: login, forced password change, CSRF on forms, and the read-only pages for
//! every role that may read the agent area, escaping what devices send.

use axum::body::Body;
use axum::http::{header, Method, Request};
use chrono::Duration;
use model::batch::Batch;
use model::clock::Clock;
use model::envelope::{AgentCertificate, KeyPair};
use model::ids::{AgentId, BatchId, CertificateId, DirectoryId, ObjectGuid, RunbookId};
use model::plan::{JoinState, OsEdition};
use model::protocol::AgentEvent;
use model::status::{AgentStatus, EventLevel, Phase};
use server::auth::session::{start_session, SessionKind};
use server::auth::{bootstrap_admin, Role};
use server::store::agents::{Agent, RunUpdate};
use server::store::communications::FailedCommunication;
use server::Settings;

use crate::support::{TestApp, TestResponse};

const EVIL: &str = "<script>alert(1)</script>";

pub(crate) async fn form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> TestResponse {
    let body: String = fields
        .iter()
        .map(|(k, v)| format!("{}={}", k, urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, format!("rehome_session={cookie}"));
    }
    app.request(builder.body(Body::from(body)).expect("request"))
        .await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) async fn page(app: &TestApp, path: &str, cookie: &str) -> TestResponse {
    let request = Request::builder()
        .uri(path)
        .header(header::COOKIE, format!("rehome_session={cookie}"))
        .body(Body::empty())
        .expect("request");
    app.request(request).await
}

fn cookie_of(r: &TestResponse) -> String {
    let set = r.header("set-cookie").expect("a Set-Cookie header");
    set.split(';')
        .next()
        .and_then(|kv| kv.split_once('='))
        .map(|(_, v)| v.to_string())
        .expect("cookie value")
}

/// The hidden CSRF field of a rendered form.
pub(crate) fn csrf_of(html: &str) -> String {
    let at =
        html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[at..]
        .split('"')
        .next()
        .expect("csrf value")
        .to_string()
}

#[tokio::test]
async fn first_console_login_forces_a_password_change_with_csrf() {
    let app = TestApp::new().await;
    let password = bootstrap_admin(&app.app)
        .await
        .expect("bootstrap")
        .expect("first start");
    assert_eq!(
        app.get("/", "").await.header("location").as_deref(),
        Some("/login")
    );
    let login_page = app.get("/login", "").await;
    assert_eq!(login_page.status, 200);
    assert!(login_page.text().contains("Log in"));

    let r = form(
        &app,
        "/login",
        None,
        &[("name", "admin"), ("password", &password)],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location").as_deref(), Some("/password"));
    let set = r.header("set-cookie").expect("cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let cookie = cookie_of(&r);

    // Every page sends the user to the password form until the password is changed.
    assert_eq!(
        page(&app, "/agents", &cookie)
            .await
            .header("location")
            .as_deref(),
        Some("/password")
    );
    let form_page = page(&app, "/password", &cookie).await;
    assert_eq!(form_page.status, 200);
    assert!(form_page.text().contains("Choose a new password"));
    let csrf = csrf_of(&form_page.text());

    let change = [
        ("current", password.as_str()),
        ("new", "a-brand-new-pass"),
        ("confirm", "a-brand-new-pass"),
    ];
    let refused = form(&app, "/password", Some(&cookie), &change).await;
    assert_eq!(refused.status, 403);
    let mut with_csrf = change.to_vec();
    with_csrf.push(("csrf", "wrong"));
    assert_eq!(
        form(&app, "/password", Some(&cookie), &with_csrf)
            .await
            .status,
        403
    );
    with_csrf.pop();
    with_csrf.push(("csrf", &csrf));
    let mismatch = [
        ("current", password.as_str()),
        ("new", "a-brand-new-pass"),
        ("confirm", "other"),
        ("csrf", &csrf),
    ];
    assert_eq!(
        form(&app, "/password", Some(&cookie), &mismatch)
            .await
            .status,
        422
    );
    let done = form(&app, "/password", Some(&cookie), &with_csrf).await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(done.header("location").as_deref(), Some("/"));

    let dashboard = page(&app, "/", &cookie).await;
    assert_eq!(dashboard.status, 200);
    assert!(dashboard.text().contains("<h1>Dashboard</h1>"));

    // Logging out needs the token too, then ends the session.
    assert_eq!(form(&app, "/logout", Some(&cookie), &[]).await.status, 403);
    assert_eq!(
        form(&app, "/logout", Some(&cookie), &[("csrf", "nope")])
            .await
            .status,
        403
    );
    let out = form(&app, "/logout", Some(&cookie), &[("csrf", &csrf)]).await;
    assert_eq!(out.header("location").as_deref(), Some("/login"));
    assert!(out
        .header("set-cookie")
        .unwrap_or_default()
        .contains("Max-Age=0"));
    assert_eq!(
        page(&app, "/", &cookie).await.header("location").as_deref(),
        Some("/login")
    );
}

#[tokio::test]
async fn a_wrong_console_login_says_neither_part_and_escapes_the_name() {
    let app = TestApp::new().await;
    let r = form(
        &app,
        "/login",
        None,
        &[("name", EVIL), ("password", "whatever-it-is")],
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.header("set-cookie").is_none());
    let html = r.text();
    assert!(html.contains("wrong user name or password"), "{html}");
    assert!(
        !html.contains(EVIL) && html.contains("&lt;script&gt;"),
        "{html}"
    );
}

#[tokio::test]
async fn the_cookie_is_secure_under_tls() {
    let app = TestApp::with_settings(Settings {
        tls: true,
        ..Settings::default()
    })
    .await;
    let (name, password) = app.user_with_roles(&[Role::AgentViewer]).await;
    let r = form(
        &app,
        "/login",
        None,
        &[("name", &name), ("password", &password)],
    )
    .await;
    assert_eq!(r.status, 303);
    assert!(r
        .header("set-cookie")
        .unwrap_or_default()
        .contains("; Secure"));
}

/// A registered agent with a hostile name, a run with a hostile error, a hostile log line, a
/// batch with a hostile name and a hostile failed communication.
async fn seed_device_data(app: &TestApp) -> AgentId {
    let store = &app.app.store;
    let now = app.clock.now();
    let id = AgentId::new();
    let keys = KeyPair::generate();
    let issuer = KeyPair::generate();
    let certificate = AgentCertificate::issue(
        id,
        EVIL,
        keys.public(),
        CertificateId::new(),
        &issuer,
        now,
        Duration::days(365),
    );
    let agent = Agent {
        id,
        directory: DirectoryId::new(),
        computer_guid: ObjectGuid::new(),
        computer_name: EVIL.to_string(),
        serial: "SN-1".to_string(),
        os_edition: OsEdition::Workstation,
        os_version: "10.0.22631".to_string(),
        agent_version: "0.1.0".to_string(),
        join_state: JoinState::ActiveDirectory {
            domain: "corp.example".to_string(),
        },
        certificate,
        keys: keys.public(),
        registered_at: now,
        last_contact: now,
        logged_on_user: None,
    };
    store.insert_agent(&agent).await.expect("insert agent");
    let runbook = RunbookId::new();
    store
        .create_run(id, runbook, BatchId::new(), AgentStatus::NotStarted, now)
        .await
        .expect("run");
    let update = RunUpdate {
        status: Some(AgentStatus::Error),
        phase: Some(Phase::DeviceState),
        step: Some("join".to_string()),
        last_error: Some(format!("join failed: {EVIL}")),
        seq: 1,
    };
    store
        .apply_run_update(id, runbook, &update, now)
        .await
        .expect("update run");
    let event = AgentEvent {
        seq: 1,
        at: now,
        level: EventLevel::Error,
        runbook: Some(runbook),
        phase: Some(Phase::DeviceState),
        step: Some("join".to_string()),
        status: Some(AgentStatus::Error),
        message: format!("device said {EVIL}"),
    };
    store
        .insert_events(id, &[event], now)
        .await
        .expect("events");
    let failed = FailedCommunication {
        at: now,
        computer_name: Some(EVIL.to_string()),
        remote_address: Some("192.0.2.7".to_string()),
        code: "not_imported".to_string(),
        message: format!("computer {EVIL} was not imported"),
    };
    let batch = Batch {
        id: BatchId::new(),
        name: EVIL.to_string(),
        source_directory: DirectoryId::new(),
        target_directory: DirectoryId::new(),
        assignments: Vec::new(),
        computers: Default::default(),
    };
    store.insert_batch(&batch, now).await.expect("batch");
    store
        .insert_failed_communication(&failed)
        .await
        .expect("failed communication");
    id
}

pub(crate) async fn console_cookie(app: &TestApp, roles: &[Role]) -> String {
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
        .token
}

#[tokio::test]
async fn every_page_renders_for_a_viewer_and_escapes_device_text() {
    let app = TestApp::new().await;
    let agent = seed_device_data(&app).await;
    let cookie = console_cookie(&app, &[Role::AgentViewer]).await;
    let pages = [
        ("/".to_string(), "Dashboard"),
        ("/agents".to_string(), "Agents"),
        (format!("/agents/{agent}"), "Runbooks"),
        (format!("/agents/{agent}/logs"), "Logs of"),
        ("/communications".to_string(), "Failed communications"),
    ];
    for (path, heading) in pages {
        let r = page(&app, &path, &cookie).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let html = r.text();
        assert!(html.contains(heading), "{path} lacks {heading}");
        assert!(
            !html.contains("<script>alert"),
            "{path} did not escape: {html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}: {html}"
        );
    }
    let dashboard = page(&app, "/", &cookie).await.text();
    assert!(dashboard.contains("Registered agents") && dashboard.contains("In Progress"));
    let details = page(&app, &format!("/agents/{agent}"), &cookie)
        .await
        .text();
    assert!(
        details.contains("status-Error") && details.contains("Device State"),
        "{details}"
    );
    let unknown = page(&app, &format!("/agents/{}", AgentId::new()), &cookie).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(page(&app, "/agents/not-an-id", &cookie).await.status, 404);
}

#[tokio::test]
async fn roles_outside_the_agent_area_get_a_refusal_page() {
    let app = TestApp::new().await;
    let cookie = console_cookie(&app, &[Role::SyncViewer]).await;
    let r = page(&app, "/agents", &cookie).await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("Agent Viewer"));
    for roles in [
        &[Role::AgentOperator][..],
        &[Role::AgentAdmin],
        &[Role::TenantAdmin],
    ] {
        let cookie = console_cookie(&app, roles).await;
        assert_eq!(
            page(&app, "/communications", &cookie).await.status,
            200,
            "{roles:?}"
        );
    }
}

#[tokio::test]
async fn assets_are_served_from_the_binary() {
    let app = TestApp::new().await;
    let css = app.get("/assets/console.css", "").await;
    assert_eq!(css.status, 200);
    assert!(css
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/css"));
    assert_eq!(app.get("/assets/console.js", "").await.status, 200);
}

/// A real listener on 127.0.0.1 with a self-signed certificate, and a real TLS client.
#[tokio::test]
async fn serves_over_tls_with_secure_cookies_and_shuts_down() {
    use server::serve::{start, ServeConfig, TlsFiles};
    use server::store::testing::TestDir;

    let dir = TestDir::new();
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
    let cert_pem = certified.cert.pem();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, &cert_pem).expect("write certificate");
    std::fs::write(&key_path, certified.key_pair.serialize_pem()).expect("write key");
    let config = ServeConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        data_dir: dir.path().join("data"),
        database: None,
        tls: Some(TlsFiles {
            cert_pem: cert_path,
            key_pem: key_path,
        }),
        ..ServeConfig::default()
    };
    let server = start(
        config.clone(),
        std::sync::Arc::new(model::clock::SystemClock),
    )
    .await
    .expect("start");
    let password = server
        .initial_admin_password
        .clone()
        .expect("the first start creates admin");
    let port = server.local_addr().port();
    assert_ne!(port, 0);

    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).expect("root"))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let base = format!("https://127.0.0.1:{port}");
    let r = client
        .post(format!("{base}/login"))
        .form(&[("name", "admin"), ("password", password.as_str())])
        .send()
        .await
        .expect("login over TLS");
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let api = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"name": "admin", "password": password}))
        .send()
        .await
        .expect("API login over TLS");
    assert_eq!(api.status(), 200);
    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/login"))
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));

    server.shutdown().await.expect("graceful shutdown");
    assert!(
        client.get(format!("{base}/login")).send().await.is_err(),
        "still listening after shutdown"
    );

    // A second start on the same data finds the admin and prints no password.
    let again = start(
        ServeConfig {
            tls: None,
            ..config
        },
        std::sync::Arc::new(model::clock::SystemClock),
    )
    .await
    .expect("restart");
    assert_eq!(again.initial_admin_password, None);
    let page = reqwest::get(format!("http://{}/login", again.local_addr()))
        .await
        .expect("plain HTTP");
    assert_eq!(page.status(), 200);
    again.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn tenant_admins_add_and_delete_users_in_the_console_and_others_are_refused() {
    let app = TestApp::new().await;
    let viewer = console_cookie(&app, &[Role::AgentViewer, Role::SyncViewer]).await;
    let refused = page(&app, "/users", &viewer).await;
    assert_eq!(refused.status, 403);
    assert!(!page(&app, "/", &viewer)
        .await
        .text()
        .contains("href=\"/users\""));
    let viewer_csrf = csrf_of(&page(&app, "/", &viewer).await.text());
    let add = [
        ("name", "sneaky"),
        ("password", "a-long-password"),
        ("role", "TenantAdmin"),
    ];
    let mut with_csrf = add.to_vec();
    with_csrf.push(("csrf", &viewer_csrf));
    assert_eq!(
        form(&app, "/users", Some(&viewer), &with_csrf).await.status,
        403
    );

    let admin = console_cookie(&app, &[Role::TenantAdmin]).await;
    let list = page(&app, "/users", &admin).await;
    assert_eq!(list.status, 200);
    let csrf = csrf_of(&list.text());
    assert_eq!(
        form(&app, "/users", Some(&admin), &add).await.status,
        403,
        "no CSRF token"
    );
    let ops = [
        ("csrf", csrf.as_str()),
        ("name", "ops.one"),
        ("password", "a-long-password"),
        ("role", "AgentOperator"),
        ("role", "SyncViewer"),
    ];
    let r = form(&app, "/users", Some(&admin), &ops).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let html = page(&app, "/users", &admin).await.text();
    assert!(
        html.contains("ops.one") && html.contains("SyncViewer, AgentOperator"),
        "{html}"
    );
    let again = form(&app, "/users", Some(&admin), &ops).await;
    assert_eq!(again.status, 409);
    let weak = [
        ("csrf", csrf.as_str()),
        ("name", "weak"),
        ("password", "short"),
    ];
    let r = form(&app, "/users", Some(&admin), &weak).await;
    assert_eq!(r.status, 422);
    assert!(
        r.text().contains("use at least 12 characters"),
        "{}",
        r.text()
    );

    let user = app
        .app
        .store
        .user_by_name("ops.one")
        .await
        .expect("read")
        .expect("user");
    assert!(user.must_change_password);
    let delete = format!("/users/{}/delete", user.id);
    assert_eq!(
        form(&app, &delete, Some(&viewer), &[("csrf", &viewer_csrf)])
            .await
            .status,
        403
    );
    assert_eq!(
        form(&app, &delete, Some(&admin), &[("csrf", &csrf)])
            .await
            .status,
        303
    );
    assert!(app
        .app
        .store
        .user_by_name("ops.one")
        .await
        .expect("read")
        .is_none());
}

#[tokio::test]
async fn a_start_that_cannot_listen_keeps_the_first_admin_password_for_the_next() {
    use server::serve::{start, ServeConfig};
    let dir = server::store::testing::TestDir::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let clock = std::sync::Arc::new(model::clock::SystemClock);
    let config = ServeConfig {
        listen: taken.local_addr().expect("address"),
        data_dir: dir.path().to_path_buf(),
        ..ServeConfig::default()
    };
    assert!(start(config.clone(), clock.clone()).await.is_err());
    let free = ServeConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        ..config
    };
    let running = start(free, clock).await.expect("start");
    assert!(running.initial_admin_password.is_some());
    running.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_agents_list_is_filtered_on_the_server_and_downloaded_alike() {
    let app = TestApp::new().await;
    seed_device_data(&app).await;
    let cookie = console_cookie(&app, &[Role::AgentViewer]).await;
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
    let in_error = page(&app, "/agents?status=Error", &cookie).await.text();
    assert!(in_error.contains(escaped), "{in_error}");
    let completed = page(&app, "/agents?status=Completed", &cookie).await.text();
    assert!(
        !completed.contains(escaped) && completed.contains("No agent matches"),
        "{completed}"
    );
    let csv = page(&app, "/agents.csv?status=Error", &cookie).await.text();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let none = page(&app, "/agents.csv?computer=WS-*", &cookie)
        .await
        .text();
    assert_eq!(none.lines().count(), 1, "{none}");
}
