//! A check-in's contact and facts are noted for the writer, which stores each agent's latest
//! without the answer waiting.

use chrono::Duration;
use model::clock::Clock;
use model::protocol::Refused;
use model::protocol::{kinds, CheckInRequest, CheckInResponse};

use super::replays::check_in_by;
use super::{world, TestAgent};
use crate::support::TestApp;

#[tokio::test]
async fn many_check_ins_of_one_agent_leave_its_latest_contact_and_facts_for_another_replica() {
    let t = TestApp::new().await;
    let w = world(&t).await;
    let mut pc1 = TestAgent::new("PC1");
    pc1.register(&t, &w.psk).await.expect("registered");

    // The first reports the Windows version, the later ones do not: it must stay stored.
    let first = pc1.seal(
        &t,
        kinds::CHECK_IN,
        pc1.id(),
        &CheckInRequest {
            held_assignment: None,
            os_version: Some("10.0.22631".into()),
            ..check_in_by("CONTOSO\\user0")
        },
    );
    let _: CheckInResponse = pc1.send(&t, &first).await.expect("answered");
    for n in 1..30 {
        t.clock.advance(Duration::seconds(1));
        let user = format!("CONTOSO\\user{}", n);
        let _: CheckInResponse = pc1
            .call(&t, kinds::CHECK_IN, &check_in_by(&user))
            .await
            .expect("answered");
    }
    let last = t.clock.now();
    t.app.store.flush_agent_contacts().await.expect("flushed");

    // Read through another replica: its own writer and memory, the same database.
    let other = t.app.store.as_another_replica();
    let stored = other
        .agent(pc1.id())
        .await
        .expect("read")
        .expect("registered");
    assert_eq!(stored.logged_on_user.as_deref(), Some("CONTOSO\\user29"));
    assert_eq!(
        stored.last_contact.timestamp_millis(),
        last.timestamp_millis()
    );
    assert_eq!(stored.os_version, "10.0.22631");
    assert_eq!(stored.join_state, model::plan::JoinState::Workgroup);

    // The replica that answered it still refuses the first message again.
    let (_, refused): (_, Refused) = pc1
        .send::<CheckInResponse>(&t, &first)
        .await
        .expect_err("a replay");
    assert_eq!(refused.code, "replay");
}
