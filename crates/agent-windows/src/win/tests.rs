//! The Win32 primitives on a real Windows API: run under Wine by scripts/test-windows and on a
//! Windows runner by .github/workflows/windows.yml. Each test works under keys of its own, so the
//! tests run in parallel.

use agent::permissions::translate_object;
use agent::{RegValue, Workstation};
use model::runbook::Area;
use model::status::EventLevel;
use secdesc::translate::{SidMap, TranslateMode, TranslateOptions};
use secdesc::{SecurityDescriptor, Sid};

use super::registry;
use super::security;
use super::under_wine;
use super::workstation::WindowsWorkstation;
use crate::keys::KeyName;

const SOURCE_USER: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";
const TARGET_USER: &str = "S-1-5-21-2000000001-2000000002-2000000003-5001";

fn sid(s: &str) -> Sid {
    s.parse().unwrap()
}

fn map() -> SidMap {
    let mut map = SidMap::new();
    map.insert(sid(SOURCE_USER), sid(TARGET_USER));
    map
}

/// A fresh key under `HKLM\SOFTWARE\rehome-tests\<name>`.
fn fresh(name: &str) -> String {
    let key = format!("HKLM\\SOFTWARE\\rehome-tests\\{}", name);
    registry::delete_tree(&KeyName::parse(&key).unwrap()).unwrap();
    key
}

#[test]
fn registry_values_round_trip_with_their_types() {
    let mut ws = WindowsWorkstation::open();
    let key = fresh("values");
    let values = [
        ("Sz", RegValue::Sz("Fabrikam – Zürich".to_string())),
        (
            "Expand",
            RegValue::ExpandSz("%SystemRoot%\\rehome".to_string()),
        ),
        (
            "Multi",
            RegValue::MultiSz(vec!["one".to_string(), "two".to_string()]),
        ),
        ("Dword", RegValue::Dword(0xDEAD_BEEF)),
        ("Binary", RegValue::Binary(vec![0, 1, 2, 254, 255])),
    ];
    for (name, value) in &values {
        assert!(ws.set_registry_value(&key, name, value).unwrap());
        // Idempotent: the same write again changes nothing.
        assert!(!ws.set_registry_value(&key, name, value).unwrap());
    }
    for (name, value) in &values {
        assert_eq!(ws.registry_value(&key, name).unwrap().as_ref(), Some(value));
        // Names compare case-insensitively, as on Windows.
        let upper = name.to_uppercase();
        assert_eq!(
            ws.registry_value(&key, &upper).unwrap().as_ref(),
            Some(value)
        );
    }
    let mut names = ws.registry_value_names(&key).unwrap();
    names.sort();
    assert_eq!(names, vec!["Binary", "Dword", "Expand", "Multi", "Sz"]);

    ws.set_registry_value(
        &format!("{}\\Child\\Grandchild", key),
        "x",
        &RegValue::Dword(1),
    )
    .unwrap();
    assert_eq!(
        ws.registry_subkeys(&key).unwrap(),
        vec!["Child".to_string()]
    );

    assert!(ws.delete_registry_value(&key, "Dword").unwrap());
    assert!(!ws.delete_registry_value(&key, "Dword").unwrap());
    assert_eq!(ws.registry_value(&key, "Dword").unwrap(), None);

    assert!(ws.delete_registry_key(&key).unwrap());
    assert!(!ws.delete_registry_key(&key).unwrap());
    assert_eq!(ws.registry_value(&key, "Sz").unwrap(), None);
    assert!(ws.registry_subkeys(&key).unwrap().is_empty());
}

#[test]
fn a_registry_keys_descriptor_is_translated_and_reads_back_translated() {
    let mut ws = WindowsWorkstation::open();
    let key = fresh("descriptor");
    ws.set_registry_value(&key, "v", &RegValue::Dword(1))
        .unwrap();
    let sddl = format!(
        "O:BAG:SYD:P(A;;KA;;;SY)(A;;KA;;;BA)(A;;KR;;;{})",
        SOURCE_USER
    );
    let initial = security::sddl_to_descriptor(&sddl).unwrap();
    let handle = registry::open(&KeyName::parse(&key).unwrap(), registry::WRITE_DAC)
        .unwrap()
        .unwrap();
    handle
        .set_security(
            windows_sys::Win32::Security::DACL_SECURITY_INFORMATION,
            &initial,
        )
        .unwrap();
    drop(handle);

    let options = TranslateOptions {
        mode: TranslateMode::Replace,
        owner_and_group: true,
    };
    let changes = translate_object(&mut ws, Area::Registry, &key, &map(), &options).unwrap();
    assert_eq!(changes, 1);

    let after = ws.read_descriptor(Area::Registry, &key).unwrap();
    let text = security::descriptor_to_sddl(&after).unwrap();
    assert!(text.contains(TARGET_USER), "{}", text);
    assert!(!text.contains(SOURCE_USER), "{}", text);
    let parsed = SecurityDescriptor::from_bytes(&after).unwrap();
    assert!(parsed.sids().any(|s| *s == sid(TARGET_USER)));
    // A second pass finds nothing left to do.
    assert_eq!(
        translate_object(&mut ws, Area::Registry, &key, &map(), &options).unwrap(),
        0
    );
    ws.delete_registry_key(&key).unwrap();
}

