use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use agent::journal::{Journal, Record};
use agent::{Exit, SimFaults, SimWorkstation};
use chrono::Duration;
use model::status::AgentStatus;

use crate::support::*;

fn count(records: &[Record], started: bool) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for record in records {
        match (record, started) {
            (Record::StepStarted { step, .. }, true) | (Record::StepDone { step, .. }, false) => {
                *counts.entry(step.clone()).or_insert(0) += 1
            }
            _ => {}
        }
    }
    counts
}

#[test]
fn an_agent_killed_mid_phase_resumes_and_completes_without_repeating_a_step() {
    let world = World::new();
    let runbook = world.assign(Duration::minutes(-5));

    // The device dies right after the file system was re-permissioned, before the journal could
    // record the step done.
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_faults(SimFaults {
        crash_after_step: Some("permissions/file-system".into()),
        ..Default::default()
    });
    let mut first = world.agent_with(sim, 100);
    let crashed = catch_unwind(AssertUnwindSafe(|| first.run()));
    assert!(crashed.is_err(), "the fault stops the agent");
    drop(first);

    let journal = Journal::open(&world.config().state_dir.join("journal.log")).expect("journal");
    let (unfinished, run) = journal.unfinished().expect("a run to resume");
    assert_eq!(unfinished, runbook);
    assert_eq!(run.current.as_deref(), Some("permissions/file-system"));
    assert!(!journal.is_done(&runbook, "permissions/file-system"));

    // A new agent on the same folders, as after a reboot.
    let exit = world.agent(100).run().expect("resumed run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook,
            status: AgentStatus::Completed
        }
    );

    // Each step's action happened once on the device …
    let s = SimWorkstation::load(&world.dir).expect("load");
    for step in AD_TO_AD_STEPS {
        assert_eq!(s.actions.get(step), Some(&1), "{}", step);
    }
    // … each step was recorded done once, and only the interrupted one was started twice.
    let journal = Journal::open(&world.config().state_dir.join("journal.log")).expect("journal");
    let done = count(journal.records(), false);
    let started = count(journal.records(), true);
    for step in AD_TO_AD_STEPS {
        assert_eq!(done.get(step), Some(&1), "{} done", step);
        let expected = if step == "permissions/file-system" {
            2
        } else {
            1
        };
        assert_eq!(started.get(step), Some(&expected), "{} started", step);
    }
    assert!(journal.is_completed(&runbook));

    // The server saw the resumption and the completion, each event once.
    let server = world.server.state();
    assert_eq!(server.duplicate_events, 0);
    assert!(server
        .events
        .values()
        .any(|e| e.message.contains("resumed")));
    assert_eq!(
        server.events.values().last().expect("events").status,
        Some(AgentStatus::Completed)
    );
}

/// Runs the every-setting runbook on a fresh device, killed after `crash_after` if given, then
/// resumed by a new agent; returns the device's final state.
fn run_every_setting(crash_after: Option<&str>) -> (agent::SimState, Vec<String>) {
    run_every_setting_with(crash_after.map(|step| SimFaults {
        crash_after_step: Some(step.to_string()),
        ..Default::default()
    }))
}

/// [`run_every_setting`] with any fault.
fn run_every_setting_with(faults: Option<SimFaults>) -> (agent::SimState, Vec<String>) {
    let crash_after = faults.as_ref().map(|f| format!("{:?}", f));
    let world = World::new();
    // A prerequisite cached Alice's credentials, so Cache User Credentials runs unattended.
    cache_credentials_first(&world);
    let (mut runbook, secrets) = full_runbook(model::runbook::DomainJoin::ActiveDirectory, true);
    runbook.device_state.cache_user_credentials = true;
    // The serial, not random digits, so two devices end with the same name.
    if let Some(rename) = runbook.device_state.rename.as_mut() {
        rename.template = "PC-%SERIAL%".into();
    }
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    if let Some(faults) = faults {
        let mut sim = SimWorkstation::open(&world.dir).expect("open");
        sim.set_faults(faults);
        let mut first = world.agent_with(sim, 100);
        let crashed = catch_unwind(AssertUnwindSafe(|| first.run()));
        assert!(
            crashed.is_err(),
            "{:?}: the fault stops the agent",
            crash_after
        );
    }
    let mut agent = world.agent(100);
    let exit = agent.run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        },
        "killed after {:?}",
        crash_after
    );
    let steps = agent
        .journal()
        .run(&id)
        .expect("run")
        .steps
        .iter()
        .map(|s| s.id.clone())
        .collect();
    (SimWorkstation::load(&world.dir).expect("load"), steps)
}

