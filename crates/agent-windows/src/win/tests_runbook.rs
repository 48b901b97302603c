//! Whole runbooks through the agent's phase engine on the real Windows workstation: the calls
//! Wine does not implement (joins, local accounts and group members, BitLocker, the restart)
//! answered by the recording double of [`super::sys_recording`], everything else (registry,
//! event log, legal notice, the agent's work keys) on the real API. Each test asserts the calls
//! Windows would have been asked to make, with their arguments, and what the server heard.

// The in-process server of the agent's own tests: the real envelopes, registration and check-in.
#[allow(dead_code)]
#[path = "../../../agent/tests/integration/fake_server.rs"]
mod fake_server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use agent::run::requests::Requests;
use agent::{Agent, AgentConfig, Exit, Sleeper, Workstation};
use chrono::{Duration, Utc};
use model::batch::{ScheduleTimezone, ScheduledTime};
use model::clock::{Clock, ManualClock};
use model::directory::ObjectKind;
use model::ids::{BatchId, DirectoryId, RunbookId};
use model::plan::TargetFacts;
use model::protocol::{DeviceAssignment, OfflineJoin, ProvisioningPackage, SidTranslation};
use model::runbook::{
    ActiveDirectoryJoin, AdminFallback, Area, DeviceStateSettings, DomainJoin, PermissionMode,
    PermissionSettings, RemoveFrom, Runbook, RunbookSecrets, Secret, StartupSettings,
};
use model::status::AgentStatus;
use secdesc::Sid;

use self::fake_server::FakeServer;
use super::entra::EntraJoin;
use super::sys::Sys;
use super::sys_recording::Recording;
use super::workstation::WindowsWorkstation;
use crate::pipe::credentials::{CredentialDesk, CredentialPrompt, Password, Typed};
use crate::pipe::{ask, Message, Reply};

const PSK: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SOURCE: &str = "old.contoso.test";
const TARGET: &str = "new.contoso.test";
const SOURCE_DOMAIN_SID: &str = "S-1-5-21-1000-2000-3000";
const DOMAIN_ADMINS: &str = "S-1-5-21-1000-2000-3000-512";
const DOMAIN_ADMINS_NEW: &str = "S-1-5-21-7000-8000-9000-512";
const ALICE: &str = "S-1-5-21-1000-2000-3000-1101";
const ALICE_NEW: &str = "S-1-5-21-7000-8000-9000-2101";
const JOIN_PASSWORD: &str = "Join-Passw0rd!";
const FALLBACK_PASSWORD: &str = "Fallback-Passw0rd!";
const OU: &str = "OU=Workstations,DC=new,DC=contoso,DC=test";

/// Numbers the agents' state folders.
static RUNS: AtomicUsize = AtomicUsize::new(0);

fn sid(s: &str) -> Sid {
    s.parse().unwrap()
}

/// Sleeps by moving the clock; stops the agent after `left` sleeps.
struct ClockSleeper {
    clock: ManualClock,
    left: usize,
}

impl Sleeper for ClockSleeper {
    fn sleep(&mut self, duration: Duration) -> bool {
        if self.left == 0 {
            return false;
        }
        self.left -= 1;
        self.clock.advance(duration);
        true
    }
}

/// A device joined to the source domain whose Administrators hold the source's Domain Admins
/// and Alice, as the double keeps them.
fn joined_device() -> Recording {
    let device = Recording::default();
    {
        let mut d = device.device();
        d.domain = Some(SOURCE.to_string());
        d.domain_sid = Some(SOURCE_DOMAIN_SID.to_string());
        d.offline_domain = TARGET.to_string();
        d.reachable.insert(TARGET.to_string());
        d.bitlocker = (true, true);
        d.groups.insert(
            "Administrators".to_string(),
            vec![sid("S-1-5-32-544"), sid(DOMAIN_ADMINS), sid(ALICE)],
        );
        d.groups.insert("Users".to_string(), vec![sid("S-1-5-4")]);
    }
    device
}

