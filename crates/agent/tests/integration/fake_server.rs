//! An in-process server that speaks the agent protocol with the real envelopes and keeps its
//! state honestly: PSK registration of imported computers, certificates, replay checks,
//! assignments, translations only for the SIDs asked, events stored once per sequence number.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use agent::client::Transport;
use agent::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use model::clock::{Clock, ManualClock};
use model::envelope::{
    AgentCertificate, AnyEnvelope, Direction, Envelope, EnvelopeHeader, KeyPair, PskSigned,
    SessionEnvelope, SessionKeys,
};
use model::ids::{AgentId, CertificateId};
use model::protocol::{
    kinds, Ack, AgentEvent, Blocked, CheckInRequest, CheckInResponse, CommandPackageRequest,
    CommandPackageResponse, DeviceAssignment, EventsAck, EventsUpload, ProfilesUpload, Refused,
    RegisterRequest, RegisterResponse, ServerIdentity, SidTranslation, TranslateRequest,
    TranslateResponse, UserProfile,
};
use secdesc::Sid;
use serde::Serialize;

/// How a route misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request never arrives.
    Unreachable,
    /// The request is handled, then the answer is lost.
    LoseAnswer,
}

#[derive(Default)]
pub struct State {
    pub imported: BTreeSet<String>,
    pub agents: BTreeMap<AgentId, AgentCertificate>,
    pub registrations: u32,
    nonces: BTreeSet<String>,
    pub assignment: Option<DeviceAssignment>,
    pub translations: Vec<SidTranslation>,
    /// Stored events, keyed by agent and sequence number.
    pub events: BTreeMap<(AgentId, u64), AgentEvent>,
    pub duplicate_events: u32,
    pub profiles: Vec<UserProfile>,
    pub check_ins: Vec<(DateTime<Utc>, CheckInRequest)>,
    pub translate_requests: Vec<Vec<Sid>>,
    /// Final check-ins to lose before answering one.
    pub lose_final_check_ins: u32,
    /// An assignment that replaces the current one when a final check-in arrives.
    pub replace_on_final_check_in: Option<DeviceAssignment>,
    /// When set, check-ins get no assignment but this reason instead.
    pub blocked: Option<Blocked>,
    /// Readiness reports received, in order.
    pub readiness: Vec<model::readiness::ReadinessReport>,
    /// Asks for readiness in every check-in answer while set.
    pub readiness_due: bool,
    /// Route kind → fault and how many more times it happens (`u32::MAX`: until cleared).
    pub faults: BTreeMap<String, (Fault, u32)>,
    /// Command packages by SHA-256.
    pub packages: BTreeMap<String, Vec<u8>>,
    /// Lock-screen images by SHA-256.
    pub images: BTreeMap<String, Vec<u8>>,
    /// Check-in answers that named the held assignment instead of sending it, in all.
    pub assignments_left_out: u32,
    /// Answers to check-ins that hold an assignment, while above zero, that name another one.
    pub name_unknown_assignment: u32,
    /// The envelope form of each request answered, `session` or `signed`, in order.
    pub forms: Vec<&'static str>,
}

pub struct FakeServer {
    psk: String,
    keys: KeyPair,
    certificate: CertificateId,
    pub clock: ManualClock,
    state: Mutex<State>,
}

fn refused(status: u16, code: &str, message: &str) -> Result<(u16, Vec<u8>)> {
    let body = serde_json::to_vec(&Refused {
        code: code.to_string(),
        message: message.to_string(),
        server_time: None,
    })
    .expect("json");
    Ok((status, body))
}

