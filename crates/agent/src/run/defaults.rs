//! Default processing over the primitives: BitLocker's protectors suspended while the joins
//! reboot the device and resumed at Completion, and each user's AppX packages kept and
//! registered again for their target SID. What was done is recorded in the agent's work key,
//! so Completion undoes only what Startup did.

use std::collections::BTreeMap;

use secdesc::translate::SidMap;
use secdesc::Sid;

use super::actions::{effect, WORK_KEY};
use crate::workstation::{Effect, RegValue, Workstation};
use crate::{Error, Result};

/// Set when rehome suspended BitLocker, so Completion resumes only what it suspended.
const SUSPENDED: &str = "BitLockerSuspended";
/// Where each user's AppX packages are kept, one `REG_MULTI_SZ` per SID.
pub const APPX_BACKUP: &str = "HKLM\\SOFTWARE\\rehome\\Agent\\Backup\\AppX";
const APPX_KEPT: &str = "AppxKept";

/// Suspends the OS volume's key protectors, when it is encrypted and they are on.
pub fn suspend_bitlocker<W: Workstation>(ws: &mut W) -> Result<Effect> {
    let status = ws.bitlocker_status()?;
    if !status.encrypted {
        return Ok(Effect::unchanged("the OS volume is not encrypted"));
    }
    if !status.protectors_on {
        return Ok(Effect::unchanged(
            "BitLocker protectors are already suspended",
        ));
    }
    // Recorded first: a crash after the suspension still has Completion resume it.
    ws.set_registry_value(WORK_KEY, SUSPENDED, &RegValue::Dword(1))?;
    let changed = ws.set_bitlocker_protectors(false)?;
    Ok(effect(
        usize::from(changed),
        "suspended BitLocker protectors".to_string(),
        "BitLocker protectors are already suspended",
    ))
}

/// Resumes the key protectors rehome suspended.
pub fn resume_bitlocker<W: Workstation>(ws: &mut W) -> Result<Effect> {
    if ws.registry_value(WORK_KEY, SUSPENDED)?.is_none() {
        return Ok(Effect::unchanged("BitLocker protectors are not suspended"));
    }
    let changed = ws.set_bitlocker_protectors(true)?;
    ws.delete_registry_value(WORK_KEY, SUSPENDED)?;
    Ok(effect(
        usize::from(changed),
        "resumed BitLocker protectors".to_string(),
        "BitLocker protectors are not suspended",
    ))
}

/// Keeps each user's AppX packages, once.
pub fn backup_appx<W: Workstation>(ws: &mut W) -> Result<Effect> {
    if ws.registry_value(WORK_KEY, APPX_KEPT)?.is_some() {
        return Ok(Effect::unchanged("AppX packages are already kept"));
    }
    let packages: BTreeMap<Sid, Vec<String>> = ws.appx_packages()?;
    for (sid, names) in &packages {
        ws.set_registry_value(
            APPX_BACKUP,
            &sid.to_string(),
            &RegValue::MultiSz(names.clone()),
        )?;
    }
    ws.set_registry_value(WORK_KEY, APPX_KEPT, &RegValue::Dword(1))?;
    Ok(Effect::changed(
        1,
        format!("kept the AppX packages of {} user(s)", packages.len()),
    ))
}

/// Registers each kept package for its user's translated SID, then drops the copy.
pub fn restore_appx<W: Workstation>(ws: &mut W, map: &SidMap) -> Result<Effect> {
    if ws.registry_value(WORK_KEY, APPX_KEPT)?.is_none() {
        return Ok(Effect::unchanged("every kept AppX package is registered"));
    }
    let mut changes = 0;
    for user in ws.registry_value_names(APPX_BACKUP)? {
        // Value names may come back in another case, as Windows compares them without it.
        let sid: Sid = user.to_uppercase().parse()?;
        let owner = map.get(&sid).cloned().unwrap_or(sid);
        let names = match ws.registry_value(APPX_BACKUP, &user)? {
            Some(RegValue::MultiSz(names)) => names,
            other => {
                return Err(Error::Device(format!(
                    "{}\\{} is {:?}, not a list of packages",
                    APPX_BACKUP, user, other
                )))
            }
        };
        for name in names {
            changes += usize::from(ws.register_appx(&owner, &name)?);
        }
    }
    ws.delete_registry_key(APPX_BACKUP)?;
    ws.delete_registry_value(WORK_KEY, APPX_KEPT)?;
    Ok(effect(
        changes,
        format!("registered {} AppX package(s)", changes),
        "every kept AppX package is registered",
    ))
}
