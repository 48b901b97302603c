//! The console's forms refusing what they do not offer: a choice no select or checkbox holds, a
//! match profile form missing its pair or its button, each shown again with the error beside the
//! field and nothing saved; and the translation table's CSV with every column the API's has.

use base64::Engine;
use model::batch::{ScheduleTimezone, SelectionMode};
use model::directory::{DirectoryKind, DirectoryObject, ObjectKind};
use model::ids::{DirectoryId, ObjectGuid, RunbookId};
use server::auth::Role;
use server::directory::graph::entra_sid;

use crate::agent_api::world;
use crate::console_areas::{page, post, session};
use crate::directory::{directory, import, object};
use crate::support::{TestApp, TestResponse};

/// The part of `html` from `marker` to the next `until`: what is drawn beside one field.
fn beside<'a>(html: &'a str, marker: &str, until: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let rest = &html[at..];
    &rest[..rest.find(until).unwrap_or(rest.len())]
}

/// Asserts a refused form: 422, an HTML page, `message` as a field error beside `marker`.
fn refused_beside(r: &TestResponse, marker: &str, until: &str, message: &str) {
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        r.header("content-type")
    );
    let html = r.text();
    let field = beside(&html, marker, until);
    assert!(
        field.contains("class=\"field-error\"") && field.contains(message),
        "{message:?} beside {marker}: {field}"
    );
}

#[tokio::test]
async fn a_batch_mode_or_time_zone_it_does_not_offer_is_refused_and_nothing_saved() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let (cookie, csrf) = session(&t, &[Role::AgentOperator]).await;

    let (src, dst) = (w.src.to_string(), w.dst.to_string());
    let new_batch = |mode: &'static str| {
        [
            ("csrf", csrf.as_str()),
            ("name", "Wave 2"),
            ("source_directory", src.as_str()),
            ("target_directory", dst.as_str()),
            ("mode", mode),
        ]
    };
    let fields = new_batch("Foo");
    let r = post(&t, "/batches", &cookie, &fields).await;
    refused_beside(
        &r,
        "id=\"mode\"",
        "<button",
        "choose None except those listed or All except those listed",
    );
    assert!(
        r.text().contains("value=\"Wave 2\""),
        "what was typed is kept"
    );
    let batches = t.app.store.batches().await.expect("batches");
    assert!(
        batches.iter().all(|b| b.name != "Wave 2"),
        "nothing saved: {batches:?}"
    );
    let fields = new_batch("AllExcept");
    let r = post(&t, "/batches", &cookie, &fields).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let batches = t.app.store.batches().await.expect("batches");
    let saved = batches
        .iter()
        .find(|b| b.name == "Wave 2")
        .expect("the batch");
    assert_eq!(saved.computers.mode, SelectionMode::AllExcept);

    // A second runbook of the same pair, for the batch to take as well.
    let mut second = w.runbook.clone();
    second.id = RunbookId::new();
    second.name = "Move to Fabrikam, again".into();
    let second = server::migration::runbooks::create(&t.app, second)
        .await
        .expect("second runbook");
    let path = format!("/batches/{}/assignments", w.batch.id);
    let runbook = second.id.to_string();
    let assign = |timezone: &'static str| {
        [
            ("csrf", csrf.as_str()),
            ("runbook", runbook.as_str()),
            ("enforced_after", "2025-02-01T09:00"),
            ("timezone", timezone),
        ]
    };
    let r = post(&t, &path, &cookie, &assign("Mars")).await;
    refused_beside(&r, "id=\"timezone\"", "<button", "choose Local or UTC");
    let stored = t
        .app
        .store
        .batch(w.batch.id)
        .await
        .expect("read")
        .expect("batch");
    assert_eq!(stored.assignments, w.batch.assignments, "nothing saved");
    let r = post(&t, &path, &cookie, &assign("Utc")).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let stored = t
        .app
        .store
        .batch(w.batch.id)
        .await
        .expect("read")
        .expect("batch");
    assert_eq!(stored.assignments.len(), 2);
    assert_eq!(stored.assignments[1].runbook, second.id);
    assert_eq!(stored.assignments[1].timezone, ScheduleTimezone::Utc);
}

#[tokio::test]
async fn a_role_that_does_not_exist_is_refused_beside_the_roles_and_no_user_made() {
    let t = TestApp::new().await;
    let (cookie, csrf) = session(&t, &[Role::TenantAdmin]).await;
    let r = post(
        &t,
        "/users",
        &cookie,
        &[
            ("csrf", &csrf),
            ("name", "ops.two"),
            ("password", "a-long-password"),
            ("role", "AgentOperator"),
            ("role", "God"),
        ],
    )
    .await;
    refused_beside(
        &r,
        "value=\"AgentViewer\"",
        "</p>",
        "God is not a role; tick among TenantAdmin",
    );
    let html = r.text();
    assert!(
        html.contains("value=\"ops.two\""),
        "the name is kept: {html}"
    );
    assert!(
        html.contains("value=\"AgentOperator\" checked"),
        "the roles ticked are kept: {html}"
    );
    assert!(t
        .app
        .store
        .user_by_name("ops.two")
        .await
        .expect("read")
        .is_none());
    // A password too short is an error beside the password, as before.
    let r = post(
        &t,
        "/users",
        &cookie,
        &[("csrf", &csrf), ("name", "weak"), ("password", "short")],
    )
    .await;
    refused_beside(
        &r,
        "name=\"password\"",
        "</p>",
        "use at least 12 characters",
    );
}