/// An AD→AD runbook with a fallback administrator and Local Groups translated, joining online
/// into [`OU`] reusing an existing computer account, or offline.
fn runbook(offline: bool) -> (Runbook, RunbookSecrets) {
    let runbook = Runbook {
        id: RunbookId::new(),
        name: "Move to new.contoso.test".into(),
        source_directories: vec![DirectoryId::new()],
        target_directory: DirectoryId::new(),
        allow_on_server_os: false,
        startup: StartupSettings {
            admin_fallback: Some(AdminFallback {
                username: "rehome-fallback".into(),
                password: Secret::new(FALLBACK_PASSWORD),
                delay_deletion_days: 0,
            }),
            ..Default::default()
        },
        device_state: DeviceStateSettings {
            remove_from: RemoveFrom::ActiveDirectory,
            domain_join: DomainJoin::ActiveDirectory,
            active_directory: ActiveDirectoryJoin {
                username: "NEW\\rehome-join".into(),
                computer_ou: OU.into(),
                reuse_existing_computer_account: true,
                offline_domain_join: offline,
                ..Default::default()
            },
            ..Default::default()
        },
        permissions: PermissionSettings {
            mode: PermissionMode::AddAndRemove,
            areas: vec![Area::LocalGroups],
            ..Default::default()
        },
        completion: Default::default(),
        prerequisites: Vec::new(),
        user_experience: Default::default(),
        apps: Default::default(),
    };
    let secrets = RunbookSecrets {
        admin_fallback_password: Some(FALLBACK_PASSWORD.into()),
        domain_join_password: Some(JOIN_PASSWORD.into()),
        ..Default::default()
    };
    (runbook, secrets)
}

/// Runs `runbook` on the Windows workstation with `device` as its double, against an
/// in-process server translating Domain Admins and Alice; the agent's exit and the server.
fn run(device: &Recording, runbook: Runbook, secrets: RunbookSecrets) -> (Exit, Arc<FakeServer>) {
    run_with(device, runbook, secrets, None, &[])
}

/// The service's side of the tray for a run: the Cache Credentials desk, and the agent's end of
/// the requests the pipe passes on.
struct TrayEnd {
    desk: CredentialDesk,
    requests: Requests,
}

/// [`run`], serving the tray through `tray` and translating `more` (kind, source, target) too.
fn run_with(
    device: &Recording,
    runbook: Runbook,
    secrets: RunbookSecrets,
    tray: Option<TrayEnd>,
    more: &[(ObjectKind, Sid, Sid)],
) -> (Exit, Arc<FakeServer>) {
    run_full(device, runbook, secrets, tray, more, None)
}

/// [`run_with`], the server sending `package` with the assignment.
fn run_full(
    device: &Recording,
    runbook: Runbook,
    secrets: RunbookSecrets,
    tray: Option<TrayEnd>,
    more: &[(ObjectKind, Sid, Sid)],
    package: Option<ProvisioningPackage>,
) -> (Exit, Arc<FakeServer>) {
    // The agent's work keys and the legal notice are the device's, shared with other tests.
    let _registry = super::tests::WORK_KEYS
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut ws = WindowsWorkstation::with_sys(Box::new(device.clone()));
    if let Some(tray) = &tray {
        ws = ws.with_credential_desk(tray.desk.clone());
    }
    // What an earlier run kept there would be taken for this device's own.
    ws.delete_registry_key(agent::run::actions::WORK_KEY)
        .unwrap();
    let computer = ws.facts().unwrap().computer_name;
    let clock = ManualClock::new(Utc::now());
    let server = FakeServer::new(PSK, clock.clone());
    server.import(&computer);
    {
        let mut state = server.state();
        for (kind, source, target, name) in [
            (
                ObjectKind::Group,
                DOMAIN_ADMINS,
                DOMAIN_ADMINS_NEW,
                "Domain Admins",
            ),
            (ObjectKind::User, ALICE, ALICE_NEW, "alice"),
        ] {
            state.translations.push(SidTranslation {
                kind,
                source: sid(source),
                target: sid(target),
                target_name: name.to_string(),
                target_upn: None,
                reason: None,
            });
        }
        for (kind, source, target) in more {
            state.translations.push(SidTranslation {
                kind: *kind,
                source: source.clone(),
                target: target.clone(),
                target_name: target.to_string(),
                target_upn: None,
                reason: None,
            });
        }
        state.assignment = Some(DeviceAssignment {
            batch: BatchId::new(),
            runbook,
            secrets,
            target: TargetFacts {
                domain: TARGET.into(),
            },
            bulk_token: None,
            bulk_token_expires_at: None,
            offline_join: Some(OfflineJoin::blob(
                format!("ODJ blob for {} in {}", computer, TARGET).as_bytes(),
            )),
            provisioning_package: package,
            available_from: None,
            enforced_after: ScheduledTime {
                at: (clock.now() - Duration::minutes(5)).naive_utc(),
                timezone: ScheduleTimezone::Utc,
            },
            retry: 0,
        });
    }
    let dir = std::env::temp_dir().join(format!(
        "rehome-runbook-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::SeqCst)
    ));
    let mut config = AgentConfig::new("http://unused", PSK, &dir);
    config.exit_when_idle = true;
    let mut agent = Agent::new(
        config,
        ws,
        server.clone(),
        Arc::new(clock.clone()),
        Box::new(ClockSleeper { clock, left: 50 }),
    )
    .unwrap();
    if let Some(tray) = tray {
        agent.serve_requests(tray.requests);
    }
    let exit = agent.run().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (exit, server)
}

