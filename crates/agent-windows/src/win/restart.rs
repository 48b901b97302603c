//! Restarting the device after a delay, and cancelling it: `InitiateSystemShutdownExW` and
//! `AbortSystemShutdownW` with `SeShutdownPrivilege`. Wine exports both as stubs that answer
//! success and do nothing (a restart of the Wine session would end every program in it), so
//! under Wine the real calls are refused by name before they are made; the workstation reaches
//! them through the [`Sys`] seam.

use std::ptr::null;

use agent::Result;
use windows_sys::Win32::Foundation::GetLastError;
use windows_sys::Win32::System::Shutdown::{
    AbortSystemShutdownW, InitiateSystemShutdownExW, SHTDN_REASON_FLAG_PLANNED,
    SHTDN_REASON_MAJOR_APPLICATION, SHTDN_REASON_MINOR_MAINTENANCE,
};

use super::sys::Sys;
use super::{error, security, wide, wine_lacks};

/// `ERROR_SHUTDOWN_IN_PROGRESS`.
const SHUTDOWN_IN_PROGRESS: u32 = 1115;
/// `ERROR_NO_SHUTDOWN_IN_PROGRESS`.
const NO_SHUTDOWN_IN_PROGRESS: u32 = 1116;

/// The reason a restart is given: planned application maintenance.
const REASON: u32 =
    SHTDN_REASON_MAJOR_APPLICATION | SHTDN_REASON_MINOR_MAINTENANCE | SHTDN_REASON_FLAG_PLANNED;

/// Whether this process may restart the device: `SeShutdownPrivilege` enabled, on a system that
/// carries restarts out. The pre-flight asks before any change, so a join is never made on a
/// device that cannot restart into it.
pub fn check(sys: &dyn Sys) -> Result<()> {
    sys.shutdown_privilege()
}

/// Restarts the device in `minutes`, showing `message`; open programs are asked to close, not
/// forced. False when a restart is pending already.
pub fn schedule(sys: &dyn Sys, minutes: u32, message: &str) -> Result<bool> {
    sys.shutdown_privilege()?;
    match sys.initiate_shutdown(message, minutes.saturating_mul(60), REASON)? {
        None => Ok(true),
        Some(SHUTDOWN_IN_PROGRESS) => Ok(false),
        Some(code) => Err(error("InitiateSystemShutdownExW", "", code)),
    }
}

/// Cancels a pending restart; false when none is pending.
pub fn cancel(sys: &dyn Sys) -> Result<bool> {
    match sys.abort_shutdown()? {
        None => Ok(true),
        Some(NO_SHUTDOWN_IN_PROGRESS) => Ok(false),
        Some(code) => Err(error("AbortSystemShutdownW", "", code)),
    }
}

/// Enables `SeShutdownPrivilege`; under Wine, whose restart calls are stubs, refused by name.
pub fn win32_privilege() -> Result<()> {
    wine_lacks("InitiateSystemShutdownExW")?;
    security::enable_privilege("SeShutdownPrivilege")
}

/// `InitiateSystemShutdownExW` itself: the last error when it failed.
pub fn win32_initiate(message: &str, seconds: u32, reason: u32) -> Result<Option<u32>> {
    wine_lacks("InitiateSystemShutdownExW")?;
    let text = wide(message);
    let ok = unsafe { InitiateSystemShutdownExW(null(), text.as_ptr(), seconds, 0, 1, reason) };
    Ok(if ok != 0 {
        None
    } else {
        Some(unsafe { GetLastError() })
    })
}

/// `AbortSystemShutdownW` itself, with `SeShutdownPrivilege` enabled: the last error when it
/// failed.
pub fn win32_abort() -> Result<Option<u32>> {
    wine_lacks("AbortSystemShutdownW")?;
    security::enable_privilege("SeShutdownPrivilege")?;
    Ok(if unsafe { AbortSystemShutdownW(null()) } != 0 {
        None
    } else {
        Some(unsafe { GetLastError() })
    })
}
