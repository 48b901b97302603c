//! First contact: an agent proves it holds a PSK, the server checks its computer was imported and
//! has no agent yet, and issues it a certificate signed by the newest agent certificate.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use model::directory::{Directory, DirectoryObject};
use model::envelope::{AgentCertificate, PskSigned, MAX_CLOCK_SKEW_SECONDS};
use model::ids::{AgentId, DirectoryId};
use model::plan::JoinState;
use model::protocol::{kinds, RegisterRequest, RegisterResponse, ServerIdentity};

use super::{answer_failure, nonce_memory, Failure, Refusal, RemoteAddr};
use crate::store::agents::Agent;
use crate::{App, Error};

/// `POST /agent/register`.
pub(super) async fn register(State(app): State<App>, remote: RemoteAddr, body: Bytes) -> Response {
    // An address whose registrations keep being refused is turned away unread and unrecorded.
    if let Some(address) = remote.ip() {
        let limits = &app.limits.refused_registrations;
        if limits.is_blocked(address, app.clock.now()) {
            return Error::Throttled(
                "too many refused registrations from this address; the agent will retry later"
                    .to_string(),
            )
            .into_response();
        }
    }
    match handle(&app, &body, &remote).await {
        Ok(signed) => Json(signed).into_response(),
        Err(failure) => answer_failure(&app, &remote, failure).await,
    }
}

/// The computer name the (not yet authenticated) body claims, for the failed-communication record.
fn claimed_name(signed: &PskSigned) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(&signed.body)
        .ok()?
        .get("computer_name")?
        .as_str()
        .map(|s| s.chars().take(64).collect())
}

