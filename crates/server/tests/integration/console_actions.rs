//! What the console does to agents, certificates, directory connections and bulk enrollment
//! tokens: retry of a failed device, deleting an agent or a certificate, the connection editor
//! with its write-only secret, import object types, a token made through a device-code sign-in,
//! and the Download Agent page.

use axum::http::StatusCode;
use chrono::Duration;
use model::directory::{DirectoryKind, ObjectKind};
use model::protocol::{kinds, EventsAck, EventsUpload};
use model::status::{AgentStatus, EventLevel, Phase};
use server::auth::Role;
use server::enrollment::testing::FakeEntra;
use server::Settings;

use crate::agent_api::{event, world, TestAgent};
use crate::console_areas::{page, post, posting_forms, session};
use crate::directory::{directory, import, object};
use crate::support::TestApp;

/// PC1 registered, assigned and reporting its run in Error.
async fn failed_pc1(t: &TestApp, w: &crate::agent_api::device::World) -> TestAgent {
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(t, &w.psk).await.expect("registered");
    t.clock.advance(Duration::hours(4));
    pc1.check_in(t, true, vec![]).await;
    let upload = EventsUpload {
        events: vec![event(
            1,
            t,
            w.runbook.id,
            Some(AgentStatus::Error),
            Phase::DeviceState,
            EventLevel::Error,
        )],
    };
    let _: EventsAck = pc1.call(t, kinds::EVENTS, &upload).await.expect("events");
    pc1
}

