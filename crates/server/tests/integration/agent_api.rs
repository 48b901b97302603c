//! The agent API driven as a real agent drives it: PSK-signed registration, then sealed envelopes,
//! through the whole router.

pub mod caching;
pub mod contacts;
pub mod device;
pub mod device_states;
pub mod replays;
pub mod session;

use axum::http::StatusCode;
use chrono::Duration;
use model::ids::{AgentId, RunbookId};
use model::protocol::*;
use model::status::{AgentStatus, EventLevel, Phase};

use crate::support::TestApp;
pub use device::{now, world, TestAgent};

pub fn event(
    seq: u64,
    t: &TestApp,
    runbook: RunbookId,
    status: Option<AgentStatus>,
    phase: Phase,
    level: EventLevel,
) -> AgentEvent {
    AgentEvent {
        seq,
        at: now(t),
        level,
        runbook: Some(runbook),
        phase: Some(phase),
        step: Some(format!("step-{seq}")),
        status,
        message: format!("event {seq}"),
    }
}

#[tokio::test]
async fn a_registered_agent_gets_its_assignment_translations_and_reports_progress() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");

    // 09:00, available at 12:00: assigned, Not Available yet.
    let answer = pc1.check_in(&t, false, vec![]).await;
    let assignment = answer.assignment.expect("an assignment");
    assert_eq!(
        (
            assignment.runbook.id,
            assignment.batch,
            assignment.target.domain.as_str()
        ),
        (w.runbook.id, w.batch.id, "fabrikam.test")
    );
    let progress = server::migration::progress::progress(&t.app)
        .await
        .expect("progress");
    assert_eq!(
        (progress.overall.not_available, progress.overall.no_agent),
        (1, 1)
    );

    t.clock.advance(Duration::hours(4));
    pc1.check_in(&t, true, vec![]).await;
    let details = server::migration::agents::details(&t.app, pc1.id())
        .await
        .expect("details");
    assert_eq!(details.runs[0].status, AgentStatus::NotStarted);

    // Only the SIDs asked for, and only those with a translation.
    let asked = TranslateRequest {
        sids: vec![
            "S-1-5-21-1-2-3-1001".parse().expect("sid"),
            "S-1-5-21-1-2-3-4242".parse().expect("sid"),
        ],
    };
    let got: TranslateResponse = pc1
        .call(&t, kinds::TRANSLATE, &asked)
        .await
        .expect("translate");
    assert_eq!(got.translations.len(), 1);
    assert_eq!(
        got.translations[0].target.to_string(),
        "S-1-5-21-7-8-9-5001"
    );

    // An upload retried (a new envelope with the same events) stores each event once.
    let upload = EventsUpload {
        events: vec![
            event(
                1,
                &t,
                w.runbook.id,
                Some(AgentStatus::InProgress),
                Phase::Startup,
                EventLevel::Info,
            ),
            event(
                2,
                &t,
                w.runbook.id,
                None,
                Phase::Permissions,
                EventLevel::Error,
            ),
        ],
    };
    let ack: EventsAck = pc1.call(&t, kinds::EVENTS, &upload).await.expect("events");
    assert_eq!((ack.through, ack.stored), (2, 2));
    let ack: EventsAck = pc1
        .call(&t, kinds::EVENTS, &upload)
        .await
        .expect("events again");
    assert_eq!((ack.through, ack.stored), (2, 0));
    assert_eq!(t.app.store.event_count(pc1.id()).await.expect("count"), 2);
    let details = server::migration::agents::details(&t.app, pc1.id())
        .await
        .expect("details");
    let run = &details.runs[0];
    assert_eq!(
        (run.status, run.phase, run.last_error.as_deref()),
        (
            AgentStatus::InProgress,
            Some(Phase::Permissions),
            Some("event 2")
        )
    );

    let profiles = ProfilesUpload {
        profiles: vec![UserProfile {
            sid: "S-1-5-21-1-2-3-1001".parse().expect("sid"),
            path: "C:\\Users\\alice".into(),
            last_used: None,
        }],
    };
    let ack: Ack = pc1
        .call(&t, kinds::PROFILES, &profiles)
        .await
        .expect("profiles");
    assert_eq!(ack.accepted, 1);

    let done = EventsUpload {
        events: vec![event(
            3,
            &t,
            w.runbook.id,
            Some(AgentStatus::Completed),
            Phase::Completion,
            EventLevel::Info,
        )],
    };
    let _: EventsAck = pc1.call(&t, kinds::EVENTS, &done).await.expect("events");
    // A late retry of the older upload does not roll the run back.
    let _: EventsAck = pc1
        .call(&t, kinds::EVENTS, &upload)
        .await
        .expect("late retry");
    let progress = server::migration::progress::progress(&t.app)
        .await
        .expect("progress");
    assert_eq!(
        (
            progress.overall.completed,
            progress.overall.no_agent,
            progress.overall.total()
        ),
        (1, 1, 2)
    );
    assert!(
        pc1.check_in(&t, false, vec![]).await.assignment.is_none(),
        "a Completed runbook never runs again"
    );
}

