//! Cache User Credentials: the signed-in user's target credentials are checked by the target
//! domain and left in Windows' logon cache, the gate an offline join needs.

use std::panic::{catch_unwind, AssertUnwindSafe};

use agent::run::credentials::CACHED_CREDENTIALS;
use agent::workstation::RegValue;
use agent::{Exit, SimFaults, SimWorkstation, Workstation};
use chrono::Duration;
use model::runbook::DomainJoin;
use model::status::{AgentStatus, EventLevel};

use crate::support::*;

/// The world's device with Alice signed in and an account of hers in the target domain.
fn alice_signed_in(world: &World) -> SimWorkstation {
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.add_domain_account(TARGET_DOMAIN, "alice", ALICE_PASSWORD)
        .expect("account");
    sim.set_logged_on_user(Some("OLD\\alice".into()))
        .expect("logon");
    sim
}

fn answer(user: &str, password: &str) -> Option<(String, String)> {
    Some((user.to_string(), password.to_string()))
}

fn run(world: &World, sim: SimWorkstation) -> (Exit, SimWorkstation) {
    let mut agent = world.agent_with(sim, 100);
    let exit = agent.run().expect("run");
    (exit, SimWorkstation::open(&world.dir).expect("open"))
}

#[test]
fn the_signed_in_user_caches_target_credentials_after_a_mistyped_password() {
    let world = World::new();
    let (runbook, secrets) = cache_only();
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let mut sim = alice_signed_in(&world);
    sim.answer_credential_prompts(vec![
        answer("alice", "wrong"),
        answer("alice@new.contoso.test", ALICE_PASSWORD),
    ]);
    let (exit, sim) = run(&world, sim);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    // Windows keeps the logon the target's domain controller accepted: Alice can sign in after
    // an offline join with no domain controller in sight.
    assert_eq!(
        sim.cached_logons().expect("cache"),
        vec![format!("{}\\alice", TARGET_DOMAIN)]
    );
    assert_eq!(
        sim.registry_value(CACHED_CREDENTIALS, ALICE)
            .expect("work key"),
        Some(RegValue::Sz(format!(
            "{}|alice@new.contoso.test",
            TARGET_DOMAIN
        )))
    );
    let server = world.server.state();
    let event = server
        .events
        .values()
        .find(|e| e.step.as_deref() == Some("device-state/cache-credentials"))
        .expect("the step's event");
    assert!(
        event.message.contains("entered their new credentials")
            && event.message.contains("attempt 2"),
        "{}",
        event.message
    );
    // No password reaches an event, on the server or in the device's own log.
    assert!(server
        .events
        .values()
        .all(|e| !e.message.contains(ALICE_PASSWORD)));
    let device_log =
        std::fs::read_to_string(world.dir.join(agent::sim::EVENT_LOG_FILE)).expect("log");
    assert!(device_log.contains("entered their new credentials"));
    assert!(!device_log.contains(ALICE_PASSWORD));
}

#[test]
fn a_cancelled_dialog_fails_the_step_and_caches_nothing() {
    let world = World::new();
    let (runbook, secrets) = cache_only();
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let mut sim = alice_signed_in(&world);
    sim.answer_credential_prompts(vec![None]);
    let mut agent = world.agent_with(sim, 100);
    let exit = agent.run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    assert!(!agent
        .journal()
        .is_done(&id, "device-state/cache-credentials"));
    let sim = SimWorkstation::open(&world.dir).expect("open");
    assert!(sim.cached_logons().expect("cache").is_empty());
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert_eq!(last.level, EventLevel::Error);
    assert!(
        last.message.contains("CacheCredentials") && last.message.contains("pressed Cancel"),
        "{}",
        last.message
    );
}

#[test]
fn three_refused_passwords_fail_the_step() {
    let world = World::new();
    let (runbook, secrets) = cache_only();
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let mut sim = alice_signed_in(&world);
    sim.answer_credential_prompts(vec![
        answer("alice", "one"),
        answer("alice", "two"),
        answer("alice", "three"),
        answer("alice", ALICE_PASSWORD),
    ]);
    let mut agent = world.agent_with(sim, 100);
    let exit = agent.run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    assert_eq!(agent.workstation().credential_answers_left(), 1);
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert!(last.message.contains("refused"), "{}", last.message);
}

#[test]
fn credentials_cached_by_a_prerequisite_let_the_main_runbook_run_unattended() {
    let world = World::new();
    let (prerequisite, secrets) = cache_only();
    let first = world.assign_runbook(prerequisite, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let mut sim = alice_signed_in(&world);
    sim.answer_credential_prompts(vec![answer("alice", ALICE_PASSWORD)]);
    let (exit, mut sim) = run(&world, sim);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: first,
            status: AgentStatus::Completed
        }
    );
    // Alice signs out; the migration with Prevent Login runs with nobody there to ask.
    sim.set_logged_on_user(None).expect("logoff");
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    runbook.device_state.cache_user_credentials = true;
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let (exit, _) = run(&world, sim);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    let server = world.server.state();
    let event = server
        .events
        .values()
        .filter(|e| e.runbook == Some(id))
        .find(|e| e.step.as_deref() == Some("device-state/cache-credentials"))
        .expect("the step's event");
    assert!(
        event.message.contains("already cached"),
        "{}",
        event.message
    );
}

#[test]
fn with_nobody_to_ask_and_nothing_cached_the_run_stops_before_any_change() {
    let world = World::new();
    let before = SimWorkstation::load(&world.dir).expect("load");
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    runbook.device_state.cache_user_credentials = true;
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let exit = world.agent(100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert!(
        last.message.contains("nothing was changed")
            && last.message.contains("CacheCredentials")
            && last.message.contains("Prevent Login"),
        "{}",
        last.message
    );
    assert_eq!(SimWorkstation::load(&world.dir).expect("load"), before);
}

#[test]
fn killed_after_caching_a_resumed_run_does_not_ask_again() {
    let world = World::new();
    let (runbook, secrets) = cache_only();
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let mut sim = alice_signed_in(&world);
    sim.answer_credential_prompts(vec![answer("alice", ALICE_PASSWORD)]);
    sim.set_faults(SimFaults {
        crash_after_step: Some("device-state/cache-credentials".into()),
        ..Default::default()
    });
    let mut first = world.agent_with(sim, 100);
    assert!(catch_unwind(AssertUnwindSafe(|| first.run())).is_err());
    // The restarted agent's device has no answer to give: asking again would fail the step.
    let (exit, sim) = run(&world, SimWorkstation::open(&world.dir).expect("open"));
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    assert_eq!(sim.cached_logons().expect("cache").len(), 1);
    assert_eq!(
        sim.state().actions.get("device-state/cache-credentials"),
        Some(&1)
    );
}
