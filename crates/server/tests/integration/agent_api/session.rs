//! The session form of the envelope on the real server: answered in the form the request came
//! in (agents of the signed form keep working), replays refused, another agent's keys or a
//! tampered body refused.

use axum::http::StatusCode;
use base64::Engine;
use model::envelope::{
    new_nonce, AnyEnvelope, Direction, EnvelopeHeader, SessionEnvelope, SessionKeys,
};
use model::ids::AgentId;
use model::protocol::{kinds, CheckInRequest, CheckInResponse, EventsAck, EventsUpload};
use model::protocol::{Refused, AGENT_VERSION};
use serde::Serialize;

use super::{now, world, TestAgent};
use crate::support::TestApp;

fn session_keys(agent: &TestAgent, named: AgentId) -> SessionKeys {
    let server = &agent.registered.as_ref().expect("registered").server;
    SessionKeys::agent_side(named, &agent.keys, server.certificate, &server.keys)
        .expect("session keys")
}

/// A session-form message of `kind` sealed with `agent`'s keys, naming `named` in its header.
fn seal_session<T: Serialize>(
    t: &TestApp,
    agent: &TestAgent,
    named: AgentId,
    kind: &str,
    body: &T,
) -> SessionEnvelope {
    let server = &agent.registered.as_ref().expect("registered").server;
    let header = EnvelopeHeader {
        agent: named,
        certificate: server.certificate,
        kind: kind.to_string(),
        timestamp: now(t).timestamp(),
        nonce: new_nonce(),
    };
    SessionEnvelope::seal(
        header,
        body,
        &session_keys(agent, named),
        Direction::ToServer,
    )
    .expect("seal")
}

/// Posts `envelope` to its route: the answer in whichever form it came, or the refusal.
async fn post(t: &TestApp, envelope: &AnyEnvelope) -> Result<AnyEnvelope, (StatusCode, Refused)> {
    let header = envelope.header();
    let path = format!("/agent/{}?agent={}", header.kind, header.agent);
    let response = t
        .post_json(&path, "", serde_json::to_value(envelope).expect("json"))
        .await;
    if response.status != StatusCode::OK {
        return Err((
            response.status,
            serde_json::from_slice(&response.body).expect("a Refused body"),
        ));
    }
    let answer: AnyEnvelope = serde_json::from_slice(&response.body).expect("an envelope");
    assert_eq!(answer.header().nonce, header.nonce, "bound to its request");
    Ok(answer)
}

fn check_in() -> CheckInRequest {
    CheckInRequest {
        held_assignment: None,
        final_check: false,
        agent_version: AGENT_VERSION.into(),
        join_state: model::plan::JoinState::Workgroup,
        logged_on_user: None,
        running: None,
        completed: vec![],
        computer_name: None,
        os_version: None,
    }
}

fn empty_upload() -> EventsUpload {
    EventsUpload { events: vec![] }
}

#[tokio::test]
async fn each_form_is_answered_in_its_own_form() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("registered");
    let now = now(&t);
    let request = check_in();

    let session = seal_session(&t, &pc1, pc1.id(), kinds::CHECK_IN, &request);
    let AnyEnvelope::Session(answer) = post(&t, &AnyEnvelope::Session(session))
        .await
        .expect("answered")
    else {
        panic!("a session request is answered in the session form");
    };
    let opened: CheckInResponse = answer
        .open(
            &kinds::response(kinds::CHECK_IN),
            &session_keys(&pc1, pc1.id()),
            Direction::ToAgent,
            now,
        )
        .expect("the answer opens with the agent's session keys");
    assert_eq!(opened.server_time, now);

    // An agent deployed before the session form: signed request, signed answer.
    let signed = pc1.seal(&t, kinds::CHECK_IN, pc1.id(), &request);
    let AnyEnvelope::Signed(answer) = post(&t, &AnyEnvelope::Signed(signed))
        .await
        .expect("answered")
    else {
        panic!("a signed request is answered in the signed form");
    };
    let server = &pc1.registered.as_ref().expect("registered").server;
    let opened: CheckInResponse = answer
        .open(
            &kinds::response(kinds::CHECK_IN),
            &server.keys,
            &pc1.keys,
            now,
        )
        .expect("the answer opens with the agent's key pair");
    assert_eq!(opened.server_time, now);
}

#[tokio::test]
async fn a_replayed_session_message_is_refused() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("registered");
    for kind in [kinds::CHECK_IN, kinds::EVENTS] {
        let envelope = if kind == kinds::CHECK_IN {
            seal_session(&t, &pc1, pc1.id(), kind, &check_in())
        } else {
            seal_session(&t, &pc1, pc1.id(), kind, &empty_upload())
        };
        let envelope = AnyEnvelope::Session(envelope);
        post(&t, &envelope).await.expect("first answered");
        let (status, refused) = post(&t, &envelope).await.expect_err("a replay");
        assert_eq!(
            (status, refused.code.as_str()),
            (StatusCode::FORBIDDEN, "replay"),
            "{}",
            kind
        );
    }
}

#[tokio::test]
async fn another_agents_keys_a_tampered_body_or_another_route_are_refused() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("registered");
    let mut pc2 = TestAgent::new("PC2");
    pc2.register(&t, &w.psk).await.expect("registered");
    let refusal = |r: Result<AnyEnvelope, (StatusCode, Refused)>| {
        let (status, refused) = r.expect_err("refused");
        (status, refused.code)
    };
    let bad = (StatusCode::FORBIDDEN, "bad_envelope".to_string());

    // PC2, registered itself, names PC1 in the header and seals with its own keys.
    let forged = seal_session(&t, &pc2, pc1.id(), kinds::EVENTS, &empty_upload());
    assert_eq!(refusal(post(&t, &AnyEnvelope::Session(forged)).await), bad);

    // One bit of the ciphertext flipped.
    let mut flipped = seal_session(&t, &pc1, pc1.id(), kinds::EVENTS, &empty_upload());
    let engine = base64::engine::general_purpose::STANDARD;
    let mut bytes = engine.decode(flipped.sealed.as_bytes()).expect("base64");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    flipped.sealed = engine.encode(bytes);
    assert_eq!(refusal(post(&t, &AnyEnvelope::Session(flipped)).await), bad);

    // The header's time moved (still within the window): the associated data no longer matches.
    let mut moved = seal_session(&t, &pc1, pc1.id(), kinds::EVENTS, &empty_upload());
    moved.header.timestamp -= 10;
    assert_eq!(refusal(post(&t, &AnyEnvelope::Session(moved)).await), bad);

    // A message made for one route posted to another.
    let other_route = seal_session(&t, &pc1, pc1.id(), kinds::EVENTS, &empty_upload());
    let path = format!("/agent/{}?agent={}", kinds::PROFILES, pc1.id());
    let response = t
        .post_json(&path, "", serde_json::to_value(&other_route).expect("json"))
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    let refused: Refused = serde_json::from_slice(&response.body).expect("a Refused body");
    assert_eq!(refused.code, "wrong_kind");

    // The genuine message still goes through.
    let genuine = seal_session(&t, &pc1, pc1.id(), kinds::EVENTS, &empty_upload());
    let AnyEnvelope::Session(answer) = post(&t, &AnyEnvelope::Session(genuine))
        .await
        .expect("answered")
    else {
        panic!("session answer");
    };
    let _: EventsAck = answer
        .open(
            &kinds::response(kinds::EVENTS),
            &session_keys(&pc1, pc1.id()),
            Direction::ToAgent,
            now(&t),
        )
        .expect("opens");
}
