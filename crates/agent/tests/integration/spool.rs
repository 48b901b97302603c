use agent::spool::Spool;
use agent::Exit;
use chrono::Duration;
use model::protocol::kinds;
use model::status::AgentStatus;

use crate::fake_server::Fault;
use crate::support::*;

#[test]
fn an_upload_whose_answer_was_lost_is_retried_and_stored_once() {
    let world = World::new();
    let runbook = world.assign(Duration::minutes(-5));
    // The server stores the first two uploads but the agent never hears back.
    world.server.fail(kinds::EVENTS, Fault::LoseAnswer, 2);
    world.run_to_completion(runbook);
    let server = world.server.state();
    assert!(
        server.duplicate_events > 0,
        "the retry re-sent stored events"
    );
    let seqs: Vec<u64> = server.events.keys().map(|(_, seq)| *seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
}

#[test]
fn spooled_events_survive_a_failed_upload_and_a_restart() {
    let world = World::new();
    let runbook = world.assign(Duration::minutes(-5));
    world
        .server
        .fail(kinds::EVENTS, Fault::Unreachable, u32::MAX);
    // The migration completes but no event gets out before the agent is stopped.
    let exit = world.agent(20).run().expect("run");
    assert_eq!(exit, Exit::Stopped);
    assert!(world.server.state().events.is_empty());
    let spooled = Spool::open(&world.config().state_dir).expect("spool");
    let pending = spooled.pending().len();
    assert!(pending > 14, "every step's event is on disk: {}", pending);
    drop(spooled);

    world.server.heal(kinds::EVENTS);
    let exit = world.agent(100).run().expect("restart");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook,
            status: AgentStatus::Completed
        }
    );
    let server = world.server.state();
    assert_eq!(server.events.len(), pending);
    assert_eq!(server.duplicate_events, 0);
    assert!(Spool::open(&world.config().state_dir)
        .expect("spool")
        .is_empty());
}
