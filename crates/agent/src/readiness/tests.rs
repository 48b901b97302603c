use std::path::PathBuf;

use chrono::TimeZone;
use model::batch::{ScheduleTimezone, ScheduledTime};
use model::ids::{BatchId, DirectoryId, RunbookId};
use model::plan::TargetFacts;
use model::runbook::{DeviceStateSettings, RemoveFrom, Runbook};

use super::device::{Interference, PROFILE_STATE_TEMPORARY};
use super::*;
use crate::sim::{SimProfileCondition, SimReadiness};
use crate::{SimFaults, SimSpec, SimUser, SimWorkstation};

const ALICE: &str = "S-1-5-21-1000-2000-3000-1101";
const TARGET: &str = "new.contoso.test";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap()
}

fn alice() -> Sid {
    ALICE.parse().expect("sid")
}

fn device() -> (SimWorkstation, PathBuf) {
    let dir = std::env::temp_dir().join(format!("rehome-ready-{}", uuid::Uuid::new_v4()));
    let spec = SimSpec::active_directory(
        "PC-001",
        "SN-001",
        "old.contoso.test",
        vec![SimUser {
            sid: alice(),
            name: "alice".into(),
        }],
    );
    (SimWorkstation::create(&dir, &spec).expect("sim"), dir)
}

fn assignment(join: DomainJoin) -> DeviceAssignment {
    DeviceAssignment {
        batch: BatchId::new(),
        runbook: Runbook {
            id: RunbookId::new(),
            name: "Move".into(),
            source_directories: vec![DirectoryId::new()],
            target_directory: DirectoryId::new(),
            allow_on_server_os: false,
            prerequisites: Vec::new(),
            startup: Default::default(),
            user_experience: Default::default(),
            device_state: DeviceStateSettings {
                remove_from: RemoveFrom::ActiveDirectory,
                domain_join: join,
                ..Default::default()
            },
            permissions: Default::default(),
            apps: Default::default(),
            completion: Default::default(),
        },
        secrets: Default::default(),
        target: TargetFacts {
            domain: TARGET.into(),
        },
        bulk_token: None,
        bulk_token_expires_at: None,
        offline_join: None,
        provisioning_package: None,
        available_from: None,
        enforced_after: ScheduledTime {
            at: now().naive_utc(),
            timezone: ScheduleTimezone::Utc,
        },
        retry: 0,
    }
}

fn verdict_of(sim: &SimWorkstation, join: DomainJoin, check: &str) -> (Verdict, String) {
    let results = take(sim, &assignment(join), now());
    let found = results
        .into_iter()
        .find(|r| r.check == check)
        .unwrap_or_else(|| panic!("no result for {}", check));
    (found.verdict, format!("{} [{}]", found.reason, found.value))
}