#[test]
fn an_unloaded_users_hive_is_loaded_read_and_re_permissioned() {
    let hive_sid = "S-1-5-21-1004336348-1177238915-682003330-1002";
    let profile = std::env::temp_dir().join("rehome-tests-profile-1002");
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();

    // A hive file as Windows (or Wine) writes one: build the keys, save them, delete them.
    let mut ws = WindowsWorkstation::open();
    let source = fresh("hive-source");
    ws.set_registry_value(
        &format!("{}\\Software\\Contoso", source),
        "Server",
        &RegValue::Sz("files.contoso.test".to_string()),
    )
    .unwrap();
    let file = profile.join("NTUSER.DAT");
    registry::open(&KeyName::parse(&source).unwrap(), registry::READ)
        .unwrap()
        .unwrap()
        .save(&file.to_string_lossy())
        .unwrap();
    ws.delete_registry_key(&source).unwrap();

    let entry = format!(
        "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\{}",
        hive_sid
    );
    ws.set_registry_value(
        &entry,
        "ProfileImagePath",
        &RegValue::ExpandSz(profile.to_string_lossy().into_owned()),
    )
    .unwrap();
    let in_hive = format!("HKU\\{}\\Software\\Contoso", hive_sid);
    assert!(registry::open(
        &KeyName::parse(&format!("HKU\\{}", hive_sid)).unwrap(),
        registry::READ
    )
    .unwrap()
    .is_none());

    // Reading a key of the hive loads it.
    assert_eq!(
        ws.registry_value(&in_hive, "Server").unwrap(),
        Some(RegValue::Sz("files.contoso.test".to_string()))
    );
    assert!(ws.list_sids().unwrap().contains(&sid(hive_sid)));
    let profiles = ws.harvest_profiles().unwrap();
    assert!(profiles
        .iter()
        .any(|p| p.sid == sid(hive_sid) && p.path == profile.to_string_lossy()));

    // Wine's hive files keep no key descriptors: give the key in the loaded hive one that names
    // the source user, through the workstation.
    let sddl = format!("D:(A;;KA;;;SY)(A;;KA;;;BA)(A;;KA;;;{})", SOURCE_USER);
    ws.write_descriptor(
        Area::Registry,
        &in_hive,
        &security::sddl_to_descriptor(&sddl).unwrap(),
        agent::SecurityParts {
            dacl: true,
            ..Default::default()
        },
    )
    .unwrap();
    // The Registry area reaches the hive's keys and re-permissions them.
    let objects = ws.securable_objects(Area::Registry).unwrap();
    assert!(
        objects.iter().any(|o| o.eq_ignore_ascii_case(&in_hive)),
        "{:?}",
        objects.len()
    );
    let changes = translate_object(
        &mut ws,
        Area::Registry,
        &in_hive,
        &map(),
        &TranslateOptions {
            mode: TranslateMode::Add,
            owner_and_group: false,
        },
    )
    .unwrap();
    assert_eq!(changes, 1);
    let text = security::descriptor_to_sddl(&ws.read_descriptor(Area::Registry, &in_hive).unwrap())
        .unwrap();
    // Add mode: the source stays, the target is beside it.
    assert!(
        text.contains(SOURCE_USER) && text.contains(TARGET_USER),
        "{}",
        text
    );

    ws.delete_registry_key(&entry).unwrap();
    drop(ws);
    // Dropping the workstation unloaded the hive it loaded.
    assert!(registry::open(
        &KeyName::parse(&format!("HKU\\{}", hive_sid)).unwrap(),
        registry::READ
    )
    .unwrap()
    .is_none());
}

#[test]
fn windows_and_secdesc_read_sddl_to_the_same_bytes() {
    let cases = [
        "O:BAG:SYD:P(A;;KA;;;SY)(A;;KA;;;BA)(A;;KR;;;BU)",
        "O:S-1-5-21-1-2-3-1001G:BUD:AI(A;OICIID;FA;;;S-1-5-21-1-2-3-1001)(D;;WD;;;WD)",
        "D:PAI(A;OICI;0x1200a9;;;AU)(A;CIIO;GA;;;CO)",
        "O:SYG:SYD:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;RPWPCR;;;AU)",
    ];
    for sddl in cases {
        let windows = security::sddl_to_descriptor(sddl).unwrap();
        let ours = SecurityDescriptor::from_sddl(sddl, None)
            .unwrap()
            .to_bytes();
        assert_eq!(
            SecurityDescriptor::from_bytes(&windows).unwrap(),
            SecurityDescriptor::from_bytes(&ours).unwrap(),
            "{}",
            sddl
        );
    }
    assert!(security::sddl_to_descriptor("D:(A;;XX;;;ZZ)").is_err());
}

