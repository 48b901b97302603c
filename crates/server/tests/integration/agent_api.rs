//! The agent API driven as a real agent drives it: PSK-signed registration, then sealed envelopes,
//! through the whole router.

use axum::http::StatusCode;
use chrono::{Duration, NaiveDate};
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::directory::{DirectoryKind, MatchAttribute, ObjectKind};
use model::envelope::{new_nonce, Envelope, EnvelopeHeader, KeyPair, PskSigned};
use model::ids::{AgentId, BatchId, DirectoryId, ObjectGuid, RunbookId};
use model::plan::{JoinState, OsEdition};
use model::protocol::*;
use model::runbook::Runbook;
use model::status::{AgentStatus, EventLevel, Phase};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::directory::{directory, import, object};
use crate::support::TestApp;

/// A device's agent, as small as the protocol allows.
pub struct TestAgent {
    pub name: String,
    pub keys: KeyPair,
    pub registered: Option<RegisterResponse>,
}

impl TestAgent {
    pub fn new(name: &str) -> TestAgent {
        TestAgent {
            name: name.to_string(),
            keys: KeyPair::generate(),
            registered: None,
        }
    }

    pub fn id(&self) -> AgentId {
        self.registered.as_ref().expect("registered").agent
    }

    /// The signed registration request, made at the test app's time.
    pub fn registration(&self, t: &TestApp, psk: &str) -> PskSigned {
        let request = RegisterRequest {
            computer_name: self.name.clone(),
            serial: "SN-1".into(),
            os_edition: OsEdition::Workstation,
            os_version: "Windows 11 Enterprise 23H2".into(),
            agent_version: AGENT_VERSION.into(),
            join_state: JoinState::ActiveDirectory {
                domain: "contoso.test".into(),
            },
            keys: self.keys.public(),
        };
        PskSigned::sign(psk, kinds::REGISTER, &request, now(t), new_nonce()).expect("sign")
    }

    /// Registers; Ok with the response when the server accepts, Err with the refusal otherwise.
    pub async fn register(&mut self, t: &TestApp, psk: &str) -> Result<(), (StatusCode, Refused)> {
        let signed = self.registration(t, psk);
        let response = t
            .post_json(
                "/agent/register",
                "",
                serde_json::to_value(&signed).expect("json"),
            )
            .await;
        if response.status != StatusCode::OK {
            return Err((
                response.status,
                serde_json::from_slice(&response.body).expect("a Refused body"),
            ));
        }
        let answer: PskSigned = serde_json::from_slice(&response.body).expect("PSK-signed answer");
        assert_eq!(
            answer.nonce, signed.nonce,
            "the answer is bound to the request"
        );
        let registered: RegisterResponse = answer
            .open(psk, kinds::REGISTER_RESPONSE, now(t))
            .expect("verifies with the PSK");
        registered
            .certificate
            .verify(&registered.server.keys, now(t))
            .expect("certificate signed by the server");
        self.registered = Some(registered);
        Ok(())
    }

    /// An envelope of `kind` from this agent, naming `agent` in its header.
    pub fn seal<T: Serialize>(
        &self,
        t: &TestApp,
        kind: &str,
        agent: AgentId,
        body: &T,
    ) -> Envelope {
        let server = &self.registered.as_ref().expect("registered").server;
        let header = EnvelopeHeader {
            agent,
            certificate: server.certificate,
            kind: kind.to_string(),
            timestamp: now(t).timestamp(),
            nonce: new_nonce(),
        };
        Envelope::seal(header, body, &self.keys, &server.keys).expect("seal")
    }

    /// Sends `envelope` to its route and opens the answer.
    pub async fn send<R: DeserializeOwned>(
        &self,
        t: &TestApp,
        envelope: &Envelope,
    ) -> Result<R, (StatusCode, Refused)> {
        let path = format!("/agent/{}", envelope.header.kind);
        let response = t
            .post_json(&path, "", serde_json::to_value(envelope).expect("json"))
            .await;
        if response.status != StatusCode::OK {
            return Err((
                response.status,
                serde_json::from_slice(&response.body)
                    .unwrap_or_else(|_| panic!("{}", response.text())),
            ));
        }
        let answer: Envelope = serde_json::from_slice(&response.body).expect("an envelope");
        assert_eq!(answer.header.nonce, envelope.header.nonce);
        let server = &self.registered.as_ref().expect("registered").server;
        Ok(answer
            .open(
                &kinds::response(&envelope.header.kind),
                &server.keys,
                &self.keys,
                now(t),
            )
            .expect("answer opens"))
    }

    /// Seals `body` for `kind` as itself and sends it.
    pub async fn call<T: Serialize, R: DeserializeOwned>(
        &self,
        t: &TestApp,
        kind: &str,
        body: &T,
    ) -> Result<R, (StatusCode, Refused)> {
        let envelope = self.seal(t, kind, self.id(), body);
        self.send(t, &envelope).await
    }

