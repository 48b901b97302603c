use agent::{Exit, SimWorkstation, Workstation};
use chrono::Duration;
use model::plan::JoinState;
use model::runbook::{DomainJoin, PermissionMode};
use model::status::{AgentStatus, EventLevel};
use secdesc::SecurityDescriptor;

use crate::support::*;

#[test]
fn an_ad_to_ad_migration_completes_and_re_permissions_the_device() {
    let world = World::new();
    let before = SimWorkstation::load(&world.dir).expect("load");
    let runbook = world.assign(Duration::minutes(-5));
    let mut agent = world.agent(100);
    let exit = agent.run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook,
            status: AgentStatus::Completed
        }
    );

    let s = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(
        s.join_state,
        JoinState::ActiveDirectory {
            domain: TARGET_DOMAIN.into()
        }
    );
    // Profiles belong to the target SIDs, at the same folders.
    assert_eq!(
        s.profile_list[&sid(ALICE_NEW)].profile_image_path,
        "C:\\Users\\alice"
    );
    assert_eq!(
        s.profile_list[&sid(BOB_NEW)].profile_image_path,
        "C:\\Users\\bob"
    );
    assert!(!s.profile_list.contains_key(&sid(ALICE)));
    // Explicit ACEs and owners translated; inherited ACEs left to be recomputed from the parent.
    for (path, bytes) in &s.files {
        let sd = SecurityDescriptor::from_bytes(bytes).expect("descriptor");
        if path.starts_with("\\\\") {
            // Another host's share: only Remote File Shares, not asked for here, touches it.
            continue;
        }
        if path.starts_with("C:\\Windows\\") {
            // Under the default Areas to Ignore (%SystemRoot%\*): left as it was.
            assert_eq!(Some(bytes), before.files.get(path), "{} was changed", path);
            continue;
        }
        for ace in &sd.dacl.as_ref().expect("dacl").aces {
            if !ace.is_inherited() {
                assert_ne!(ace.sid, sid(ALICE), "{} still grants the source SID", path);
                assert_ne!(ace.sid, sid(BOB), "{} still grants the source SID", path);
            }
        }
        assert_ne!(sd.owner.as_ref(), Some(&sid(ALICE)), "{} owner", path);
    }
    let notes = SecurityDescriptor::from_bytes(&s.files["C:\\Users\\alice\\Documents\\Notes.txt"])
        .expect("sddl");
    assert!(notes
        .dacl
        .as_ref()
        .expect("dacl")
        .aces
        .iter()
        .any(|a| a.is_inherited() && a.sid == sid(ALICE)));
    let home = SecurityDescriptor::from_bytes(&s.files["C:\\Users\\alice"]).expect("sddl");
    assert!(home
        .dacl
        .expect("dacl")
        .aces
        .iter()
        .any(|a| a.sid == sid(ALICE_NEW)));
    // Local groups: users translated, the target's Domain Admins back in Administrators.
    assert!(s.local_groups["Remote Desktop Users"].contains(&sid(ALICE_NEW)));
    assert!(s.local_groups["Administrators"].contains(&sid(DOMAIN_ADMINS_NEW)));
    // Default processing reverted.
    assert!(!s.bitlocker.protectors_suspended);
    assert_eq!(s.legal_notice.caption, "Authorised use only");
    assert!(s.hello_containers.is_empty());
    assert_eq!(s.appx[&sid(ALICE_NEW)].len(), 2);
    for step in AD_TO_AD_STEPS {
        assert_eq!(s.actions.get(step), Some(&1), "{}", step);
    }

    let server = world.server.state();
    // The final check-in came right before the start.
    assert!(server.check_ins.iter().any(|(_, c)| c.final_check));
    // The server heard the new join state before the agent went idle.
    let (_, last) = server.check_ins.last().expect("check-ins");
    assert_eq!(
        last.join_state,
        JoinState::ActiveDirectory {
            domain: TARGET_DOMAIN.into()
        }
    );
    // Only directory SIDs found on the device were sent; well-known ones stay home.
    let asked = &server.translate_requests[0];
    assert!(asked.contains(&sid(ALICE)) && asked.contains(&sid(DOMAIN_ADMINS)));
    assert!(!asked.contains(&sid("S-1-5-18")));
    // Every event arrived once, in order: In Progress first, Completed last.
    let events: Vec<_> = server.events.values().collect();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(events[0].status, Some(AgentStatus::InProgress));
    assert_eq!(
        events.last().expect("events").status,
        Some(AgentStatus::Completed)
    );
    assert!(events.iter().all(|e| e.level == EventLevel::Info));
    assert_eq!(
        events.iter().filter(|e| e.step.is_some()).count(),
        AD_TO_AD_STEPS.len()
    );
    // Profiles were harvested again after the run, with their new owners.
    assert!(server.profiles.iter().any(|p| p.sid == sid(ALICE_NEW)));
    assert!(agent.spool().is_empty());
    let report = agent::verify::verify(agent.workstation(), agent.journal()).expect("verify");
    assert!(report.holds(), "{}", report);
}