#[test]
fn account_names_and_sids_look_each_other_up() {
    assert_eq!(
        security::lookup_account_name("Administrators").unwrap(),
        sid("S-1-5-32-544")
    );
    assert_eq!(
        security::lookup_account_name("BUILTIN\\Users").unwrap(),
        sid("S-1-5-32-545")
    );
    let name = security::lookup_sid(&sid("S-1-5-32-544")).unwrap();
    assert!(name.ends_with("\\Administrators"), "{}", name);
    assert!(security::lookup_account_name("no-such-account-rehome").is_err());
}

#[test]
fn events_go_to_the_registered_source() {
    let exe = super::system::own_exe().unwrap();
    super::eventlog::register_source(&exe).unwrap();
    let mut ws = WindowsWorkstation::open();
    ws.write_event_log(EventLevel::Info, "rehome test: an information event")
        .unwrap();
    ws.write_event_log(EventLevel::Error, "rehome test: an error event")
        .unwrap();
    assert_eq!(
        ws.registry_value(
            "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\rehome",
            "EventMessageFile"
        )
        .unwrap(),
        Some(RegValue::ExpandSz(exe))
    );
}

#[test]
fn facts_name_the_device_as_windows_does() {
    let ws = WindowsWorkstation::open();
    let facts = ws.facts().unwrap();
    assert_eq!(facts.computer_name, super::system::computer_name().unwrap());
    assert!(!facts.computer_name.is_empty());
    assert_eq!(facts.join_state, model::plan::JoinState::Workgroup);
    assert!(!facts.os_version.is_empty());
}

/// Held by the tests that use the agent's work keys (`HKLM\SOFTWARE\rehome\Agent`) and the
/// legal notice, which are the device's own.
pub(super) static WORK_KEYS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_legal_notice_is_kept_shown_and_put_back() {
    let _keys = WORK_KEYS.lock().unwrap_or_else(|e| e.into_inner());
    let mut ws = WindowsWorkstation::open();
    // A copy an earlier run kept would be taken for the original.
    ws.delete_registry_key(super::workstation::BACKUP_KEY)
        .unwrap();
    ws.write_legal_notice("Contoso", "Authorised use only")
        .unwrap();
    assert!(ws.backup_legal_notice().unwrap().changes > 0);
    // A re-run keeps the original, not the migration notice.
    assert_eq!(ws.backup_legal_notice().unwrap().changes, 0);
    let policies = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System";
    assert_eq!(
        ws.registry_value(policies, "legalnoticecaption").unwrap(),
        Some(RegValue::Sz("Migration in progress".to_string()))
    );
    assert!(ws.restore_legal_notice().unwrap().changes > 0);
    assert_eq!(
        ws.registry_value(policies, "legalnoticetext").unwrap(),
        Some(RegValue::Sz("Authorised use only".to_string()))
    );
    assert_eq!(ws.restore_legal_notice().unwrap().changes, 0);
}

#[test]
fn what_the_agent_cannot_do_fails_and_names_the_primitive() {
    let mut ws = WindowsWorkstation::open();
    let cases: Vec<(&str, agent::Result<()>)> = vec![
        ("BitLocker", ws.suspend_bitlocker().map(|_| ())),
        ("NetJoinDomain", {
            let join = agent::workstation::AdJoin {
                account: "FABRIKAM\\joiner",
                password: "secret",
                ou: "",
                reuse_existing: false,
            };
            ws.join_active_directory("fabrikam.test", &join).map(|_| ())
        }),
        (
            "NetRequestOfflineDomainJoin",
            ws.join_active_directory_offline("fabrikam.test", b"not a blob")
                .map(|_| ()),
        ),
        ("sql", ws.securable_objects(Area::Sql).map(|_| ())),
    ];
    for (primitive, result) in cases {
        let message = result.unwrap_err().to_string();
        assert!(message.contains(primitive), "{}: {}", primitive, message);
        assert!(!message.contains("secret"));
    }
}

#[test]
fn a_files_descriptor_is_read_and_a_missing_file_is_not_found() {
    let ws = WindowsWorkstation::open();
    let dir = std::env::temp_dir().join("rehome-tests-file-descriptor");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a.txt");
    std::fs::write(&file, b"x").unwrap();
    let bytes = ws
        .read_descriptor(Area::FileSystem, &file.to_string_lossy())
        .unwrap();
    let sd = SecurityDescriptor::from_bytes(&bytes).unwrap();
    assert!(sd.sids().next().is_some());
    let missing = dir.join("missing.txt");
    assert!(matches!(
        ws.read_descriptor(Area::FileSystem, &missing.to_string_lossy()),
        Err(agent::Error::NotFound(_))
    ));
}

