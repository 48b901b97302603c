//! The agent API under `/agent/`: registration authenticated with a PSK, then every other route
//! inside a signed and encrypted [`Envelope`]. Every refusal is recorded as a failed communication
//! and answered with a [`Refused`] body; an agent can only ever read and change its own rows,
//! because every handler is keyed by the authenticated envelope header, never by ids in the body.

pub mod cache;
pub mod nonces;
mod readiness;
mod register;
mod routes;
mod secrets_due;
pub mod stages;
pub mod uploads;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Duration;
use model::envelope::{
    AnyEnvelope, Direction, Envelope, EnvelopeHeader, SessionEnvelope, MAX_CLOCK_SKEW_SECONDS,
};
use model::protocol::{kinds, Refused, STALE};
use serde::de::DeserializeOwned;
use serde::Serialize;
use stages::Stage;

use crate::store::agents::{Agent, CheckInFacts};
use crate::store::communications::FailedCommunication;
use crate::App;

/// Routes of the agent API, named by the protocol's kinds.
pub fn router() -> Router<App> {
    // The enveloped routes read their bodies through `uploads::AgentBody`, which sets the limits.
    Router::new()
        .route(
            &format!("/{}", kinds::REGISTER),
            post(register::register).layer(DefaultBodyLimit::max(MAX_REGISTER_BYTES)),
        )
        .route(&format!("/{}", kinds::CHECK_IN), post(routes::check_in))
        .route(&format!("/{}", kinds::TRANSLATE), post(routes::translate))
        .route(&format!("/{}", kinds::EVENTS), post(routes::events))
        .route(&format!("/{}", kinds::PROFILES), post(routes::profiles))
        .route(
            &format!("/{}", kinds::READINESS),
            post(readiness::readiness),
        )
        .route(
            &format!("/{}", kinds::COMMAND_PACKAGE),
            post(routes::command_package),
        )
        .route(
            &format!("/{}", kinds::LOCK_SCREEN_IMAGE),
            post(routes::lock_screen_image),
        )
}

/// Largest registration body: it is read before the sender is known, so it stays small.
pub const MAX_REGISTER_BYTES: usize = 64 * 1024;
/// Largest enveloped body: a full spool of events or every SID of a file server, base64-encoded;
/// read only for a registered agent, a few at once (see [`uploads`]).
pub const MAX_UPLOAD_BYTES: usize = 32 * 1024 * 1024;

/// How long a seen nonce is remembered: past it, the message's timestamp is stale anyway.
pub fn nonce_memory() -> Duration {
    Duration::seconds(2 * MAX_CLOCK_SKEW_SECONDS + 60)
}

/// The address a request came from, when the listener recorded it (`ConnectInfo`).
#[derive(Debug, Clone, Default)]
pub struct RemoteAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RemoteAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<RemoteAddr, Self::Rejection> {
        Ok(RemoteAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        ))
    }
}

impl RemoteAddr {
    /// The address, parsed.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.0.as_deref().and_then(|a| a.parse().ok())
    }
}

/// A refused agent request: recorded, then answered with a stable code.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    computer: Option<String>,
}

impl Refusal {
    /// 403 with `code`.
    pub(crate) fn forbidden(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::FORBIDDEN,
            code,
            message: message.into(),
            computer: None,
        }
    }

    /// 400 `malformed`.
    pub(crate) fn malformed(message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "malformed",
            message: message.into(),
            computer: None,
        }
    }

    /// Names the computer in the failed-communication record.
    pub(crate) fn computer(mut self, name: Option<String>) -> Refusal {
        self.computer = name;
        self
    }
}

/// Why an agent request did not succeed: refused (the agent's doing) or failed (ours).
#[derive(Debug)]
pub(crate) enum Failure {
    Refused(Refusal),
    Error(crate::Error),
}

