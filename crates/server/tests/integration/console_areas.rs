//! The console's product areas in-process: navigation per role, the dashboard's donuts and the
//! devices behind each slice, the editors' errors beside their fields with nothing saved, and no
//! form that posts for a viewer.

use axum::body::Body;
use axum::http::{header, Method, Request};
use server::auth::session::{start_session, SessionKind};
use server::auth::Role;

use crate::agent_api::world;
use crate::support::{TestApp, TestResponse};

/// A console session (cookie value and CSRF token) for a new user with `roles`.
pub async fn session(t: &TestApp, roles: &[Role]) -> (String, String) {
    let (name, _) = t.user_with_roles(roles).await;
    let user = t
        .app
        .store
        .user_by_name(&name)
        .await
        .expect("read")
        .expect("user");
    let s = start_session(&t.app, user.id, SessionKind::Console)
        .await
        .expect("session");
    (s.token.clone(), s.csrf_token.clone())
}

pub async fn page(t: &TestApp, path: &str, cookie: &str) -> TestResponse {
    let request = Request::builder()
        .uri(path)
        .header(header::COOKIE, format!("rehome_session={cookie}"))
        .body(Body::empty())
        .expect("request");
    t.request(request).await
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn post(t: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> TestResponse {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", k, encode(v)))
        .collect();
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::COOKIE, format!("rehome_session={cookie}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.join("&")))
        .expect("request");
    t.request(request).await
}

/// Forms on the page that would post, other than logging out.
pub fn posting_forms(html: &str) -> usize {
    html.matches("method=\"post\"").count() - html.matches("action=\"/logout\"").count()
}

#[tokio::test]
async fn navigation_shows_each_product_area_to_the_roles_that_read_it() {
    let t = TestApp::new().await;
    let (agent_viewer, _) = session(&t, &[Role::AgentViewer]).await;
    let html = page(&t, "/", &agent_viewer).await.text();
    assert!(
        html.contains("Migration") && html.contains("href=\"/runbooks\""),
        "{html}"
    );
    assert!(
        !html.contains("href=\"/directories\""),
        "no Sync area for an agent viewer"
    );
    assert!(!html.contains("href=\"/users\""));
    let (sync_viewer, _) = session(&t, &[Role::SyncViewer]).await;
    let r = page(&t, "/directories", &sync_viewer).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("href=\"/translations\"") && !r.text().contains("href=\"/psks\""));
    assert_eq!(page(&t, "/psks", &sync_viewer).await.status, 403);
    let (admin, _) = session(&t, &[Role::TenantAdmin]).await;
    let html = page(&t, "/", &admin).await.text();
    for link in [
        "/directories",
        "/profiles",
        "/objects",
        "/psks",
        "/batches",
        "/logs",
        "/users",
        "/licences",
    ] {
        assert!(html.contains(&format!("href=\"{link}\"")), "{link} missing");
    }
}

#[tokio::test]
async fn the_dashboard_donut_links_each_status_to_exactly_its_devices() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let (cookie, _) = session(&t, &[Role::AgentViewer]).await;
    let html = page(&t, "/", &cookie).await.text();
    // Two computers of Wave 1, no agent yet: one slice, No Agent, 2 of 2.
    assert!(html.contains("No Agent: 2 of 2"), "{html}");
    assert!(
        !html.contains("Completed: "),
        "no slice for an empty status"
    );
    let slice = "/devices?status=NoAgent";
    assert!(html.contains(&format!("href=\"{slice}\"")), "{html}");
    let devices = page(&t, slice, &cookie).await.text();
    assert_eq!(
        devices.matches("class=\"status-NoAgent\"").count(),
        2,
        "{devices}"
    );
    assert_eq!(
        page(&t, "/devices?status=Completed", &cookie)
            .await
            .text()
            .matches("<td class=\"status-")
            .count(),
        0
    );
    let csv = page(&t, "/devices.csv?status=NoAgent&computer=PC*", &cookie).await;
    assert_eq!(
        csv.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let text = csv.text();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("PC1") && text.contains("PC2") && text.contains("No Agent"));
    // Filtered by a batch that is not Wave 1, nothing is counted.
    let other = page(
        &t,
        &format!("/?runbook={}", model::ids::RunbookId::new()),
        &cookie,
    )
    .await
    .text();
    assert!(!other.contains("No Agent: 2"), "{other}");
    // The refreshing part alone, for the script.
    let request = Request::builder()
        .uri("/")
        .header(header::COOKIE, format!("rehome_session={cookie}"))
        .header("hx-request", "true")
        .body(Body::empty())
        .expect("request");
    let fragment = t.request(request).await.text();
    assert!(fragment.starts_with("<div id=\"progress\""), "{fragment}");
    assert!(fragment.contains("No Agent: 2 of 2"));
    let _ = w;
}

#[tokio::test]
async fn a_computer_list_with_a_bad_line_names_it_and_changes_nothing() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let (cookie, csrf) = session(&t, &[Role::AgentOperator]).await;
    let path = format!("/batches/{}/import", w.batch.id);
    let bad = format!("name,objectGuid\nPC3,{}\nPC9,not-a-guid\n", w.pcs[2]);
    let r = post(&t, &path, &cookie, &[("csrf", &csrf), ("csv", &bad)]).await;
    assert_eq!(r.status, 422);
    let html = r.text();
    assert!(html.contains("line 3"), "{html}");
    assert!(
        html.contains("PC9,not-a-guid"),
        "what was typed is kept: {html}"
    );
    let stored = t
        .app
        .store
        .batch(w.batch.id)
        .await
        .expect("read")
        .expect("batch");
    assert_eq!(
        stored.computers.computers, w.batch.computers.computers,
        "nothing applied"
    );
    let good = format!("name,objectGuid\nPC3,{}\n", w.pcs[2]);
    let r = post(&t, &path, &cookie, &[("csrf", &csrf), ("csv", &good)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Imported: 1 computers listed."));
    let stored = t
        .app
        .store
        .batch(w.batch.id)
        .await
        .expect("read")
        .expect("batch");
    assert_eq!(stored.computers.computers, vec![w.pcs[2]]);
    let csv = page(
        &t,
        &format!("/batches/{}/computers.csv", w.batch.id),
        &cookie,
    )
    .await
    .text();
    assert!(csv.contains(&format!("\"PC3\",\"{}\"", w.pcs[2])), "{csv}");
}

/// The runbook `id` as the store holds it now.
async fn stored_runbook(t: &TestApp, id: model::ids::RunbookId) -> model::runbook::Runbook {
    t.app
        .store
        .runbook(id)
        .await
        .expect("read")
        .expect("runbook")
}

#[tokio::test]
async fn a_runbook_tab_with_a_wrong_setting_shows_the_error_beside_it_and_saves_nothing() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let (cookie, csrf) = session(&t, &[Role::AgentAdmin]).await;
    let path = format!("/runbooks/{}/tabs/permissions", w.runbook.id);
    let r = post(
        &t,
        &path,
        &cookie,
        &[("csrf", &csrf), ("settings", "{\"mode\": \"Sideways\"}")],
    )
    .await;
    assert_eq!(r.status, 422);
    let html = r.text();
    assert!(
        html.contains("class=\"field-error\"") && html.contains("Sideways"),
        "{html}"
    );
    let stored = stored_runbook(&t, w.runbook.id).await;
    assert_eq!(stored, w.runbook);
    // A good document is saved and the tab shown again.
    let r = post(
        &t,
        &path,
        &cookie,
        &[
            ("csrf", &csrf),
            ("settings", "{\"mode\": \"AddAndRemove\"}"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let stored = stored_runbook(&t, w.runbook.id).await;
    assert_ne!(stored.permissions, w.runbook.permissions);
}

#[tokio::test]
async fn a_runbook_tab_post_with_a_button_the_form_does_not_have_saves_nothing() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let (cookie, csrf) = session(&t, &[Role::AgentAdmin]).await;
    let path = format!("/runbooks/{}/tabs/permissions", w.runbook.id);
    for action in ["zzz", "save", "add"] {
        let r = post(&t, &path, &cookie, &[("csrf", &csrf), ("action", action)]).await;
        assert_eq!(r.status, 422, "{action}: {}", r.text());
        assert!(
            r.text()
                .contains("press Save, or the Add, Remove or Copy button"),
            "{action}"
        );
    }
    let stored = stored_runbook(&t, w.runbook.id).await;
    assert_eq!(stored, w.runbook);
}

#[tokio::test]
async fn a_psk_is_shown_once_and_refused_limits_save_nothing() {
    let t = TestApp::new().await;
    let (cookie, csrf) = session(&t, &[Role::AgentAdmin]).await;
    let r = post(
        &t,
        "/psks",
        &cookie,
        &[("csrf", &csrf), ("expires_at", "2020-01-01T00:00")],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text().contains("must be in the future"), "{}", r.text());
    assert!(t.app.store.psks().await.expect("psks").is_empty());
    let r = post(&t, "/psks", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 201);
    let html = r.text();
    let at = html.find("id=\"new-psk\">").expect("the new PSK") + "id=\"new-psk\">".len();
    let key: String = html[at..].chars().take_while(|c| *c != '<').collect();
    assert_eq!(key.len(), 64);
    let again = page(&t, "/psks", &cookie).await.text();
    assert!(!again.contains(&key), "shown once");
}

#[tokio::test]
async fn viewers_see_every_page_without_a_form_that_posts() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let (cookie, _) = session(&t, &[Role::AgentViewer, Role::SyncViewer]).await;
    let pages = [
        "/".to_string(),
        "/devices".to_string(),
        "/psks".to_string(),
        "/certificates".to_string(),
        "/bulk-tokens".to_string(),
        "/runbooks".to_string(),
        format!("/runbooks/{}", w.runbook.id),
        format!("/runbooks/{}?tab=device_state", w.runbook.id),
        "/batches".to_string(),
        format!("/batches/{}", w.batch.id),
        "/logs".to_string(),
        "/directories".to_string(),
        format!("/directories/{}", w.src),
        "/schedule".to_string(),
        format!("/profiles?source={}&target={}", w.src, w.dst),
        "/translations".to_string(),
        "/objects?q=ali*".to_string(),
        "/licences".to_string(),
    ];
    for p in &pages {
        let r = page(&t, p, &cookie).await;
        assert_eq!(r.status, 200, "{p}: {}", r.text());
        assert_eq!(
            posting_forms(&r.text()),
            0,
            "{p} offers a viewer a form that posts"
        );
    }
    let runbooks = page(&t, "/runbooks", &cookie).await.text();
    assert!(runbooks.contains(">View<") && !runbooks.contains(">Edit<"));
    // And a form posted anyway is refused.
    let (_, csrf) = session(&t, &[Role::AgentViewer]).await;
    let r = post(&t, "/psks", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 403);
    // An admin of the same pages gets the forms.
    let (admin, _) = session(&t, &[Role::TenantAdmin]).await;
    for p in ["/psks", "/runbooks", "/batches", "/directories"] {
        assert!(posting_forms(&page(&t, p, &admin).await.text()) > 0, "{p}");
    }
}

#[tokio::test]
async fn the_translation_table_and_the_object_report_are_filtered_on_the_server() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let (cookie, _) = session(&t, &[Role::SyncViewer]).await;
    let html = page(&t, "/translations?search=alice", &cookie).await.text();
    assert!(
        html.contains("Alice F") && !html.contains("Bob F"),
        "{html}"
    );
    let csv = page(&t, "/translations.csv?search=alice", &cookie)
        .await
        .text();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    let found = page(&t, "/objects?q=ali*", &cookie).await.text();
    let link = format!("/objects/{}/", w.src);
    assert!(found.contains(&link), "{found}");
    let at = found.find(&link).expect("a link");
    let href: String = found[at..].chars().take_while(|c| *c != '"').collect();
    let report = page(&t, &href, &cookie).await.text();
    assert!(report.contains("Open as target"), "{report}");
    let errors = page(&t, &format!("{href}?tab=attributes"), &cookie)
        .await
        .text();
    assert!(errors.contains("sam_account_name") && errors.contains("alice"));
}

#[tokio::test]
async fn failed_communications_are_filtered_and_downloaded_alike() {
    use server::store::communications::FailedCommunication;
    let t = TestApp::new().await;
    let now = model::clock::Clock::now(&t.clock);
    for (name, address, code) in [
        ("WS-001", "192.0.2.7", "not_imported"),
        ("WS-002", "192.0.2.8", "bad_psk"),
        ("LAB-9", "198.51.100.1", "not_imported"),
    ] {
        t.app
            .store
            .insert_failed_communication(&FailedCommunication {
                at: now,
                computer_name: Some(name.to_string()),
                remote_address: Some(address.to_string()),
                code: code.to_string(),
                message: format!("{name} refused"),
            })
            .await
            .expect("failed communication");
    }
    let (cookie, _) = session(&t, &[Role::AgentViewer]).await;
    let html = page(
        &t,
        "/communications?computer=WS-*&code=not_imported",
        &cookie,
    )
    .await
    .text();
    assert!(html.contains("WS-001 refused"), "{html}");
    assert!(!html.contains("WS-002 refused") && !html.contains("LAB-9 refused"));
    let csv = page(
        &t,
        "/communications.csv?computer=WS-*&code=not_imported",
        &cookie,
    )
    .await
    .text();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains("WS-001") && !csv.contains("LAB-9"));
    let by_address = page(&t, "/communications.csv?address=192.0.2.*", &cookie)
        .await
        .text();
    assert_eq!(by_address.lines().count(), 3, "{by_address}");
}

#[tokio::test]
async fn an_address_that_names_nothing_is_a_page_for_a_browser_and_json_for_a_script() {
    let t = TestApp::new().await;
    let (cookie, _) = session(&t, &[Role::AgentViewer, Role::SyncViewer]).await;
    let missing = uuid::Uuid::new_v4();
    for path in [
        format!("/batches/{missing}"),
        format!("/agents/{missing}"),
        format!("/runbooks/{missing}"),
        format!("/directories/{missing}"),
    ] {
        let request = Request::builder()
            .uri(&path)
            .header(header::COOKIE, format!("rehome_session={cookie}"))
            .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
            .body(Body::empty())
            .expect("request");
        let r = t.request(request).await;
        assert_eq!(r.status, 404, "{path}");
        let content_type = r.headers.get(header::CONTENT_TYPE).expect("a type");
        assert!(
            content_type
                .to_str()
                .expect("text")
                .starts_with("text/html"),
            "{path}"
        );
        let html = r.text();
        assert!(
            html.contains("not found") && html.contains("Back to the console"),
            "{path}: {html}"
        );
        // A script's request, which does not ask for HTML, keeps the JSON answer.
        let r = page(&t, &path, &cookie).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["code"], "not_found", "{path}");
    }
}