fn messages(server: &FakeServer) -> Vec<String> {
    server
        .state()
        .events
        .values()
        .map(|e| e.message.clone())
        .collect()
}

#[test]
fn an_online_join_runbook_makes_the_windows_calls_in_order_and_completes() {
    let device = joined_device();
    let (runbook, secrets) = runbook(false);
    let id = runbook.id;
    let (exit, server) = run(&device, runbook, secrets);
    let events = messages(&server);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        },
        "{:#?}",
        events
    );
    let d = device.device();
    let calls: Vec<&str> = d.calls.iter().map(String::as_str).collect();
    // Each call once, in the runbook's order; reads are not recorded.
    let administrators = "Administrators";
    let expected = vec![
        "Win32_EncryptableVolume.DisableKeyProtectors(Win32_EncryptableVolume.DeviceID='\\\\\\\\?\\\\Volume{4c1b02c1-d990-11dc-99ae-806e6f6e6963}\\\\'; DisableCount=0)".to_string(),
        "NetUserAdd(rehome-fallback, 0x10001)".to_string(),
        format!("NetLocalGroupAddMembers({}, rehome-fallback)", administrators),
        "NetUnjoinDomain()".to_string(),
        // NETSETUP_JOIN_DOMAIN | NETSETUP_ACCT_CREATE | NETSETUP_DOMAIN_JOIN_IF_JOINED.
        format!("NetJoinDomain({}, {}, NEW\\rehome-join, 0x23)", TARGET, OU),
        "ResetWindowsHello()".to_string(),
        // Local Groups: Alice, still a member, gains her target and loses her source.
        format!("NetLocalGroupAddMembers(Administrators, {})", ALICE_NEW),
        format!("NetLocalGroupDelMembers(Administrators, {})", ALICE),
        // Completion: Domain Admins, taken out by the leave, comes back as its translation;
        // the others kept are there already.
        "NetLocalGroupAddMembers(Administrators, S-1-5-32-544)".to_string(),
        format!("NetLocalGroupAddMembers(Administrators, {})", DOMAIN_ADMINS_NEW),
        format!("NetLocalGroupAddMembers(Administrators, {})", ALICE_NEW),
        "NetLocalGroupAddMembers(Users, S-1-5-4)".to_string(),
        "Win32_EncryptableVolume.EnableKeyProtectors(Win32_EncryptableVolume.DeviceID='\\\\\\\\?\\\\Volume{4c1b02c1-d990-11dc-99ae-806e6f6e6963}\\\\'; )".to_string(),
        "NetUserDel(rehome-fallback)".to_string(),
    ];
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(calls[..expected.len()], expected[..], "{:#?}", calls);
    // The restart last: 10 minutes, a planned application maintenance reason.
    let restart = calls[expected.len()..].join("\n");
    assert!(
        restart.starts_with("InitiateSystemShutdownExW(")
            && restart.ends_with(", 600, reboot, 0x80040001)"),
        "{}",
        restart
    );
    assert_eq!(calls.len(), expected.len() + 1, "{:#?}", calls);
    // The runbook's secret reached the join, and no event carries it.
    assert_eq!(d.join_password.as_deref(), Some(JOIN_PASSWORD));
    assert!(events
        .iter()
        .all(|m| !m.contains(JOIN_PASSWORD) && !m.contains(FALLBACK_PASSWORD)));
    assert_eq!(d.domain.as_deref(), Some(TARGET));
    assert!(d.restart_pending);
    assert!(d.bitlocker.1, "the protectors are on again");
    assert!(!d.users.contains("rehome-fallback"));
    let mut admins = d.groups["Administrators"].clone();
    admins.sort();
    let mut wanted = vec![sid("S-1-5-32-544"), sid(DOMAIN_ADMINS_NEW), sid(ALICE_NEW)];
    wanted.sort();
    assert_eq!(admins, wanted);
    assert!(
        events
            .iter()
            .any(|m| m.contains("JoinActiveDirectory: joined new.contoso.test in OU=Workstations")),
        "{:#?}",
        events
    );
}

