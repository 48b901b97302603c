//! The readiness checks on a real Windows API: the conditions Wine lets a test set (ProfileList
//! entries, pending-reboot keys, services, enrolments, task definitions, a local endpoint) are
//! set and their verdicts checked; what Wine lacks (WMI's BitLocker, TPM and Storage namespaces,
//! `WTSEnumerateProcessesExW`) answers Unknown and the test checks the reason names the call.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use agent::readiness::device::{InterferenceKind, PROFILE_STATE_TEMPORARY};
use agent::{RegValue, Workstation};
use chrono::{TimeZone, Utc};
use model::batch::{ScheduleTimezone, ScheduledTime};
use model::ids::{BatchId, DirectoryId, RunbookId};
use model::plan::{OsEdition, TargetFacts};
use model::protocol::DeviceAssignment;
use model::readiness::{checks, CheckResult, Verdict};
use model::runbook::{DeviceStateSettings, DomainJoin, RemoveFrom, Runbook};
use secdesc::Sid;

use super::profiles::PROFILE_LIST;
use super::tests::TestService;
use super::workstation::WindowsWorkstation;
use super::{readiness, registry, under_wine, wmi};
use crate::keys::KeyName;

fn assignment() -> DeviceAssignment {
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
                remove_from: RemoveFrom::None,
                domain_join: DomainJoin::None,
                ..Default::default()
            },
            permissions: Default::default(),
            apps: Default::default(),
            completion: Default::default(),
        },
        secrets: Default::default(),
        target: TargetFacts {
            domain: "new.contoso.test".into(),
        },
        bulk_token: None,
        bulk_token_expires_at: None,
        offline_join: None,
        provisioning_package: None,
        available_from: None,
        enforced_after: ScheduledTime {
            at: Utc
                .with_ymd_and_hms(2026, 3, 2, 8, 0, 0)
                .unwrap()
                .naive_utc(),
            timezone: ScheduleTimezone::Utc,
        },
        retry: 0,
    }
}

fn take() -> Vec<CheckResult> {
    agent::readiness::take(
        &WindowsWorkstation::open(),
        &assignment(),
        Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap(),
    )
}

fn result<'a>(results: &'a [CheckResult], check: &str) -> &'a CheckResult {
    results
        .iter()
        .find(|r| r.check == check)
        .unwrap_or_else(|| panic!("no {} in {:?}", check, results))
}

#[test]
fn the_os_is_named_with_its_edition_version_and_build() {
    let (edition, version) = readiness::os().unwrap();
    assert!(version.contains("(10.0."), "{}", version);
    let facts = WindowsWorkstation::open().facts().unwrap();
    assert_eq!(facts.os_version, version);
    assert_eq!(facts.os_edition, edition);
    let results = take();
    if under_wine() {
        // scripts/test-windows sets Wine to Windows 10, a workstation.
        assert_eq!(edition, OsEdition::Workstation);
        assert!(version.contains("Windows 10"), "{}", version);
        for check in [checks::OS_EDITION, checks::OS_VERSION, checks::OS_SERVER] {
            assert_eq!(result(&results, check).verdict, Verdict::Pass, "{}", check);
        }
    } else {
        // A Windows runner is a server: the runbook does not allow server OS.
        let server = result(&results, checks::OS_SERVER).verdict;
        assert_eq!(server == Verdict::Block, edition == OsEdition::Server);
    }
}

/// A profile folder for `rid` with a hive file: Wine's own format (saved from a key) or, with
/// `corrupt`, bytes no hive loader reads.
fn profile_folder(rid: u32, corrupt: bool) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("rehome-ready-profile-{}", rid));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("NTUSER.DAT");
    if corrupt {
        std::fs::write(&file, b"this is not a registry hive").unwrap();
    } else {
        let source = format!("HKLM\\SOFTWARE\\rehome-tests\\ready-hive-{}", rid);
        let name = KeyName::parse(&source).unwrap();
        let key = registry::create(&name, registry::WRITE).unwrap();
        key.set_value("Kept", &RegValue::Dword(1)).unwrap();
        key.save(&file.to_string_lossy()).unwrap();
        drop(key);
        registry::delete_tree(&name).unwrap();
    }
    folder
}

