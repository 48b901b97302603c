//! DCOM's descriptors, kept in the registry as self-relative binary values: the machine-wide
//! limits and defaults under `HKLM\SOFTWARE\Microsoft\Ole` (`MachineLaunchRestriction`,
//! `MachineAccessRestriction`, `DefaultLaunchPermission`, `DefaultAccessPermission`) and each
//! AppID's `LaunchPermission` and `AccessPermission` under `HKLM\SOFTWARE\Classes\AppID\{…}`.
//! An object is named by its key and value: `HKLM\SOFTWARE\Microsoft\Ole\DefaultLaunchPermission`.
//! A write replaces only the parts asked for, merged into the value's descriptor, and is read
//! back.

use agent::{Error, RegValue, Result, SecurityParts};
use secdesc::descriptor::control;
use secdesc::SecurityDescriptor;

use super::registry;
use crate::keys::KeyName;

/// The machine-wide key.
pub const OLE: &str = "HKLM\\SOFTWARE\\Microsoft\\Ole";
/// The AppIDs' keys.
pub const APPID: &str = "HKLM\\SOFTWARE\\Classes\\AppID";
/// The machine-wide descriptor values.
pub const OLE_VALUES: [&str; 4] = [
    "MachineLaunchRestriction",
    "MachineAccessRestriction",
    "DefaultLaunchPermission",
    "DefaultAccessPermission",
];
/// An AppID's descriptor values.
pub const APPID_VALUES: [&str; 2] = ["LaunchPermission", "AccessPermission"];

/// `object` as its key and value name.
fn split(object: &str) -> Result<(KeyName, &str)> {
    let (key, value) = object
        .rsplit_once('\\')
        .ok_or_else(|| Error::NotFound(object.to_string()))?;
    Ok((KeyName::parse(key)?, value))
}

fn binary(key: &KeyName, value: &str) -> Result<Option<Vec<u8>>> {
    Ok(match registry::open(key, registry::READ)? {
        Some(k) => match k.value(value)? {
            Some(RegValue::Binary(b)) if !b.is_empty() => Some(b),
            _ => None,
        },
        None => None,
    })
}

/// Every DCOM descriptor of the device, machine-wide first, then by AppID.
pub fn objects() -> Result<Vec<String>> {
    let mut out = Vec::new();
    let ole = KeyName::parse(OLE)?;
    for value in OLE_VALUES {
        if binary(&ole, value)?.is_some() {
            out.push(format!("{}\\{}", OLE, value));
        }
    }
    let appids = match registry::open(&KeyName::parse(APPID)?, registry::READ)? {
        Some(k) => k.subkeys()?,
        None => Vec::new(),
    };
    for id in appids {
        let key = KeyName::parse(&format!("{}\\{}", APPID, id))?;
        for value in APPID_VALUES {
            if binary(&key, value)?.is_some() {
                out.push(format!("{}\\{}\\{}", APPID, id, value));
            }
        }
    }
    Ok(out)
}

/// The descriptor `object` holds.
pub fn descriptor(object: &str) -> Result<Vec<u8>> {
    let (key, value) = split(object)?;
    binary(&key, value)?.ok_or_else(|| Error::NotFound(object.to_string()))
}

/// `current` with the `parts` of `new` in it.
pub fn merge(current: &[u8], new: &[u8], parts: SecurityParts) -> Result<Vec<u8>> {
    let bad = |e: secdesc::Error| Error::Device(format!("a DCOM descriptor cannot be read: {}", e));
    let mut merged = SecurityDescriptor::from_bytes(current).map_err(bad)?;
    let new = SecurityDescriptor::from_bytes(new).map_err(bad)?;
    let take = |merged: &mut SecurityDescriptor, bits: u16| {
        merged.control = (merged.control & !bits) | (new.control & bits);
    };
    if parts.owner {
        merged.owner = new.owner.clone();
        take(&mut merged, control::OWNER_DEFAULTED);
    }
    if parts.group {
        merged.group = new.group.clone();
        take(&mut merged, control::GROUP_DEFAULTED);
    }
    if parts.dacl {
        merged.dacl = new.dacl.clone();
        take(
            &mut merged,
            control::DACL_PRESENT
                | control::DACL_DEFAULTED
                | control::DACL_AUTO_INHERIT_REQ
                | control::DACL_AUTO_INHERITED
                | control::DACL_PROTECTED,
        );
    }
    if parts.sacl {
        merged.sacl = new.sacl.clone();
        take(
            &mut merged,
            control::SACL_PRESENT
                | control::SACL_DEFAULTED
                | control::SACL_AUTO_INHERIT_REQ
                | control::SACL_AUTO_INHERITED
                | control::SACL_PROTECTED,
        );
    }
    merged
        .try_to_bytes()
        .map_err(|e| Error::Device(format!("a DCOM descriptor cannot be written: {}", e)))
}

/// Writes the `parts` of `new` to `object` (`RegSetValueExW` of the merged descriptor) and
/// reads them back.
pub fn set_descriptor(object: &str, new: &[u8], parts: SecurityParts) -> Result<()> {
    let current = descriptor(object)?;
    let merged = merge(&current, new, parts)?;
    let (key, value) = split(object)?;
    registry::create(&key, registry::WRITE)?.set_value(value, &RegValue::Binary(merged))?;
    let back = descriptor(object)?;
    super::security::verify_written("RegSetValueExW", object, new, parts, &back)
}