#[test]
fn an_offline_join_runbook_hands_the_servers_blob_to_windows() {
    let device = joined_device();
    let (runbook, secrets) = runbook(true);
    let id = runbook.id;
    let (exit, server) = run(&device, runbook, secrets);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        },
        "{:#?}",
        messages(&server)
    );
    let d = device.device();
    let windows = super::system::expand("%SystemRoot%").unwrap();
    let blob = d.offline_blob.clone().expect("a blob");
    let computer = super::system::computer_name().unwrap();
    assert_eq!(
        blob,
        format!("ODJ blob for {} in {}", computer, TARGET).into_bytes()
    );
    // NETSETUP_PROVISION_ONLINE_CALLER, the Windows folder; no online join, no password.
    let offline = format!(
        "NetRequestOfflineDomainJoin({} bytes, 0x40000000, {})",
        blob.len(),
        windows
    );
    let at = d
        .calls
        .iter()
        .position(|c| *c == offline)
        .expect("offline join");
    assert_eq!(d.calls[at - 1], "NetUnjoinDomain()");
    assert!(d.calls.iter().all(|c| !c.starts_with("NetJoinDomain")));
    assert_eq!(d.join_password, None);
    assert_eq!(d.domain.as_deref(), Some(TARGET));
    assert!(d
        .calls
        .last()
        .unwrap()
        .starts_with("InitiateSystemShutdownExW("));
}

#[test]
fn a_device_that_cannot_restart_fails_the_pre_flight_before_it_leaves_its_domain() {
    let device = joined_device();
    device.device().no_shutdown = Some("SeShutdownPrivilege".to_string());
    let (runbook, secrets) = runbook(false);
    let id = runbook.id;
    let (exit, server) = run(&device, runbook, secrets);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    let events = messages(&server);
    assert!(
        events
            .iter()
            .any(|m| m.contains("restart") && m.contains("AdjustTokenPrivileges")),
        "{:#?}",
        events
    );
    let d = device.device();
    assert!(d.calls.is_empty(), "{:#?}", d.calls);
    assert_eq!(d.domain.as_deref(), Some(SOURCE));
}

const ALICE_PASSWORD: &str = "Alice-Target-Passw0rd!";

/// A runbook that only caches the users' credentials for the target, as a prerequisite of an
/// offline join does.
fn cache_only() -> (Runbook, RunbookSecrets) {
    let (mut runbook, secrets) = runbook(false);
    runbook.startup.do_not_run = true;
    runbook.completion.do_not_run = true;
    runbook.device_state = DeviceStateSettings {
        cache_user_credentials: true,
        ..Default::default()
    };
    runbook.permissions.mode = PermissionMode::DontUpdate;
    (runbook, secrets)
}

