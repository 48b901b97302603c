//! The agent's side of the protocol under `/agent/`: registration authenticated with the PSK, then
//! every request sealed in the session form (a key shared with the server's certificate, derived
//! once from the agent's certified key) and every response opened with it and bound to its
//! request by the nonce. An answer in the signed form (a server that answers so) is opened too.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use model::clock::Clock;
use model::envelope::{
    new_nonce, AgentCertificate, AnyEnvelope, Direction, EnvelopeHeader, KeyPair, PskSigned,
    SessionEnvelope, SessionKeys,
};
use model::ids::AgentId;
use model::protocol::{
    kinds, Ack, AgentEvent, CheckInRequest, CheckInResponse, CommandPackageRequest,
    CommandPackageResponse, DeviceAssignment, EventsAck, EventsUpload, ProfilesUpload, Refused,
    RegisterRequest, RegisterResponse, ServerIdentity, TranslateRequest, TranslateResponse,
    UserProfile,
};
use secdesc::Sid;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::tls::TlsRoots;
use crate::{fsutil, Error, Result};

/// Largest response body the agent reads.
const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Moves request bodies to the server and back.
pub trait Transport: Send {
    /// POSTs the JSON `body` to `path` (e.g. `/agent/check-in`) and returns the HTTP status and
    /// body. [`Error::Unreachable`] when no answer came back.
    fn post(&self, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)>;
}

impl<T: Transport + Sync + ?Sized> Transport for Arc<T> {
    fn post(&self, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        (**self).post(path, body)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn post(&self, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        (**self).post(path, body)
    }
}

/// HTTP or HTTPS to the server's base URL, e.g. `http://rehome.contoso.com:5000` or
/// `https://rehome.contoso.com` behind a reverse proxy. Plain HTTP is fine: the envelope already
/// makes the traffic confidential and tamper-proof.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    base: String,
    agent: ureq::Agent,
}

impl HttpTransport {
    /// A transport to `base_url`; `https://` trusts the public web's roots.
    pub fn new(base_url: &str) -> HttpTransport {
        HttpTransport::build(base_url, &TlsRoots::web())
    }

    /// A transport to `base_url` keeping up to `connections` idle connections open; its clones
    /// share them, so many agents in one process reuse a bounded set of connections. Made for a
    /// fleet of agents in one process: its time limits are per read and per write, where a
    /// device's transport has one deadline for the whole request (which costs two system calls
    /// at every buffered read, each header line of an answer included).
    pub fn with_pool(base_url: &str, connections: usize) -> HttpTransport {
        HttpTransport {
            base: base_url.trim_end_matches('/').to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(CONNECT_TIMEOUT)
                .timeout_read(REQUEST_TIMEOUT)
                .timeout_write(REQUEST_TIMEOUT)
                .max_idle_connections(connections.max(1))
                .max_idle_connections_per_host(connections.max(1))
                .tls_connector(TlsRoots::web().connector())
                .build(),
        }
    }

    /// A transport to `base_url` whose `https://` trusts `roots`.
    pub fn with_roots(base_url: &str, roots: &TlsRoots) -> HttpTransport {
        HttpTransport::build(base_url, roots)
    }

    fn build(base_url: &str, roots: &TlsRoots) -> HttpTransport {
        HttpTransport {
            base: base_url.trim_end_matches('/').to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(CONNECT_TIMEOUT)
                .timeout(REQUEST_TIMEOUT)
                .max_idle_connections(1)
                .max_idle_connections_per_host(1)
                .tls_connector(roots.connector())
                .build(),
        }
    }
}

/// The longest a connection to the server may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest a request and its answer may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

fn read_body(response: ureq::Response) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    response
        .into_reader()
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut body)
        .map_err(|e| Error::Unreachable(format!("reading the answer: {}", e)))?;
    Ok(body)
}

impl Transport for HttpTransport {
    fn post(&self, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        let url = format!("{}{}", self.base, path);
        match self
            .agent
            .post(&url)
            .set("Content-Type", "application/json")
            .send_bytes(body)
        {
            Ok(response) => {
                let status = response.status();
                Ok((status, read_body(response)?))
            }
            Err(ureq::Error::Status(status, response)) => Ok((status, read_body(response)?)),
            Err(ureq::Error::Transport(e)) => Err(Error::Unreachable(e.to_string())),
        }
    }
}

