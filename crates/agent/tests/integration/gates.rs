//! Pre-flight gates: a target that does not answer, an expired bulk enrollment token and a hive
//! another process holds open each stop the run before its first change, in one clear error.

use agent::{Exit, SimWorkstation};
use chrono::Duration;
use model::plan::JoinState;
use model::runbook::{DomainJoin, PermissionMode};
use model::status::{AgentStatus, EventLevel};

use crate::support::*;

const TENANT: &str = "fabrikam.onmicrosoft.com";

/// Runs the assigned runbook on `sim` and returns its status and the error events.
fn run(world: &World, sim: SimWorkstation) -> (AgentStatus, Vec<String>) {
    let exit = world.agent_with(sim, 100).run().expect("run");
    let status = match exit {
        Exit::Idle { status, .. } => status,
        other => panic!("unexpected {:?}", other),
    };
    let errors = world
        .server
        .state()
        .events
        .values()
        .filter(|e| e.level == EventLevel::Error)
        .map(|e| e.message.clone())
        .collect();
    (status, errors)
}

fn untouched(world: &World) {
    let s = SimWorkstation::load(&world.dir).expect("load");
    assert!(s.actions.is_empty(), "{:?}", s.actions);
    assert_eq!(
        s.join_state,
        JoinState::ActiveDirectory {
            domain: SOURCE_DOMAIN.into()
        }
    );
}

#[test]
fn a_target_domain_that_does_not_answer_stops_the_run_before_any_change() {
    let world = World::new();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_unreachable(TARGET_DOMAIN).expect("fault");
    world.assign(Duration::minutes(-5));
    let (status, errors) = run(&world, sim);
    assert_eq!(status, AgentStatus::Error);
    assert_eq!(errors.len(), 1, "{:?}", errors);
    assert!(
        errors[0].contains("nothing was changed")
            && errors[0].contains(&format!("{} does not answer", TARGET_DOMAIN)),
        "{}",
        errors[0]
    );
    untouched(&world);
}

#[test]
fn an_expired_bulk_enrollment_token_stops_an_entra_join_before_any_change() {
    let world = World::new();
    world.assign_with(
        DomainJoin::Entra,
        PermissionMode::AddAndRemove,
        TENANT,
        Duration::minutes(-5),
    );
    let expired = world.clock_now() - Duration::hours(1);
    if let Some(a) = world.server.state().assignment.as_mut() {
        a.bulk_token_expires_at = Some(expired);
    }
    let sim = SimWorkstation::open(&world.dir).expect("open");
    let (status, errors) = run(&world, sim);
    assert_eq!(status, AgentStatus::Error);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("bulk enrollment token") && e.contains("expired")),
        "{:?}",
        errors
    );
    // The token itself is never in an event.
    assert!(errors.iter().all(|e| !e.contains("eyJ0eXAiOiJKV1Qi")));
    untouched(&world);
}

#[test]
fn a_hive_held_open_is_waited_for_and_then_the_run_goes_on() {
    let world = World::new();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    // Two checks still find it open; the third finds it closed.
    sim.hold_hive("C:\\Users\\alice\\NTUSER.DAT", "backup.exe (4242)", 2)
        .expect("fault");
    world.assign(Duration::minutes(-5));
    let (status, errors) = run(&world, sim);
    assert_eq!(status, AgentStatus::Completed, "{:?}", errors);
    let s = SimWorkstation::load(&world.dir).expect("load");
    assert!(s.profile_list.contains_key(&sid(ALICE_NEW)));
}

#[test]
fn a_hive_held_open_for_good_names_the_process_and_changes_nothing() {
    let world = World::new();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.hold_hive(
        "C:\\Users\\alice\\NTUSER.DAT",
        "backup.exe (4242)",
        u32::MAX,
    )
    .expect("fault");
    world.assign(Duration::minutes(-5));
    let (status, errors) = run(&world, sim);
    assert_eq!(status, AgentStatus::Error);
    assert_eq!(errors.len(), 1, "{:?}", errors);
    assert!(
        errors[0].contains("C:\\Users\\alice\\NTUSER.DAT")
            && errors[0].contains("backup.exe (4242)")
            && errors[0].contains("checked 3 times"),
        "{}",
        errors[0]
    );
    untouched(&world);
    let s = SimWorkstation::load(&world.dir).expect("load");
    assert!(s.profile_list.contains_key(&sid(ALICE)));
}

/// A runbook that joins the target domain offline, without the settings this agent refuses.
fn offline_runbook(world: &World) {
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    runbook.device_state.rename = None;
    runbook.device_state.active_directory.offline_domain_join = true;
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
}

