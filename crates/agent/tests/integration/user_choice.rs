//! Snooze and Migrate Now, as the tray asks for them: kept across a restart, and held to the
//! schedule's rules.

use agent::{Error, Exit, SimWorkstation};
use chrono::Duration;
use model::ids::RunbookId;
use model::schedule::{Decision, Snooze};

use crate::support::*;

/// A runbook available `available_in` from now and enforced `enforced_in` from now, for a
/// logged-on user.
fn offered(world: &World, available_in: Duration, enforced_in: Duration) -> RunbookId {
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_logged_on_user(Some("OLD\\alice".into()))
        .expect("logon");
    let runbook = world.assign(enforced_in);
    let from = (world.clock_now() + available_in).naive_utc();
    let mut server = world.server.state();
    let assignment = server.assignment.as_mut().expect("assigned");
    assignment.available_from = Some(model::batch::ScheduledTime {
        at: from,
        timezone: model::batch::ScheduleTimezone::Utc,
    });
    runbook
}

#[test]
fn a_snooze_survives_an_agent_restart() {
    let world = World::new();
    offered(&world, Duration::minutes(-1), Duration::days(7));
    let enforced_at = world.clock_now() + Duration::days(7);
    // Stops at its first wait, after registering and checking in.
    let mut agent = world.agent(0);
    assert_eq!(agent.run().expect("run"), Exit::Stopped);
    assert_eq!(
        agent.current_decision().expect("decide"),
        Some(Decision::Offer { enforced_at })
    );
    let until = agent
        .snooze(Snooze::FourHours)
        .expect("offered, so snoozable");
    assert_eq!(until, world.clock_now() + Duration::hours(4));
    drop(agent);

    // The service restarts: it checks in again and still honours the snooze.
    let mut restarted = world.agent(0);
    assert_eq!(restarted.run().expect("run"), Exit::Stopped);
    assert_eq!(
        restarted.current_decision().expect("decide"),
        Some(Decision::Wait { until })
    );
    world
        .clock
        .advance(Duration::hours(4) - Duration::seconds(1));
    assert_eq!(
        restarted.current_decision().expect("decide"),
        Some(Decision::Wait { until })
    );
    world.clock.advance(Duration::seconds(1));
    assert_eq!(
        restarted.current_decision().expect("decide"),
        Some(Decision::Offer { enforced_at })
    );
}

#[test]
fn migrate_now_before_available_from_is_refused_and_after_it_the_runbook_starts() {
    let world = World::new();
    let runbook = offered(&world, Duration::hours(2), Duration::days(7));
    let mut agent = world.agent(0);
    assert_eq!(agent.run().expect("run"), Exit::Stopped);

    match agent.migrate_now() {
        Err(Error::NotAllowed(message)) => {
            assert!(message.contains("not available yet"), "{message}")
        }
        other => panic!("Migrate Now before Available From: {:?}", other),
    }
    // Nothing is snoozable yet either: nothing is offered.
    assert!(matches!(
        agent.snooze(Snooze::FiveMinutes),
        Err(Error::NotAllowed(_))
    ));
    drop(agent);
    // The refusal was not stored: a restart still waits for Available From.
    let mut agent = world.agent(0);
    assert_eq!(agent.run().expect("run"), Exit::Stopped);
    assert!(agent.journal().status(&runbook).is_none());
    assert!(matches!(
        agent.current_decision().expect("decide"),
        Some(Decision::Wait { .. })
    ));

    world.clock.advance(Duration::hours(2));
    agent.migrate_now().expect("available, so allowed");
    drop(agent);
    // Accepted, then the service restarts before acting: it still starts, days before Enforced
    // After.
    let started = world.clock_now();
    world.run_to_completion(runbook);
    let server = world.server.state();
    let (final_at, _) = server
        .check_ins
        .iter()
        .find(|(_, c)| c.final_check)
        .cloned()
        .expect("final check-in");
    assert_eq!(final_at, started);
}
