//! The primitives over files, services, shares, local groups, ProfileList and user hives, on a
//! real Windows API. Each writes, then checks by reading back; where Wine keeps nothing (file and
//! service descriptors, local group members) or lacks the call (`NetShareSetInfo`), the test
//! expects the primitive to fail naming the call, as the step then does, and only under Wine.

use agent::permissions::translate_object;
use agent::{RegValue, SecurityParts, Workstation};
use model::runbook::Area;
use secdesc::translate::{SidMap, TranslateMode, TranslateOptions};
use secdesc::Sid;

use super::tests::TestService;
use super::workstation::WindowsWorkstation;
use super::{files, registry, security, under_wine};
use crate::keys::KeyName;

const SOURCE_USER: &str = "S-1-5-21-1004336348-1177238915-682003330-1101";
const TARGET_USER: &str = "S-1-5-21-2000000001-2000000002-2000000003-5101";

fn sid(s: &str) -> Sid {
    s.parse().unwrap()
}

fn map() -> SidMap {
    let mut map = SidMap::new();
    map.insert(sid(SOURCE_USER), sid(TARGET_USER));
    map
}

fn replace() -> TranslateOptions {
    TranslateOptions {
        mode: TranslateMode::Replace,
        owner_and_group: true,
    }
}

fn dacl_only() -> SecurityParts {
    SecurityParts {
        dacl: true,
        ..Default::default()
    }
}