/// The agent's identity, issued at registration and kept so a restart does not register again.
#[derive(Clone)]
pub struct Identity {
    /// The agent's id.
    pub agent: AgentId,
    keys: KeyPair,
    /// Its certificate, signed by the server.
    pub certificate: AgentCertificate,
    /// The server identity it encrypts to and checks answers against.
    pub server: ServerIdentity,
    /// The keys every message to and from that server is sealed with, derived once.
    session: SessionKeys,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("agent", &self.agent)
            .field("server", &self.server.certificate)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct StoredIdentity {
    agent: AgentId,
    /// The key pair's 64 secret bytes, hex. The file is readable by its owner only.
    secret: String,
    certificate: AgentCertificate,
    server: ServerIdentity,
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

impl Identity {
    /// Reads the identity saved at `path`, `None` when the agent never registered.
    pub fn load(path: &Path) -> Result<Option<Identity>> {
        let bytes = match fsutil::read_optional(path)? {
            Some(bytes) => bytes,
            None => return Ok(None),
        };
        let corrupt = |reason: String| Error::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let stored: StoredIdentity =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let secret =
            from_hex(&stored.secret).ok_or_else(|| corrupt("the key is not hex".into()))?;
        let keys = KeyPair::from_secret_bytes(&secret).map_err(|e| corrupt(e.to_string()))?;
        if keys.public() != stored.certificate.keys {
            return Err(corrupt("the key does not match the certificate".into()));
        }
        let session = SessionKeys::agent_side(
            stored.agent,
            &keys,
            stored.server.certificate,
            &stored.server.keys,
        )
        .map_err(|e| corrupt(e.to_string()))?;
        Ok(Some(Identity {
            agent: stored.agent,
            keys,
            certificate: stored.certificate,
            server: stored.server,
            session,
        }))
    }

    /// Saves the identity at `path`, readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<()> {
        let stored = StoredIdentity {
            agent: self.agent,
            secret: to_hex(&self.keys.to_secret_bytes()),
            certificate: self.certificate.clone(),
            server: self.server.clone(),
        };
        let bytes = serde_json::to_vec_pretty(&stored).map_err(|e| Error::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        fsutil::write_atomic(path, &bytes, true)
    }
}

/// The protocol over a [`Transport`].
pub struct Client<T> {
    transport: T,
    clock: Arc<dyn Clock>,
    identity: Option<Identity>,
    /// Seconds the server's clock is ahead of `clock` (negative when behind), learnt from a
    /// refusal as stale: a device whose clock is off by an hour still talks to the server, and
    /// every message still carries a time the server checks (so replays stay refused).
    server_offset: AtomicI64,
    /// Set when a refusal taught a new offset, so the refused request is sent once more.
    corrected: AtomicBool,
    /// The key pair of a registration not yet answered: a retry sends the same keys, so a server
    /// that stored the registration but lost its answer gives back the same agent.
    pending_keys: Option<KeyPair>,
    /// The assignment last received in full and its digest: a check-in names the digest, and a
    /// server that would send the same assignment answers with the digest alone.
    held: Mutex<Option<(String, Arc<DeviceAssignment>)>>,
}

/// The path of a route under `/agent/`.
pub fn route(kind: &str) -> String {
    format!("/agent/{}", kind)
}

fn refusal(status: u16, body: &[u8]) -> Error {
    // 503: the server is up but cannot serve now (busy, or its database unreachable). Like a
    // server that cannot be reached at all, it is waited for and asked again, never taken as a
    // refusal that fails a registration or a step.
    if status == 503 {
        let why = serde_json::from_slice::<Refused>(body)
            .map(|r| r.message)
            .unwrap_or_else(|_| "HTTP 503".to_string());
        return Error::Unreachable(format!("the server cannot serve now: {}", why));
    }
    match serde_json::from_slice::<Refused>(body) {
        Ok(refused) => Error::Refused {
            code: refused.code,
            message: refused.message,
        },
        Err(_) => Error::Http { status },
    }
}

fn bad(what: &str) -> impl FnOnce(model::Error) -> Error + '_ {
    move |e| Error::Protocol(format!("{}: {}", what, e))
}

impl<T: Transport> Client<T> {
    /// A client with `identity` if the agent registered before.
    pub fn new(transport: T, clock: Arc<dyn Clock>, identity: Option<Identity>) -> Client<T> {
        Client {
            transport,
            clock,
            identity,
            server_offset: AtomicI64::new(0),
            corrected: AtomicBool::new(false),
            pending_keys: None,
            held: Mutex::new(None),
        }
    }