#[test]
fn a_completed_runbook_never_runs_again() {
    let world = World::new();
    let runbook = world.assign(Duration::minutes(-5));
    world.agent(100).run().expect("first run");
    let before = SimWorkstation::load(&world.dir).expect("load");
    let events = world.server.state().events.len();

    // The server keeps assigning it; a restarted agent reports it done and does nothing.
    let exit = world.agent(100).run().expect("second run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook,
            status: AgentStatus::Completed
        }
    );
    assert_eq!(SimWorkstation::load(&world.dir).expect("load"), before);
    assert_eq!(world.server.state().events.len(), events);
    let last = world
        .server
        .state()
        .check_ins
        .last()
        .cloned()
        .expect("check-in");
    assert_eq!(last.1.completed, vec![runbook]);
}

#[test]
fn a_failed_step_stops_the_run_with_an_error_event() {
    let world = World::new();
    // An Entra-joined device cannot join an AD domain: the join step fails.
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.leave_active_directory().expect("leave");
    sim.join_entra_with_token(
        "contoso.onmicrosoft.com",
        &model::protocol::BulkToken("bprt".into()),
    )
    .expect("join");
    let runbook = world.assign(Duration::minutes(-5));
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook,
            status: AgentStatus::Error
        }
    );
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert_eq!(last.status, Some(AgentStatus::Error));
    assert_eq!(last.level, EventLevel::Error);
    assert_eq!(last.step.as_deref(), Some("device-state/join-ad"));
    assert!(last.message.contains("Entra"), "{}", last.message);
    // Nothing after the failed step ran.
    let s = SimWorkstation::load(&world.dir).expect("load");
    assert!(!s.actions.contains_key("permissions/windows-profiles"));
}

#[test]
fn a_future_enforcement_waits_then_starts_and_a_logged_on_user_gets_the_countdown() {
    let world = World::new();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_logged_on_user(Some("OLD\\alice".into()))
        .expect("logon");
    let start = world.clock_now();
    let runbook = world.assign(Duration::minutes(90));
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook,
            status: AgentStatus::Completed
        }
    );
    let server = world.server.state();
    let (started_at, _) = server
        .check_ins
        .iter()
        .find(|(_, c)| c.final_check)
        .cloned()
        .expect("final check-in");
    // Enforced after 90 minutes, then the 60-minute countdown for the logged-on user.
    assert_eq!(started_at - start, Duration::minutes(150));
}

#[test]
fn a_silent_runbook_starts_at_enforcement_without_a_countdown_for_the_signed_in_user() {
    let world = World::new();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_logged_on_user(Some("OLD\\alice".into()))
        .expect("logon");
    let start = world.clock_now();
    let runbook = world.assign(Duration::minutes(90));
    if let Some(a) = world.server.state().assignment.as_mut() {
        a.runbook.startup.interaction = model::runbook::UserInteraction::Silent;
    }
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook,
            status: AgentStatus::Completed
        }
    );
    let server = world.server.state();
    let (started_at, _) = server
        .check_ins
        .iter()
        .find(|(_, c)| c.final_check)
        .cloned()
        .expect("final check-in");
    assert_eq!(started_at - start, Duration::minutes(90));
}

