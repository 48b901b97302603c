use agent::sim::SimRestart;
use agent::{Exit, SimFaults, SimWorkstation};
use chrono::Duration;
use model::status::{AgentStatus, EventLevel};

use crate::support::*;

#[test]
fn a_run_that_joins_a_domain_ends_by_scheduling_the_restart_that_makes_the_join_take_effect() {
    let world = World::new();
    let id = world.assign(Duration::minutes(-5));
    let exit = world.agent(100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    let device = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(
        device.scheduled_restart,
        Some(SimRestart {
            minutes: 10,
            message: "Move to the target has moved this device. It restarts in 10 minutes to finish: save your work now.".into()
        })
    );
    let server = world.server.state();
    let events: Vec<_> = server.events.values().collect();
    let restart = events
        .iter()
        .position(|e| e.message.contains("restarts in 10 minutes"))
        .expect("the restart's event");
    let completed = events
        .iter()
        .position(|e| e.status == Some(AgentStatus::Completed))
        .expect("the completion's event");
    assert!(
        restart < completed,
        "the restart is scheduled before the run is called complete"
    );

    // A cancel takes it back, and a second cancel finds nothing.
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    assert!(agent::Workstation::cancel_restart(&mut sim).expect("cancel"));
    assert!(!agent::Workstation::cancel_restart(&mut sim).expect("cancel again"));
    assert_eq!(
        SimWorkstation::load(&world.dir)
            .expect("load")
            .scheduled_restart,
        None
    );
}

#[test]
fn a_device_that_cannot_schedule_the_restart_fails_the_pre_flight_before_it_leaves_its_domain() {
    let world = World::new();
    let id = world.assign(Duration::minutes(-5));
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_faults(SimFaults {
        lacks: vec!["schedule_restart".into()],
        ..Default::default()
    });
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert_eq!(last.level, EventLevel::Error);
    assert_eq!(last.status, Some(AgentStatus::Error));
    assert!(
        last.message.contains("completion/restart") && last.message.contains("schedule_restart"),
        "{}",
        last.message
    );
    assert!(!server
        .events
        .values()
        .any(|e| e.status == Some(AgentStatus::Completed)));
    // Refused by the pre-flight: no step ran, and the device is where it was.
    assert!(
        last.message
            .contains("pre-flight checks failed, nothing was changed"),
        "{}",
        last.message
    );
    assert!(!server.events.values().any(|e| e.step.is_some()));
    let device = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(
        device.join_state,
        model::plan::JoinState::ActiveDirectory {
            domain: SOURCE_DOMAIN.into()
        }
    );
}

#[test]
fn a_run_that_changes_neither_directory_nor_name_schedules_no_restart() {
    let world = World::new();
    // Only caches credentials: no leave, join or rename.
    cache_credentials_first(&world);
    let device = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(device.scheduled_restart, None);
    assert!(!world
        .server
        .state()
        .events
        .values()
        .any(|e| e.message.contains("restart")));
}

#[test]
fn the_restart_a_run_scheduled_is_carried_out_when_the_device_starts_and_the_next_run_schedules_its_own(
) {
    let world = World::new();
    world.assign(Duration::minutes(-5));
    world.agent(100).run().expect("run");
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    assert!(sim.state().scheduled_restart.is_some());
    assert!(sim.start_up().expect("start"));
    let device = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(device.scheduled_restart, None);
    assert_eq!(device.restarts, 1);
    // Nothing pending: a second start carries nothing out, and a new restart is scheduled.
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    assert!(!sim.start_up().expect("start again"));
    assert!(agent::Workstation::schedule_restart(&mut sim, 10, "again").expect("schedule"));
    assert_eq!(SimWorkstation::load(&world.dir).expect("load").restarts, 1);
}
