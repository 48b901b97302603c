//! Readiness on the agent: the checks go to the server when its check-in answer asks for them and
//! again right before the final check-in, taken from the device as it is then.

use chrono::Duration;
use model::readiness::{checks, Verdict};
use model::status::AgentStatus;

use crate::support::*;

#[test]
fn checks_are_sent_when_asked_and_again_before_the_final_check_in() {
    let world = World::new();
    let runbook = world.assign(Duration::hours(2));
    world.server.state().readiness_due = true;

    // The first check-in asks: one report, for the assignment, everything passing.
    world.agent(1).run().expect("run");
    {
        let state = world.server.state();
        assert_eq!(state.readiness.len(), 1);
        let first = &state.readiness[0];
        assert_eq!(first.runbook, runbook);
        let failing: Vec<_> = first
            .checks
            .iter()
            .filter(|c| c.verdict != Verdict::Pass)
            .collect();
        assert!(failing.is_empty(), "{:?}", failing);
        assert!(!state.readiness_due);
    }

    // The disk fills up before the start: the report sent before the final check-in says so.
    let mut sim = agent::SimWorkstation::open(&world.dir).expect("open");
    sim.set_readiness(|r| r.free_bytes = 512 * 1024 * 1024)
        .expect("set");
    let exit = world.agent(20).run().expect("run");
    assert_eq!(
        exit,
        agent::Exit::Idle {
            runbook,
            status: AgentStatus::Completed
        }
    );
    let state = world.server.state();
    assert_eq!(
        state.readiness.len(),
        2,
        "one more, before the final check-in"
    );
    let space = state.readiness[1]
        .checks
        .iter()
        .find(|c| c.check == checks::FREE_SPACE)
        .expect("free space");
    assert_eq!(space.verdict, Verdict::Block);
    assert!(space.value.starts_with("0.5 GB free"), "{}", space.value);
    assert!(state.check_ins.iter().any(|(_, c)| c.final_check));
}
