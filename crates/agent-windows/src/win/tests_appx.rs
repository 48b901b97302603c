//! AppX registrations kept and registered again for the translated SID through Active Setup,
//! Windows Hello containers removed, and OneDrive's dehydration, on a real Windows API. The AppX
//! store and Active Setup are registry, real under Wine; the Hello store is a folder (a copy of
//! its layout under the temporary folder, so a Windows runner's own containers stay); Wine has
//! no Cloud Files API, so dehydration fails naming it.

use agent::{RegValue, Workstation};
use secdesc::translate::SidMap;
use secdesc::Sid;

use super::workstation::{WindowsWorkstation, BACKUP_KEY};
use super::{appx, hello, registry, under_wine};
use crate::keys::KeyName;

const OLD: &str = "S-1-5-21-1004336348-1177238915-682003330-1201";
const NEW: &str = "S-1-5-21-2000000000-2000000001-2000000002-1201";
const PACKAGE: &str = "Contoso.Notes_1.2.3.0_x64__8wekyb3d8bbwe";
const LOST: &str = "Contoso.Gone_1.0.0.0_x64__8wekyb3d8bbwe";

fn sid(text: &str) -> Sid {
    text.parse().unwrap()
}

fn key(name: &str) -> KeyName {
    KeyName::parse(name).unwrap()
}

struct Keys(Vec<String>);

impl Drop for Keys {
    fn drop(&mut self) {
        for k in &self.0 {
            let _ = registry::delete_tree(&key(k));
        }
    }
}

#[test]
fn appx_packages_are_kept_and_registered_again_for_the_new_sid_at_sign_in() {
    let user_store = format!("{}\\{}", appx::ALL_USER_STORE, OLD);
    let repository = format!("{}\\{}", appx::REPOSITORY, PACKAGE);
    let _keys = Keys(vec![
        user_store.clone(),
        repository.clone(),
        appx::component(&sid(NEW), PACKAGE),
        appx::component(&sid(NEW), LOST),
    ]);
    registry::create(
        &key(&format!("{}\\{}", user_store, PACKAGE)),
        registry::WRITE,
    )
    .unwrap();
    registry::create(&key(&repository), registry::WRITE)
        .unwrap()
        .set_value(
            "PackageRootFolder",
            &RegValue::Sz(format!("C:\\Program Files\\WindowsApps\\{}", PACKAGE)),
        )
        .unwrap();
    let mut ws = WindowsWorkstation::open();
    let listed = ws.appx_packages().unwrap();
    assert_eq!(listed.get(&sid(OLD)), Some(&vec![PACKAGE.to_string()]));
    let kept = ws.backup_appx().unwrap();
    assert!(kept.changes > 0, "{}", kept.summary);
    // A second backup keeps the first list, whatever the store says now.
    registry::create(&key(&format!("{}\\{}", user_store, LOST)), registry::WRITE).unwrap();
    assert_eq!(ws.backup_appx().unwrap().changes, 0);
    let mut map = SidMap::new();
    map.insert(sid(OLD), sid(NEW));
    let restored = ws.restore_appx(&map).unwrap();
    assert_eq!(restored.changes, 1, "{}", restored.summary);
    let stub = match ws
        .registry_value(&appx::component(&sid(NEW), PACKAGE), "StubPath")
        .unwrap()
    {
        Some(RegValue::Sz(s)) => s,
        other => panic!("no StubPath: {:?}", other),
    };
    assert!(stub.contains(&format!("-eq '{}'", NEW)), "{}", stub);
    assert!(
        stub.contains(&format!(
            "Add-AppxPackage -DisableDevelopmentMode -Register 'C:\\Program Files\\WindowsApps\\{}\\AppxManifest.xml'",
            PACKAGE
        )),
        "{}",
        stub
    );
    // Registered once: nothing kept any more, and a second registration changes nothing.
    assert_eq!(ws.restore_appx(&map).unwrap().changes, 0);
    assert!(!ws.register_appx(&sid(NEW), PACKAGE).unwrap());
    // A package the repository does not know cannot be registered, and says so.
    let e = ws.register_appx(&sid(NEW), LOST).unwrap_err().to_string();
    assert!(
        e.contains(LOST) && e.contains("AppModel repository"),
        "{}",
        e
    );
    assert!(ws.registry_value(BACKUP_KEY, "AppxKept").unwrap().is_none());
}

#[test]
fn every_windows_hello_container_is_removed_naming_its_user() {
    let store = std::env::temp_dir().join("rehome-ngc");
    let _ = std::fs::remove_dir_all(&store);
    let container = store.join("{6C1F4A3B-0000-4000-8000-000000000001}");
    std::fs::create_dir_all(container.join("Protectors")).unwrap();
    let mut dat = Vec::new();
    for unit in format!("{}\0", OLD).encode_utf16() {
        dat.extend_from_slice(&unit.to_le_bytes());
    }
    std::fs::write(container.join("1.dat"), dat).unwrap();
    let found = hello::containers(&store).unwrap();
    assert_eq!(found, vec![(container.clone(), Some(OLD.to_string()))]);
    let effect = hello::reset(&store).unwrap();
    assert_eq!(effect.changes, 1);
    assert!(effect.summary.contains(OLD), "{}", effect.summary);
    assert!(!container.exists());
    assert_eq!(hello::reset(&store).unwrap().changes, 0);
    std::fs::remove_dir_all(&store).unwrap();
    if under_wine() {
        // Wine's prefix has no NGC store: nothing to remove, said as such.
        let effect = WindowsWorkstation::open().reset_windows_hello().unwrap();
        assert_eq!(effect.changes, 0, "{}", effect.summary);
    }
}

#[test]
fn dehydration_goes_through_the_cloud_files_api_or_fails_naming_it() {
    let file = std::env::temp_dir().join("rehome-not-synced.txt");
    std::fs::write(&file, b"local").unwrap();
    let e = WindowsWorkstation::open()
        .dehydrate(&file.to_string_lossy())
        .unwrap_err()
        .to_string();
    assert!(e.contains("CfDehydratePlaceholder"), "{}", e);
    if under_wine() {
        assert!(e.contains("cldapi.dll"), "{}", e);
    }
    std::fs::remove_file(&file).unwrap();
}
