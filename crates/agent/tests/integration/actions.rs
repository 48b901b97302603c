//! Every runbook action is carried out or fails its step: nothing is recorded as done that was
//! not done.

use agent::run::actions::{BUILTIN_LOCK_SCREEN, DENY_LOGON_RIGHTS, OUTLOOK_PROFILE};
use agent::workstation::RegValue;
use agent::{Exit, SimFaults, SimWorkstation, Workstation};
use chrono::Duration;
use model::runbook::DomainJoin;
use model::status::{AgentStatus, EventLevel};

use crate::support::*;

const PERSONALIZATION: &str =
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\PersonalizationCSP";

#[test]
fn every_setting_on_is_refused_before_any_change_as_prevent_login_keeps_credentials_from_being_cached(
) {
    let world = World::new();
    let before = SimWorkstation::load(&world.dir).expect("load");
    let (runbook, secrets) = full_runbook(DomainJoin::Entra, false);
    let id = world.assign_runbook(
        runbook,
        secrets,
        "fabrikam.onmicrosoft.com",
        Duration::minutes(-5),
    );
    let mut agent = world.agent(100);
    let exit = agent.run().expect("run");
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
        last.message.contains("nothing was changed"),
        "{}",
        last.message
    );
    assert!(
        last.message.contains("CacheCredentials"),
        "{}",
        last.message
    );
    assert!(server
        .events
        .values()
        .all(|e| e.status != Some(AgentStatus::Completed) && e.step.is_none()));
    assert!(agent.journal().run(&id).expect("run").done.is_empty());
    // Nothing on the device changed.
    assert_eq!(SimWorkstation::load(&world.dir).expect("load"), before);
}

