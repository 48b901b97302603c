//! Bulk enrollment tokens of an Entra target, made through a sign-in against a local fake of
//! Entra: the device-code flow with its pending, slow-down, declined and expired answers, the
//! browser flow with PKCE, validity limits, sealing, and devices always getting the newest token.

use axum::http::StatusCode;
use chrono::Duration;
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::directory::{DirectoryKind, ObjectKind};
use model::ids::{BatchId, DirectoryId, ObjectGuid};
use serde_json::{json, Value};
use server::auth::Role;
use server::enrollment::testing::FakeEntra;
use server::Settings;
use sqlx::Row;

use crate::agent_api::TestAgent;
use crate::auth::capture_logs;
use crate::directory::{directory, import, object};
use crate::support::{TestApp, TestResponse};

const TENANT: &str = "fabrikam.test";

/// An app whose Entra endpoints are a fake, with an AD source holding PC1 and an Entra target.
struct Setup {
    t: TestApp,
    fake: FakeEntra,
    token: String,
    src: DirectoryId,
    dst: DirectoryId,
    pc1: ObjectGuid,
}

async fn setup() -> Setup {
    let fake = FakeEntra::start(TENANT).await.expect("fake Entra");
    let t = TestApp::with_settings(Settings {
        entra: fake.endpoints(),
        ..Settings::default()
    })
    .await;
    let src = directory(
        &t,
        "CONTOSO",
        "contoso.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let dst = directory(&t, "FABRIKAM", TENANT, DirectoryKind::EntraId).await;
    let pc = object(ObjectKind::Computer, "PC1", "PC1$", None);
    let pc1 = pc.guid;
    import(&t, src, "contoso.test", vec![pc]).await;
    let token = t.token_with_roles(&[Role::AgentAdmin]).await;
    Setup {
        t,
        fake,
        token,
        src,
        dst,
        pc1,
    }
}

fn tokens_path(dst: DirectoryId) -> String {
    format!("/api/v1/directories/{dst}/bulk-tokens")
}

fn field_of(r: &TestResponse) -> String {
    r.json()["fields"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn poll(s: &Setup, flow: &str) -> TestResponse {
    s.t.post_json(
        &format!("{}/flows/{flow}/poll", tokens_path(s.dst)),
        &s.token,
        json!({}),
    )
    .await
}

/// Makes a token through the device-code flow, approving at once.
async fn device_code_token(s: &Setup, name: &str, days: u32) -> Value {
    let started =
        s.t.post_json(
            &format!("{}/flows", tokens_path(s.dst)),
            &s.token,
            json!({"display_name": name, "days_valid": days}),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let flow = started.json()["flow"].as_str().expect("flow").to_string();
    s.fake.approve_device();
    s.t.clock.advance(Duration::seconds(5));
    let made = poll(s, &flow).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    made.json()["token"].clone()
}

fn entra_runbook(s: &Setup) -> Value {
    json!({
        "name": "Join Fabrikam",
        "source_directories": [s.src],
        "target_directory": s.dst,
        "device_state": {"remove_from": "ActiveDirectory", "domain_join": "Entra"},
    })
}

#[tokio::test]
async fn device_code_sign_in_makes_a_sealed_token_that_devices_receive() {
    let logs = capture_logs();
    let s = setup().await;
    let t = &s.t;

    // An Entra join needs a token first, and the refusal says where.
    let refused = t
        .post_json("/api/v1/runbooks", &s.token, entra_runbook(&s))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_of(&refused), "device_state.domain_join");
    assert!(refused.text().contains("bulk enrollment token"));

    // The administrator gets a code to type at Microsoft's page.
    let started = t
        .post_json(
            &format!("{}/flows", tokens_path(s.dst)),
            &s.token,
            json!({"display_name": "Wave 1 devices", "days_valid": 30}),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let body = started.json();
    assert_eq!(body["user_code"], "ABCD-EFGH");
    assert_eq!(
        body["verification_uri"],
        "https://microsoft.com/devicelogin"
    );
    assert!(
        body.get("device_code").is_none(),
        "the device code stays on the server"
    );
    let flow = body["flow"].as_str().expect("flow").to_string();

    // Before the interval nothing is asked; after it, Entra says "pending", then "slow down".
    let early = poll(&s, &flow).await;
    assert_eq!(early.status, StatusCode::OK, "{}", early.text());
    assert_eq!(early.json()["status"], "pending");
    t.clock.advance(Duration::seconds(5));
    let pending = poll(&s, &flow).await;
    assert_eq!(pending.json()["status"], "pending");
    s.fake.slow_down_device();
    t.clock.advance(Duration::seconds(5));
    let slowed = poll(&s, &flow).await.json();
    assert_eq!(slowed["status"], "pending");
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(slowed["poll_after"].clone()).expect("instant");
    assert_eq!(next - crate::agent_api::now(t), Duration::seconds(10));

    s.fake.approve_device();
    t.clock.advance(Duration::seconds(10));
    let made = poll(&s, &flow).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let view = made.json()["token"].clone();
    assert_eq!(view["display_name"], "Wave 1 devices");
    assert_eq!(view["days_left"], 30);
    assert_eq!(view["latest"], true);
    assert_eq!(view["expiring_soon"], false);

    // Entra was asked for the name and the expiry date (2025-01-06 + 30 days).
    let issued = s.fake.issued();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        (issued[0].name.as_str(), issued[0].exp.as_str()),
        ("Wave 1 devices", "02/05/2025")
    );
    let first = issued[0].token.clone();

    // The sign-in is over: polling it again finds nothing.
    assert_eq!(poll(&s, &flow).await.status, StatusCode::NOT_FOUND);

    // Now the runbook saves, and PC1's assignment carries the token.
    let runbook = t
        .post_json("/api/v1/runbooks", &s.token, entra_runbook(&s))
        .await;
    assert_eq!(runbook.status, StatusCode::CREATED, "{}", runbook.text());
    let runbook_id = runbook.json()["id"].clone();
    let psk = server::migration::keys::create_psk(&t.app, Default::default())
        .await
        .expect("psk")
        .key;
    server::migration::keys::create_certificate(&t.app, Default::default())
        .await
        .expect("certificate");
    let batch = Batch {
        id: BatchId::new(),
        name: "Wave 1".into(),
        source_directory: s.src,
        target_directory: s.dst,
        assignments: vec![Assignment {
            runbook: serde_json::from_value(runbook_id).expect("id"),
            available_from: None,
            enforced_after: (crate::agent_api::now(t) + Duration::days(1)).naive_utc(),
            timezone: ScheduleTimezone::Utc,
        }],
        computers: ComputerSelection {
            mode: SelectionMode::NoneExcept,
            computers: vec![s.pc1],
        },
    };
    server::migration::batches::create(&t.app, batch)
        .await
        .expect("batch");
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(t, &psk).await.expect("registered");
    let waiting = pc1
        .check_in(t, false, vec![])
        .await
        .assignment
        .expect("assigned");
    assert!(
        waiting.bulk_token.is_none(),
        "only the final check-in carries it"
    );
    let assignment = pc1
        .check_in(t, true, vec![])
        .await
        .assignment
        .expect("assigned");
    assert_eq!(
        assignment.bulk_token.as_ref().map(|b| b.0.as_str()),
        Some(first.as_str())
    );
    assert!(
        !format!("{assignment:?}").contains(&first),
        "Debug hides it"
    );

    // A second token (the old one stays): devices get the newest from then on.
    let second_view = device_code_token(&s, "Wave 2 devices", 90).await;
    let second = s.fake.issued()[1].token.clone();
    let assignment = pc1
        .check_in(t, true, vec![])
        .await
        .assignment
        .expect("assigned");
    assert_eq!(
        assignment.bulk_token.clone().map(|b| b.0),
        Some(second.clone())
    );
    let listed = t.get(&tokens_path(s.dst), &s.token).await;
    assert_eq!(listed.status, StatusCode::OK);
    let list = listed.json();
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert_eq!(list[0]["id"], second_view["id"]);
    assert_eq!(
        (list[0]["latest"].clone(), list[1]["latest"].clone()),
        (json!(true), json!(false))
    );

    // Never answered, logged, or stored in clear.
    let store = &t.app.store;
    let rows = sqlx::query("SELECT secret FROM bulk_tokens")
        .fetch_all(store.pool())
        .await
        .expect("raw rows");
    assert_eq!(rows.len(), 2);
    for row in rows {
        let sealed: String = row.try_get(0).expect("text");
        assert!(sealed.starts_with("v1:"), "sealed: {sealed}");
        assert!(!sealed.contains(&first) && !sealed.contains(&second));
    }
    let logged = logs.text();
    assert!(
        logged.contains("bulk enrollment token created"),
        "the test sees the log"
    );
    for secret in [&first, &second] {
        assert!(
            !listed.text().contains(secret.as_str()),
            "the list holds a token"
        );
        assert!(!logged.contains(secret.as_str()), "the log holds a token");
    }

    // 80 days on, the first has expired and the second is close to it.
    t.clock.advance(Duration::days(80));
    // API tokens do not last that long: a fresh one.
    let admin = t.token_with_roles(&[Role::AgentAdmin]).await;
    let list = t.get(&tokens_path(s.dst), &admin).await.json();
    assert_eq!(list[0]["days_left"], 10);
    assert_eq!(list[0]["expiring_soon"], true);
    assert_eq!(list[0]["latest"], true);
    assert_eq!(list[1]["expired"], true);
    assert_eq!(list[1]["latest"], false);

    // Deleting the only valid token leaves devices without one.
    let deleted = t
        .delete(
            &format!(
                "{}/{}",
                tokens_path(s.dst),
                second_view["id"].as_str().expect("id")
            ),
            &admin,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let assignment = pc1
        .check_in(t, true, vec![])
        .await
        .assignment
        .expect("assigned");
    assert!(assignment.bulk_token.is_none());
}

#[tokio::test]
async fn browser_sign_in_checks_state_and_pkce() {
    let s = setup().await;
    let t = &s.t;
    let started = t
        .post_json(
            &format!("{}/flows", tokens_path(s.dst)),
            &s.token,
            json!({"display_name": "Browser", "days_valid": 180, "flow": "authorization_code",
                   "redirect_uri": "https://rehome.test/callback"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let body = started.json();
    let flow = body["flow"].as_str().expect("flow").to_string();
    let url = body["authorize_url"].as_str().expect("authorize URL");
    assert!(
        url.contains(&format!("/{TENANT}/oauth2/v2.0/authorize?")),
        "{url}"
    );
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let (state, code) = s.fake.sign_in(url).expect("signed in");
    let token = s.token.as_str();
    let complete = |state: String, code: String| {
        let path = format!("{}/flows/{flow}/complete", tokens_path(s.dst));
        async move {
            t.post_json(&path, token, json!({"state": state, "code": code}))
                .await
        }
    };

    // A state that is not this sign-in's is refused before Entra is asked.
    let forged = complete("forged".into(), code.clone()).await;
    assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_of(&forged), "state");

    let made = complete(state.clone(), code.clone()).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    assert_eq!(made.json()["days_left"], 180);
    assert_eq!(s.fake.issued()[0].exp, "07/05/2025");

    // Device-code polling does not apply to a browser sign-in, which is over anyway.
    assert_eq!(poll(&s, &flow).await.status, StatusCode::NOT_FOUND);

    // The audit trail records both completions without the code or the state.
    let admin = t.token_with_roles(&[Role::TenantAdmin]).await;
    let trail = t.get("/api/v1/audit?action=complete", &admin).await.text();
    let csv = t
        .get("/api/v1/audit.csv?action=complete", &admin)
        .await
        .text();
    assert!(trail.contains("/complete"), "{trail}");
    for text in [trail, csv] {
        assert!(!text.contains(&code) && !text.contains(&state), "{text}");
    }
}

#[tokio::test]
async fn bad_requests_name_the_field_and_change_nothing() {
    let s = setup().await;
    let t = &s.t;
    let token = s.token.as_str();
    let start = |dst: DirectoryId, body: Value| {
        let path = format!("{}/flows", tokens_path(dst));
        async move { t.post_json(&path, token, body).await }
    };
    for (body, field) in [
        (json!({"display_name": "x", "days_valid": 0}), "days_valid"),
        (
            json!({"display_name": "x", "days_valid": 181}),
            "days_valid",
        ),
        (
            json!({"display_name": "x", "days_valid": 1.5}),
            "days_valid",
        ),
        (
            json!({"display_name": "x", "days_valid": "30"}),
            "days_valid",
        ),
        (
            json!({"display_name": " ", "days_valid": 30}),
            "display_name",
        ),
        (
            json!({"display_name": "x", "days_valid": 30, "flow": "authorization_code", "redirect_uri": "not a url"}),
            "redirect_uri",
        ),
    ] {
        let r = start(s.dst, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(field_of(&r), field, "{body}");
    }
    // Active Directory has no bulk tokens.
    let r = start(s.src, json!({"display_name": "x", "days_valid": 30})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_of(&r), "id");
    assert!(r.text().contains("Entra"));

    // A declined sign-in and an expired code end the sign-in with a reason.
    for (act, words) in [
        (FakeEntra::deny_device as fn(&FakeEntra), "declined"),
        (FakeEntra::expire_device, "expired"),
    ] {
        let started = start(s.dst, json!({"display_name": "x", "days_valid": 30})).await;
        let flow = started.json()["flow"].as_str().expect("flow").to_string();
        act(&s.fake);
        t.clock.advance(Duration::seconds(5));
        let r = poll(&s, &flow).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        assert_eq!(field_of(&r), "flow");
        assert!(r.text().contains(words), "{}", r.text());
        assert_eq!(poll(&s, &flow).await.status, StatusCode::NOT_FOUND);
    }

    // A sign-in nobody finishes expires on the server's clock too.
    let started = start(s.dst, json!({"display_name": "x", "days_valid": 30})).await;
    let flow = started.json()["flow"].as_str().expect("flow").to_string();
    t.clock.advance(Duration::minutes(16));
    let r = poll(&s, &flow).await;
    assert_eq!(field_of(&r), "flow");

    assert!(s.fake.issued().is_empty());
    let list = t.get(&tokens_path(s.dst), &s.token).await.json();
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn prerequisites_that_go_round_in_a_circle_are_refused() {
    let s = setup().await;
    let t = &s.t;
    let _ = device_code_token(&s, "For the runbooks", 30).await;
    let mut first = entra_runbook(&s);
    first["name"] = json!("First");
    let a = t.post_json("/api/v1/runbooks", &s.token, first).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    let mut a = a.json();
    let mut second = entra_runbook(&s);
    second["name"] = json!("Second");
    second["prerequisites"] = json!([a["id"]]);
    let b = t.post_json("/api/v1/runbooks", &s.token, second).await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text());
    let b = b.json();

    // First needs Second needs First.
    a["prerequisites"] = json!([b["id"]]);
    let path = format!("/api/v1/runbooks/{}", a["id"].as_str().expect("id"));
    let r = t.put_json(&path, &s.token, a.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(field_of(&r).starts_with("prerequisites"), "{}", r.text());
    assert!(r.text().contains("circle"), "{}", r.text());
    assert_eq!(
        t.get(&path, &s.token).await.json()["prerequisites"],
        json!([]),
        "nothing changed"
    );

    // A prerequisite that does not exist is named too.
    a["prerequisites"] = json!([uuid::Uuid::new_v4()]);
    let r = t.put_json(&path, &s.token, a).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_of(&r), "prerequisites[0]");
}

/// Records the waits asked for instead of waiting.
#[derive(Clone, Default)]
struct RecordingSleeper(std::sync::Arc<std::sync::Mutex<Vec<std::time::Duration>>>);

impl server::sleeper::Sleeper for RecordingSleeper {
    fn sleep(&self, duration: std::time::Duration) -> server::directory::BoxFuture<'_, ()> {
        self.0.lock().expect("sleeper lock").push(duration);
        Box::pin(async {})
    }
}

/// Starts a device-code sign-in for `s.dst` through the domain functions of `app`, approved at
/// once, and polls it after its interval.
async fn poll_approved(
    s: &Setup,
    app: &server::App,
) -> server::Result<server::enrollment::PollOutcome> {
    let request =
        serde_json::from_value(json!({"display_name": "Wave 1 devices", "days_valid": 30}))
            .expect("start request");
    let started = server::enrollment::start(app, s.dst, request)
        .await
        .expect("start");
    s.fake.approve_device();
    s.t.clock.advance(Duration::seconds(5));
    server::enrollment::poll(app, s.dst, started.flow).await
}

#[tokio::test]
async fn a_bulk_token_still_being_made_is_polled_again_after_a_second() {
    let s = setup().await;
    let sleeper = RecordingSleeper::default();
    let mut app = s.t.app.clone();
    app.sleeper = std::sync::Arc::new(sleeper.clone());
    s.fake.delay_bulk_tokens(2);
    let made = poll_approved(&s, &app).await.expect("poll");
    assert!(
        matches!(made, server::enrollment::PollOutcome::Created { .. }),
        "{made:?}"
    );
    assert_eq!(s.fake.issued().len(), 1);
    let waits = sleeper.0.lock().expect("sleeper lock").clone();
    assert_eq!(waits, vec![std::time::Duration::from_secs(1); 2]);
}

#[tokio::test]
async fn a_bulk_token_that_never_comes_is_an_entra_failure_after_the_last_poll() {
    let s = setup().await;
    let sleeper = RecordingSleeper::default();
    let mut app = s.t.app.clone();
    app.sleeper = std::sync::Arc::new(sleeper.clone());
    // The fake's endpoints allow three polls.
    s.fake.delay_bulk_tokens(10);
    let err = poll_approved(&s, &app).await.expect_err("gives up");
    match err {
        server::Error::Upstream {
            system,
            field,
            message,
        } => {
            assert_eq!((system, field.as_str()), (server::Upstream::ENTRA, "flow"));
            assert!(
                message.contains("did not hand out the token in time"),
                "{message}"
            );
        }
        other => panic!("not an Entra failure: {other:?}"),
    }
    assert!(s.fake.issued().is_empty());
    assert_eq!(sleeper.0.lock().expect("sleeper lock").len(), 3);
}