/// A service of its own for a test, removed when dropped.
pub(super) struct TestService(pub(super) String);

impl TestService {
    pub(super) fn create(name: &str) -> TestService {
        use windows_sys::Win32::System::Services::*;
        let scm = super::service::manager().unwrap();
        let (wname, command) = (
            super::wide(name),
            super::wide("C:\\windows\\system32\\cmd.exe"),
        );
        let h = unsafe {
            CreateServiceW(
                scm.0,
                wname.as_ptr(),
                wname.as_ptr(),
                SERVICE_ALL_ACCESS,
                SERVICE_WIN32_OWN_PROCESS,
                SERVICE_DEMAND_START,
                SERVICE_ERROR_NORMAL,
                command.as_ptr(),
                std::ptr::null(),
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert!(!h.is_null(), "CreateServiceW {}", name);
        drop(super::service::Handle(h));
        TestService(name.to_string())
    }
}

impl Drop for TestService {
    fn drop(&mut self) {
        use windows_sys::Win32::System::Services::*;
        let scm = super::service::manager().unwrap();
        let name = super::wide(&self.0);
        let h = unsafe { OpenServiceW(scm.0, name.as_ptr(), SERVICE_ALL_ACCESS) };
        if !h.is_null() {
            unsafe { DeleteService(h) };
            drop(super::service::Handle(h));
        }
    }
}

#[test]
fn a_services_account_is_listed_changed_and_read_back() {
    let service = TestService::create("RehomeTestAccount");
    let mut ws = WindowsWorkstation::open();
    let listed = ws.service_accounts().unwrap();
    let (_, account) = listed
        .iter()
        .find(|(name, _)| name == &service.0)
        .expect("the test service is listed");
    assert_eq!(
        account,
        &sid("S-1-5-18"),
        "a new service runs as LocalSystem"
    );

    let local_service = sid("S-1-5-19");
    assert!(ws.set_service_account(&service.0, &local_service).unwrap());
    assert!(!ws.set_service_account(&service.0, &local_service).unwrap());
    assert_eq!(
        super::services::account(&service.0).unwrap().as_deref(),
        Some("NT AUTHORITY\\LocalService")
    );
    let again = ws.service_accounts().unwrap();
    assert!(again.contains(&(service.0.clone(), local_service)));
    assert!(matches!(
        ws.set_service_account("RehomeNoSuchService", &sid("S-1-5-20")),
        Err(agent::Error::NotFound(_))
    ));
}

#[test]
fn a_user_right_is_granted_read_and_revoked_or_the_lsa_call_is_named() {
    let mut ws = WindowsWorkstation::open();
    let guests = sid("S-1-5-32-546");
    let right = "SeDenyBatchLogonRight";
    match ws.grant_user_right(right, &guests) {
        Ok(granted) => {
            assert!(granted);
            assert!(ws.user_right_holders(right).unwrap().contains(&guests));
            assert!(ws.user_rights().unwrap().iter().any(|r| r == right));
            assert!(!ws.grant_user_right(right, &guests).unwrap());
            assert!(ws.revoke_user_right(right, &guests).unwrap());
            assert!(!ws.user_right_holders(right).unwrap().contains(&guests));
        }
        // Wine's LSA keeps no rights: the step fails and names the call, never reports done.
        Err(e) => {
            assert!(under_wine(), "LSA failed on Windows: {}", e);
            assert!(e.to_string().contains("LsaAddAccountRights"), "{}", e);
        }
    }
}

#[test]
fn a_local_administrator_is_created_found_and_deleted_or_the_call_is_named() {
    let mut ws = WindowsWorkstation::open();
    let name = "rehome-test-admin";
    let password = "Rehome-Test-Secret-1!";
    assert!(!ws.local_user_exists("rehome-no-such-user").unwrap());
    let _ = super::accounts::delete(&super::sys::Win32, name);
    match ws.create_local_administrator(name, password) {
        Ok(created) => {
            assert!(created);
            assert!(ws.local_user_exists(name).unwrap());
            assert!(!ws.create_local_administrator(name, password).unwrap());
            assert!(ws.delete_local_user(name).unwrap());
            assert!(!ws.local_user_exists(name).unwrap());
            assert!(!ws.delete_local_user(name).unwrap());
        }
        // Wine's NetUserAdd keeps no account: the step fails and names the call.
        Err(e) => {
            let message = e.to_string();
            assert!(under_wine(), "NetUserAdd failed on Windows: {}", message);
            assert!(message.contains("NetUserAdd"), "{}", message);
            assert!(!message.contains(password));
        }
    }
}