#[test]
fn an_ad_to_entra_migration_in_add_only_mode_keeps_the_source_beside_the_target() {
    let world = World::new();
    let alice_entra = "S-1-12-1-1943430372-1249052806-2496021943-3034400218";
    let admins_entra = "S-1-12-1-1111111111-2222222222-3333333333-444444444";
    {
        let mut server = world.server.state();
        for t in server.translations.iter_mut() {
            if t.source == sid(ALICE) {
                t.target = sid(alice_entra);
            } else if t.source == sid(DOMAIN_ADMINS) {
                t.target = sid(admins_entra);
            }
        }
        server.translations.retain(|t| t.source != sid(BOB));
    }
    let runbook = world.assign_with(
        DomainJoin::Entra,
        PermissionMode::AddOnly,
        "contoso.onmicrosoft.com",
        Duration::minutes(-1),
    );
    // Bob has no translation: the runbook says his profile may be left as it is.
    if let Some(a) = world.server.state().assignment.as_mut() {
        a.runbook.permissions.skip_untranslated_profiles = true;
    }
    world.run_to_completion(runbook);
    let s = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(
        s.join_state,
        JoinState::Entra {
            tenant: "contoso.onmicrosoft.com".into()
        }
    );
    assert!(s.profile_list.contains_key(&sid(alice_entra)));
    // Bob has no translation: his profile and grants stay as they were.
    assert!(s.profile_list.contains_key(&sid(BOB)));
    let budget =
        SecurityDescriptor::from_bytes(&s.files["C:\\Users\\alice\\Documents\\Budget.xlsx"])
            .expect("sddl");
    let explicit: Vec<String> = budget
        .dacl
        .as_ref()
        .expect("dacl")
        .aces
        .iter()
        .filter(|a| !a.is_inherited())
        .map(|a| a.sid.to_string())
        .collect();
    assert_eq!(explicit, vec![ALICE.to_string(), alice_entra.to_string()]);
    let rdp = &s.local_groups["Remote Desktop Users"];
    assert!(
        rdp.contains(&sid(ALICE)) && rdp.contains(&sid(alice_entra)) && rdp.contains(&sid(BOB))
    );
    assert!(s.local_groups["Administrators"].contains(&sid(admins_entra)));
    assert_eq!(s.actions.get("device-state/join-entra"), Some(&1));
}

#[test]
fn the_final_check_in_must_succeed_before_the_start() {
    let world = World::new();
    let runbook = world.assign(Duration::minutes(-5));
    world.server.state().lose_final_check_ins = 2;
    world.run_to_completion(runbook);
    // Retried a minute later each time: the regular check-in before each retry succeeds, so the
    // unreachable backoff starts again from its first step.
    assert_eq!(world.slept_minutes(), vec![1, 1]);
    let finals = world
        .server
        .state()
        .check_ins
        .iter()
        .filter(|(_, c)| c.final_check)
        .count();
    assert_eq!(
        finals, 1,
        "only the answered final check-in reached the server"
    );
}

/// Runs the assigned runbook to completion; for each check-in, whether it was final and whether
/// it named an assignment it held.
fn held_at_each_check_in(world: &World, runbook: model::ids::RunbookId) -> Vec<(bool, bool)> {
    world.run_to_completion(runbook);
    let state = world.server.state();
    state
        .check_ins
        .iter()
        .map(|(_, c)| (c.final_check, c.held_assignment.is_some()))
        .collect()
}

#[test]
fn an_assignment_the_agent_holds_is_not_sent_again() {
    // Enforced in three hours: the agent checks in on its schedule until then.
    let world = World::new();
    let runbook = world.assign(Duration::hours(3));
    let check_ins = held_at_each_check_in(&world, runbook);
    let before_start: Vec<bool> = check_ins
        .iter()
        .take_while(|(final_check, _)| !final_check)
        .map(|(_, held)| *held)
        .collect();
    assert_eq!(
        before_start.first(),
        Some(&false),
        "the first holds nothing"
    );
    assert!(
        before_start.len() > 1 && before_start.iter().skip(1).all(|h| *h),
        "every later check-in names the assignment it holds: {:?}",
        check_ins
    );
    // Every regular check-in that named it got the digest alone (the final one is always sent in
    // full, and the client holds nothing after it until the next regular answer).
    let regular_holding = check_ins
        .iter()
        .filter(|(final_check, held)| !final_check && *held)
        .count();
    assert_eq!(
        world.server.state().assignments_left_out as usize,
        regular_holding,
        "each got only the digest: {:?}",
        check_ins
    );
}