#[test]
fn cache_credentials_asks_the_tray_over_the_pipe_while_the_step_runs_and_logs_on_until_accepted() {
    let device = joined_device();
    let user = crate::pipe::win::interactive_user()
        .unwrap()
        .expect("someone is signed in");
    {
        let mut d = device.device();
        d.domain_accounts.insert(
            (TARGET.to_string(), "alice".to_string()),
            ALICE_PASSWORD.to_string(),
        );
        // The signed-in user is a migrating one: the server translates them.
        d.groups.get_mut("Users").unwrap().push(user.clone());
    }
    // The service's side: the pipe served on its own threads with the step's desk.
    let desk = CredentialDesk::default();
    let name = format!(
        r"\\.\pipe\rehome-agent-test-credentials-{}",
        std::process::id()
    );
    let (requester, agent_end) = agent::run::requests::channel(Arc::new(|| {}));
    let service_view = requester.clone();
    let (server_name, server_desk) = (name.clone(), desk.clone());
    let pipe = std::thread::spawn(move || {
        crate::pipe::win::serve(&server_name, &requester, &server_desk, Some(1))
    });
    // The tray: polls for the dialog, answers a wrong password first, then the right one. While
    // the step waits for it, the menu's requests are answered at once with the step.
    let tray = std::thread::spawn(move || {
        let mut client = loop {
            match crate::pipe::win::connect(&name) {
                Ok(client) => break client,
                Err(_) => std::thread::yield_now(),
            }
        };
        let mut shown: Vec<CredentialPrompt> = Vec::new();
        let mut menu: Vec<Reply> = Vec::new();
        for password in ["Wrong-Passw0rd!", ALICE_PASSWORD] {
            let prompt = loop {
                match ask(&mut client, Message::CredentialPrompt).unwrap() {
                    Reply::Prompt(Some(p)) if shown.iter().all(|s| s.id != p.id) => break p,
                    _ => std::thread::yield_now(),
                }
            };
            let typed = Typed {
                username: "alice".into(),
                password: Password::new(password.into()),
            };
            if shown.is_empty() {
                for message in [
                    Message::CheckRunbooks,
                    Message::MigrateNow,
                    Message::Register,
                    Message::Status,
                ] {
                    menu.push(ask(&mut client, message).unwrap());
                }
            }
            let id = prompt.id;
            let reply = ask(&mut client, Message::Credentials { id, typed }).unwrap();
            assert!(matches!(reply, Reply::Answer(ref a) if a.ok), "{:?}", reply);
            shown.push(prompt);
        }
        (shown, menu)
    });
    let (runbook, secrets) = cache_only();
    let id = runbook.id;
    let more = [(ObjectKind::User, user.clone(), sid(ALICE_NEW))];
    let tray_end = TrayEnd {
        desk: desk.clone(),
        requests: agent_end,
    };
    let (exit, server) = run_with(&device, runbook, secrets, Some(tray_end), &more);
    let events = messages(&server);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        },
        "{:#?}",
        events
    );
    let (shown, menu) = tray.join().expect("tray");
    pipe.join().expect("pipe").expect("served");
    assert_eq!(shown.len(), 2);
    // Check Runbooks, Migrate Now and Register answered with the step, not queued behind it;
    // the status names it; once the run is over no step runs.
    let step = "A migration is running (Move to new.contoso.test): step 1 of 1, device-state/cache-credentials";
    for reply in &menu[..3] {
        assert!(
            matches!(reply, Reply::Answer(a) if a.ok && a.message.contains(step)),
            "{:?}",
            reply
        );
    }
    match &menu[3] {
        Reply::Status(view) => assert_eq!(
            view.running.as_ref().map(|r| r.step_id.as_str()),
            Some("device-state/cache-credentials")
        ),
        other => panic!("{:?}", other),
    }
    assert_eq!(service_view.view().running, None);
    assert!(shown[0].message.contains(TARGET), "{:?}", shown[0]);
    // Withdrawn once answered.
    assert_eq!(desk.pending(), None);
    let logon = format!(
        "LogonUserW(alice, {}, LOGON32_LOGON_INTERACTIVE, LOGON32_PROVIDER_DEFAULT)",
        TARGET
    );
    assert_eq!(device.device().calls, vec![logon.clone(), logon]);
    assert!(
        events
            .iter()
            .any(|m| m.contains("signed in to new.contoso.test as alice (attempt 2)")),
        "{:#?}",
        events
    );
    assert!(events
        .iter()
        .all(|m| !m.contains(ALICE_PASSWORD) && !m.contains("Wrong-Passw0rd!")));
}

#[test]
fn a_logon_the_domain_controller_refuses_is_false_and_none_answering_names_the_call() {
    let device = joined_device();
    device.device().domain_accounts.insert(
        (TARGET.to_string(), "alice".to_string()),
        ALICE_PASSWORD.to_string(),
    );
    let mut ws = WindowsWorkstation::with_sys(Box::new(device.clone()));
    assert!(ws
        .cache_logon(TARGET, "NEW\\alice", ALICE_PASSWORD)
        .unwrap());
    assert!(ws
        .cache_logon(TARGET, "alice@new.contoso.test", ALICE_PASSWORD)
        .unwrap());
    assert!(!ws.cache_logon(TARGET, "alice", "Wrong-Passw0rd!").unwrap());
    let none = ws
        .cache_logon("fabrikam.test", "alice", ALICE_PASSWORD)
        .unwrap_err()
        .to_string();
    assert!(
        none.contains("LogonUserW") && none.contains("fabrikam.test"),
        "{}",
        none
    );
    assert!(!none.contains(ALICE_PASSWORD), "{}", none);
    assert_eq!(
        device.device().calls[..3],
        [
            "LogonUserW(alice, NEW, LOGON32_LOGON_INTERACTIVE, LOGON32_PROVIDER_DEFAULT)",
            "LogonUserW(alice@new.contoso.test, NULL, LOGON32_LOGON_INTERACTIVE, LOGON32_PROVIDER_DEFAULT)",
            "LogonUserW(alice, new.contoso.test, LOGON32_LOGON_INTERACTIVE, LOGON32_PROVIDER_DEFAULT)",
        ]
    );
    // Without the double, Wine's LogonUserW is refused by name rather than trusted.
    if super::under_wine() {
        let real = WindowsWorkstation::open()
            .cache_logon(TARGET, "alice", ALICE_PASSWORD)
            .unwrap_err()
            .to_string();
        assert!(
            real.contains("LogonUserW") && real.contains("Wine"),
            "{}",
            real
        );
    }
}

