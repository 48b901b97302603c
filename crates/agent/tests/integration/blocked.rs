//! An assignment the server holds back (no licence covers the device): the agent records the
//! reason once, waits, and runs the runbook once the server lets it.

use chrono::Duration;
use model::ids::BatchId;
use model::protocol::Blocked;
use model::status::{AgentStatus, EventLevel};

use crate::support::*;

fn warnings(world: &World) -> Vec<String> {
    world
        .server
        .state()
        .events
        .values()
        .filter(|e| e.level == EventLevel::Warning)
        .map(|e| e.message.clone())
        .collect()
}

#[test]
fn a_held_back_runbook_is_reported_once_and_runs_when_released() {
    let world = World::new();
    let runbook = world.assign(Duration::zero());
    let reason = Blocked {
        batch: BatchId::new(),
        runbook,
        code: "licence_full".into(),
        message: "all 10 devices of the licence are in use".into(),
    };
    world.server.state().blocked = Some(reason.clone());

    // Four check-ins, one warning; a restarted agent (checking in at once) does not repeat it.
    world.agent(3).run().expect("run");
    world.agent(3).run().expect("run again");
    assert_eq!(world.server.state().check_ins.len(), 5);
    let got = warnings(&world);
    assert_eq!(got.len(), 1, "{:?}", got);
    assert!(got[0].contains("all 10 devices of the licence are in use"));
    let event = world
        .server
        .state()
        .events
        .values()
        .find(|e| e.level == EventLevel::Warning)
        .cloned()
        .expect("warning");
    assert_eq!((event.runbook, event.status), (Some(runbook), None));
    let untouched = agent::SimWorkstation::load(&world.dir).expect("state");
    assert!(untouched.actions.is_empty(), "{:?}", untouched.actions);

    // Another reason is recorded too.
    world.server.state().blocked = Some(Blocked {
        code: "licence_expired".into(),
        message: "the licence expired".into(),
        ..reason
    });
    world.agent(4).run().expect("run");
    assert_eq!(warnings(&world).len(), 2);

    // Released: the runbook runs to Completed.
    world.server.state().blocked = None;
    let exit = world.agent(20).run().expect("run");
    assert_eq!(
        exit,
        agent::Exit::Idle {
            runbook,
            status: AgentStatus::Completed
        }
    );
    assert_eq!(warnings(&world).len(), 2);
}