struct Profile {
    entries: Vec<String>,
}

impl Drop for Profile {
    fn drop(&mut self) {
        for entry in &self.entries {
            let _ = registry::delete_tree(&KeyName::parse(entry).unwrap());
        }
    }
}

/// A ProfileList entry `<SID><suffix>` for `rid` with `values`.
fn entry(rid: u32, suffix: &str, folder: &PathBuf, values: &[(&str, RegValue)]) -> String {
    let sid = format!("S-1-5-21-3000000001-3000000002-3000000003-{}", rid);
    let key = format!("{}\\{}{}", PROFILE_LIST, sid, suffix);
    let k = registry::create(&KeyName::parse(&key).unwrap(), registry::WRITE).unwrap();
    k.set_value(
        "ProfileImagePath",
        &RegValue::ExpandSz(folder.to_string_lossy().into_owned()),
    )
    .unwrap();
    for (name, value) in values {
        k.set_value(name, value).unwrap();
    }
    key
}

#[test]
fn profile_list_conditions_give_each_profile_its_verdict() {
    let (temp, bak, roaming, corrupt, plain) = (4101, 4102, 4103, 4104, 4105);
    // Enables the backup and restore privileges saving a hive needs.
    let ws = WindowsWorkstation::open();
    let mut profile = Profile {
        entries: Vec::new(),
    };
    let folder = profile_folder(temp, false);
    profile.entries.push(entry(
        temp,
        "",
        &folder,
        &[("State", RegValue::Dword(PROFILE_STATE_TEMPORARY))],
    ));
    let folder = profile_folder(bak, false);
    profile.entries.push(entry(bak, "", &folder, &[]));
    profile.entries.push(entry(bak, ".bak", &folder, &[]));
    let folder = profile_folder(roaming, false);
    profile.entries.push(entry(
        roaming,
        "",
        &folder,
        &[(
            "CentralProfile",
            RegValue::Sz("\\\\files.contoso.test\\profiles$\\carol.V6".into()),
        )],
    ));
    let folder = profile_folder(corrupt, true);
    profile.entries.push(entry(corrupt, "", &folder, &[]));
    let folder = profile_folder(plain, false);
    // Last used 2026-01-15 (FILETIME 134129088000000000).
    let last_used: u64 = 134_129_088_000_000_000;
    profile.entries.push(entry(
        plain,
        "",
        &folder,
        &[
            (
                "LocalProfileLoadTimeHigh",
                RegValue::Dword((last_used >> 32) as u32),
            ),
            ("LocalProfileLoadTimeLow", RegValue::Dword(last_used as u32)),
        ],
    ));

    let conditions = ws.profile_conditions().unwrap();
    let of = |rid: u32| {
        let sid: Sid = format!("S-1-5-21-3000000001-3000000002-3000000003-{}", rid)
            .parse()
            .unwrap();
        conditions
            .iter()
            .find(|c| c.sid == sid)
            .unwrap_or_else(|| panic!("{} not listed", rid))
            .clone()
    };
    assert_eq!(of(temp).state, PROFILE_STATE_TEMPORARY);
    assert!(of(bak).bak_entry && !of(temp).bak_entry);
    assert_eq!(
        of(roaming).central_profile.as_deref(),
        Some("\\\\files.contoso.test\\profiles$\\carol.V6")
    );
    assert!(!of(corrupt).hive_readable);
    assert!(of(plain).hive_readable);
    assert_eq!(
        of(plain).last_used,
        Some(Utc.with_ymd_and_hms(2026, 1, 15, 0, 0, 0).unwrap())
    );
    // The test's SIDs name no account.
    assert_eq!(of(plain).account, None);
    // The hive was loaded to be checked and unloaded again.
    assert!(registry::open(
        &KeyName::parse(&format!(
            "HKU\\rehome-readiness-S-1-5-21-3000000001-3000000002-3000000003-{}",
            plain
        ))
        .unwrap(),
        registry::READ
    )
    .unwrap()
    .is_none());

    // The verdicts as the server sees them.
    let results = take();
    let check = |rid: u32| {
        result(
            &results,
            &checks::profile(&format!(
                "S-1-5-21-3000000001-3000000002-3000000003-{}",
                rid
            )),
        )
        .clone()
    };
    let r = check(temp);
    assert_eq!(r.verdict, Verdict::Block);
    assert!(r.reason.contains("temporary profile"), "{}", r.reason);
    let r = check(bak);
    assert_eq!(r.verdict, Verdict::Block);
    assert!(r.reason.contains(".bak"), "{}", r.reason);
    let r = check(roaming);
    assert_eq!(r.verdict, Verdict::Warn);
    assert!(r.reason.contains("roaming profile"), "{}", r.reason);
    let r = check(corrupt);
    assert_eq!(r.verdict, Verdict::Block);
    assert!(r.reason.contains("cannot be read"), "{}", r.reason);
    let r = check(plain);
    assert!(!r.reason.contains("temporary") && !r.reason.contains("cannot be read"));
    assert!(r.value.contains("last used 2026-01-15"), "{}", r.value);
    if under_wine() {
        // Who else runs as the user is not known under Wine, and the reason says why.
        assert!(
            r.reason.contains("WTSEnumerateProcessesExW"),
            "{}",
            r.reason
        );
    }
}

