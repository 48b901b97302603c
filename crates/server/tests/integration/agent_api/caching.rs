//! What the agent API keeps in memory is given up when it changes: at once for a change made
//! through this replica, within the cache's time limit for one made on another replica (here:
//! straight in the database, which this process's write counter does not see).

use axum::http::StatusCode;
use chrono::Duration;
use server::agent_api::cache::{AGENT_TTL, CONFIG_TTL};

use super::device::World;
use super::{world, TestAgent};
use crate::support::TestApp;

#[tokio::test]
async fn an_agent_deleted_here_is_refused_at_its_next_request() {
    let (t, _w, mut pc1) = assigned_agent().await;
    server::migration::removal::delete_agent(&t.app, pc1.id())
        .await
        .expect("deleted");
    let refused = refused_check_in(&t, &mut pc1).await;
    assert_eq!(
        (refused.0, refused.1.code.as_str()),
        (StatusCode::FORBIDDEN, "unknown_agent")
    );
}

#[tokio::test]
async fn an_agent_deleted_on_another_replica_is_refused_once_its_row_is_read_again() {
    let (t, _w, mut pc1) = assigned_agent().await;
    sqlx::query("DELETE FROM agents WHERE id = $1")
        .bind(pc1.id().to_string())
        .execute(t.app.store.pool())
        .await
        .expect("deleted behind the replica's back");
    t.clock.advance(Duration::seconds(AGENT_TTL));
    let refused = refused_check_in(&t, &mut pc1).await;
    assert_eq!(refused.1.code, "unknown_agent");
}

#[tokio::test]
async fn a_certificate_deleted_on_another_replica_is_refused_within_the_config_time_limit() {
    let (t, _w, mut pc1) = assigned_agent().await;
    sqlx::query("DELETE FROM agent_certificates")
        .execute(t.app.store.pool())
        .await
        .expect("deleted behind the replica's back");
    t.clock.advance(Duration::seconds(CONFIG_TTL));
    let refused = refused_check_in(&t, &mut pc1).await;
    assert_eq!(refused.1.code, "unknown_certificate");
}

#[tokio::test]
async fn a_batch_deleted_on_another_replica_assigns_nothing_within_the_config_time_limit() {
    let (t, w, pc1) = assigned_agent().await;
    sqlx::query("DELETE FROM batches WHERE id = $1")
        .bind(w.batch.id.to_string())
        .execute(t.app.store.pool())
        .await
        .expect("deleted behind the replica's back");
    t.clock.advance(Duration::seconds(CONFIG_TTL));
    let answer = pc1.check_in(&t, false, vec![]).await;
    assert!(answer.assignment.is_none(), "{answer:?}");
}

#[tokio::test]
async fn a_batch_changed_here_is_seen_at_the_next_check_in() {
    let (t, w, pc1) = assigned_agent().await;
    assert!(t.app.store.delete_batch(w.batch.id).await.expect("deleted"));
    let answer = pc1.check_in(&t, false, vec![]).await;
    assert!(answer.assignment.is_none(), "{answer:?}");
}

/// A test app with one batch, and an agent registered in it whose check-in has its assignment.
async fn assigned_agent() -> (TestApp, World, TestAgent) {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("registered");
    assert!(pc1.check_in(&t, false, vec![]).await.assignment.is_some());
    (t, w, pc1)
}

/// The refusal of `agent`'s next check-in (a test failure if it is answered).
async fn refused_check_in(
    t: &TestApp,
    agent: &mut TestAgent,
) -> (StatusCode, model::protocol::Refused) {
    agent
        .call::<_, model::protocol::CheckInResponse>(
            t,
            model::protocol::kinds::CHECK_IN,
            &check_in(),
        )
        .await
        .expect_err("refused")
}

fn check_in() -> model::protocol::CheckInRequest {
    model::protocol::CheckInRequest {
        held_assignment: None,
        final_check: false,
        agent_version: model::protocol::AGENT_VERSION.into(),
        join_state: model::plan::JoinState::Workgroup,
        logged_on_user: None,
        running: None,
        completed: vec![],
        computer_name: None,
        os_version: None,
    }
}

#[tokio::test]
async fn a_device_holding_its_assignment_gets_only_the_digest_until_the_runbook_changes() {
    let (t, w, pc1) = assigned_agent().await;
    let full: model::protocol::CheckInResponse = pc1
        .call(&t, model::protocol::kinds::CHECK_IN, &check_in())
        .await
        .expect("answered");
    let assignment = full.assignment.expect("assigned");
    let digest = full
        .assignment_digest
        .expect("a digest with the assignment");

    let holding = |held: &str| model::protocol::CheckInRequest {
        held_assignment: Some(held.to_string()),
        ..check_in()
    };
    let steady: model::protocol::CheckInResponse = pc1
        .call(&t, model::protocol::kinds::CHECK_IN, &holding(&digest))
        .await
        .expect("answered");
    assert!(steady.assignment.is_none(), "{steady:?}");
    assert_eq!(steady.assignment_digest.as_deref(), Some(digest.as_str()));

    // Another digest (an older assignment, or none the server knows) gets the assignment in full.
    let other: model::protocol::CheckInResponse = pc1
        .call(
            &t,
            model::protocol::kinds::CHECK_IN,
            &holding(&"0".repeat(64)),
        )
        .await
        .expect("answered");
    assert_eq!(other.assignment.as_ref(), Some(&assignment));

    // The final check-in's answer, with the passwords and tokens, is always sent in full and has
    // no digest, even to a device naming the regular one.
    let final_answer = pc1.check_in(&t, true, vec![]).await;
    assert!(final_answer.assignment.is_some(), "{final_answer:?}");
    let final_held: model::protocol::CheckInResponse = pc1
        .call(
            &t,
            model::protocol::kinds::CHECK_IN,
            &model::protocol::CheckInRequest {
                final_check: true,
                ..holding(&digest)
            },
        )
        .await
        .expect("answered");
    assert!(final_held.assignment.is_some(), "{final_held:?}");
    assert_eq!(final_held.assignment_digest, None);

    // A changed runbook is sent in full, with a new digest, to the device holding the old one.
    let mut runbook = w.runbook.clone();
    runbook.name = "CONTOSO to FABRIKAM, second wave".into();
    assert!(t
        .app
        .store
        .update_runbook(&runbook, super::device::now(&t))
        .await
        .expect("updated"));
    let changed: model::protocol::CheckInResponse = pc1
        .call(&t, model::protocol::kinds::CHECK_IN, &holding(&digest))
        .await
        .expect("answered");
    let sent = changed.assignment.expect("sent again in full");
    assert_eq!(sent.runbook.name, runbook.name);
    assert_ne!(changed.assignment_digest.as_deref(), Some(digest.as_str()));
}