/// The Entra join runbook: leave the source domain, join the target tenant with the package.
fn entra_runbook() -> (Runbook, RunbookSecrets) {
    let (mut runbook, secrets) = runbook(false);
    runbook.name = "Move to Entra".into();
    runbook.device_state.domain_join = DomainJoin::Entra;
    runbook.device_state.active_directory = Default::default();
    (runbook, secrets)
}

const TENANT_ID: &str = "4f0d2c1e-9a7b-4c3d-8e6f-0123456789ab";

#[test]
fn an_entra_join_runbook_installs_the_servers_package_and_reads_the_join_back() {
    let device = joined_device();
    device.device().package_joins = Some(EntraJoin {
        tenant_id: TENANT_ID.into(),
        user_email: format!("package_0a1b@{}", TARGET),
    });
    let package = ProvisioningPackage::new("join-new.ppkg", b"ppkg bytes with a bulk token");
    let (runbook, secrets) = entra_runbook();
    let id = runbook.id;
    let (exit, server) = run_full(&device, runbook, secrets, None, &[], Some(package.clone()));
    let events = messages(&server);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        },
        "{:#?}",
        events
    );
    let d = device.device();
    let folder = super::system::expand("%ProgramData%\\rehome\\provisioning").unwrap();
    let path = super::entra::package_path(std::path::Path::new(&folder), &package.sha256);
    let install = format!(
        "Install-ProvisioningPackage({}, sha256={})",
        path.display(),
        package.sha256
    );
    let at = d
        .calls
        .iter()
        .position(|c| *c == install)
        .unwrap_or_else(|| panic!("{:#?}", d.calls));
    // After the leave, once; no domain join; the package is gone and the policy allows it.
    assert_eq!(d.calls[at - 1], "NetUnjoinDomain()");
    assert_eq!(
        d.calls.iter().filter(|c| c.starts_with("Install-")).count(),
        1
    );
    assert!(d.calls.iter().all(|c| !c.starts_with("NetJoinDomain")));
    assert!(
        !std::path::Path::new(&folder).exists(),
        "the package is removed"
    );
    let ws = WindowsWorkstation::with_sys(Box::new(device.clone()));
    drop(d);
    assert_eq!(
        ws.registry_value(super::entra::POLICY_KEY, super::entra::POLICY_VALUE)
            .unwrap(),
        Some(agent::RegValue::Dword(1))
    );
    assert_eq!(
        ws.facts().unwrap().join_state,
        model::plan::JoinState::Entra {
            tenant: TENANT_ID.into()
        }
    );
    assert!(
        events.iter().any(|m| m.contains(
            "joined the Entra tenant new.contoso.test with the provisioning package join-new.ppkg"
        )),
        "{:#?}",
        events
    );
    assert!(events.iter().all(|m| !m.contains(&package.content)));
}

#[test]
fn a_package_that_leaves_the_device_unjoined_fails_the_run_naming_the_join_it_reads() {
    let device = joined_device();
    let package = ProvisioningPackage::new("expired.ppkg", b"ppkg whose token expired");
    let (runbook, secrets) = entra_runbook();
    let id = runbook.id;
    let (exit, server) = run_full(&device, runbook, secrets, None, &[], Some(package));
    let events = messages(&server);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        },
        "{:#?}",
        events
    );
    assert!(
        events.iter().any(|m| m.contains("expired.ppkg")
            && m.contains("not joined to the Entra tenant new.contoso.test")
            && m.contains("CloudDomainJoin\\JoinInfo")),
        "{:#?}",
        events
    );
    assert!(device.device().entra.is_none());
}