#[test]
fn the_pre_flight_gates_name_each_problem_and_change_nothing() {
    let world = World::new();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_logged_on_user(Some("OLD\\alice".into()))
        .expect("logon");
    let before = SimWorkstation::load(&world.dir).expect("load");
    let (runbook, mut secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    secrets.domain_join_password = None;
    secrets.admin_fallback_password = None;
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    // Bob is no longer matched.
    world
        .server
        .state()
        .translations
        .retain(|t| t.source != sid(BOB));
    let exit = world.agent_with(sim, 200).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    for expected in [
        "OLD\\alice is signed in",
        "join account and its password",
        "fallback administrator rehome-fallback has no password",
        "C:\\Users\\bob",
    ] {
        assert!(
            last.message.contains(expected),
            "{} in {}",
            expected,
            last.message
        );
    }
    assert_eq!(SimWorkstation::load(&world.dir).expect("load"), before);
}

#[test]
fn a_workstation_lacking_one_capability_ends_the_run_in_error_naming_the_action() {
    let world = World::new();
    let (runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_faults(SimFaults {
        lacks: vec!["rename_computer".into()],
        ..Default::default()
    });
    let mut agent = world.agent_with(sim, 100);
    let exit = agent.run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    assert!(!agent.journal().is_completed(&id));
    assert!(!agent.journal().is_done(&id, "device-state/rename"));
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert_eq!(last.step.as_deref(), Some("device-state/rename"));
    assert!(last.message.contains("RenameComputer"), "{}", last.message);
    assert!(last.message.contains("rename_computer"), "{}", last.message);
    let s = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(s.computer_name, COMPUTER);
    assert!(!s.actions.contains_key("device-state/join-ad"));
}

#[test]
fn every_action_this_agent_carries_out_changes_the_device_and_completion_reverts_it() {
    let world = World::new();
    let before = SimWorkstation::load(&world.dir).expect("load");
    let (runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let mut agent = world.agent(100);
    let exit = agent.run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    let s = SimWorkstation::load(&world.dir).expect("load");
    let ws = SimWorkstation::open(&world.dir).expect("open");
    let reg = |key: &str, name: &str| ws.registry_value(key, name).expect("registry");

    // Renamed from the template, once, with the digits drawn at run time.
    assert!(s.computer_name.starts_with("PC-") && s.computer_name.len() == 7);
    assert_ne!(s.computer_name, before.computer_name);
    // Hybrid join points at the target tenant.
    let cdj = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\CDJ\\AAD";
    assert_eq!(
        reg(cdj, "TenantName"),
        Some(RegValue::Sz("fabrikam.onmicrosoft.com".into()))
    );
    // Startup's changes were reverted at Completion: lock screen, legal notice, logon rights,
    // the fallback administrator.
    assert_eq!(reg(PERSONALIZATION, "LockScreenImagePath"), None);
    assert_eq!(s.legal_notice, before.legal_notice);
    for right in DENY_LOGON_RIGHTS {
        assert!(ws.user_right_holders(right).expect("rights").is_empty());
    }
    assert!(s.local_users.is_empty());
    assert_eq!(
        s.local_groups["Administrators"].len(),
        before.local_groups["Administrators"].len()
    );
    // Apps reconfigured for each migrated user, in their hive.
    let hive = format!(
        "HKU\\{}\\Software\\Microsoft\\Office\\16.0\\Outlook",
        ALICE_NEW
    );
    assert_eq!(
        reg(&hive, "DefaultProfile"),
        Some(RegValue::Sz(OUTLOOK_PROFILE.into()))
    );
    assert_eq!(
        reg(&format!("{}\\AutoDiscover", hive), "ZeroConfigExchange"),
        Some(RegValue::Dword(1))
    );
    assert_eq!(
        reg(
            "HKLM\\SOFTWARE\\Policies\\Microsoft\\OneDrive",
            "SilentAccountConfig"
        ),
        Some(RegValue::Dword(1))
    );
    assert_eq!(
        reg(
            "HKLM\\SOFTWARE\\Microsoft\\MSIPC\\ServiceLocation\\LicensingRedirection",
            "https://old.rms.contoso.test/_wmcs/licensing"
        ),
        Some(RegValue::Sz(
            "https://new.rms.fabrikam.test/_wmcs/licensing".into()
        ))
    );
    let proxy = format!(
        "HKU\\{}\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\Connections",
        BOB_NEW
    );
    match reg(&proxy, "DefaultConnectionSettings") {
        Some(RegValue::Binary(blob)) => assert_eq!(blob[8] & 0x08, 0x08),
        other => panic!("DefaultConnectionSettings is {:?}", other),
    }
    // Each step that changed something did so once; each step has an event naming its action.
    for (step, count) in &s.actions {
        assert_eq!(*count, 1, "{}", step);
    }
    let server = world.server.state();
    let step_events: Vec<_> = server
        .events
        .values()
        .filter(|e| e.step.is_some())
        .collect();
    let run = agent.journal().run(&id).expect("run");
    assert_eq!(step_events.len(), run.steps.len());
    for (event, step) in step_events.iter().zip(&run.steps) {
        assert_eq!(event.step.as_deref(), Some(step.id.as_str()));
        assert!(
            event.message.starts_with(step.action.name()),
            "{}",
            event.message
        );
    }
    // Every event is in the device's own Application log too.
    let device_log =
        std::fs::read_to_string(world.dir.join(agent::sim::EVENT_LOG_FILE)).expect("event log");
    assert_eq!(device_log.lines().count(), server.events.len());
    assert!(
        device_log.contains("[device-state/rename]"),
        "{}",
        device_log
    );
    // The fallback password was used, never written to the device's state or an event.
    let on_disk = std::fs::read_to_string(world.dir.join("workstation.json")).expect("read");
    assert!(!on_disk.contains(FALLBACK_PASSWORD));
    assert!(server
        .events
        .values()
        .all(|e| !e.message.contains(FALLBACK_PASSWORD)));
    assert!(!device_log.contains(FALLBACK_PASSWORD));
}

#[test]
fn the_lock_screen_and_logon_denial_are_in_place_while_the_migration_runs() {
    let world = World::new();
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    // Stop after the permissions: Completion has not reverted anything yet.
    runbook.completion.do_not_run = true;
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    world.agent(100).run().expect("run");
    let ws = SimWorkstation::open(&world.dir).expect("open");
    assert_eq!(
        ws.registry_value(PERSONALIZATION, "LockScreenImagePath")
            .expect("registry"),
        Some(RegValue::Sz(BUILTIN_LOCK_SCREEN.into()))
    );
    let denied = ws
        .user_right_holders("SeDenyInteractiveLogonRight")
        .expect("rights");
    assert!(denied.contains(&sid(ALICE)) && denied.contains(&sid(ALICE_NEW)));
    assert!(denied.contains(&sid(BOB)) && denied.contains(&sid(BOB_NEW)));
    assert!(
        !denied.contains(&sid(DOMAIN_ADMINS)),
        "groups are never denied"
    );
    assert!(ws.local_user_exists("rehome-fallback").expect("users"));
    let s = ws.state();
    assert_ne!(s.legal_notice.caption, "Authorised use only");
    assert!(
        s.legal_notice.text.contains("do not sign in"),
        "{}",
        s.legal_notice.text
    );
}

#[test]
fn a_delayed_fallback_admin_removal_survives_restarts_and_happens_on_its_day() {
    let world = World::new();
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    if let Some(admin) = runbook.startup.admin_fallback.as_mut() {
        admin.delay_deletion_days = 3;
    }
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    world.agent(100).run().expect("run");
    let exists = || {
        SimWorkstation::open(&world.dir)
            .expect("open")
            .local_user_exists("rehome-fallback")
            .expect("users")
    };
    assert!(exists(), "kept for three days after Completion");

    // Two days later the service restarts: the account stays.
    world.clock.advance(Duration::days(2));
    world.agent(100).run().expect("restart");
    assert!(exists());

    // A restart after the due date removes it, with an event.
    world
        .clock
        .advance(Duration::days(1) + Duration::minutes(1));
    world.agent(100).run().expect("restart");
    assert!(!exists());
    let server = world.server.state();
    assert!(server.events.values().any(|e| e
        .message
        .contains("deleted the fallback local administrator rehome-fallback")));
}

#[test]
fn a_command_package_runs_once_with_its_exit_code_and_output_in_the_event() {
    let world = World::new();
    let (runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    let sha = runbook
        .startup
        .command_package
        .as_ref()
        .expect("package")
        .sha256
        .clone();
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_command_outcome(&sha, Some(0), "fixed\r\n")
        .expect("outcome");
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    world.agent_with(sim, 100).run().expect("run");
    let s = SimWorkstation::load(&world.dir).expect("load");
    // Startup's and Completion's: two runs, two entries each.
    assert_eq!(s.command_runs, vec![(sha.clone(), 2), (sha, 2)]);
    let server = world.server.state();
    let event = server
        .events
        .values()
        .find(|e| e.step.as_deref() == Some("startup/command-package"))
        .expect("event");
    assert!(
        event.message.contains("exit code 0") && event.message.contains("output: fixed"),
        "{}",
        event.message
    );
}

#[test]
fn a_failing_script_fails_its_step_with_its_code_and_output() {
    let world = World::new();
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    let failing = package(
        &world,
        "broken.zip",
        &[("cmdline.cmd", "exit /b 3"), ("README.txt", "x")],
    );
    runbook.startup.command_package = Some(failing.clone());
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_command_outcome(&failing.sha256, Some(3), "Access is denied.")
        .expect("outcome");
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
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
    assert_eq!(last.step.as_deref(), Some("startup/command-package"));
    assert!(
        last.message.contains("exited with code 3") && last.message.contains("Access is denied."),
        "{}",
        last.message
    );
}

#[test]
fn a_package_with_an_entry_windows_would_place_outside_its_folder_is_never_run() {
    for (entry, why) in [
        ("..\\evil.cmd", "climbs out of the folder"),
        ("tools/.. /evil.cmd", "climbs out of the folder"),
        ("NUL.txt", "device name"),
        ("cmdline.cmd:hidden", "a stream"),
    ] {
        let world = World::new();
        let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
        runbook.startup.command_package = Some(package(
            &world,
            "evil.zip",
            &[("cmdline.cmd", "echo hi"), (entry, "x")],
        ));
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
            last.message.contains("is refused") && last.message.contains(why),
            "{}: {}",
            entry,
            last.message
        );
        assert!(SimWorkstation::load(&world.dir)
            .expect("load")
            .command_runs
            .is_empty());
    }
}

#[test]
fn onedrive_files_become_cloud_only_the_account_is_unlinked_and_the_rest_is_moved_not_deleted() {
    let world = World::new();
    let before = SimWorkstation::load(&world.dir).expect("load");
    let (runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    world.agent(100).run().expect("run");
    let s = SimWorkstation::load(&world.dir).expect("load");
    let ws = SimWorkstation::open(&world.dir).expect("open");
    for user in ["alice", "bob"] {
        let old = format!("C:\\Users\\{}\\OneDrive - Contoso\\", user);
        assert!(
            s.files.keys().all(|p| !p.starts_with(&old)),
            "{} still has files in the source OneDrive folder",
            user
        );
        // The file OneDrive had not uploaded is kept, under the target folder.
        let kept = format!("C:\\Users\\{}\\OneDrive - Old\\Drafts\\Unsent.txt", user);
        assert!(s.files.contains_key(&kept), "{} was lost", kept);
        // The personal OneDrive is not touched.
        let personal = format!("C:\\Users\\{}\\OneDrive\\Personal\\Diary.txt", user);
        assert!(s.files.contains_key(&personal));
    }
    // Every file that was not in the cloud is still on the device.
    for path in before.files.keys() {
        if before
            .file_attributes
            .get(path)
            .map_or(true, |a| a & 0x0040_0000 == 0)
            && before.out_of_sync.contains(path)
        {
            let name = path.rsplit('\\').next().expect("name");
            assert!(
                s.files.keys().any(|p| p.ends_with(name)),
                "{} is gone",
                path
            );
        }
    }
    let alice = format!(
        "HKU\\{}\\Software\\Microsoft\\OneDrive\\Accounts",
        ALICE_NEW
    );
    let alice_old = format!("HKU\\{}\\Software\\Microsoft\\OneDrive\\Accounts", ALICE);
    let subkeys = [
        ws.registry_subkeys(&alice).expect("keys"),
        ws.registry_subkeys(&alice_old).expect("keys"),
    ]
    .concat();
    assert_eq!(
        subkeys,
        vec!["personal".to_string()],
        "only the personal account is left"
    );
    let server = world.server.state();
    let event = server
        .events
        .values()
        .find(|e| e.step.as_deref() == Some("apps/onedrive-cloud-only"))
        .expect("event");
    assert!(
        event.message.contains("4 file(s) made cloud-only")
            && event.message.contains("2 account(s) unlinked")
            && event.message.contains("2 file(s) moved"),
        "{}",
        event.message
    );
}

#[test]
fn every_permission_area_is_translated_on_the_device() {
    use model::runbook::Area;
    use secdesc::SecurityDescriptor;
    let world = World::new();
    let (runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    world.agent(100).run().expect("run");
    let ws = SimWorkstation::open(&world.dir).expect("open");
    let mut checked = 0;
    for area in [
        Area::Registry,
        Area::FileShares,
        Area::Printers,
        Area::Services,
        Area::Dcom,
        Area::ScheduledTasks,
    ] {
        for object in ws.securable_objects(area).expect("objects") {
            let sd =
                SecurityDescriptor::from_bytes(&ws.read_descriptor(area, &object).expect("read"))
                    .expect("descriptor");
            let sids: Vec<String> = sd.sids().map(|s| s.to_string()).collect();
            assert!(
                !sids.contains(&ALICE.to_string()),
                "{}: {} {:?}",
                area.slug(),
                object,
                sids
            );
            assert!(
                sids.contains(&ALICE_NEW.to_string()),
                "{}: {} {:?}",
                area.slug(),
                object,
                sids
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
    let holders = ws
        .user_right_holders("SeRemoteInteractiveLogonRight")
        .expect("holders");
    assert!(holders.contains(&sid(ALICE_NEW)) && holders.contains(&sid(BOB_NEW)));
    assert!(!holders.contains(&sid(ALICE)));
    // SQL Server and IIS are not installed: their steps say there was nothing to translate.
    let server = world.server.state();
    for step in ["permissions/sql", "permissions/iis"] {
        let event = server
            .events
            .values()
            .find(|e| e.step.as_deref() == Some(step))
            .expect("event");
        assert!(
            event.message.contains("0 object(s) checked"),
            "{}",
            event.message
        );
    }
}

#[test]
fn the_agent_removes_itself_last_after_its_final_events_reached_the_server() {
    let world = World::new();
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    runbook.completion.uninstall_agent = true;
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    // Event uploads fail a few times: the agent must not leave before they got through.
    world.server.state().faults.insert(
        model::protocol::kinds::EVENTS.to_string(),
        (crate::fake_server::Fault::Unreachable, 5),
    );
    let mut agent = world.agent(100);
    let exit = agent.run().expect("run");
    assert_eq!(exit, Exit::Uninstalled);
    assert!(agent.spool().is_empty(), "every event was uploaded first");
    let s = SimWorkstation::load(&world.dir).expect("load");
    assert!(!s.agent_installed);
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert_eq!(last.status, Some(AgentStatus::Completed));
    let step = server
        .events
        .values()
        .find(|e| e.step.as_deref() == Some("completion/uninstall-agent"))
        .expect("event");
    assert!(step.message.contains("removes itself"), "{}", step.message);
}

#[test]
fn uninstalling_and_a_delayed_fallback_admin_removal_are_refused_together() {
    let world = World::new();
    let before = SimWorkstation::load(&world.dir).expect("load");
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    runbook.completion.uninstall_agent = true;
    if let Some(admin) = runbook.startup.admin_fallback.as_mut() {
        admin.delay_deletion_days = 7;
    }
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    world.agent(100).run().expect("run");
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert!(
        last.message.contains("cannot remove itself"),
        "{}",
        last.message
    );
    assert_eq!(SimWorkstation::load(&world.dir).expect("load"), before);
}

#[test]
fn an_intune_enrolment_turned_down_is_tried_again_hourly_until_it_succeeds() {
    let world = World::new();
    let (runbook, secrets) = full_runbook(DomainJoin::Entra, true);
    world.assign_runbook(
        runbook,
        secrets,
        "fabrikam.onmicrosoft.com",
        Duration::minutes(-5),
    );
    // Bob and Alice translate to AD SIDs here, which is fine for the join itself.
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.refuse_mdm_enrolments(2).expect("refuse");
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert!(matches!(
        exit,
        Exit::Idle {
            status: AgentStatus::Completed,
            ..
        }
    ));
    assert_eq!(
        SimWorkstation::load(&world.dir).expect("load").mdm_enrolled,
        None
    );
    {
        let server = world.server.state();
        let step = server
            .events
            .values()
            .find(|e| e.step.as_deref() == Some("device-state/enroll-intune"))
            .expect("event");
        assert!(
            step.message.contains("every 60 minutes"),
            "{}",
            step.message
        );
    }
    // An hour later (a restart): turned down once more.
    world.clock.advance(Duration::minutes(60));
    world.agent(100).run().expect("restart");
    assert_eq!(
        SimWorkstation::load(&world.dir).expect("load").mdm_enrolled,
        None
    );
    // Another hour: enrolled, with an event.
    world.clock.advance(Duration::minutes(60));
    world.agent(100).run().expect("restart");
    assert_eq!(
        SimWorkstation::load(&world.dir)
            .expect("load")
            .mdm_enrolled
            .as_deref(),
        Some("fabrikam.onmicrosoft.com")
    );
    assert!(world
        .server
        .state()
        .events
        .values()
        .any(|e| e.message == "EnrollIntune: enrolled in Intune"));
}

#[test]
fn an_existing_computer_account_without_reuse_stops_the_run_before_any_change_with_a_clear_error() {
    for reuse in [false, true] {
        let world = World::new();
        let mut sim = SimWorkstation::open(&world.dir).expect("open");
        sim.add_domain_computer_account(TARGET_DOMAIN, COMPUTER)
            .expect("account");
        let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
        runbook.device_state.rename = None;
        runbook
            .device_state
            .active_directory
            .reuse_existing_computer_account = reuse;
        let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
        let exit = world.agent_with(sim, 100).run().expect("run");
        let s = SimWorkstation::load(&world.dir).expect("load");
        if reuse {
            assert_eq!(
                exit,
                Exit::Idle {
                    runbook: id,
                    status: AgentStatus::Completed
                }
            );
            assert_eq!(
                s.join_state,
                model::plan::JoinState::ActiveDirectory {
                    domain: TARGET_DOMAIN.into()
                }
            );
        } else {
            assert_eq!(
                exit,
                Exit::Idle {
                    runbook: id,
                    status: AgentStatus::Error
                }
            );
            // Found by the pre-flight gate: the device is still in its old domain, untouched.
            assert_eq!(
                s.join_state,
                model::plan::JoinState::ActiveDirectory {
                    domain: SOURCE_DOMAIN.into()
                }
            );
            assert!(s.actions.is_empty(), "{:?}", s.actions);
            let server = world.server.state();
            let last = server.events.values().last().expect("events");
            assert_eq!(last.step, None);
            assert!(
                last.message.contains("nothing was changed")
                    && last
                        .message
                        .contains("already has a computer account PC-001")
                    && last.message.contains("reuse_existing_computer_account"),
                "{}",
                last.message
            );
            // The join password is never in an event.
            assert!(!last.message.contains(JOIN_PASSWORD));
        }
    }
}

#[test]
fn remote_file_shares_are_re_permissioned_through_their_own_connection_and_only_there() {
    use model::runbook::Area;
    use secdesc::SecurityDescriptor;
    let world = World::new();
    let (runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    world.agent(100).run().expect("run");
    let s = SimWorkstation::load(&world.dir).expect("load");
    for path in [
        "\\\\nas01\\users\\alice",
        "\\\\nas01\\users\\alice\\Report.docx",
    ] {
        let sd = SecurityDescriptor::from_bytes(&s.files[path]).expect("descriptor");
        let sids: Vec<String> = sd.sids().map(|s| s.to_string()).collect();
        assert!(
            sids.contains(&ALICE_NEW.to_string()),
            "{}: {:?}",
            path,
            sids
        );
    }
    // The device's own file system pass leaves other hosts alone, and without a connection the
    // share cannot be read.
    let ws = SimWorkstation::open(&world.dir).expect("open");
    assert!(ws
        .securable_objects(Area::FileSystem)
        .expect("objects")
        .iter()
        .all(|p| !p.starts_with("\\\\")));
    assert!(ws
        .read_descriptor(Area::FileSystem, "\\\\nas01\\users\\alice")
        .is_err());
    let server = world.server.state();
    let event = server
        .events
        .values()
        .find(|e| e.step.as_deref() == Some("permissions/remote-file-shares"))
        .expect("event");
    assert!(event.message.contains("on 1 share(s)"), "{}", event.message);
}

#[test]
fn a_share_that_is_not_there_fails_its_step_naming_it() {
    let world = World::new();
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    if let Some(remote) = runbook.permissions.remote_file_shares.as_mut() {
        remote.paths = "\\\\nas02\\gone".into();
    }
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
    assert_eq!(last.step.as_deref(), Some("permissions/remote-file-shares"));
    assert!(last.message.contains("\\\\nas02\\gone"), "{}", last.message);
}