#[test]
fn killed_at_every_step_boundary_a_resumed_run_ends_in_exactly_the_uninterrupted_state() {
    let (expected, steps) = run_every_setting(None);
    assert!(steps.len() >= 25, "{:?}", steps);
    for step in &steps {
        let (resumed, _) = run_every_setting(Some(step));
        // The whole device compares equal, the per-step change counts included: no step's
        // effect was applied twice.
        assert_eq!(resumed, expected, "killed after {}", step);
    }
}

/// A device whose profiles hold 1,500 files each, AD → AD with add and remove; killed after
/// `writes` descriptor writes of the file-system step if given, then resumed.
fn run_large_tree(writes: Option<usize>) -> agent::SimState {
    let world = World::with_files(1_500);
    let id = world.assign(Duration::minutes(-5));
    if let Some(writes) = writes {
        let mut sim = SimWorkstation::open(&world.dir).expect("open");
        sim.set_faults(SimFaults {
            crash_after_writes: Some(writes),
            ..Default::default()
        });
        let mut first = world.agent_with(sim, 100);
        let crashed = catch_unwind(AssertUnwindSafe(|| first.run()));
        assert!(crashed.is_err(), "the fault stops the agent");
        let half = SimWorkstation::load(&world.dir).expect("load");
        assert!(
            !half.actions.contains_key("permissions/file-system"),
            "killed inside the step"
        );
    }
    let exit = world.agent(100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    SimWorkstation::load(&world.dir).expect("load")
}

#[test]
fn killed_in_the_middle_of_a_large_tree_a_resumed_run_ends_in_the_uninterrupted_state() {
    let expected = run_large_tree(None);
    assert!(expected.files.len() > 3_000);
    for writes in [1, 1_499, 2_999] {
        assert_eq!(
            run_large_tree(Some(writes)),
            expected,
            "killed after {} writes",
            writes
        );
    }
}

#[test]
fn killed_in_the_middle_of_the_onedrive_move_a_resumed_run_ends_in_the_uninterrupted_state() {
    let (expected, _) = run_every_setting(None);
    let (resumed, _) = run_every_setting_with(Some(SimFaults {
        crash_after_moves: Some(1),
        ..Default::default()
    }));
    assert_eq!(resumed, expected);
}

#[test]
fn a_file_deleted_during_the_file_system_pass_is_skipped_and_counted_and_the_run_completes() {
    let expected = run_large_tree(None);
    let world = World::with_files(1_500);
    let id = world.assign(Duration::minutes(-5));
    // Listed by the walk, deleted by its user before the walk reached it.
    let gone = "C:\\Users\\alice\\Documents\\deleted-during-the-pass.docx";
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_faults(SimFaults {
        vanished_files: vec![gone.to_string()],
        ..Default::default()
    });
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    // Every other file was translated as in a pass where nothing vanished.
    let after = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(after.files, expected.files);
    assert!(!after.files.contains_key(gone));
    // The step's event says what was skipped.
    let server = world.server.state();
    let step = server
        .events
        .values()
        .rfind(|e| e.step.as_deref() == Some("permissions/file-system"))
        .expect("the file-system step's event");
    assert!(
        step.message
            .contains("1 vanished during the pass and skipped"),
        "{}",
        step.message
    );
}