#[tokio::test]
async fn a_match_profile_form_that_does_not_read_is_shown_again_with_each_error_beside_it() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let (cookie, csrf) = session(&t, &[Role::SyncAdmin]).await;
    let stored = || async { t.app.store.pair_profile(w.src, w.dst).await.expect("read") };
    let before = stored().await;
    let (src, dst) = (w.src.to_string(), w.dst.to_string());

    // A button the form does not have.
    let r = post(
        &t,
        "/profiles",
        &cookie,
        &[
            ("csrf", &csrf),
            ("source", &src),
            ("target", &dst),
            ("profile", "upn"),
            ("action", "zzz"),
        ],
    )
    .await;
    refused_beside(
        &r,
        "value=\"match\"",
        "</form>",
        "press What If, Save profile or Save and match now",
    );
    assert_eq!(stored().await, before, "nothing saved");

    // The same directory twice: the pair is chosen again in the form, the profile typed kept.
    let r = post(
        &t,
        "/profiles",
        &cookie,
        &[
            ("csrf", &csrf),
            ("source", &src),
            ("target", &src),
            ("profile", "upn"),
            ("action", "save"),
        ],
    )
    .await;
    refused_beside(
        &r,
        "id=\"profile-target\"",
        "<label",
        "the target directory must differ from the source directory",
    );
    assert!(
        beside(&r.text(), "id=\"profile\"", "</textarea>").ends_with(">upn"),
        "{}",
        r.text()
    );
    assert_eq!(stored().await, before, "nothing saved");

    // A directory deleted meanwhile: the pair is chosen again too.
    let gone = DirectoryId::new().to_string();
    let r = post(
        &t,
        "/profiles",
        &cookie,
        &[
            ("csrf", &csrf),
            ("source", &src),
            ("target", &gone),
            ("profile", "upn"),
            ("action", "what-if"),
        ],
    )
    .await;
    refused_beside(&r, "id=\"profile-target\"", "<label", "no such directory");

    // Nothing but the token: every field it lacks, beside it.
    let r = post(&t, "/profiles", &cookie, &[("csrf", &csrf)]).await;
    refused_beside(
        &r,
        "id=\"profile-source\"",
        "<label",
        "choose a source directory",
    );
    refused_beside(
        &r,
        "id=\"profile-target\"",
        "<label",
        "choose a target directory",
    );
    refused_beside(
        &r,
        "id=\"profile\"",
        "<p>",
        "neither a JSON profile nor the name of a preset",
    );
    refused_beside(
        &r,
        "value=\"match\"",
        "</form>",
        "press What If, Save profile or Save and match now",
    );
    assert_eq!(stored().await, before, "nothing saved");

    // The form as drawn saves.
    let r = post(
        &t,
        "/profiles",
        &cookie,
        &[
            ("csrf", &csrf),
            ("source", &src),
            ("target", &dst),
            ("profile", "upn"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("saved."), "{}", r.text());
    assert_ne!(stored().await, before);
}

#[tokio::test]
async fn the_translation_csv_has_every_sid_of_a_row_as_the_api_csv_does() {
    let t = TestApp::new().await;
    let ad = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let entra = directory(
        &t,
        "CONTOSO-ENTRA",
        "contoso.onmicrosoft.com",
        DirectoryKind::EntraId,
    )
    .await;
    let mut ada = object(ObjectKind::User, "Ada", "ada", Some("S-1-5-21-1-2-3-1104"));
    ada.sid_history = vec!["S-1-5-21-9-9-9-4001".parse().expect("SID")];
    let guid = ObjectGuid::new();
    let mut cloud = DirectoryObject::new(guid, ObjectKind::User, "Ada");
    cloud.sid = Some(entra_sid(guid));
    cloud.on_premises_sid = ada.sid.clone();
    cloud.immutable_id =
        Some(base64::engine::general_purpose::STANDARD.encode(ada.guid.0.to_bytes_le()));
    cloud.upn = Some("ada@contoso.onmicrosoft.com".into());
    import(&t, ad, "contoso.test", vec![ada.clone()]).await;
    import(&t, entra, "contoso.onmicrosoft.com", vec![cloud.clone()]).await;
    let summary = server::directory::match_pair(
        &t.app,
        ad,
        entra,
        Some(server::directory::profile::hybrid_anchors()),
    )
    .await
    .expect("match");
    assert_eq!(summary.matched, 1, "{summary:?}");

    let (cookie, _) = session(&t, &[Role::SyncViewer]).await;
    let r = page(&t, "/translations.csv", &cookie).await;
    assert_eq!(r.status, 200);
    let console = r.text();
    let mut reader = csv::Reader::from_reader(console.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 1, "{console}");
    let cell = |name: &str| {
        let at = header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}: {header:?}"));
        rows[0][at].to_string()
    };
    assert_eq!(cell("source_name"), "Ada");
    assert_eq!(cell("source_other_sids"), "S-1-5-21-9-9-9-4001");
    assert_eq!(cell("target_sid"), entra_sid(guid).to_string());
    assert_eq!(cell("target_on_premises_sid"), "S-1-5-21-1-2-3-1104");

    // The admin API's download of the same table is the same document.
    let token = t.token_with_roles(&[Role::SyncViewer]).await;
    let api = t.get("/api/v1/translations.csv", &token).await;
    assert_eq!(api.status, 200);
    assert_eq!(console, api.text());
}