/// Asserts that `check` passes on a fresh device and blocks (or warns) once `set` changed it,
/// with words naming what the service desk must know.
fn blocks_once(
    join: DomainJoin,
    check: &str,
    expected: Verdict,
    words: &str,
    set: impl FnOnce(&mut SimWorkstation),
) {
    let (mut sim, dir) = device();
    assert_eq!(
        verdict_of(&sim, join, check).0,
        Verdict::Pass,
        "{} on a ready device",
        check
    );
    set(&mut sim);
    let (verdict, reason) = verdict_of(&sim, join, check);
    assert_eq!(verdict, expected, "{}: {}", check, reason);
    assert!(
        reason.contains(words),
        "{}: {:?} lacks {:?}",
        check,
        reason,
        words
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn ready(change: impl FnOnce(&mut SimReadiness)) -> impl FnOnce(&mut SimWorkstation) {
    move |sim: &mut SimWorkstation| sim.set_readiness(change).expect("set")
}

#[test]
fn a_fresh_simulated_device_is_ready_for_an_ad_join_and_an_entra_join() {
    let (sim, dir) = device();
    for join in [DomainJoin::ActiveDirectory, DomainJoin::Entra] {
        let results = take(&sim, &assignment(join), now());
        let not_pass: Vec<_> = results
            .iter()
            .filter(|r| r.verdict != Verdict::Pass)
            .collect();
        assert!(not_pass.is_empty(), "{:?}", not_pass);
        assert!(results.iter().any(|r| r.check == checks::profile(ALICE)));
        assert!(results.iter().all(|r| r.taken_at == now()));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn home_edition_blocks_a_join_and_an_old_windows_blocks_any_run() {
    let edition = |version: &'static str| {
        move |sim: &mut SimWorkstation| {
            sim.set_os(OsEdition::Workstation, version).expect("set");
        }
    };
    blocks_once(
        DomainJoin::Entra,
        checks::OS_EDITION,
        Verdict::Block,
        "Windows 11 Home",
        edition("Windows 11 Home 23H2"),
    );
    blocks_once(
        DomainJoin::ActiveDirectory,
        checks::OS_VERSION,
        Verdict::Block,
        "Windows 8.1",
        edition("Windows 8.1 Pro"),
    );
}

#[test]
fn a_server_os_blocks_unless_the_runbook_allows_it() {
    let (mut sim, dir) = device();
    sim.set_os(OsEdition::Server, "Windows Server 2022 Standard")
        .expect("set");
    let mut a = assignment(DomainJoin::ActiveDirectory);
    let server = |a: &DeviceAssignment| {
        take(&sim, a, now())
            .into_iter()
            .find(|r| r.check == checks::OS_SERVER)
            .map(|r| r.verdict)
    };
    assert_eq!(server(&a), Some(Verdict::Block));
    a.runbook.allow_on_server_os = true;
    assert_eq!(server(&a), Some(Verdict::Pass));
    let _ = std::fs::remove_dir_all(dir);
}

/// A verdict expected, the words it must say, and how the device is made so.
type Case = (Verdict, &'static str, Box<dyn FnOnce(&mut SimWorkstation)>);

#[test]
fn each_profile_condition_is_named_in_the_profile_check() {
    let check = checks::profile(ALICE);
    let cases: Vec<Case> = vec![
        (
            Verdict::Block,
            "temporary profile",
            Box::new(|sim: &mut SimWorkstation| {
                sim.set_profile(&alice(), PROFILE_STATE_TEMPORARY, Some(now()))
                    .expect("set")
            }),
        ),
        (
            Verdict::Block,
            ".bak",
            Box::new(ready(|r| {
                r.profiles.insert(
                    alice(),
                    SimProfileCondition {
                        bak_entry: true,
                        ..Default::default()
                    },
                );
            })),
        ),
        (
            Verdict::Block,
            "FSLogix container",
            Box::new(ready(|r| {
                r.profiles.insert(
                    alice(),
                    SimProfileCondition {
                        container: Some("FSLogix".into()),
                        ..Default::default()
                    },
                );
            })),
        ),
        (
            Verdict::Block,
            "cannot be read",
            Box::new(ready(|r| {
                r.profiles.insert(
                    alice(),
                    SimProfileCondition {
                        hive_unreadable: true,
                        ..Default::default()
                    },
                );
            })),
        ),
        (
            Verdict::Warn,
            "roaming profile (CentralProfile \\\\fs\\profiles\\alice.V6)",
            Box::new(ready(|r| {
                r.profiles.insert(
                    alice(),
                    SimProfileCondition {
                        central_profile: Some("\\\\fs\\profiles\\alice.V6".into()),
                        ..Default::default()
                    },
                );
            })),
        ),
        (
            Verdict::Warn,
            "mandatory profile",
            Box::new(ready(|r| {
                r.profiles.insert(
                    alice(),
                    SimProfileCondition {
                        central_profile: Some("\\\\fs\\mandatory\\default.man".into()),
                        ..Default::default()
                    },
                );
            })),
        ),
        (
            Verdict::Warn,
            "names no account",
            Box::new(ready(|r| {
                r.profiles.insert(
                    alice(),
                    SimProfileCondition {
                        orphaned: true,
                        ..Default::default()
                    },
                );
            })),
        ),
        (
            Verdict::Warn,
            "process outlook.exe (4242)",
            Box::new(ready(|r| {
                r.processes.push(("outlook.exe (4242)".into(), alice()))
            })),
        ),
        (
            Verdict::Pass,
            "scheduled task \\Backup",
            Box::new(|sim: &mut SimWorkstation| sim.add_task("\\Backup", &alice()).expect("task")),
        ),
        (
            Verdict::Warn,
            "not used since 2025-",
            Box::new(|sim: &mut SimWorkstation| {
                let long_ago = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
                sim.set_profile(&alice(), 0, Some(long_ago)).expect("set")
            }),
        ),
    ];
    for (verdict, words, set) in cases {
        blocks_once(DomainJoin::ActiveDirectory, &check, verdict, words, set);
    }
}

#[test]
fn bitlocker_without_an_escrowed_key_blocks_and_a_suspended_one_warns() {
    blocks_once(
        DomainJoin::ActiveDirectory,
        checks::RECOVERY_KEY,
        Verdict::Block,
        "ad:other.example",
        ready(|r| r.recovery_key_escrowed_to = Some(vec!["ad:other.example".into()])),
    );
    // A key escrowed to the target is as good as one in the source.
    let (mut sim, dir) = device();
    sim.set_readiness(|r| r.recovery_key_escrowed_to = Some(vec![format!("entra:{}", TARGET)]))
        .expect("set");
    assert_eq!(
        verdict_of(&sim, DomainJoin::Entra, checks::RECOVERY_KEY).0,
        Verdict::Pass
    );
    sim.suspend_bitlocker().expect("suspend");
    assert_eq!(
        verdict_of(&sim, DomainJoin::Entra, checks::BITLOCKER).0,
        Verdict::Warn
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_entra_join_without_tpm_2_blocks_while_an_ad_join_only_warns() {
    let old_tpm = || ready(|r| r.tpm = Some("1.2".into()));
    blocks_once(
        DomainJoin::Entra,
        checks::TPM,
        Verdict::Block,
        "TPM 1.2",
        old_tpm(),
    );
    blocks_once(
        DomainJoin::ActiveDirectory,
        checks::TPM,
        Verdict::Warn,
        "TPM 1.2",
        old_tpm(),
    );
    blocks_once(
        DomainJoin::Entra,
        checks::TPM,
        Verdict::Block,
        "no TPM",
        ready(|r| r.tpm = None),
    );
}

#[test]
fn free_space_and_disk_health_are_measured_against_the_run() {
    blocks_once(
        DomainJoin::ActiveDirectory,
        checks::FREE_SPACE,
        Verdict::Block,
        "1.0 GB free",
        ready(|r| r.free_bytes = GIB),
    );
    blocks_once(
        DomainJoin::ActiveDirectory,
        checks::FREE_SPACE,
        Verdict::Warn,
        "3.0 GB free",
        ready(|r| r.free_bytes = 3 * GIB),
    );
    blocks_once(
        DomainJoin::ActiveDirectory,
        checks::DISK_HEALTH,
        Verdict::Block,
        "reports a fault",
        ready(|r| r.disk_faulty = true),
    );
    let mut onedrive = assignment(DomainJoin::ActiveDirectory);
    onedrive.runbook.apps.onedrive.target_folder_name = "OneDrive - Contoso".into();
    assert_eq!(space_needed(&onedrive), BASE_SPACE + ONEDRIVE_SPACE);
}

#[test]
fn an_unreachable_target_or_intune_blocks() {
    blocks_once(
        DomainJoin::ActiveDirectory,
        checks::TARGET_REACHABLE,
        Verdict::Block,
        "a domain controller of new.contoso.test does not answer",
        |sim: &mut SimWorkstation| sim.set_unreachable(TARGET).expect("set"),
    );
    blocks_once(
        DomainJoin::Entra,
        checks::INTUNE_REACHABLE,
        Verdict::Block,
        INTUNE_ENDPOINT,
        ready(|r| r.unreachable_endpoints.push(INTUNE_ENDPOINT.into())),
    );
}

#[test]
fn interfering_software_is_named() {
    let with = |kind: InterferenceKind, name: &'static str| {
        ready(move |r| {
            r.interfering.push(Interference {
                kind,
                name: name.into(),
            })
        })
    };
    let cases = [
        (
            DomainJoin::ActiveDirectory,
            checks::CONFIGMGR,
            Verdict::Warn,
            InterferenceKind::ConfigMgr,
            "CcmExec 5.00",
        ),
        (
            DomainJoin::Entra,
            checks::SOURCE_MDM,
            Verdict::Block,
            InterferenceKind::Mdm,
            "Intune (old tenant)",
        ),
        (
            DomainJoin::ActiveDirectory,
            checks::SOURCE_MDM,
            Verdict::Warn,
            InterferenceKind::Mdm,
            "Intune (old tenant)",
        ),
        (
            DomainJoin::ActiveDirectory,
            checks::EDR_ISOLATION,
            Verdict::Block,
            InterferenceKind::EdrIsolation,
            "Defender for Endpoint",
        ),
        (
            DomainJoin::ActiveDirectory,
            checks::APP_CONTROL,
            Verdict::Block,
            InterferenceKind::AppControl,
            "WDAC enforced",
        ),
    ];
    for (join, check, verdict, kind, name) in cases {
        blocks_once(join, check, verdict, name, with(kind, name));
    }
}

#[test]
fn an_edr_agent_that_has_not_isolated_the_device_passes_named_and_one_that_has_blocks() {
    let (mut sim, dir) = device();
    sim.set_readiness(|r| {
        r.interfering.push(Interference {
            kind: InterferenceKind::Edr,
            name: "CrowdStrike Falcon (CSFalconService)".into(),
        })
    })
    .expect("set");
    let (verdict, reason) = verdict_of(&sim, DomainJoin::ActiveDirectory, checks::EDR_ISOLATION);
    assert_eq!(verdict, Verdict::Pass, "{}", reason);
    assert!(reason.contains("has not isolated"), "{}", reason);
    assert!(
        reason.contains("[CrowdStrike Falcon (CSFalconService)]"),
        "{}",
        reason
    );
    sim.set_readiness(|r| {
        r.interfering.push(Interference {
            kind: InterferenceKind::EdrIsolation,
            name: "CrowdStrike Falcon (CSFalconService) while the server does not answer".into(),
        })
    })
    .expect("set");
    let (verdict, reason) = verdict_of(&sim, DomainJoin::ActiveDirectory, checks::EDR_ISOLATION);
    assert_eq!(verdict, Verdict::Block, "{}", reason);
    assert!(
        reason.contains("while the server does not answer"),
        "{}",
        reason
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_pending_reboot_and_a_battery_warn() {
    blocks_once(
        DomainJoin::ActiveDirectory,
        checks::PENDING_REBOOT,
        Verdict::Warn,
        "RebootRequired",
        ready(|r| r.pending_reboot = Some("WindowsUpdate RebootRequired".into())),
    );
    blocks_once(
        DomainJoin::ActiveDirectory,
        checks::BATTERY,
        Verdict::Warn,
        "battery 37%",
        ready(|r| r.on_battery = Some(37)),
    );
}

#[test]
fn a_question_the_workstation_cannot_answer_is_unknown_never_a_pass() {
    let (mut sim, dir) = device();
    sim.set_faults(SimFaults {
        lacks: vec![
            "tpm_version".into(),
            "bitlocker_state".into(),
            "profile_conditions".into(),
        ],
        ..Default::default()
    });
    let results = take(&sim, &assignment(DomainJoin::Entra), now());
    for check in [checks::TPM, checks::BITLOCKER, checks::RECOVERY_KEY] {
        let r = results.iter().find(|r| r.check == check).expect("result");
        assert_eq!(r.verdict, Verdict::Unknown, "{}", check);
        assert!(r.reason.starts_with("not checked"), "{}", r.reason);
    }
    assert!(results
        .iter()
        .any(|r| r.check == checks::profile("*") && r.verdict == Verdict::Unknown));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_partly_answered_question_leaves_only_that_check_unknown_with_its_reason() {
    let a = assignment(DomainJoin::ActiveDirectory);
    let volume = SystemVolume {
        free_bytes: 100 * GIB,
        total_bytes: 200 * GIB,
        healthy: false,
        health_unread: Some("the Storage namespace is missing".into()),
    };
    let results = disk(&volume, &a, now());
    assert_eq!(
        results[0].verdict,
        Verdict::Pass,
        "the space is still judged"
    );
    assert_eq!(results[1].verdict, Verdict::Unknown);
    assert!(results[1]
        .reason
        .contains("the Storage namespace is missing"));

    let state = BitLockerState {
        encrypted: true,
        protection_on: true,
        escrowed_to: Vec::new(),
        escrow_unread: Some("the escrow is not read here".into()),
    };
    let results = bitlocker(&state, None, &a, now());
    assert_eq!(
        results[0].verdict,
        Verdict::Pass,
        "the protection is still judged"
    );
    assert_eq!(
        results[1].verdict,
        Verdict::Unknown,
        "not a block for a key nobody looked for"
    );
    assert!(results[1].reason.contains("the escrow is not read here"));
}
