//! Each agent's runs and readiness state kept in memory per replica: a change made on this
//! replica is seen at the agent's next check-in, one made on another replica within the bound.

use chrono::Duration;
use model::clock::Clock;
use model::protocol::{kinds, EventsAck, EventsUpload};
use model::status::{AgentStatus, EventLevel, Phase};
use server::store::device_states::DEVICE_STATE_BOUND_MS;

use super::{event, world, TestAgent};
use crate::support::TestApp;

/// Registers PC1, gets its assignment, and has its run end in Error.
async fn failed_run(t: &TestApp) -> (TestAgent, model::ids::RunbookId) {
    let w = world(t).await;
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(t, &w.psk).await.expect("registered");
    let assignment = pc1
        .check_in(t, false, vec![])
        .await
        .assignment
        .expect("an assignment");
    assert_eq!(assignment.retry, 0);
    let runbook = w.runbook.id;
    let events = vec![
        event(
            1,
            t,
            runbook,
            Some(AgentStatus::InProgress),
            Phase::Startup,
            EventLevel::Info,
        ),
        event(
            2,
            t,
            runbook,
            Some(AgentStatus::Error),
            Phase::Startup,
            EventLevel::Error,
        ),
    ];
    let _: EventsAck = pc1
        .call(t, kinds::EVENTS, &EventsUpload { events })
        .await
        .expect("events stored");
    (pc1, runbook)
}

#[tokio::test]
async fn a_run_moved_or_retried_on_this_replica_is_seen_at_the_next_check_in() {
    let t = TestApp::new().await;
    let (pc1, runbook) = failed_run(&t).await;
    // The clock stands still: nothing but this replica's own writes can make it read again.
    let view = t
        .app
        .store
        .device_view(pc1.id(), t.clock.now())
        .await
        .expect("view");
    assert_eq!(
        view.runs[0].status,
        AgentStatus::Error,
        "the events' change"
    );

    server::migration::agents::retry(&t.app, pc1.id(), runbook)
        .await
        .expect("retried");
    let assignment = pc1
        .check_in(&t, false, vec![])
        .await
        .assignment
        .expect("assigned again");
    assert_eq!(
        (assignment.runbook.id, assignment.retry),
        (runbook, 1),
        "the retry reaches the device at once"
    );
}

#[tokio::test]
async fn a_run_retried_on_another_replica_reaches_the_agent_within_the_bound() {
    let t = TestApp::new().await;
    let (pc1, runbook) = failed_run(&t).await;
    let _ = pc1.check_in(&t, false, vec![]).await;
    let other = t.app.store.as_another_replica();
    t.clock.advance(Duration::milliseconds(10));
    let retries = other
        .retry_run(pc1.id(), runbook, t.clock.now())
        .await
        .expect("retry")
        .expect("the run was in Error");
    assert_eq!(retries, 1);

    // Within the bound this replica answers from memory, without reading the runs.
    let before = pc1.check_in(&t, false, vec![]).await.assignment;
    assert_eq!(before.map(|a| a.retry), Some(0));
    t.clock
        .advance(Duration::milliseconds(DEVICE_STATE_BOUND_MS));
    let after = pc1
        .check_in(&t, false, vec![])
        .await
        .assignment
        .expect("assigned again");
    assert_eq!(
        (after.runbook.id, after.retry),
        (runbook, 1),
        "the other replica's retry is seen once the bound passed"
    );
}

#[tokio::test]
async fn readiness_asked_again_on_another_replica_is_asked_of_the_device_within_the_bound() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("pc1");
    pc1.register(&t, &w.psk).await.expect("registered");
    // The first answer asks for the checks; once they arrive, no more.
    assert!(pc1.check_in_raw(&t, false, vec![]).await.readiness_due);
    let _ = pc1.check_in(&t, true, vec![]).await;
    assert!(!pc1.check_in_raw(&t, false, vec![]).await.readiness_due);

    let other = t.app.store.as_another_replica();
    other
        .request_readiness(pc1.id(), t.clock.now())
        .await
        .expect("asked again");
    t.clock
        .advance(Duration::milliseconds(DEVICE_STATE_BOUND_MS));
    assert!(
        pc1.check_in_raw(&t, false, vec![]).await.readiness_due,
        "asked again at the first check-in past the bound"
    );
}
