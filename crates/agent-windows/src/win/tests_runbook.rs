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

use agent::{Agent, AgentConfig, Exit, Sleeper, Workstation};
use chrono::{Duration, Utc};
use model::batch::{ScheduleTimezone, ScheduledTime};
use model::clock::{Clock, ManualClock};
use model::directory::ObjectKind;
use model::ids::{BatchId, DirectoryId, RunbookId};
use model::plan::TargetFacts;
use model::protocol::{DeviceAssignment, OfflineJoin, SidTranslation};
use model::runbook::{
    ActiveDirectoryJoin, AdminFallback, Area, DeviceStateSettings, DomainJoin, PermissionMode,
    PermissionSettings, RemoveFrom, Runbook, RunbookSecrets, Secret, StartupSettings,
};
use model::status::AgentStatus;
use secdesc::Sid;

use self::fake_server::FakeServer;
use super::sys_recording::Recording;
use super::workstation::WindowsWorkstation;

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
    // The agent's work keys and the legal notice are the device's, shared with other tests.
    let _registry = super::tests::WORK_KEYS
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let mut ws = WindowsWorkstation::with_sys(Box::new(device.clone()));
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
    let exit = Agent::new(
        config,
        ws,
        server.clone(),
        Arc::new(clock.clone()),
        Box::new(ClockSleeper { clock, left: 50 }),
    )
    .unwrap()
    .run()
    .unwrap();
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