    /// The server's time as this client reckons it: its clock plus the offset it learnt.
    pub fn server_now(&self) -> DateTime<Utc> {
        self.clock.now() + chrono::Duration::seconds(self.server_offset.load(Ordering::Relaxed))
    }

    /// Seconds the server's clock is ahead of this client's (see [`Client::server_now`]).
    pub fn server_offset_seconds(&self) -> i64 {
        self.server_offset.load(Ordering::Relaxed)
    }

    /// Learns the server's clock from a refusal as stale; true when the offset changed, so
    /// the request is worth sending again.
    fn learn_server_time(&self, body: &[u8]) -> bool {
        let refused = match serde_json::from_slice::<Refused>(body) {
            Ok(refused) => refused,
            Err(_) => return false,
        };
        let server_time = match refused.server_time {
            Some(t) if refused.code == model::protocol::STALE => t,
            _ => return false,
        };
        let offset = server_time - self.clock.now().timestamp();
        let before = self.server_offset.swap(offset, Ordering::Relaxed);
        let changed = before != offset;
        if changed {
            self.corrected.store(true, Ordering::Relaxed);
        }
        changed
    }

    /// True once after a refusal taught a new clock offset.
    fn take_correction(&self) -> bool {
        self.corrected.swap(false, Ordering::Relaxed)
    }

    /// The identity, once registered.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Stamps and checks the protocol's timestamps on `clock` from now on.
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.clock = clock;
    }

    /// Drops the identity, e.g. after the server said it no longer knows this agent.
    pub fn forget_identity(&mut self) {
        self.identity = None;
    }

    /// Registers with `psk`: makes a key pair (kept for retries until one is answered), sends its public half in `request` (whose `keys`
    /// are replaced), checks the answer's PSK MAC, that the certificate is for those keys and is
    /// signed by the returned server identity, and keeps the identity.
    pub fn register(&mut self, psk: &str, mut request: RegisterRequest) -> Result<&Identity> {
        let keys = self
            .pending_keys
            .get_or_insert_with(KeyPair::generate)
            .clone();
        request.keys = keys.public();
        let mut sent = self.send_registration(psk, &request)?;
        if sent.0 != 200 && self.learn_server_time(&sent.1) && self.take_correction() {
            sent = self.send_registration(psk, &request)?;
        }
        let (status, answer, nonce) = sent;
        if status != 200 {
            return Err(refusal(status, &answer));
        }
        let signed: PskSigned = serde_json::from_slice(&answer)
            .map_err(|e| Error::Protocol(format!("registration answer: {}", e)))?;
        // The answer repeats the request's nonce, so an old answer cannot be replayed to us.
        if signed.nonce != nonce {
            return Err(Error::Protocol(
                "the registration answer is not for this request".into(),
            ));
        }
        let response: RegisterResponse = signed
            .open(psk, kinds::REGISTER_RESPONSE, self.server_now())
            .map_err(bad("registration answer"))?;
        let cert = &response.certificate;
        if cert.keys != keys.public() || cert.agent != response.agent {
            return Err(Error::Protocol(
                "the certificate is not for this agent's keys".into(),
            ));
        }
        if cert.issuer != response.server.certificate {
            return Err(Error::Protocol(
                "the certificate was not issued by the returned server identity".into(),
            ));
        }
        cert.verify(&response.server.keys, self.server_now())
            .map_err(bad("certificate"))?;
        let session = SessionKeys::agent_side(
            response.agent,
            &keys,
            response.server.certificate,
            &response.server.keys,
        )
        .map_err(bad("server identity"))?;
        self.pending_keys = None;
        self.identity = Some(Identity {
            agent: response.agent,
            keys,
            certificate: response.certificate,
            server: response.server,
            session,
        });
        self.identity.as_ref().ok_or(Error::NotRegistered)
    }