#[tokio::test]
async fn refused_registrations_are_recorded_as_failed_communications() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut stranger = TestAgent::new("LAPTOP-99");
    let (status, refused) = stranger
        .register(&t, &w.psk)
        .await
        .expect_err("not imported");
    assert_eq!(
        (status, refused.code.as_str()),
        (StatusCode::FORBIDDEN, "not_imported")
    );
    let wrong = "x".repeat(64);
    let (status, refused) = TestAgent::new("PC1")
        .register(&t, &wrong)
        .await
        .expect_err("bad psk");
    assert_eq!(
        (status, refused.code.as_str()),
        (StatusCode::FORBIDDEN, "bad_psk")
    );

    let failed = t.app.store.failed_communications(10).await.expect("list");
    let codes: Vec<_> = failed
        .iter()
        .map(|f| (f.code.as_str(), f.computer_name.as_deref()))
        .collect();
    assert!(
        codes.contains(&("not_imported", Some("LAPTOP-99"))),
        "{codes:?}"
    );
    assert!(codes.contains(&("bad_psk", Some("PC1"))), "{codes:?}");
    assert!(
        failed.iter().all(|f| !f.message.contains(&w.psk)),
        "a refusal never quotes the PSK"
    );

    let response = t
        .post_json("/agent/register", "", serde_json::json!({"nope": 1}))
        .await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    assert_eq!(response.json()["code"], "malformed");
}