#[tokio::test]
async fn a_failed_device_is_retried_from_its_agent_page_once() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let pc1 = failed_pc1(&t, &w).await;
    let path = format!("/agents/{}", pc1.id());
    let retry = format!("/agents/{}/runs/{}/retry", pc1.id(), w.runbook.id);

    let (viewer, viewer_csrf) = session(&t, &[Role::AgentViewer]).await;
    let seen = page(&t, &path, &viewer).await.text();
    assert!(seen.contains("Error") && !seen.contains(&retry), "{seen}");
    assert_eq!(posting_forms(&seen), 0);
    let refused = post(&t, &retry, &viewer, &[("csrf", &viewer_csrf)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let (operator, csrf) = session(&t, &[Role::AgentOperator]).await;
    let html = page(&t, &path, &operator).await.text();
    assert!(html.contains(&retry), "{html}");
    assert!(
        !html.contains("Delete agent"),
        "deleting needs the Agent Admin role"
    );
    let done = post(&t, &retry, &operator, &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert!(done.text().contains("will start again"), "{}", done.text());
    let details = server::migration::agents::details(&t.app, pc1.id())
        .await
        .expect("details");
    assert_eq!(details.runs[0].status, AgentStatus::NotStarted);

    // Retried already: a second press says why and changes nothing.
    let again = post(&t, &retry, &operator, &[("csrf", &csrf)]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text().contains("Not retried"), "{}", again.text());
}

#[tokio::test]
async fn deleting_an_agent_removes_what_it_reported_and_its_device_needs_an_agent_again() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let pc1 = failed_pc1(&t, &w).await;
    let delete = format!("/agents/{}/delete", pc1.id());

    let (operator, operator_csrf) = session(&t, &[Role::AgentOperator]).await;
    let refused = post(&t, &delete, &operator, &[("csrf", &operator_csrf)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(t.app.store.agent(pc1.id()).await.expect("read").is_some());

    let (admin, csrf) = session(&t, &[Role::AgentAdmin]).await;
    assert!(page(&t, &format!("/agents/{}", pc1.id()), &admin)
        .await
        .text()
        .contains("Delete agent"));
    let done = post(&t, &delete, &admin, &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert!(t.app.store.agent(pc1.id()).await.expect("read").is_none());
    assert_eq!(t.app.store.event_count(pc1.id()).await.expect("count"), 0);
    let progress = server::migration::progress::progress(&t.app)
        .await
        .expect("progress");
    assert_eq!((progress.overall.no_agent, progress.overall.error), (2, 0));
    let list = page(&t, "/agents", &admin).await.text();
    assert!(!list.contains(&format!("/agents/{}", pc1.id())), "{list}");
    assert_eq!(
        page(&t, &format!("/agents/{}", pc1.id()), &admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_certificate_that_signed_an_agent_stays_and_an_unused_one_is_deleted() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("registered");
    let used = server::migration::keys::certificates(&t.app)
        .await
        .expect("certificates")[0]
        .id;
    let (admin, csrf) = session(&t, &[Role::AgentAdmin]).await;
    let refused = post(
        &t,
        &format!("/certificates/{used}/delete"),
        &admin,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.text().contains("1 registered agent(s)"),
        "{}",
        refused.text()
    );
    assert_eq!(
        server::migration::keys::certificates(&t.app)
            .await
            .expect("certificates")
            .len(),
        1
    );

    let unused = server::migration::keys::create_certificate(&t.app, Default::default())
        .await
        .expect("certificate")
        .id;
    let html = page(&t, "/certificates", &admin).await.text();
    assert!(
        html.contains(&format!("/certificates/{unused}/delete")),
        "{html}"
    );
    let done = post(
        &t,
        &format!("/certificates/{unused}/delete"),
        &admin,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    let left = server::migration::keys::certificates(&t.app)
        .await
        .expect("certificates");
    assert_eq!(left.iter().map(|c| c.id).collect::<Vec<_>>(), vec![used]);
    // The registered agent still talks to the server.
    pc1.check_in(&t, false, vec![]).await;
}

fn ldap_fields<'a>(csrf: &'a str, url: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("kind", "ldap"),
        ("url", url),
        ("bind_dn", "CN=rehome,CN=Users,DC=contoso,DC=test"),
        (
            "base_dns",
            "OU=Staff,DC=contoso,DC=test\nOU=Computers,DC=contoso,DC=test",
        ),
        ("page_size", "500"),
        ("timeout_seconds", "30"),
        ("password", password),
    ]
}

#[tokio::test]
async fn the_connection_editor_keeps_the_secret_write_only_and_where_it_was_sent() {
    let t = TestApp::new().await;
    let src = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let path = format!("/directories/{src}/connection");
    let (sync_admin, csrf) = session(&t, &[Role::SyncAdmin]).await;

    // A field in error: shown beside it, the secret typed not sent back, nothing stored.
    let mut bad = ldap_fields(&csrf, "ldaps://dc1.contoso.test", "Typed-Secret-1");
    bad.retain(|(k, _)| *k != "page_size");
    bad.push(("page_size", "many"));
    let r = post(&t, &path, &sync_admin, &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text();
    let beside = html.find("id=\"connection-page_size\"").expect("the field");
    let error = html.find("a whole number is expected").expect("the error");
    assert!(error > beside, "the error follows its field");
    assert!(
        !html.contains("Typed-Secret-1"),
        "a typed secret is never sent back"
    );
    assert!(server::directory::connection::connection(&t.app, src)
        .await
        .expect("read")
        .is_none());

    let saved = post(
        &t,
        &path,
        &sync_admin,
        &ldap_fields(&csrf, "ldaps://dc1.contoso.test", "Bind-Secret-1"),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let html = page(&t, &format!("/directories/{src}"), &sync_admin)
        .await
        .text();
    assert!(html.contains("a secret is stored"), "{html}");
    assert!(html.contains("ldaps://dc1.contoso.test") && !html.contains("Bind-Secret-1"));

    // Same server, no password: the stored one is kept.
    let kept = post(
        &t,
        &path,
        &sync_admin,
        &ldap_fields(&csrf, "ldaps://dc1.contoso.test", ""),
    )
    .await;
    assert_eq!(kept.status, StatusCode::SEE_OTHER, "{}", kept.text());
    let stored = server::directory::connection::stored(&t.app, src)
        .await
        .expect("read")
        .expect("a connection");
    assert_eq!(stored.split().1.as_deref(), Some("Bind-Secret-1"));

    // Another server without the password: a Sync admin may not send the stored one there.
    let moved = post(
        &t,
        &path,
        &sync_admin,
        &ldap_fields(&csrf, "ldaps://elsewhere.example", ""),
    )
    .await;
    assert_eq!(moved.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = moved.text();
    let beside = html.find("id=\"connection-password\"").expect("the field");
    let error = html
        .find("give the bind password again")
        .expect("the error");
    assert!(error > beside, "{html}");
    let info = server::directory::connection::connection(&t.app, src)
        .await
        .expect("read")
        .expect("a connection");
    assert!(
        serde_json::to_string(&info.settings)
            .expect("json")
            .contains("dc1.contoso.test"),
        "nothing was saved"
    );

    // A Tenant admin may.
    let (tenant, tenant_csrf) = session(&t, &[Role::TenantAdmin]).await;
    let moved = post(
        &t,
        &path,
        &tenant,
        &ldap_fields(&tenant_csrf, "ldaps://elsewhere.example", ""),
    )
    .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.text());

    // A Sync viewer sees the connection without a form that posts.
    let (viewer, _) = session(&t, &[Role::SyncViewer]).await;
    let html = page(&t, &format!("/directories/{src}"), &viewer)
        .await
        .text();
    assert!(html.contains("elsewhere.example"));
    assert_eq!(posting_forms(&html), 0);
}

#[tokio::test]
async fn import_object_types_decide_what_the_next_import_keeps() {
    let t = TestApp::new().await;
    let src = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let objects = vec![
        object(
            ObjectKind::User,
            "Alice",
            "alice",
            Some("S-1-5-21-1-2-3-1001"),
        ),
        object(
            ObjectKind::Computer,
            "PC1",
            "PC1$",
            Some("S-1-5-21-1-2-3-2001"),
        ),
        object(
            ObjectKind::Group,
            "Staff",
            "staff",
            Some("S-1-5-21-1-2-3-3001"),
        ),
    ];
    let first = import(&t, src, "contoso.test", objects.clone()).await;
    assert_eq!((first.users, first.computers, first.groups), (1, 1, 1));
    let path = format!("/directories/{src}/kinds");
    let (admin, csrf) = session(&t, &[Role::SyncAdmin]).await;

    let none = post(&t, &path, &admin, &[("csrf", &csrf)]).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.text().contains("choose at least one object type"));

    let saved = post(
        &t,
        &path,
        &admin,
        &[("csrf", &csrf), ("kind", "User"), ("kind", "Computer")],
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let html = page(&t, &format!("/directories/{src}"), &admin)
        .await
        .text();
    assert!(html.contains("value=\"Computer\" checked"), "{html}");
    assert!(!html.contains("value=\"Group\" checked"), "{html}");

    // The next full import leaves the group out, and so deletes the one kept before.
    let second = import(&t, src, "contoso.test", objects).await;
    assert_eq!(
        (
            second.users,
            second.computers,
            second.groups,
            second.deleted
        ),
        (1, 1, 0, 1)
    );
}

#[tokio::test]
async fn a_bulk_token_is_made_through_a_device_code_sign_in_in_the_console() {
    let fake = FakeEntra::start("fabrikam.test").await.expect("fake Entra");
    let t = TestApp::with_settings(Settings {
        entra: fake.endpoints(),
        ..Settings::default()
    })
    .await;
    let dst = directory(&t, "FABRIKAM", "fabrikam.test", DirectoryKind::EntraId).await;
    let (admin, csrf) = session(&t, &[Role::AgentAdmin]).await;
    let start = format!("/bulk-tokens/{dst}/flows");

    let bad = post(
        &t,
        &start,
        &admin,
        &[
            ("csrf", &csrf),
            ("display_name", "Wave 1"),
            ("days_valid", "400"),
        ],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text();
    let beside = html
        .find(&format!("id=\"days_valid-{dst}\""))
        .expect("field");
    let error = html.find("whole days from 1 to 180").expect("error");
    assert!(error > beside, "{html}");

    let started = post(
        &t,
        &start,
        &admin,
        &[
            ("csrf", &csrf),
            ("display_name", "Wave 1"),
            ("days_valid", "90"),
        ],
    )
    .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text());
    let html = started.text();
    let at = html.find("/poll\"").expect("the poll form");
    let action_start = html[..at].rfind("action=\"").expect("action") + "action=\"".len();
    let poll = format!("{}/poll", &html[action_start..at]);
    let value_of = |name: &str| -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let at = html.find(&marker).expect("the hidden field") + marker.len();
        html[at..].chars().take_while(|c| *c != '"').collect()
    };
    let user_code = value_of("user_code");
    let uri = value_of("verification_uri");
    let fields = [
        ("csrf", csrf.as_str()),
        ("user_code", user_code.as_str()),
        ("verification_uri", uri.as_str()),
    ];

    // Nobody signed in yet: the page says so and keeps the code.
    t.clock.advance(Duration::seconds(5));
    let pending = post(&t, &poll, &admin, &fields).await;
    assert_eq!(pending.status, StatusCode::ACCEPTED, "{}", pending.text());
    assert!(pending.text().contains("Nobody has signed in") && pending.text().contains(&user_code));

    fake.approve_device();
    t.clock.advance(Duration::seconds(10));
    let made = post(&t, &poll, &admin, &fields).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text());
    let list = page(&t, "/bulk-tokens", &admin).await.text();
    assert!(list.contains("Wave 1") && list.contains("Latest"), "{list}");
    assert_eq!(
        server::enrollment::list(&t.app, dst)
            .await
            .expect("tokens")
            .len(),
        1
    );
}

#[tokio::test]
async fn the_download_page_offers_the_builds_the_install_commands_and_the_url_as_a_qr_code() {
    let folder = std::env::temp_dir().join(format!("rehome-downloads-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(folder.join("rehome-agent.msi"), b"MSI bytes").expect("msi");
    std::fs::write(folder.join(".hidden"), b"no").expect("hidden");
    let t = TestApp::with_settings(Settings {
        agent_downloads: Some(folder.clone()),
        ..Settings::default()
    })
    .await;
    let (viewer, _) = session(&t, &[Role::AgentViewer]).await;
    let html = page(&t, "/download", &viewer).await.text();
    assert!(html.contains("/download/files/rehome-agent.msi"), "{html}");
    assert!(!html.contains(".hidden"));
    assert!(
        html.contains("<svg") && html.contains("QR code of http://"),
        "{html}"
    );
    assert!(
        html.contains("msiexec /i rehome-agent.msi URL=http://")
            && html.contains("PSK=&lt;PSK&gt;")
    );
    assert!(html.contains("NETLOGON") && html.contains("rehome-agent.exe install --server"));
    let file = page(&t, "/download/files/rehome-agent.msi", &viewer).await;
    assert_eq!(
        (file.status, file.text()),
        (StatusCode::OK, "MSI bytes".to_string())
    );
    for refused in ["/download/files/.hidden", "/download/files/..%2Frehome.db"] {
        assert_eq!(
            page(&t, refused, &viewer).await.status,
            StatusCode::NOT_FOUND,
            "{refused}"
        );
    }
    let _ = std::fs::remove_dir_all(&folder);
}