/// A fresh folder under the temporary folder.
fn folder(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Asserts `result` failed under Wine naming `call`; on Windows it is a failure of the test.
fn wine_refused<T: std::fmt::Debug>(result: agent::Result<T>, call: &str) {
    let e = result.unwrap_err();
    assert!(under_wine(), "{} failed on Windows: {}", call, e);
    assert!(e.to_string().contains(call), "{}: {}", call, e);
}

#[test]
fn a_profile_folder_tree_is_walked_and_re_permissioned_or_setnamedsecurityinfo_is_named() {
    let root = folder("rehome-tests-profile-tree");
    std::fs::create_dir_all(root.join("Documents\\Projects")).unwrap();
    std::fs::write(root.join("NTUSER.DAT"), b"hive").unwrap();
    std::fs::write(root.join("Documents\\a.txt"), b"a").unwrap();
    std::fs::write(root.join("Documents\\Projects\\b.txt"), b"b").unwrap();

    let mut objects = Vec::new();
    files::walk(&root, &mut objects).unwrap();
    let names: Vec<String> = objects
        .iter()
        .map(|o| o[root.to_string_lossy().len()..].to_string())
        .collect();
    assert_eq!(
        names,
        vec![
            "",
            "\\Documents",
            "\\Documents\\a.txt",
            "\\Documents\\Projects",
            "\\Documents\\Projects\\b.txt",
            "\\NTUSER.DAT",
        ]
    );

    let mut ws = WindowsWorkstation::open();
    let sddl = format!(
        "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;{})",
        SOURCE_USER
    );
    let initial = security::sddl_to_descriptor(&sddl).unwrap();
    let top = objects[0].clone();
    match ws.write_descriptor(Area::FileSystem, &top, &initial, dacl_only()) {
        Ok(()) => {
            // Windows passed the inheritable ACEs down the tree: every object names the source,
            // and after the pass none does.
            let mut changes = 0;
            for object in &objects {
                changes += translate_object(&mut ws, Area::FileSystem, object, &map(), &replace())
                    .unwrap();
            }
            assert!(changes > 0);
            for object in &objects {
                let text = security::descriptor_to_sddl(
                    &ws.read_descriptor(Area::FileSystem, object).unwrap(),
                )
                .unwrap();
                assert!(text.contains(TARGET_USER), "{}: {}", object, text);
                assert!(!text.contains(SOURCE_USER), "{}: {}", object, text);
            }
        }
        // Wine derives a file's DACL from its Unix mode: the write reports success and the read
        // back shows it was not kept.
        Err(e) => {
            assert!(
                under_wine(),
                "SetNamedSecurityInfoW failed on Windows: {}",
                e
            );
            let message = e.to_string();
            assert!(message.contains("SetNamedSecurityInfoW"), "{}", message);
            assert!(message.contains("does not keep"), "{}", message);
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_services_descriptor_is_read_written_and_read_back_or_the_call_is_named() {
    let service = TestService::create("RehomeTestDescriptor");
    let mut ws = WindowsWorkstation::open();
    assert!(ws
        .securable_objects(Area::Services)
        .unwrap()
        .contains(&service.0));
    // Readable everywhere (Wine answers an empty DACL).
    ws.read_descriptor(Area::Services, &service.0).unwrap();
    let sddl = format!(
        "D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)(A;;RPWP;;;{})",
        SOURCE_USER
    );
    let sd = security::sddl_to_descriptor(&sddl).unwrap();
    match ws.write_descriptor(Area::Services, &service.0, &sd, dacl_only()) {
        Ok(()) => {
            let n =
                translate_object(&mut ws, Area::Services, &service.0, &map(), &replace()).unwrap();
            assert_eq!(n, 1);
            let text = security::descriptor_to_sddl(
                &ws.read_descriptor(Area::Services, &service.0).unwrap(),
            )
            .unwrap();
            assert!(
                text.contains(TARGET_USER) && !text.contains(SOURCE_USER),
                "{}",
                text
            );
        }
        Err(e) => wine_refused::<()>(Err(e), "SetServiceObjectSecurity"),
    }
    assert!(matches!(
        ws.read_descriptor(Area::Services, "RehomeNoSuchService"),
        Err(agent::Error::NotFound(_))
    ));
}

#[test]
fn shares_are_listed_and_their_descriptors_written_or_the_call_is_named() {
    let mut ws = WindowsWorkstation::open();
    match ws.securable_objects(Area::FileShares) {
        Ok(shares) => {
            // The administrative shares are Windows' own.
            assert!(!shares.iter().any(|s| s.ends_with('$')), "{:?}", shares);
        }
        Err(e) => wine_refused::<()>(Err(e), "NetShareEnum"),
    }
    if under_wine() {
        // Wine's NetShareSetInfo would abort the agent: refused before the call, by name.
        let sd = security::sddl_to_descriptor("D:(A;;FA;;;WD)").unwrap();
        wine_refused(
            ws.write_descriptor(Area::FileShares, "data", &sd, dacl_only()),
            "NetShareSetInfo",
        );
    }
    assert!(matches!(
        ws.read_descriptor(Area::FileShares, "rehome-no-such-share"),
        Err(agent::Error::NotFound(_))
    ));
}

#[test]
fn a_local_group_member_is_added_read_back_and_removed_or_the_call_is_named() {
    let mut ws = WindowsWorkstation::open();
    match ws.local_group_members() {
        Ok(groups) => assert!(
            groups
                .keys()
                .any(|g| g.eq_ignore_ascii_case("Administrators")),
            "{:?}",
            groups.keys()
        ),
        // Wine lists no local groups at all.
        Err(e) => wine_refused::<()>(Err(e), "NetLocalGroupEnum"),
    }
    let network_service = sid("S-1-5-20");
    let _ = ws.remove_local_group_member("Guests", &network_service);
    match ws.add_local_group_member("Guests", &network_service) {
        Ok(added) => {
            assert!(added);
            assert!(!ws
                .add_local_group_member("Guests", &network_service)
                .unwrap());
            assert!(ws.local_group_members().unwrap()["Guests"].contains(&network_service));
            assert!(ws
                .remove_local_group_member("Guests", &network_service)
                .unwrap());
            assert!(!ws
                .remove_local_group_member("Guests", &network_service)
                .unwrap());
        }
        // Wine's NetLocalGroupAddMembers answers success and keeps nobody.
        Err(e) => wine_refused::<()>(Err(e), "NetLocalGroupAddMembers"),
    }
    // A group that is not there: not found on Windows; under Wine the read back fails it.
    let missing = ws.add_local_group_member("rehome-no-such-group", &network_service);
    assert!(
        matches!(missing, Err(agent::Error::NotFound(_))) || (under_wine() && missing.is_err()),
        "{:?}",
        missing
    );
}

#[test]
fn a_profile_list_entry_moves_to_the_target_sid() {
    let (source, target) = (
        sid("S-1-5-21-1004336348-1177238915-682003330-1201"),
        sid("S-1-5-21-2000000001-2000000002-2000000003-5201"),
    );
    let list = super::profiles::PROFILE_LIST;
    let mut ws = WindowsWorkstation::open();
    for s in [&source, &target] {
        ws.delete_registry_key(&format!("{}\\{}", list, s)).unwrap();
    }
    let from = format!("{}\\{}", list, source);
    let path = RegValue::ExpandSz("C:\\Users\\moved-user".to_string());
    ws.set_registry_value(&from, "ProfileImagePath", &path)
        .unwrap();
    ws.set_registry_value(&from, "Flags", &RegValue::Dword(0))
        .unwrap();

    assert!(ws.move_profile(&source, &target).unwrap());
    let to = format!("{}\\{}", list, target);
    assert_eq!(
        ws.registry_value(&to, "ProfileImagePath").unwrap(),
        Some(path)
    );
    assert_eq!(
        ws.registry_value(&to, "Flags").unwrap(),
        Some(RegValue::Dword(0))
    );
    assert_eq!(
        ws.registry_value(&to, "Sid").unwrap(),
        Some(RegValue::Binary(target.to_bytes()))
    );
    assert!(ws
        .registry_value(&from, "ProfileImagePath")
        .unwrap()
        .is_none());
    assert!(ws.list_sids().unwrap().contains(&target));
    // A re-run finds it done.
    assert!(!ws.move_profile(&source, &target).unwrap());
    // A target with a profile of its own is refused, nothing changed.
    ws.set_registry_value(&from, "ProfileImagePath", &RegValue::Sz("C:\\x".into()))
        .unwrap();
    let e = ws.move_profile(&source, &target).unwrap_err();
    assert!(e.to_string().contains("already has a profile"), "{}", e);
    assert!(ws
        .registry_value(&from, "ProfileImagePath")
        .unwrap()
        .is_some());
    for s in [&source, &target] {
        ws.delete_registry_key(&format!("{}\\{}", list, s)).unwrap();
    }
}

#[test]
fn a_users_hive_is_loaded_and_unloaded_explicitly() {
    let user = sid("S-1-5-21-1004336348-1177238915-682003330-1301");
    let dir = folder("rehome-tests-hive-1301");
    let file = dir.join("NTUSER.DAT");
    let mut ws = WindowsWorkstation::open();
    let source = "HKLM\\SOFTWARE\\rehome-tests\\hive-1301";
    ws.delete_registry_key(source).unwrap();
    ws.set_registry_value(
        &format!("{}\\Software\\Fabrikam", source),
        "Mail",
        &RegValue::Sz("mail.fabrikam.test".to_string()),
    )
    .unwrap();
    registry::open(&KeyName::parse(source).unwrap(), registry::READ)
        .unwrap()
        .unwrap()
        .save(&file.to_string_lossy())
        .unwrap();
    ws.delete_registry_key(source).unwrap();

    let hive = KeyName::parse(&format!("HKU\\{}", user)).unwrap();
    assert!(ws.load_user_hive(&user, &file.to_string_lossy()).unwrap());
    assert!(!ws.load_user_hive(&user, &file.to_string_lossy()).unwrap());
    assert_eq!(
        ws.registry_value(&format!("HKU\\{}\\Software\\Fabrikam", user), "Mail")
            .unwrap(),
        Some(RegValue::Sz("mail.fabrikam.test".to_string()))
    );
    assert!(ws.unload_user_hive(&user).unwrap());
    assert!(registry::open(&hive, registry::READ).unwrap().is_none());
    assert!(!ws.unload_user_hive(&user).unwrap());
    let e = ws
        .load_user_hive(&user, &dir.join("missing.dat").to_string_lossy())
        .unwrap_err();
    assert!(e.to_string().contains("RegLoadKeyW"), "{}", e);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_is_written_whole_read_back_and_replaced() {
    let dir = folder("rehome-tests-files");
    let path = dir.join("Edge\\User Data\\Local State");
    let path = path.to_string_lossy();
    let mut ws = WindowsWorkstation::open();
    assert_eq!(ws.read_file(&path).unwrap(), None);
    assert!(ws.write_file(&path, b"{\"a\":1}").unwrap());
    assert!(!ws.write_file(&path, b"{\"a\":1}").unwrap());
    assert_eq!(
        ws.read_file(&path).unwrap().as_deref(),
        Some(&b"{\"a\":1}"[..])
    );
    assert!(ws.write_file(&path, b"{}").unwrap());
    assert_eq!(ws.read_file(&path).unwrap().as_deref(), Some(&b"{}"[..]));
    // Nothing left beside it.
    let left: Vec<_> = std::fs::read_dir(dir.join("Edge\\User Data"))
        .unwrap()
        .collect();
    assert_eq!(left.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_computer_is_renamed_for_the_next_start_and_named_back() {
    let mut ws = WindowsWorkstation::open();
    let now = super::system::computer_name().unwrap();
    let original = super::system::pending_computer_name()
        .unwrap()
        .unwrap_or_else(|| now.clone());
    assert!(ws.rename_computer("REHOME-RENAMED").unwrap());
    assert!(!ws.rename_computer("rehome-renamed").unwrap());
    assert_eq!(
        super::system::pending_computer_name().unwrap().as_deref(),
        Some("REHOME-RENAMED")
    );
    assert!(ws.rename_computer(&original).unwrap());
    assert!(super::system::pending_computer_name()
        .unwrap()
        .map_or(true, |n| n.eq_ignore_ascii_case(&original)));
}

#[test]
fn a_remote_share_that_does_not_answer_fails_naming_the_call_and_not_the_password() {
    let mut ws = WindowsWorkstation::open();
    let unc = "\\\\127.0.0.1\\rehome-no-such-share";
    let e = ws
        .connect_share(unc, "CONTOSO\\reader", "Remote-Secret-1!")
        .unwrap_err()
        .to_string();
    assert!(e.contains("WNetAddConnection2W"), "{}", e);
    assert!(!e.contains("Remote-Secret-1!"), "{}", e);
    // Not connected: nothing to end.
    ws.disconnect_share(unc).unwrap();
}
