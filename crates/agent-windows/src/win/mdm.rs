//! Intune enrolment of an Entra-joined (or hybrid-joined) device, as Windows' own scheduled
//! enrolment does it: `deviceenroller.exe /c /AutoEnrollMDM` with the AutoEnrollMDM policy the
//! portable step has set, then the enrolment read back from `HKLM\SOFTWARE\Microsoft\Enrollments`.

use std::path::Path;
use std::process::Command;

use agent::{Error, RegValue, Result};

use super::{registry, system};
use crate::keys::KeyName;

const ENROLLMENTS: &str = "HKLM\\SOFTWARE\\Microsoft\\Enrollments";
/// The `ProviderID` of an enrolment with Intune.
const INTUNE: &str = "MS DM Server";

/// Whether the device is enrolled with Intune (an `Enrollments` entry whose `ProviderID` is
/// `MS DM Server` and whose `EnrollmentState` is 1).
pub fn enrolled() -> Result<bool> {
    let key = match registry::open(&KeyName::parse(ENROLLMENTS)?, registry::READ)? {
        Some(k) => k,
        None => return Ok(false),
    };
    for id in key.subkeys()? {
        let entry = match registry::open(
            &KeyName::parse(&format!("{}\\{}", ENROLLMENTS, id))?,
            registry::READ,
        )? {
            Some(e) => e,
            None => continue,
        };
        let provider = matches!(entry.value("ProviderID")?, Some(RegValue::Sz(p)) if p == INTUNE);
        let state = matches!(entry.value("EnrollmentState")?, Some(RegValue::Dword(1)));
        if provider && state {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Asks Windows to enrol now; true once enrolled, false while Intune has not accepted it yet.
pub fn enroll() -> Result<bool> {
    if enrolled()? {
        return Ok(true);
    }
    let exe = system::expand("%SystemRoot%\\System32\\deviceenroller.exe")?;
    if !Path::new(&exe).exists() {
        return Err(Error::Unsupported {
            action: "deviceenroller.exe /c /AutoEnrollMDM".to_string(),
            reason: format!(
                "{} does not exist on this device (it has no MDM enrolment client)",
                exe
            ),
        });
    }
    let status = Command::new(&exe)
        .args(["/c", "/AutoEnrollMDM"])
        .status()
        .map_err(|e| Error::Device(format!("deviceenroller.exe /c /AutoEnrollMDM: {}", e)))?;
    if !status.success() {
        return Err(Error::Device(format!(
            "deviceenroller.exe /c /AutoEnrollMDM exited with {}",
            status
        )));
    }
    // The enroller registers the enrolment before it exits; one that is still on its way is
    // seen at the next attempt.
    enrolled()
}