#[test]
fn without_a_package_an_entra_join_fails_its_pre_flight_before_the_device_leaves_its_domain() {
    let device = joined_device();
    let (runbook, secrets) = entra_runbook();
    let id = runbook.id;
    let (exit, server) = run_full(&device, runbook, secrets, None, &[], None);
    let events = messages(&server);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        },
        "{:#?}",
        events
    );
    assert!(
        events
            .iter()
            .any(|m| m.contains("provisioning package (.ppkg)") && m.contains(TARGET)),
        "{:#?}",
        events
    );
    let d = device.device();
    assert_eq!(d.domain.as_deref(), Some(SOURCE), "still in its domain");
    assert!(d.calls.iter().all(|c| !c.starts_with("NetUnjoinDomain")));
}

#[test]
fn the_real_install_refuses_by_name_under_wine() {
    if !super::under_wine() {
        return;
    }
    let path = std::env::temp_dir().join("rehome-never-installed.ppkg");
    let err = super::sys::Win32
        .install_provisioning_package(&path)
        .expect_err("no powershell under Wine");
    assert!(
        err.to_string().contains("Install-ProvisioningPackage"),
        "{}",
        err
    );
}

/// Keeps the tests that list a profile in ProfileList apart: each translates every profile it
/// finds there.
static PROFILE_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// [`runbook`] translating the Windows profiles too, with Alice's profile in ProfileList at
/// `folder` for as long as `body` runs.
fn with_alices_profile<T>(folder: &str, body: impl FnOnce(Runbook, RunbookSecrets) -> T) -> T {
    let _apart = PROFILE_TESTS.lock().unwrap_or_else(|e| e.into_inner());
    let list = super::profiles::PROFILE_LIST;
    let mut ws = WindowsWorkstation::with_sys(Box::new(Recording::default()));
    let entries = [
        format!("{}\\{}", list, ALICE),
        format!("{}\\{}", list, ALICE_NEW),
    ];
    for entry in &entries {
        ws.delete_registry_key(entry).unwrap();
    }
    ws.set_registry_value(
        &entries[0],
        "ProfileImagePath",
        &agent::RegValue::ExpandSz(folder.to_string()),
    )
    .unwrap();
    let (mut runbook, secrets) = runbook(false);
    runbook.permissions.areas.push(Area::WindowsProfiles);
    let out = body(runbook, secrets);
    for entry in &entries {
        ws.delete_registry_key(entry).unwrap();
    }
    out
}

#[test]
fn a_hive_restart_manager_finds_held_fails_the_pre_flight_naming_the_process() {
    let folder = "C:\\Users\\alice-held";
    let device = joined_device();
    device.device().file_holders.insert(
        format!("{}\\ntuser.dat", folder).to_lowercase(),
        vec![("OneDrive.exe".to_string(), 4242)],
    );
    let (runbook_id, exit, server) = with_alices_profile(folder, |runbook, secrets| {
        let id = runbook.id;
        let (exit, server) = run(&device, runbook, secrets);
        (id, exit, server)
    });
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: runbook_id,
            status: AgentStatus::Error
        }
    );
    let events = messages(&server);
    assert!(
        events.iter().any(|m| m.contains(&format!(
            "{}\\NTUSER.DAT is held open by OneDrive.exe (4242)",
            folder
        ))),
        "{:#?}",
        events
    );
    let d = device.device();
    assert!(d.calls.is_empty(), "nothing changed: {:#?}", d.calls);
    assert_eq!(d.domain.as_deref(), Some(SOURCE));
}

#[test]
fn a_hive_nothing_holds_lets_the_run_past_its_pre_flight() {
    let folder = "C:\\Users\\alice-free";
    let device = joined_device();
    // Another user's hive is held: not Alice's.
    device.device().file_holders.insert(
        "c:\\users\\someone-else\\ntuser.dat".to_string(),
        vec![("OneDrive.exe".to_string(), 4242)],
    );
    let exit_and_server =
        with_alices_profile(folder, |runbook, secrets| run(&device, runbook, secrets));
    let events = messages(&exit_and_server.1);
    assert!(
        events.iter().all(|m| !m.contains("held open")),
        "{:#?}",
        events
    );
    let d = device.device();
    assert!(
        d.calls
            .iter()
            .any(|c| c.starts_with("NetUserAdd(rehome-fallback")),
        "the run went on past its pre-flight: {:#?}",
        d.calls
    );
}