#[test]
fn pending_reboot_markers_are_read() {
    let marker =
        "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update\\RebootRequired";
    let name = KeyName::parse(marker).unwrap();
    registry::create(&name, registry::WRITE).unwrap();
    let why = readiness::pending_reboot().unwrap();
    registry::delete_tree(&name).unwrap();
    assert!(
        why.as_deref()
            .map_or(false, |w| w.contains("Windows Update")),
        "{:?}",
        why
    );
    let after = readiness::pending_reboot().unwrap();
    assert!(
        !after.as_deref().unwrap_or("").contains("Windows Update"),
        "{:?}",
        after
    );
}

#[test]
fn a_configmgr_client_and_an_mdm_enrolment_are_found_and_no_edr_agent_passes_isolation() {
    let enrollment =
        "HKLM\\SOFTWARE\\Microsoft\\Enrollments\\{5A1B0E8E-0000-4000-8000-00000000E2E0}";
    let name = KeyName::parse(enrollment).unwrap();
    let k = registry::create(&name, registry::WRITE).unwrap();
    k.set_value("ProviderID", &RegValue::Sz("MS DM Server".into()))
        .unwrap();
    k.set_value("UPN", &RegValue::Sz("alice@contoso.test".into()))
        .unwrap();
    k.set_value("EnrollmentState", &RegValue::Dword(1)).unwrap();
    drop(k);
    let found = {
        let _ccm = TestService::create("CcmExec");
        readiness::interfering_software()
    };
    registry::delete_tree(&name).unwrap();
    let found = found.unwrap();
    assert!(
        found
            .iter()
            .any(|f| f.kind == InterferenceKind::ConfigMgr && f.name.starts_with("CcmExec")),
        "{:?}",
        found
    );
    assert!(
        found
            .iter()
            .any(|f| f.kind == InterferenceKind::Mdm
                && f.name == "MS DM Server (alice@contoso.test)"),
        "{:?}",
        found
    );
    // Gone again: nothing of either kind.
    let after = readiness::interfering_software().unwrap();
    assert!(!after
        .iter()
        .any(|f| f.kind == InterferenceKind::ConfigMgr || f.name.contains("alice@contoso.test")));
    let results = take();
    if under_wine() {
        // No EDR agent in Wine's prefix: nothing can have isolated the device.
        let edr = result(&results, checks::EDR_ISOLATION);
        assert_eq!(edr.verdict, Verdict::Pass, "{}", edr.reason);
    }
}

