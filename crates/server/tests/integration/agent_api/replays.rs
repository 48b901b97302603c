//! Replays: the replica that saw a message refuses it again at once; a check-in's contact
//! and facts reach the store without holding its answer; a route whose replay would change
//! something waits for its nonce to be stored, so another replica refuses the replay too.

use axum::http::StatusCode;
use model::protocol::{kinds, Ack, CheckInRequest, CheckInResponse, EventsAck, EventsUpload};
use model::protocol::{ProfilesUpload, AGENT_VERSION};

use super::{world, TestAgent};
use crate::support::TestApp;

pub fn check_in_by(user: &str) -> CheckInRequest {
    CheckInRequest {
        held_assignment: None,
        final_check: false,
        agent_version: AGENT_VERSION.into(),
        join_state: model::plan::JoinState::Workgroup,
        logged_on_user: Some(user.to_string()),
        running: None,
        completed: vec![],
        computer_name: None,
        os_version: None,
    }
}

#[tokio::test]
async fn a_replayed_check_in_or_upload_is_refused_at_once_and_the_check_in_reaches_the_store() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("registered");

    let envelope = pc1.seal(&t, kinds::CHECK_IN, pc1.id(), &check_in_by("CONTOSO\\ann"));
    let _: CheckInResponse = pc1.send(&t, &envelope).await.expect("answered");
    let (status, refused) = pc1
        .send::<CheckInResponse>(&t, &envelope)
        .await
        .expect_err("a replay");
    assert_eq!(
        (status, refused.code.as_str()),
        (StatusCode::FORBIDDEN, "replay")
    );
    let upload = pc1.seal(
        &t,
        kinds::EVENTS,
        pc1.id(),
        &EventsUpload { events: vec![] },
    );
    let _: EventsAck = pc1.send(&t, &upload).await.expect("answered");
    let (_, refused) = pc1
        .send::<EventsAck>(&t, &upload)
        .await
        .expect_err("a replay");
    assert_eq!(refused.code, "replay");

    // A request that waits for its own write is answered after every write queued before it.
    let _: Ack = pc1
        .call(&t, kinds::PROFILES, &ProfilesUpload { profiles: vec![] })
        .await
        .expect("profiles");
    let stored = t
        .app
        .store
        .agent(pc1.id())
        .await
        .expect("read")
        .expect("registered");
    assert_eq!(stored.logged_on_user.as_deref(), Some("CONTOSO\\ann"));
}

#[tokio::test]
async fn a_replay_that_would_change_something_is_refused_by_another_replica() {
    let mut t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("registered");
    let envelope = pc1.seal(
        &t,
        kinds::PROFILES,
        pc1.id(),
        &ProfilesUpload { profiles: vec![] },
    );
    let _: Ack = pc1.send(&t, &envelope).await.expect("answered");
    // Nothing flushed: the answer came after the nonce's row was committed.
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM seen_nonces WHERE scope = $1 AND nonce = $2")
            .bind(format!("agent:{}", pc1.id()))
            .bind(envelope.header.nonce.as_str())
            .fetch_one(t.app.store.pool())
            .await
            .expect("count");
    assert_eq!(stored, 1);
    t.become_another_replica();
    let (status, refused) = pc1.send::<Ack>(&t, &envelope).await.expect_err("a replay");
    assert_eq!(
        (status, refused.code.as_str()),
        (StatusCode::FORBIDDEN, "replay")
    );
}