impl FakeServer {
    pub fn new(psk: &str, clock: ManualClock) -> Arc<FakeServer> {
        Arc::new(FakeServer {
            psk: psk.to_string(),
            keys: KeyPair::generate(),
            certificate: CertificateId::new(),
            clock,
            state: Mutex::new(State::default()),
        })
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn import(&self, computer: &str) {
        self.state().imported.insert(computer.to_string());
    }

    pub fn fail(&self, kind: &str, fault: Fault, times: u32) {
        self.state().faults.insert(kind.to_string(), (fault, times));
    }

    pub fn heal(&self, kind: &str) {
        self.state().faults.remove(kind);
    }

    fn fault(&self, kind: &str) -> Option<Fault> {
        let mut state = self.state();
        let (fault, left) = *state.faults.get(kind)?;
        if left == 0 {
            state.faults.remove(kind);
            return None;
        }
        if left != u32::MAX {
            state.faults.insert(kind.to_string(), (fault, left - 1));
        }
        Some(fault)
    }

    fn identity(&self) -> ServerIdentity {
        ServerIdentity {
            certificate: self.certificate,
            keys: self.keys.public(),
            not_after: self.clock.now() + Duration::days(365),
        }
    }

    fn register(&self, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        let now = self.clock.now();
        let signed: PskSigned = match serde_json::from_slice(body) {
            Ok(s) => s,
            Err(_) => return refused(400, "malformed", "not a PSK-signed body"),
        };
        if !signed.mac_matches(&self.psk) {
            return refused(403, "bad_psk", "the pre-shared key does not match");
        }
        let request: RegisterRequest = match signed.open(&self.psk, kinds::REGISTER, now) {
            Ok(r) => r,
            Err(e) => return refused(400, "bad_request", &e.to_string()),
        };
        let mut state = self.state();
        if !state.nonces.insert(signed.nonce.clone()) {
            return refused(403, "replay", "this request was seen before");
        }
        if !state.imported.contains(&request.computer_name) {
            return refused(403, "not_imported", "import the computer first");
        }
        if state
            .agents
            .values()
            .any(|c| c.computer_name == request.computer_name)
        {
            return refused(403, "already_registered", "the computer has an agent");
        }
        let agent = AgentId::new();
        let certificate = AgentCertificate::issue(
            agent,
            &request.computer_name,
            request.keys,
            self.certificate,
            &self.keys,
            now,
            Duration::days(365),
        );
        state.agents.insert(agent, certificate.clone());
        state.registrations += 1;
        let response = RegisterResponse {
            agent,
            certificate,
            server: self.identity(),
        };
        let signed = PskSigned::sign(
            &self.psk,
            kinds::REGISTER_RESPONSE,
            &response,
            now,
            // The answer repeats the request's nonce, as the real server does.
            signed.nonce.clone(),
        )
        .expect("sign");
        Ok((200, serde_json::to_vec(&signed).expect("json")))
    }

    fn sealed(&self, kind: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        let now = self.clock.now();
        let envelope: AnyEnvelope = match serde_json::from_slice(body) {
            Ok(e) => e,
            Err(_) => return refused(400, "malformed", "not an envelope"),
        };
        let header = envelope.header().clone();
        let cert = match self.state().agents.get(&header.agent) {
            Some(cert) => cert.clone(),
            None => return refused(403, "unknown_agent", "register first"),
        };
        if header.certificate != self.certificate {
            return refused(403, "unknown_certificate", "not this server's certificate");
        }
        if !self.state().nonces.insert(header.nonce.clone()) {
            return refused(403, "replay", "this request was seen before");
        }
        let answer = match kind {
            kinds::CHECK_IN => {
                let request: CheckInRequest = self.open(&envelope, kind, &cert, now)?;
                let mut state = self.state();
                if request.final_check {
                    if state.lose_final_check_ins > 0 {
                        state.lose_final_check_ins -= 1;
                        return Err(Error::Unreachable("connection reset".into()));
                    }
                    if let Some(newer) = state.replace_on_final_check_in.take() {
                        state.assignment = Some(newer);
                    }
                }
                let blocked = state.blocked.clone();
                let mut assignment = state.assignment.clone().filter(|_| blocked.is_none());
                // As the server does: the digest with every regular check-in's assignment, and the
                // assignment itself left out when the check-in holds one with that digest; the
                // final check-in's always in full, without a digest.
                let mut assignment_digest = assignment
                    .as_ref()
                    .filter(|_| !request.final_check)
                    .map(|a| model::protocol::sha256_hex(&serde_json::to_vec(a).expect("json")));
                if state.name_unknown_assignment > 0 && request.held_assignment.is_some() {
                    state.name_unknown_assignment -= 1;
                    assignment = None;
                    assignment_digest = Some("0".repeat(64));
                } else if request.held_assignment.is_some()
                    && request.held_assignment == assignment_digest
                {
                    state.assignments_left_out += 1;
                    assignment = None;
                }
                state.check_ins.push((now, request));
                seal_body(&CheckInResponse {
                    assignment_digest,
                    assignment: assignment.map(std::sync::Arc::new),
                    server_time: now,
                    blocked,
                    readiness_due: state.readiness_due,
                })
            }
            kinds::TRANSLATE => {
                let request: TranslateRequest = self.open(&envelope, kind, &cert, now)?;
                let mut state = self.state();
                let translations = state
                    .translations
                    .iter()
                    .filter(|t| request.sids.contains(&t.source))
                    .cloned()
                    .collect();
                state.translate_requests.push(request.sids);
                seal_body(&TranslateResponse { translations })
            }
            kinds::EVENTS => {
                let upload: EventsUpload = self.open(&envelope, kind, &cert, now)?;
                let mut state = self.state();
                let mut stored = 0;
                let agent = header.agent;
                for event in upload.events {
                    match state.events.entry((agent, event.seq)) {
                        std::collections::btree_map::Entry::Occupied(_) => {
                            state.duplicate_events += 1
                        }
                        std::collections::btree_map::Entry::Vacant(slot) => {
                            stored += 1;
                            slot.insert(event);
                        }
                    }
                }
                let through = state
                    .events
                    .range((agent, 0)..=(agent, u64::MAX))
                    .next_back()
                    .map_or(0, |((_, seq), _)| *seq);
                seal_body(&EventsAck { through, stored })
            }
            kinds::PROFILES => {
                let upload: ProfilesUpload = self.open(&envelope, kind, &cert, now)?;
                let accepted = upload.profiles.len() as u64;
                self.state().profiles = upload.profiles;
                seal_body(&Ack { accepted })
            }
            kinds::READINESS => {
                let report: model::readiness::ReadinessReport =
                    self.open(&envelope, kind, &cert, now)?;
                let accepted = report.checks.len() as u64;
                let mut state = self.state();
                state.readiness.push(report);
                state.readiness_due = false;
                seal_body(&Ack { accepted })
            }
            kinds::COMMAND_PACKAGE => {
                let request: CommandPackageRequest = self.open(&envelope, kind, &cert, now)?;
                let bytes = match self.state().packages.get(&request.sha256) {
                    Some(bytes) => bytes.clone(),
                    None => return refused(404, "unknown_package", &request.sha256),
                };
                seal_body(&CommandPackageResponse::new(&request.sha256, &bytes))
            }
            kinds::LOCK_SCREEN_IMAGE => {
                let request: CommandPackageRequest = self.open(&envelope, kind, &cert, now)?;
                let bytes = match self.state().images.get(&request.sha256) {
                    Some(bytes) => bytes.clone(),
                    None => return refused(404, "unknown_image", &request.sha256),
                };
                seal_body(&CommandPackageResponse::new(&request.sha256, &bytes))
            }
            _ => return refused(404, "unknown_route", kind),
        };
        let answer_header = EnvelopeHeader {
            agent: header.agent,
            certificate: self.certificate,
            kind: kinds::response(kind),
            timestamp: now.timestamp(),
            nonce: header.nonce.clone(),
        };
        // Answered in the form the request came in, as the real server does.
        let sealed = match &envelope {
            AnyEnvelope::Session(_) => AnyEnvelope::Session(
                SessionEnvelope::seal(
                    answer_header,
                    &answer,
                    &self.session(&header, &cert),
                    Direction::ToAgent,
                )
                .expect("seal"),
            ),
            AnyEnvelope::Signed(_) => AnyEnvelope::Signed(
                Envelope::seal(answer_header, &answer, &self.keys, &cert.keys).expect("seal"),
            ),
        };
        self.state().forms.push(match sealed {
            AnyEnvelope::Session(_) => "session",
            AnyEnvelope::Signed(_) => "signed",
        });
        Ok((200, serde_json::to_vec(&sealed).expect("json")))
    }

    fn session(&self, header: &EnvelopeHeader, cert: &AgentCertificate) -> SessionKeys {
        SessionKeys::server_side(header.agent, &cert.keys, self.certificate, &self.keys)
            .expect("session keys")
    }

    fn open<T: serde::de::DeserializeOwned>(
        &self,
        envelope: &AnyEnvelope,
        kind: &str,
        cert: &AgentCertificate,
        now: DateTime<Utc>,
    ) -> Result<T> {
        match envelope {
            AnyEnvelope::Signed(e) => e.open(kind, &cert.keys, &self.keys, now),
            AnyEnvelope::Session(e) => e.open(
                kind,
                &self.session(&e.header, cert),
                Direction::ToServer,
                now,
            ),
        }
        .map_err(|e| Error::Protocol(format!("the fake server refused the envelope: {}", e)))
    }
}

fn seal_body<T: Serialize>(body: &T) -> serde_json::Value {
    serde_json::to_value(body).expect("json")
}

impl Transport for FakeServer {
    fn post(&self, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        let path = path.split('?').next().unwrap_or(path);
        let kind = path.strip_prefix("/agent/").unwrap_or(path).to_string();
        let fault = self.fault(&kind);
        if fault == Some(Fault::Unreachable) {
            return Err(Error::Unreachable("connection refused".into()));
        }
        let answer = if kind == kinds::REGISTER {
            self.register(body)
        } else {
            self.sealed(&kind, body)
        };
        if fault == Some(Fault::LoseAnswer) {
            return Err(Error::Unreachable("connection reset".into()));
        }
        answer
    }
}