#[test]
fn restart_manager_refuses_by_name_under_wine() {
    if !super::under_wine() {
        return;
    }
    let err = super::sys::Win32
        .file_holders("C:\\Users\\nobody\\NTUSER.DAT")
        .expect_err("Restart Manager is a stub under Wine");
    assert!(err.to_string().contains("RmStartSession"), "{}", err);
}

/// [`runbook`] joining online without reusing an existing computer account, on `device` whose
/// target domain accepts the join account; the device's computer name.
fn join_without_reuse(device: &Recording) -> (Runbook, RunbookSecrets, String) {
    device.device().domain_accounts.insert(
        (TARGET.to_string(), "rehome-join".to_string()),
        JOIN_PASSWORD.into(),
    );
    let (mut runbook, secrets) = runbook(false);
    runbook
        .device_state
        .active_directory
        .reuse_existing_computer_account = false;
    let computer = WindowsWorkstation::with_sys(Box::new(Recording::default()))
        .facts()
        .unwrap()
        .computer_name;
    (runbook, secrets, computer)
}

#[test]
fn a_computer_name_the_target_domain_holds_fails_the_pre_flight_naming_the_account() {
    let device = joined_device();
    let (runbook, secrets, computer) = join_without_reuse(&device);
    device
        .device()
        .computer_accounts
        .insert((TARGET.to_string(), computer.to_uppercase()));
    let id = runbook.id;
    let (exit, server) = run(&device, runbook, secrets);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    let events = messages(&server);
    let taken = format!(
        "{} already has a computer account {}",
        TARGET,
        computer.to_uppercase()
    );
    assert!(events.iter().any(|m| m.contains(&taken)), "{:#?}", events);
    let d = device.device();
    assert!(d.calls.is_empty(), "nothing changed: {:#?}", d.calls);
    assert_eq!(d.domain.as_deref(), Some(SOURCE));
    // Asked as the join account, for the name's sAMAccountName.
    assert!(
        d.lookups.iter().any(|l| l
            == &format!(
                "{} (sAMAccountName={}$) as NEW\\rehome-join",
                TARGET,
                computer.to_uppercase()
            )),
        "{:#?}",
        d.lookups
    );
}

#[test]
fn a_computer_name_the_target_domain_lacks_joins_without_the_reuse_flag() {
    let device = joined_device();
    let (runbook, secrets, computer) = join_without_reuse(&device);
    // Another device's account: not this one.
    device.device().computer_accounts.insert((
        TARGET.to_string(),
        format!("{}-OLD", computer.to_uppercase()),
    ));
    let id = runbook.id;
    let (exit, server) = run(&device, runbook, secrets);
    let events = messages(&server);
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        },
        "{:#?}",
        events
    );
    let d = device.device();
    // NETSETUP_JOIN_DOMAIN | NETSETUP_ACCT_CREATE, without NETSETUP_DOMAIN_JOIN_IF_JOINED.
    let join = format!("NetJoinDomain({}, {}, NEW\\rehome-join, 0x3)", TARGET, OU);
    assert!(d.calls.contains(&join), "{:#?}", d.calls);
    assert_eq!(d.domain.as_deref(), Some(TARGET));
    assert!(!d.lookups.is_empty(), "the pre-flight asked the domain");
}

#[test]
fn the_real_computer_account_look_up_refuses_by_name_under_wine() {
    if !super::under_wine() {
        return;
    }
    let err = super::sys::Win32
        .computer_account_exists(TARGET, "PC-0001", "NEW\\rehome-join", JOIN_PASSWORD)
        .expect_err("no domain controller under Wine");
    assert!(err.to_string().contains("DsGetDcNameW"), "{}", err);
    assert!(!err.to_string().contains(JOIN_PASSWORD));
}

#[test]
fn the_account_filter_escapes_what_rfc_4515_reserves() {
    assert_eq!(
        super::ldap::account_filter("pc-0001"),
        "(sAMAccountName=PC-0001$)"
    );
    assert_eq!(
        super::ldap::account_filter("a*(b)\\c"),
        "(sAMAccountName=A\\2a\\28B\\29\\5cC$)"
    );
}

#[path = "tests_runbook_wmi.rs"]
mod wmi;

#[path = "tests_runbook_entra.rs"]
mod entra_tenant;