#[test]
fn an_offline_join_uses_the_blob_the_server_sent() {
    let world = World::new();
    offline_runbook(&world);
    let sim = SimWorkstation::open(&world.dir).expect("open");
    let (status, errors) = run(&world, sim);
    assert_eq!(status, AgentStatus::Completed, "{:?}", errors);
    let s = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(
        s.join_state,
        JoinState::ActiveDirectory {
            domain: TARGET_DOMAIN.into()
        }
    );
    assert_eq!(s.actions.get("device-state/join-ad"), Some(&1));
    assert!(world
        .server
        .state()
        .events
        .values()
        .any(|e| e.message.contains("offline from the server's blob")));
}

#[test]
fn an_offline_join_without_a_blob_says_why_and_changes_nothing() {
    let world = World::new();
    offline_runbook(&world);
    if let Some(a) = world.server.state().assignment.as_mut() {
        a.offline_join = Some(model::protocol::OfflineJoin::Unavailable(
            "this server does not prepare offline join blobs: start rehome serve with --samba-net"
                .into(),
        ));
    }
    let sim = SimWorkstation::open(&world.dir).expect("open");
    let (status, errors) = run(&world, sim);
    assert_eq!(status, AgentStatus::Error);
    assert_eq!(errors.len(), 1, "{:?}", errors);
    assert!(
        errors[0].contains("could not prepare the offline join blob")
            && errors[0].contains("--samba-net"),
        "{}",
        errors[0]
    );
    untouched(&world);
}

#[test]
fn a_blob_for_another_domain_is_refused_by_the_join() {
    let world = World::new();
    offline_runbook(&world);
    if let Some(a) = world.server.state().assignment.as_mut() {
        a.offline_join = Some(model::protocol::OfflineJoin::blob(
            b"ODJ blob for elsewhere.test",
        ));
    }
    let sim = SimWorkstation::open(&world.dir).expect("open");
    let (status, errors) = run(&world, sim);
    assert_eq!(status, AgentStatus::Error);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("not for new.contoso.test")),
        "{:?}",
        errors
    );
    let s = SimWorkstation::load(&world.dir).expect("load");
    assert_ne!(
        s.join_state,
        JoinState::ActiveDirectory {
            domain: TARGET_DOMAIN.into()
        }
    );
}

/// The full AD join runbook renaming the computer from `template`.
fn renaming(world: &World, template: &str) -> model::ids::RunbookId {
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    runbook.device_state.rename = Some(model::runbook::Rename {
        template: template.into(),
    });
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5))
}

#[test]
fn a_rename_checks_the_new_name_in_the_target_domain_not_the_old_one() {
    // The new name is taken: stopped before any change, naming it.
    let world = World::new();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.add_domain_computer_account(TARGET_DOMAIN, "PC-SN-0001")
        .expect("account");
    renaming(&world, "PC-%SERIAL%");
    let (status, errors) = run(&world, sim);
    assert_eq!(status, AgentStatus::Error);
    assert_eq!(errors.len(), 1, "{:?}", errors);
    assert!(
        errors[0].contains("nothing was changed") && errors[0].contains("PC-SN-0001"),
        "{}",
        errors[0]
    );
    untouched(&world);

    // Only the old name is taken: the renamed computer joins.
    let world = World::new();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.add_domain_computer_account(TARGET_DOMAIN, COMPUTER)
        .expect("account");
    renaming(&world, "PC-%SERIAL%");
    let (status, errors) = run(&world, sim);
    assert_eq!(status, AgentStatus::Completed, "{:?}", errors);
    let s = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(s.computer_name, "PC-SN-0001");
    assert_eq!(
        s.join_state,
        JoinState::ActiveDirectory {
            domain: TARGET_DOMAIN.into()
        }
    );
}

#[test]
fn a_random_name_is_drawn_again_while_taken_and_the_run_stops_when_every_draw_is() {
    let world = World::new();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    for digit in 0..10 {
        sim.add_domain_computer_account(TARGET_DOMAIN, &format!("WS-{}", digit))
            .expect("account");
    }
    renaming(&world, "WS-%RAND:1%");
    let (status, errors) = run(&world, sim);
    assert_eq!(status, AgentStatus::Error);
    assert_eq!(errors.len(), 1, "{:?}", errors);
    assert!(
        errors[0].contains("every new name drawn from \"WS-%RAND:1%\"")
            && errors[0].contains("WS-"),
        "{}",
        errors[0]
    );
    untouched(&world);

    // With one name free, the pre-flight keeps drawing until it finds it (or gives up after
    // five draws): the computer never gets a taken name.
    let world = World::new();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    for digit in 0..5 {
        sim.add_domain_computer_account(TARGET_DOMAIN, &format!("WS-{}", digit))
            .expect("account");
    }
    renaming(&world, "WS-%RAND:1%");
    let (status, _) = run(&world, sim);
    let s = SimWorkstation::load(&world.dir).expect("load");
    match status {
        AgentStatus::Completed => {
            let digit: u32 = s.computer_name["WS-".len()..].parse().expect("digit");
            assert!(digit >= 5, "{} is taken", s.computer_name);
        }
        AgentStatus::Error => assert_eq!(s.computer_name, COMPUTER),
        other => panic!("unexpected {:?}", other),
    }
}
