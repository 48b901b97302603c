//! The descriptors of DCOM (machine-wide and per AppID) and scheduled tasks (the Task
//! Scheduler cache) are registry values, real under Wine: listed, read, a translated DACL
//! written through the workstation with the owner left as it was, and read back. Printers go
//! through the spooler, which Wine has without printers: the list is read and a printer that is
//! not there fails naming it.

use agent::{RegValue, SecurityParts, Workstation};
use model::runbook::Area;
use secdesc::SecurityDescriptor;

use super::workstation::WindowsWorkstation;
use super::{dcom, printers, registry, security, tasks};
use crate::keys::KeyName;

const OLD: &str = "S-1-5-21-1004336348-1177238915-682003330-1101";
const NEW: &str = "S-1-5-21-2000000000-2000000001-2000000002-1101";

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = registry::delete_tree(&KeyName::parse(&self.0).unwrap());
    }
}

fn with_sid(sid: &str) -> Vec<u8> {
    security::sddl_to_descriptor(&format!(
        "O:BAG:BAD:(A;;CCDCLCSWRP;;;{})(A;;CCDC;;;SY)",
        sid
    ))
    .unwrap()
}

/// Writes `object`'s DACL translated from OLD to NEW through the workstation and checks what
/// the value holds after.
fn translate(ws: &mut WindowsWorkstation, area: Area, object: &str) {
    let listed = ws.securable_objects(area).unwrap();
    assert!(
        listed.iter().any(|o| o == object),
        "{} not in {:?}",
        object,
        listed
    );
    let before = ws.read_descriptor(area, object).unwrap();
    assert_eq!(before, with_sid(OLD));
    // The new DACL, with another owner that must not be written.
    let new = security::sddl_to_descriptor(&format!(
        "O:SYG:SYD:(A;;CCDCLCSWRP;;;{})(A;;CCDC;;;SY)",
        NEW
    ))
    .unwrap();
    let parts = SecurityParts {
        dacl: true,
        ..Default::default()
    };
    ws.write_descriptor(area, object, &new, parts).unwrap();
    let after = SecurityDescriptor::from_bytes(&ws.read_descriptor(area, object).unwrap()).unwrap();
    let sddl = security::descriptor_to_sddl(&after.to_bytes()).unwrap();
    assert!(sddl.contains(NEW) && !sddl.contains(OLD), "{}", sddl);
    assert!(
        sddl.starts_with("O:BAG:BA"),
        "the owner and group stay: {}",
        sddl
    );
}

#[test]
fn an_appids_launch_permission_is_translated_in_the_registry() {
    let key = format!("{}\\{{5E7A2B0C-0000-4000-8000-00000000C0DE}}", dcom::APPID);
    let _cleanup = Cleanup(key.clone());
    registry::create(&KeyName::parse(&key).unwrap(), registry::WRITE)
        .unwrap()
        .set_value("LaunchPermission", &RegValue::Binary(with_sid(OLD)))
        .unwrap();
    let mut ws = WindowsWorkstation::open();
    translate(&mut ws, Area::Dcom, &format!("{}\\LaunchPermission", key));
    // An AppID without descriptors has no object; a missing one is not found.
    let e = ws
        .read_descriptor(Area::Dcom, &format!("{}\\AccessPermission", key))
        .unwrap_err();
    assert!(matches!(e, agent::Error::NotFound(_)), "{}", e);
}

#[test]
fn the_machine_wide_dcom_defaults_are_objects_of_their_own() {
    let ole = KeyName::parse(dcom::OLE).unwrap();
    let kept = registry::open(&ole, registry::READ)
        .unwrap()
        .and_then(|k| k.value("DefaultAccessPermission").unwrap());
    registry::create(&ole, registry::WRITE)
        .unwrap()
        .set_value("DefaultAccessPermission", &RegValue::Binary(with_sid(OLD)))
        .unwrap();
    let mut ws = WindowsWorkstation::open();
    let object = format!("{}\\DefaultAccessPermission", dcom::OLE);
    let listed = ws.securable_objects(Area::Dcom).unwrap();
    translate(&mut ws, Area::Dcom, &object);
    let key = registry::create(&ole, registry::WRITE).unwrap();
    match kept {
        Some(value) => key.set_value("DefaultAccessPermission", &value).unwrap(),
        None => {
            drop(key);
            registry::delete_value(&ole, "DefaultAccessPermission").unwrap();
        }
    }
    let at = listed.iter().position(|o| o == &object).unwrap();
    assert!(
        listed[..at].iter().all(|o| o.starts_with(dcom::OLE)),
        "machine-wide first: {:?}",
        listed
    );
}

#[test]
fn a_scheduled_tasks_descriptor_is_translated_in_the_task_cache() {
    let folder = format!("{}\\rehome-tests", tasks::TREE);
    let _cleanup = Cleanup(folder.clone());
    let task = KeyName::parse(&format!("{}\\Nightly backup", folder)).unwrap();
    let key = match registry::create(&task, registry::WRITE) {
        Ok(key) => key,
        // Only SYSTEM (the service's account) may write the Task Scheduler cache on Windows; a
        // test run as an administrator cannot. Wine lets any account.
        Err(e) if !super::under_wine() && e.to_string().contains("denied") => return,
        Err(e) => panic!("{}", e),
    };
    key.set_value(tasks::SD, &RegValue::Binary(with_sid(OLD)))
        .unwrap();
    drop(key);
    let mut ws = WindowsWorkstation::open();
    translate(
        &mut ws,
        Area::ScheduledTasks,
        "\\rehome-tests\\Nightly backup",
    );
    let e = ws
        .read_descriptor(Area::ScheduledTasks, "\\rehome-tests\\Missing")
        .unwrap_err();
    assert!(matches!(e, agent::Error::NotFound(_)), "{}", e);
}

#[test]
fn printers_are_listed_and_a_missing_one_fails_naming_it() {
    let ws = WindowsWorkstation::open();
    let names = ws.securable_objects(Area::Printers).unwrap();
    assert_eq!(names, printers::names().unwrap());
    let e = ws
        .read_descriptor(Area::Printers, "rehome no such printer")
        .unwrap_err()
        .to_string();
    assert!(e.contains("rehome no such printer"), "{}", e);
}