impl From<crate::Error> for Failure {
    fn from(e: crate::Error) -> Failure {
        Failure::Error(e)
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Failure {
        Failure::Refused(r)
    }
}

/// Records `failure` when it is a refusal and turns it into the response.
pub(crate) async fn answer_failure(app: &App, remote: &RemoteAddr, failure: Failure) -> Response {
    match failure {
        Failure::Error(e) => e.into_response(),
        Failure::Refused(r) => {
            tracing::warn!(code = r.code, computer = ?r.computer, remote = ?remote.0, "agent request refused: {}", r.message);
            if let Some(address) = remote.ip() {
                app.limits
                    .refused_registrations
                    .hit(address, app.clock.now());
            }
            let record = FailedCommunication {
                at: app.clock.now(),
                computer_name: r.computer.clone(),
                remote_address: remote.0.clone(),
                code: r.code.to_string(),
                message: r.message.clone(),
            };
            app.metrics.failed_communication();
            if let Err(e) = app.store.insert_failed_communication(&record).await {
                tracing::error!(error = %e, "could not record a failed communication");
            }
            (
                r.status,
                Json(Refused {
                    code: r.code.to_string(),
                    message: r.message,
                    // Told only to a message refused for its time, so the agent can correct it.
                    server_time: (r.code == STALE).then(|| app.clock.now().timestamp()),
                }),
            )
                .into_response()
        }
    }
}

/// A request body of an enveloped route.
pub(crate) trait AgentRequest: DeserializeOwned {
    /// Whether answering a replay of this request again changes nothing the first did not: a
    /// check-in (its contact, facts and assignment are those of the first, and the answer is
    /// sealed to the agent) and an event upload (events are stored once by sequence number).
    /// Such a request's nonce is kept only in the replica's memory, never stored: the stored
    /// nonces serve to refuse a replay on another replica or after a restart before it acts,
    /// and this replay would be answered anyway, so storing them per request bought nothing
    /// but a log line. Its contact (and a check-in's facts) is noted for the writer, which
    /// stores each agent's latest, without the answer waiting for anything.
    const REPLAY_IS_HARMLESS: bool = false;

    /// What the request reports about the device, recorded with its contact (check-ins).
    fn check_in_facts(&self) -> Option<CheckInFacts<'_>> {
        None
    }
}

impl AgentRequest for model::protocol::CheckInRequest {
    const REPLAY_IS_HARMLESS: bool = true;

    fn check_in_facts(&self) -> Option<CheckInFacts<'_>> {
        Some(CheckInFacts {
            agent_version: &self.agent_version,
            join_state: &self.join_state,
            computer_name: self.computer_name.as_deref(),
            os_version: self.os_version.as_deref(),
            logged_on_user: self.logged_on_user.as_deref(),
        })
    }
}
impl AgentRequest for model::protocol::TranslateRequest {}
impl AgentRequest for model::protocol::EventsUpload {
    const REPLAY_IS_HARMLESS: bool = true;
}
impl AgentRequest for model::protocol::ProfilesUpload {}
impl AgentRequest for model::protocol::CommandPackageRequest {}
impl AgentRequest for model::readiness::ReadinessReport {}

/// Opens the envelope in `body` for route `kind`, runs `handle` with the authenticated agent and
/// the request body, and seals its answer back to that agent.
pub(crate) async fn serve_envelope<Req, Resp, F, Fut>(
    app: &App,
    remote: &RemoteAddr,
    body: &Bytes,
    kind: &str,
    handle: F,
) -> Response
where
    Req: AgentRequest,
    Resp: Serialize,
    F: FnOnce(Arc<Agent>, Req) -> Fut,
    Fut: Future<Output = Result<Resp, Failure>>,
{
    match open_and_handle(app, body, kind, handle).await {
        Ok(envelope) => Json(envelope).into_response(),
        Err(failure) => answer_failure(app, remote, failure).await,
    }
}