    /// Sends one registration; the status, the answer and the nonce it must repeat.
    fn send_registration(
        &self,
        psk: &str,
        request: &RegisterRequest,
    ) -> Result<(u16, Vec<u8>, String)> {
        let nonce = new_nonce();
        let signed = PskSigned::sign(
            psk,
            kinds::REGISTER,
            request,
            self.server_now(),
            nonce.clone(),
        )?;
        let body = serde_json::to_vec(&signed).map_err(|e| Error::Protocol(e.to_string()))?;
        let (status, answer) = self.transport.post(&route(kinds::REGISTER), &body)?;
        Ok((status, answer, nonce))
    }

    /// Sends `body` sealed as `kind` and opens the answer of kind `<kind>-response`; sent once
    /// more, with a new nonce, when it was refused as stale and the refusal taught the server's
    /// time.
    fn call<B: Serialize, R: DeserializeOwned>(&self, kind: &str, body: &B) -> Result<R> {
        match self.call_once(kind, body) {
            Err(Error::Refused { code, .. })
                if code == model::protocol::STALE && self.take_correction() =>
            {
                self.call_once(kind, body)
            }
            other => other,
        }
    }

    fn call_once<B: Serialize, R: DeserializeOwned>(&self, kind: &str, body: &B) -> Result<R> {
        let id = self.identity.as_ref().ok_or(Error::NotRegistered)?;
        let nonce = new_nonce();
        let header = EnvelopeHeader {
            agent: id.agent,
            certificate: id.server.certificate,
            kind: kind.to_string(),
            timestamp: self.server_now().timestamp(),
            nonce: nonce.clone(),
        };
        let envelope = SessionEnvelope::seal(header, body, &id.session, Direction::ToServer)?;
        let bytes = serde_json::to_vec(&envelope).map_err(|e| Error::Protocol(e.to_string()))?;
        // The agent's id in the query lets the server read a large body before it has checked
        // the envelope (see the server's `agent_api::uploads`).
        let path = format!("{}?agent={}", route(kind), id.agent);
        let (status, answer) = self.transport.post(&path, &bytes)?;
        if status != 200 {
            self.learn_server_time(&answer);
            return Err(refusal(status, &answer));
        }
        let envelope: AnyEnvelope = serde_json::from_slice(&answer)
            .map_err(|e| Error::Protocol(format!("{} answer: {}", kind, e)))?;
        let h = envelope.header();
        if h.nonce != nonce || h.agent != id.agent || h.certificate != id.server.certificate {
            return Err(Error::Protocol(format!(
                "the {} answer is not for this request",
                kind
            )));
        }
        let kind = kinds::response(kind);
        let now = self.server_now();
        match &envelope {
            AnyEnvelope::Session(e) => e.open(&kind, &id.session, Direction::ToAgent, now),
            AnyEnvelope::Signed(e) => e.open(&kind, &id.server.keys, &id.keys, now),
        }
        .map_err(bad("answer"))
    }

    /// A regular or final check-in. The answer always carries the assignment in full: one the
    /// server left out because this client holds it is filled in from the copy held.
    pub fn check_in(&self, request: &CheckInRequest) -> Result<CheckInResponse> {
        let held = self.held_digest();
        match self.check_in_holding(request, held.clone())? {
            Some(answer) => Ok(answer),
            // The server named an assignment this client no longer holds: ask for it in full.
            None if held.is_some() => self
                .check_in_holding(request, None)?
                .ok_or_else(|| Error::Protocol("the check-in answer names no assignment".into())),
            None => Err(Error::Protocol(
                "the check-in answer names an assignment it did not send".into(),
            )),
        }
    }

