//! BitLocker's key protectors on the system volume through WMI (`Win32_EncryptableVolume` in
//! `root\cimv2\Security\MicrosoftVolumeEncryption`): `ConversionStatus` and `ProtectionStatus`
//! read, `DisableKeyProtectors` (with `DisableCount` 0: until turned on again) and
//! `EnableKeyProtectors` called, through the [`Sys`] seam. Every error says BitLocker, then the WMI call that failed.

use agent::{BitLockerStatus, Error, Result};

use super::sys::Sys;

/// The WMI class of BitLocker's volumes.
pub const CLASS: &str = "Win32_EncryptableVolume";

fn named(e: Error) -> Error {
    match e {
        Error::Device(m) => Error::Device(format!("BitLocker ({}): {}", CLASS, m)),
        other => other,
    }
}

/// Whether the system volume is encrypted and its protectors are on.
pub fn status(sys: &dyn Sys) -> Result<BitLockerStatus> {
    let (_, (encrypted, protectors_on)) = sys.bitlocker_volume().map_err(named)?;
    Ok(BitLockerStatus {
        encrypted,
        protectors_on,
    })
}

/// Turns the system volume's key protectors on or off; false when they are so already or the
/// volume is not encrypted.
pub fn set_protectors(sys: &dyn Sys, enabled: bool) -> Result<bool> {
    let (id, (encrypted, on)) = sys.bitlocker_volume().map_err(named)?;
    if !encrypted || on == enabled {
        return Ok(false);
    }
    // An object path quotes the DeviceID (`\\?\Volume{…}\`) with its backslashes doubled.
    let path = format!("{}.DeviceID='{}'", CLASS, id.replace('\\', "\\\\"));
    let (method, args): (&str, &[(&str, u32)]) = if enabled {
        ("EnableKeyProtectors", &[])
    } else {
        ("DisableKeyProtectors", &[("DisableCount", 0)])
    };
    let rc = sys.bitlocker_method(&path, method, args).map_err(named)?;
    if rc != 0 {
        return Err(Error::Device(format!(
            "BitLocker: {}.{} returned 0x{:08X}",
            CLASS, method, rc as u32
        )));
    }
    Ok(true)
}