async fn open_and_handle<Req, Resp, F, Fut>(
    app: &App,
    body: &Bytes,
    kind: &str,
    handle: F,
) -> Result<AnyEnvelope, Failure>
where
    Req: AgentRequest,
    Resp: Serialize,
    F: FnOnce(Arc<Agent>, Req) -> Fut,
    Fut: Future<Output = Result<Resp, Failure>>,
{
    let envelope: AnyEnvelope = serde_json::from_slice(body)
        .map_err(|e| Refusal::malformed(format!("the body is not an envelope: {}", e)))?;
    let header = envelope.header();
    let stages = &app.metrics.stages;
    let started = std::time::Instant::now();
    let agent = app.agent_cache.agent(app, header.agent).await?;
    stages.since(Stage::AgentLookup, started);
    let agent = agent.ok_or_else(|| {
        Refusal::forbidden(
            "unknown_agent",
            "no agent is registered with this id; register again with the PSK",
        )
    })?;
    let name = Some(agent.computer_name.clone());
    if header.kind != kind {
        return Err(
            Refusal::forbidden("wrong_kind", "the message was made for another route")
                .computer(name)
                .into(),
        );
    }
    // Any of the server's certificates, not only the newest: rotating it must not strand agents.
    let certificate = app
        .agent_cache
        .certificate(app, header.certificate)
        .await?
        .ok_or_else(|| {
            Refusal::forbidden(
                "unknown_certificate",
                "the server has no agent certificate with this id",
            )
            .computer(name.clone())
        })?;
    let now = app.clock.now();
    if (now.timestamp() - header.timestamp).abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(Refusal::forbidden(
            STALE,
            "the message's time is too far from the server's clock; check the device's clock",
        )
        .computer(name)
        .into());
    }
    let started = std::time::Instant::now();
    // Answered in the form the request came in: agents deployed before the session form keep
    // working.
    let (opened, session) = match &envelope {
        AnyEnvelope::Signed(e) => (e.open(kind, &agent.keys, &certificate.keys, now), None),
        AnyEnvelope::Session(e) => {
            let keys = app.agent_cache.session(&agent, &certificate).map_err(|e| {
                Refusal::forbidden("bad_envelope", format!("the message was refused: {}", e))
                    .computer(name.clone())
            })?;
            (e.open(kind, &keys, Direction::ToServer, now), Some(keys))
        }
    };
    stages.since(Stage::Open, started);
    let request: Req = opened
        .map_err(|e| match e {
            model::Error::Malformed(m) => {
                Refusal::malformed(format!("the body does not fit the route: {}", m))
            }
            other => Refusal::forbidden(
                "bad_envelope",
                format!("the message was refused: {}", other),
            ),
        })
        .map_err(|r| r.computer(name.clone()))?;
    // Only after the signature checks out, so strangers cannot fill the nonce memory or table.
    // Every authenticated request is contact (a check-in's with the facts it reports). A nonce
    // this process has seen is refused at once; a request whose replay is harmless notes its
    // contact for the writer and goes on; any other waits until its nonce and contact are
    // stored (the store refuses a nonce it holds), so its replay is refused everywhere.
    let started = std::time::Instant::now();
    let seen = app.agent_cache.nonces.remember(
        agent.id,
        &header.nonce,
        now.timestamp_millis(),
        (now + nonce_memory()).timestamp_millis(),
    );
    let fresh = match seen {
        nonces::Seen::Again => false,
        nonces::Seen::New if Req::REPLAY_IS_HARMLESS => {
            app.store
                .note_agent_contact(agent.id, request.check_in_facts().as_ref(), now)
                .await?;
            true
        }
        nonces::Seen::New | nonces::Seen::NotKept => {
            app.store
                .record_agent_request(
                    agent.id,
                    &header.nonce,
                    request.check_in_facts().as_ref(),
                    now,
                    nonce_memory(),
                )
                .await?
        }
    };
    stages.since(Stage::Nonce, started);
    if !fresh {
        return Err(
            Refusal::forbidden("replay", "this message was already received")
                .computer(name)
                .into(),
        );
    }
    let agent_keys = agent.keys;
    let agent_id = agent.id;
    let response = handle(agent, request).await?;
    let response_header = EnvelopeHeader {
        agent: agent_id,
        certificate: certificate.info.id,
        kind: kinds::response(kind),
        timestamp: now.timestamp(),
        nonce: header.nonce.clone(),
    };
    let started = std::time::Instant::now();
    let sealed = match session {
        Some(keys) => SessionEnvelope::seal(response_header, &response, &keys, Direction::ToAgent)
            .map(AnyEnvelope::Session),
        None => Envelope::seal(response_header, &response, &certificate.keys, &agent_keys)
            .map(AnyEnvelope::Signed),
    };
    stages.since(Stage::Seal, started);
    sealed.map_err(|e| {
        Failure::Error(crate::Error::Internal(format!(
            "cannot seal a response: {}",
            e
        )))
    })
}