#[tokio::test]
async fn replayed_stale_and_second_registrations_are_refused() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let pc1 = TestAgent::new("PC1");
    let signed = serde_json::to_value(pc1.registration(&t, &w.psk)).expect("json");
    assert_eq!(
        t.post_json("/agent/register", "", signed.clone())
            .await
            .status,
        StatusCode::OK
    );
    let replay = t.post_json("/agent/register", "", signed).await;
    assert_eq!(
        (replay.status, replay.json()["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("replay"))
    );

    let pc2 = TestAgent::new("PC2");
    let old = serde_json::to_value(pc2.registration(&t, &w.psk)).expect("json");
    t.clock.advance(Duration::minutes(6));
    let stale = t.post_json("/agent/register", "", old).await;
    assert_eq!(
        (stale.status, stale.json()["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("stale"))
    );

    let (status, refused) = TestAgent::new("pc1")
        .register(&t, &w.psk)
        .await
        .expect_err("second agent");
    assert_eq!(
        (status, refused.code.as_str()),
        (StatusCode::FORBIDDEN, "already_registered")
    );
    let codes: Vec<_> = t
        .app
        .store
        .failed_communications(10)
        .await
        .expect("list")
        .into_iter()
        .map(|f| f.code)
        .collect();
    for code in ["replay", "stale", "already_registered"] {
        assert!(
            codes.iter().any(|c| c == code),
            "{code} recorded: {codes:?}"
        );
    }
}

#[tokio::test]
async fn an_agent_whose_registration_answer_was_lost_registers_again_as_itself() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("registered");
    let first = pc1.id();
    // The answer never reached the device (the server stopped, the connection dropped): it asks
    // again with the same keys and a new nonce, and gets the registration it has.
    pc1.registered = None;
    pc1.register(&t, &w.psk).await.expect("registered again");
    assert_eq!(pc1.id(), first, "the same agent, not a second one");
    assert!(pc1.check_in(&t, false, vec![]).await.assignment.is_some());
    let (status, refused) = TestAgent::new("PC1")
        .register(&t, &w.psk)
        .await
        .expect_err("other keys are another agent");
    assert_eq!(
        (status, refused.code.as_str()),
        (StatusCode::FORBIDDEN, "already_registered")
    );
}

#[tokio::test]
async fn no_certificate_or_no_psk_is_refused_with_a_clear_code() {
    let t = TestApp::new().await;
    let (status, refused) = TestAgent::new("PC1")
        .register(&t, &"k".repeat(64))
        .await
        .expect_err("no psk");
    assert_eq!(
        (status, refused.code.as_str()),
        (StatusCode::FORBIDDEN, "no_psk")
    );
    let psk = server::migration::keys::create_psk(&t.app, Default::default())
        .await
        .expect("psk")
        .key;
    let (_, refused) = TestAgent::new("PC1")
        .register(&t, &psk)
        .await
        .expect_err("no certificate");
    assert_eq!(refused.code, "no_certificate");
}

#[tokio::test]
async fn an_agent_cannot_read_or_change_another_agents_rows() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let (mut a, mut b) = (TestAgent::new("PC1"), TestAgent::new("PC2"));
    a.register(&t, &w.psk).await.expect("a");
    b.register(&t, &w.psk).await.expect("b");
    let upload = EventsUpload {
        events: vec![event(
            1,
            &t,
            w.runbook.id,
            Some(AgentStatus::Error),
            Phase::Startup,
            EventLevel::Error,
        )],
    };

    // A's keys, B's name in the header: the signature does not verify against B's keys.
    let forged = a.seal(&t, kinds::EVENTS, b.id(), &upload);
    let (status, refused) = a.send::<EventsAck>(&t, &forged).await.expect_err("forged");
    assert_eq!(
        (status, refused.code.as_str()),
        (StatusCode::FORBIDDEN, "bad_envelope")
    );
    assert_eq!(t.app.store.event_count(b.id()).await.expect("count"), 0);

    // A valid envelope of A only ever touches A's rows, whatever its body names.
    let _: EventsAck = a
        .call(&t, kinds::EVENTS, &upload)
        .await
        .expect("a's own events");
    assert_eq!(t.app.store.event_count(b.id()).await.expect("count"), 0);
    assert!(server::migration::agents::details(&t.app, b.id())
        .await
        .expect("b")
        .runs
        .is_empty());

    // A replayed envelope is refused.
    let envelope = a.seal(
        &t,
        kinds::PROFILES,
        a.id(),
        &ProfilesUpload { profiles: vec![] },
    );
    let _: Ack = a.send(&t, &envelope).await.expect("first");
    let (_, refused) = a.send::<Ack>(&t, &envelope).await.expect_err("replay");
    assert_eq!(refused.code, "replay");

    // An envelope for one route sent to another is refused.
    let check_in = a.seal(&t, kinds::CHECK_IN, a.id(), &serde_json::json!({}));
    let response = t
        .post_json(
            "/agent/events",
            "",
            serde_json::to_value(&check_in).expect("json"),
        )
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);

    // An unknown agent is refused and recorded.
    let mut ghost = TestAgent::new("ghost");
    ghost.registered = a.registered.clone();
    let unknown = ghost.seal(
        &t,
        kinds::PROFILES,
        AgentId::new(),
        &ProfilesUpload { profiles: vec![] },
    );
    let (_, refused) = ghost.send::<Ack>(&t, &unknown).await.expect_err("unknown");
    assert_eq!(refused.code, "unknown_agent");
    let codes: Vec<_> = t
        .app
        .store
        .failed_communications(20)
        .await
        .expect("list")
        .into_iter()
        .map(|f| f.code)
        .collect();
    assert!(
        codes.iter().any(|c| c == "unknown_agent") && codes.iter().any(|c| c == "bad_envelope"),
        "{codes:?}"
    );
}

#[tokio::test]
async fn agents_keep_working_after_the_certificate_is_rotated() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("registered");
    let first = pc1
        .registered
        .as_ref()
        .expect("registered")
        .server
        .certificate;
    t.clock.advance(Duration::seconds(1));
    server::migration::keys::create_certificate(&t.app, Default::default())
        .await
        .expect("rotate");
    assert!(pc1.check_in(&t, false, vec![]).await.assignment.is_some());
    let mut pc2 = TestAgent::new("PC2");
    pc2.register(&t, &w.psk).await.expect("registered");
    assert_ne!(
        pc2.registered
            .as_ref()
            .expect("registered")
            .server
            .certificate,
        first,
        "new agents get the newest"
    );
    assert!(pc2.check_in(&t, false, vec![]).await.assignment.is_some());
}

#[tokio::test]
async fn a_device_without_an_assignment_gets_no_translations_and_oversized_bodies_are_refused() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc3 = TestAgent::new("PC3");
    pc3.register(&t, &w.psk).await.expect("registered");
    assert!(
        pc3.check_in(&t, false, vec![]).await.assignment.is_none(),
        "PC3 is in no batch"
    );
    let asked = TranslateRequest {
        sids: vec!["S-1-5-21-1-2-3-1001".parse().expect("sid")],
    };
    let got: TranslateResponse = pc3
        .call(&t, kinds::TRANSLATE, &asked)
        .await
        .expect("translate");
    assert!(got.translations.is_empty(), "no target to translate to");

    let huge = serde_json::json!({ "padding": "x".repeat(server::agent_api::MAX_REGISTER_BYTES) });
    let response = t.post_json("/agent/register", "", huge).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE);
}