    pub async fn check_in(
        &self,
        t: &TestApp,
        final_check: bool,
        completed: Vec<RunbookId>,
    ) -> CheckInResponse {
        let req = CheckInRequest {
            final_check,
            agent_version: AGENT_VERSION.into(),
            join_state: JoinState::ActiveDirectory {
                domain: "contoso.test".into(),
            },
            logged_on_user: None,
            running: None,
            completed,
        };
        self.call(t, kinds::CHECK_IN, &req)
            .await
            .expect("check-in accepted")
    }
}

pub fn now(t: &TestApp) -> chrono::DateTime<chrono::Utc> {
    use model::clock::Clock;
    t.clock.now()
}

/// Two directories, imported and matched, a PSK, a certificate, a runbook and a batch taking PC1
/// and PC2 (PC3 is imported but in no batch).
pub struct World {
    pub src: DirectoryId,
    pub dst: DirectoryId,
    pub psk: String,
    pub runbook: Runbook,
    pub batch: Batch,
    pub pcs: Vec<ObjectGuid>,
}

pub async fn world(t: &TestApp) -> World {
    let src = directory(t, "CONTOSO", "contoso.test", DirectoryKind::ActiveDirectory).await;
    let dst = directory(
        t,
        "FABRIKAM",
        "fabrikam.test",
        DirectoryKind::ActiveDirectory,
    )
    .await;
    let pcs: Vec<_> = ["PC1", "PC2", "PC3"]
        .iter()
        .map(|n| object(ObjectKind::Computer, n, &format!("{n}$"), None))
        .collect();
    let mut objects = pcs.clone();
    objects.push(object(
        ObjectKind::User,
        "Alice",
        "alice",
        Some("S-1-5-21-1-2-3-1001"),
    ));
    objects.push(object(
        ObjectKind::User,
        "Bob",
        "bob",
        Some("S-1-5-21-1-2-3-1002"),
    ));
    import(t, src, "contoso.test", objects).await;
    import(
        t,
        dst,
        "fabrikam.test",
        vec![
            object(
                ObjectKind::User,
                "Alice F",
                "alice",
                Some("S-1-5-21-7-8-9-5001"),
            ),
            object(
                ObjectKind::User,
                "Bob F",
                "bob",
                Some("S-1-5-21-7-8-9-5002"),
            ),
        ],
    )
    .await;
    server::directory::match_users(&t.app, src, dst, MatchAttribute::SamAccountName)
        .await
        .expect("match");
    let psk = server::api::secrets::create_psk(&t.app)
        .await
        .expect("psk")
        .key;
    server::api::secrets::create_certificate(&t.app, Default::default())
        .await
        .expect("certificate");
    let runbook: Runbook = serde_json::from_value(serde_json::json!({
        "id": RunbookId::new(), "name": "Move to Fabrikam", "source_directories": [src], "target_directory": dst
    }))
    .expect("runbook");
    let runbook = server::api::config::create_runbook(&t.app, runbook)
        .await
        .expect("create runbook");
    let day = NaiveDate::from_ymd_opt(2025, 1, 6).expect("date");
    let batch = Batch {
        id: BatchId::new(),
        name: "Wave 1".into(),
        source_directory: src,
        target_directory: dst,
        assignments: vec![Assignment {
            runbook: runbook.id,
            available_from: day.and_hms_opt(12, 0, 0),
            enforced_after: day.and_hms_opt(18, 0, 0).expect("time"),
            timezone: ScheduleTimezone::Utc,
        }],
        computers: ComputerSelection {
            mode: SelectionMode::NoneExcept,
            computers: vec![pcs[0].guid, pcs[1].guid],
        },
    };
    let batch = server::api::config::create_batch(&t.app, batch)
        .await
        .expect("create batch");
    World {
        src,
        dst,
        psk,
        runbook,
        batch,
        pcs: pcs.iter().map(|p| p.guid).collect(),
    }
}

fn event(
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
    let progress = server::api::reports::progress(&t.app)
        .await
        .expect("progress");
    assert_eq!(
        (progress.overall.not_available, progress.overall.no_agent),
        (1, 1)
    );

    t.clock.advance(Duration::hours(4));
    pc1.check_in(&t, true, vec![]).await;
    let details = server::api::reports::agent_details_of(&t.app, pc1.id())
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
    let details = server::api::reports::agent_details_of(&t.app, pc1.id())
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
    let progress = server::api::reports::progress(&t.app)
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
    let psk = server::api::secrets::create_psk(&t.app)
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
    assert!(server::api::reports::agent_details_of(&t.app, b.id())
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
    server::api::secrets::create_certificate(&t.app, Default::default())
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