#[test]
fn the_system_volume_has_its_space_and_wmi_answers_what_wine_has() {
    let volume = readiness::system_volume().unwrap();
    assert!(volume.total_bytes > 0 && volume.free_bytes <= volume.total_bytes);
    // The WMI route itself works: root\cimv2 answers a query.
    let os = wmi::connect("root\\cimv2")
        .unwrap()
        .query("SELECT Caption FROM Win32_OperatingSystem", &["Caption"])
        .unwrap();
    assert!(
        os.first()
            .and_then(|row| row[0].text())
            .map_or(false, |c| c.contains("Windows")),
        "{:?}",
        os
    );
    let results = take();
    assert_ne!(
        result(&results, checks::FREE_SPACE).verdict,
        Verdict::Unknown
    );
    if under_wine() {
        // Wine has none of the Storage, BitLocker and TPM namespaces: each check is Unknown and
        // names the namespace it could not read.
        let unread = volume.health_unread.expect("Wine has no disk health");
        assert!(unread.contains(readiness::STORAGE_NAMESPACE), "{}", unread);
        for (check, namespace) in [
            (checks::DISK_HEALTH, readiness::STORAGE_NAMESPACE),
            (checks::BITLOCKER, readiness::BITLOCKER_NAMESPACE),
            (checks::RECOVERY_KEY, readiness::BITLOCKER_NAMESPACE),
            (checks::TPM, readiness::TPM_NAMESPACE),
        ] {
            let r = result(&results, check);
            assert_eq!(r.verdict, Verdict::Unknown, "{}", check);
            assert!(r.reason.contains(namespace), "{}: {}", check, r.reason);
        }
    }
}

#[test]
fn the_power_source_is_read() {
    // The machines these tests run on have no battery.
    assert_eq!(readiness::on_battery().unwrap(), None);
    assert_eq!(result(&take(), checks::BATTERY).verdict, Verdict::Pass);
}

#[test]
fn an_endpoint_that_answers_is_reachable_and_a_closed_port_is_not() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 2048];
        let _ = stream.read(&mut buf);
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
    });
    assert!(readiness::endpoint_reachable(&format!("http://127.0.0.1:{}/probe", port)).unwrap());
    server.join().unwrap();
    // A port nobody listens on any more.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    assert!(!readiness::endpoint_reachable(&format!("http://127.0.0.1:{}/", closed_port)).unwrap());
}

#[test]
fn scheduled_tasks_principals_are_read_from_their_definitions() {
    // The device's own tasks are read; the test's are written to a folder of its own.
    WindowsWorkstation::open().task_principals().unwrap();
    let root = std::env::temp_dir().join("rehome-ready-tasks");
    let folder = root.join("rehome-tests");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&folder).unwrap();
    let user = "S-1-5-21-1004336348-1177238915-682003330-1001";
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\r\n  <Principals>\r\n    <Principal id=\"Author\">\r\n      <UserId>{}</UserId>\r\n      <LogonType>Password</LogonType>\r\n    </Principal>\r\n  </Principals>\r\n</Task>\r\n",
        user
    );
    // UTF-16 with a byte-order mark, as the Task Scheduler writes them.
    let mut bytes = vec![0xFF, 0xFE];
    for unit in xml.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    std::fs::write(folder.join("Nightly backup"), &bytes).unwrap();
    std::fs::write(
        folder.join("As system"),
        "<Task><Principals><Principal id=\"Author\"><UserId>S-1-5-18</UserId></Principal></Principals></Task>",
    )
    .unwrap();
    let tasks = readiness::tasks_under(&root);
    std::fs::remove_dir_all(&root).unwrap();
    let tasks = tasks.unwrap();
    let find = |name: &str| {
        tasks
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{} not in {:?}", name, tasks))
            .1
            .clone()
    };
    let nightly = find("\\rehome-tests\\Nightly backup");
    assert_eq!(nightly.account, user.parse::<Sid>().unwrap());
    assert_eq!(nightly.logon, agent::workstation::TaskLogon::Password);
    let system = find("\\rehome-tests\\As system");
    assert_eq!(system.logon, agent::workstation::TaskLogon::ServiceAccount);
}