#[test]
fn an_answer_naming_an_assignment_not_held_is_asked_again_in_full() {
    let world = World::new();
    let runbook = world.assign(Duration::hours(3));
    world.server.state().name_unknown_assignment = 1;
    let check_ins = held_at_each_check_in(&world, runbook);
    let held: Vec<bool> = check_ins.iter().map(|(_, held)| *held).collect();
    // The second check-in's answer named another assignment: the client forgot its copy and
    // asked again at once, holding nothing.
    assert_eq!(&held[..3], &[false, true, false], "{:?}", check_ins);
    assert_eq!(world.server.state().name_unknown_assignment, 0);
}

#[test]
fn the_newest_assignment_wins_at_the_final_check_in() {
    let world = World::new();
    let first = world.assign(Duration::minutes(-5));
    let newer = world.assign(Duration::minutes(-1));
    let replacement = world.server.state().assignment.clone();
    // The server hands out `first` until the final check-in, which answers with `newer`.
    {
        let mut server = world.server.state();
        server.replace_on_final_check_in = replacement;
        let mut original = server.assignment.clone().expect("assignment");
        original.runbook.id = first;
        server.assignment = Some(original);
    }
    let mut agent = world.agent(100);
    let exit = agent.run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: newer,
            status: AgentStatus::Completed
        }
    );
    assert!(
        agent.journal().run(&first).is_none(),
        "the replaced runbook never started"
    );
}

#[test]
fn a_large_tree_reports_its_progress_while_it_is_re_permissioned() {
    let world = World::with_files(30_000);
    let runbook = world.assign(Duration::minutes(-5));
    world.run_to_completion(runbook);
    let server = world.server.state();
    let file_system: Vec<&str> = server
        .events
        .values()
        .filter(|e| e.step.as_deref() == Some("permissions/file-system"))
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(file_system.len(), 2, "{:?}", file_system);
    assert!(
        file_system[0].contains("50000 of") && file_system[0].contains("objects checked"),
        "{:?}",
        file_system
    );
    assert!(file_system[1].contains("change(s)"), "{:?}", file_system);
}

#[test]
fn the_device_reports_its_facts_when_a_run_changes_them_and_at_each_check_in() {
    let world = World::new();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_logged_on_user(Some("CONTOSO\\alice".into()))
        .expect("sign in");
    let runbook = world.assign(Duration::minutes(-5));
    let mut agent = world.agent_with(sim, 100);
    let exit = agent.run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook,
            status: AgentStatus::Completed
        }
    );
    let check_ins = world.server.state().check_ins.clone();
    // Every check-in carries the device's name, Windows version and signed-in user.
    for (_, c) in &check_ins {
        assert_eq!(c.computer_name.as_deref(), Some(COMPUTER));
        assert!(c.os_version.as_deref().is_some_and(|v| !v.is_empty()));
        assert_eq!(c.logged_on_user.as_deref(), Some("CONTOSO\\alice"));
    }
    // The join is reported while the run goes on, with the step the device is on, before the
    // run ends.
    let target = JoinState::ActiveDirectory {
        domain: TARGET_DOMAIN.into(),
    };
    let during = check_ins
        .iter()
        .find(|(_, c)| c.join_state == target)
        .map(|(_, c)| c.clone())
        .expect("a check-in reports the new domain");
    let running = during.running.expect("sent while the runbook runs");
    assert_eq!(running.runbook, runbook);
    assert!(!during.completed.contains(&runbook));
    // And after the run, the last check-in says where the device is now and that it completed.
    let (_, last) = check_ins.last().expect("check-ins");
    assert_eq!(last.join_state, target);
    assert!(last.completed.contains(&runbook));
}
