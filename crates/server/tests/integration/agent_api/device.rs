//! A device's agent for tests, as small as the protocol allows, and the world it registers in:
//! two directories imported and matched, a PSK, a certificate, a runbook and a batch.

use axum::http::StatusCode;
use chrono::NaiveDate;
use model::batch::{Assignment, Batch, ComputerSelection, ScheduleTimezone, SelectionMode};
use model::directory::{DirectoryKind, MatchAttribute, ObjectKind};
use model::envelope::{new_nonce, Envelope, EnvelopeHeader, KeyPair, PskSigned};
use model::ids::{AgentId, BatchId, DirectoryId, ObjectGuid, RunbookId};
use model::plan::{JoinState, OsEdition};
use model::protocol::*;
use model::runbook::Runbook;

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
        // As the agent does: its id in the query, so large bodies are read.
        let path = format!(
            "/agent/{}?agent={}",
            envelope.header.kind, envelope.header.agent
        );
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

    /// Checks in as the agent does: when the server holds the final check-in back until the
    /// device's readiness checks arrive, it sends them (one passing check) and checks in again.
    pub async fn check_in(
        &self,
        t: &TestApp,
        final_check: bool,
        completed: Vec<RunbookId>,
    ) -> CheckInResponse {
        let answer = self.check_in_raw(t, final_check, completed.clone()).await;
        let Some(blocked) = answer.blocked.as_ref() else {
            return answer;
        };
        if !matches!(
            blocked.code.as_str(),
            "readiness_not_reported" | "readiness_stale"
        ) {
            return answer;
        }
        let report = model::readiness::ReadinessReport {
            batch: blocked.batch,
            runbook: blocked.runbook,
            checks: vec![model::readiness::CheckResult::new(
                model::readiness::checks::OS_EDITION,
                model::readiness::Verdict::Pass,
                "the edition can take the runbook's join",
                "Windows 11 Enterprise",
                now(t),
            )],
        };
        let _: Ack = self
            .call(t, kinds::READINESS, &report)
            .await
            .expect("readiness accepted");
        self.check_in_raw(t, final_check, completed).await
    }

    /// One check-in, nothing sent before it.
    pub async fn check_in_raw(
        &self,
        t: &TestApp,
        final_check: bool,
        completed: Vec<RunbookId>,
    ) -> CheckInResponse {
        let req = CheckInRequest {
            held_assignment: None,
            final_check,
            agent_version: AGENT_VERSION.into(),
            join_state: JoinState::ActiveDirectory {
                domain: "contoso.test".into(),
            },
            logged_on_user: None,
            running: None,
            completed,
            computer_name: None,
            os_version: None,
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
    let psk = server::migration::keys::create_psk(&t.app, Default::default())
        .await
        .expect("psk")
        .key;
    server::migration::keys::create_certificate(&t.app, Default::default())
        .await
        .expect("certificate");
    let runbook: Runbook = serde_json::from_value(serde_json::json!({
        "id": RunbookId::new(), "name": "Move to Fabrikam", "source_directories": [src], "target_directory": dst
    }))
    .expect("runbook");
    let runbook = server::migration::runbooks::create(&t.app, runbook)
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
    let batch = server::migration::batches::create(&t.app, batch)
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