    fn held_digest(&self) -> Option<String> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.as_ref().map(|(digest, _)| digest.clone())
    }

    /// One check-in naming `held`; `None` when the answer refers to an assignment not held.
    fn check_in_holding(
        &self,
        request: &CheckInRequest,
        held: Option<String>,
    ) -> Result<Option<CheckInResponse>> {
        let mut request = request.clone();
        request.held_assignment = held;
        let mut answer: CheckInResponse = self.call(kinds::CHECK_IN, &request)?;
        let mut kept = self.held.lock().unwrap_or_else(|e| e.into_inner());
        match (&answer.assignment, &answer.assignment_digest) {
            (Some(assignment), Some(digest)) => {
                *kept = Some((digest.clone(), assignment.clone()));
            }
            (None, Some(digest)) => match kept.as_ref() {
                Some((d, assignment)) if d == digest => {
                    answer.assignment = Some(assignment.clone())
                }
                _ => {
                    *kept = None;
                    return Ok(None);
                }
            },
            // No assignment, or a server that sends no digest: nothing to hold.
            (_, None) => *kept = None,
        }
        Ok(Some(answer))
    }

    /// The translations of the SIDs found on the device that have one.
    pub fn translate(&self, sids: Vec<Sid>) -> Result<TranslateResponse> {
        self.call(kinds::TRANSLATE, &TranslateRequest { sids })
    }

    /// Uploads a batch of spooled events.
    pub fn upload_events(&self, events: &[AgentEvent]) -> Result<EventsAck> {
        self.call(
            kinds::EVENTS,
            &EventsUpload {
                events: events.to_vec(),
            },
        )
    }

    /// Uploads the profiles harvested from the device.
    pub fn upload_profiles(&self, profiles: Vec<UserProfile>) -> Result<Ack> {
        self.call(kinds::PROFILES, &ProfilesUpload { profiles })
    }

    /// Sends the device's readiness checks for its batch and runbook.
    pub fn upload_readiness(&self, report: &model::readiness::ReadinessReport) -> Result<Ack> {
        self.call(kinds::READINESS, report)
    }

    /// Downloads a command package of the current runbook; bytes that do not hash to `sha256`
    /// are refused.
    pub fn command_package(&self, sha256: &str) -> Result<Vec<u8>> {
        let response: CommandPackageResponse = self.call(
            kinds::COMMAND_PACKAGE,
            &CommandPackageRequest {
                sha256: sha256.to_string(),
            },
        )?;
        // Entry names are checked again where the package is unpacked (`crate::package::check`),
        // so one that slipped past an older server is refused before anything is written.
        Ok(response.verified_bytes(sha256)?)
    }

    /// Downloads the custom lock-screen image of the current runbook; bytes that do not hash to
    /// `sha256` are refused.
    pub fn lock_screen_image(&self, sha256: &str) -> Result<Vec<u8>> {
        let response: CommandPackageResponse = self.call(
            kinds::LOCK_SCREEN_IMAGE,
            &CommandPackageRequest {
                sha256: sha256.to_string(),
            },
        )?;
        Ok(response.verified_bytes(sha256)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_junk() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(from_hex(&to_hex(&bytes)), Some(bytes.to_vec()));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn a_refusal_body_surfaces_its_code() {
        let body = br#"{"code":"not_imported","message":"import the computer first"}"#;
        match refusal(403, body) {
            Error::Refused { code, .. } => assert_eq!(code, "not_imported"),
            other => panic!("unexpected {:?}", other),
        }
        assert!(matches!(
            refusal(502, b"<html>"),
            Error::Http { status: 502 }
        ));
    }

    #[test]
    fn a_server_that_cannot_serve_now_is_waited_for_not_taken_as_a_refusal() {
        let body = br#"{"code":"store_unavailable","message":"the server cannot reach its database; try again in a moment"}"#;
        match refusal(503, body) {
            Error::Unreachable(why) => {
                assert!(why.contains("cannot reach its database"), "{}", why)
            }
            other => panic!("unexpected {:?}", other),
        }
        assert!(matches!(refusal(503, b""), Error::Unreachable(_)));
    }
}