async fn handle(app: &App, body: &Bytes, remote: &RemoteAddr) -> Result<PskSigned, Failure> {
    let signed: PskSigned = serde_json::from_slice(body)
        .map_err(|e| Refusal::malformed(format!("the body is not a PSK-signed message: {}", e)))?;
    let claimed = claimed_name(&signed);
    let refuse = |code, message: &str| {
        Failure::Refused(Refusal::forbidden(code, message).computer(claimed.clone()))
    };
    if signed.purpose != kinds::REGISTER {
        return Err(refuse(
            "wrong_kind",
            "the message was made for another purpose",
        ));
    }
    let psks = app.store.psk_secrets().await?;
    if psks.is_empty() {
        return Err(refuse(
            "no_psk",
            "the server has no PSK yet; create one in the console and reinstall the agent with it",
        ));
    }
    // Every key is tried in full: a constant-time compare each, and no early exit that would tell
    // which key came close.
    let mut matched = None;
    for (id, secret) in &psks {
        if signed.mac_matches(secret) && matched.is_none() {
            matched = Some((*id, secret.clone()));
        }
    }
    let Some((psk_id, psk)) = matched else {
        return Err(refuse(
            "bad_psk",
            "the PSK does not match any of the server's; reinstall the agent with the current PSK",
        ));
    };
    let now = app.clock.now();
    if (now.timestamp() - signed.timestamp).abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(refuse(
            model::protocol::STALE,
            "the message's time is too far from the server's clock; check the device's clock",
        ));
    }
    let request: RegisterRequest =
        signed
            .open(&psk, kinds::REGISTER, now)
            .map_err(|e| match e {
                model::Error::Malformed(m) => {
                    Refusal::malformed(format!("not a registration request: {}", m))
                        .computer(claimed.clone())
                }
                other => {
                    Refusal::forbidden("bad_message", other.to_string()).computer(claimed.clone())
                }
            })?;
    if !app
        .store
        .remember_nonce(
            &format!("psk:{}", psk_id),
            &signed.nonce,
            now,
            nonce_memory(),
        )
        .await?
    {
        return Err(refuse("replay", "this registration was already received"));
    }
    let name = Some(request.computer_name.clone());
    let refuse = |code, message: String| {
        Failure::Refused(Refusal::forbidden(code, message).computer(name.clone()))
    };
    let Some(certificate) = app.store.latest_certificate_secret().await? else {
        return Err(refuse(
            "no_certificate",
            "the server has no agent certificate yet; create one in the console".into(),
        ));
    };
    if certificate.info.not_after <= now {
        return Err(refuse(
            "certificate_expired",
            "the newest agent certificate has expired; create a new one in the console".into(),
        ));
    }
    let (directory, computer) = find_computer(app, &request).await?.ok_or_else(|| {
        refuse(
            "not_imported",
            format!(
                "no imported directory has a computer named {:?}; import its directory first",
                request.computer_name
            ),
        )
    })?;
    if let Some((code, message)) =
        crate::migration::keys::registration_refusal(app, psk_id, directory, &computer.guid, now)
            .await?
    {
        return Err(refuse(code, message));
    }
    if let Some(existing) = app
        .store
        .agent_for_computer(directory, computer.guid)
        .await?
    {
        // The same key pair asking again is the same agent whose answer was lost (the server
        // stopped or the connection dropped after the registration was stored): it gets the
        // registration it already has. Any other key pair is another agent on that computer.
        if existing.keys != request.keys || existing.certificate.issuer != certificate.info.id {
            return Err(refuse(
                "already_registered",
                format!("computer {:?} already has an agent", computer.name),
            ));
        }
        app.store
            .set_registered_from(existing.id, remote.0.as_deref())
            .await?;
        tracing::info!(agent = %existing.id, computer = ?request.computer_name, "agent registered again with its own keys");
        let response = RegisterResponse {
            agent: existing.id,
            certificate: existing.certificate,
            server: ServerIdentity {
                certificate: certificate.info.id,
                keys: certificate.info.keys,
                not_after: certificate.info.not_after,
            },
        };
        return sign_response(&psk, &response, now, signed.nonce.clone());
    }
    let id = AgentId::new();
    let issued = AgentCertificate::issue(
        id,
        &request.computer_name,
        request.keys,
        certificate.info.id,
        &certificate.keys,
        now,
        certificate.info.not_after - now,
    );
    let agent = Agent {
        id,
        directory,
        computer_guid: computer.guid,
        computer_name: request.computer_name.clone(),
        serial: request.serial.clone(),
        os_edition: request.os_edition,
        os_version: request.os_version.clone(),
        agent_version: request.agent_version.clone(),
        join_state: request.join_state.clone(),
        certificate: issued.clone(),
        keys: request.keys,
        registered_at: now,
        last_contact: now,
        logged_on_user: None,
    };
    match app.store.insert_agent(&agent).await {
        Ok(()) => {}
        // Two registrations of one computer raced: the unique key let exactly one in.
        Err(Error::Conflict(_)) => {
            return Err(refuse(
                "already_registered",
                format!("computer {:?} already has an agent", computer.name),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    app.store
        .set_registered_from(id, remote.0.as_deref())
        .await?;
    tracing::info!(agent = %id, computer = ?request.computer_name, address = ?remote.0, "agent registered");
    let response = RegisterResponse {
        agent: id,
        certificate: issued,
        server: ServerIdentity {
            certificate: certificate.info.id,
            keys: certificate.info.keys,
            not_after: certificate.info.not_after,
        },
    };
    sign_response(&psk, &response, now, signed.nonce.clone())
}

/// The registration `response` signed with `psk`; it repeats the request's `nonce`, binding the
/// two.
fn sign_response(
    psk: &str,
    response: &RegisterResponse,
    now: DateTime<Utc>,
    nonce: String,
) -> Result<PskSigned, Failure> {
    PskSigned::sign(psk, kinds::REGISTER_RESPONSE, response, now, nonce).map_err(|e| {
        Failure::Error(Error::Internal(format!(
            "cannot sign the registration response: {}",
            e
        )))
    })
}

/// True when `directory` is the one the device says it is joined to.
fn joined_to(directory: &Directory, join_state: &JoinState) -> bool {
    match join_state {
        JoinState::ActiveDirectory { domain } => directory.domain.eq_ignore_ascii_case(domain),
        JoinState::Entra { tenant } => {
            directory.domain.eq_ignore_ascii_case(tenant)
                || directory
                    .domain_id
                    .as_deref()
                    .is_some_and(|id| id.eq_ignore_ascii_case(tenant))
        }
        JoinState::Workgroup => false,
    }
}

/// The imported computer the device is: by name, preferring the directory it is joined to. Two
/// candidates that the join state cannot tell apart are refused rather than guessed.
async fn find_computer(
    app: &App,
    request: &RegisterRequest,
) -> Result<Option<(DirectoryId, DirectoryObject)>, Failure> {
    let mut found = app.store.computers_named(&request.computer_name).await?;
    if found.len() <= 1 {
        return Ok(found.pop());
    }
    let mut joined = Vec::new();
    for (directory, object) in found {
        if let Some(d) = app.store.directory(directory).await? {
            if joined_to(&d, &request.join_state) {
                joined.push((directory, object));
            }
        }
    }
    if joined.len() == 1 {
        return Ok(joined.pop());
    }
    Err(Failure::Refused(
        Refusal::forbidden(
            "ambiguous_computer",
            format!(
                "several imported computers are named {:?} and the device's join state does not say which it is",
                request.computer_name
            ),
        )
        .computer(Some(request.computer_name.clone())),
    ))
}
