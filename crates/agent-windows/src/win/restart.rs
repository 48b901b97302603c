//! Restarting the device after a delay, and cancelling it: `InitiateSystemShutdownExW` and
//! `AbortSystemShutdownW` with `SeShutdownPrivilege`. Wine exports both as stubs that answer
//! success and do nothing (a restart of the Wine session would end every program in it), so
//! under Wine they are refused by name before the call.

use std::ptr::null;

use agent::Result;
use windows_sys::Win32::Foundation::GetLastError;
use windows_sys::Win32::System::Shutdown::{
    AbortSystemShutdownW, InitiateSystemShutdownExW, SHTDN_REASON_FLAG_PLANNED,
    SHTDN_REASON_MAJOR_APPLICATION, SHTDN_REASON_MINOR_MAINTENANCE,
};

use super::{error, security, wide, wine_lacks};

/// `ERROR_SHUTDOWN_IN_PROGRESS`.
const SHUTDOWN_IN_PROGRESS: u32 = 1115;
/// `ERROR_NO_SHUTDOWN_IN_PROGRESS`.
const NO_SHUTDOWN_IN_PROGRESS: u32 = 1116;

/// Restarts the device in `minutes`, showing `message`; open programs are asked to close, not
/// forced. False when a restart is pending already.
pub fn schedule(minutes: u32, message: &str) -> Result<bool> {
    wine_lacks("InitiateSystemShutdownExW")?;
    security::enable_privilege("SeShutdownPrivilege")?;
    let text = wide(message);
    let ok = unsafe {
        InitiateSystemShutdownExW(
            null(),
            text.as_ptr(),
            minutes.saturating_mul(60),
            0,
            1,
            SHTDN_REASON_MAJOR_APPLICATION
                | SHTDN_REASON_MINOR_MAINTENANCE
                | SHTDN_REASON_FLAG_PLANNED,
        )
    };
    if ok != 0 {
        return Ok(true);
    }
    match unsafe { GetLastError() } {
        SHUTDOWN_IN_PROGRESS => Ok(false),
        code => Err(error("InitiateSystemShutdownExW", "", code)),
    }
}

/// Cancels a pending restart; false when none is pending.
pub fn cancel() -> Result<bool> {
    wine_lacks("AbortSystemShutdownW")?;
    security::enable_privilege("SeShutdownPrivilege")?;
    if unsafe { AbortSystemShutdownW(null()) } != 0 {
        return Ok(true);
    }
    match unsafe { GetLastError() } {
        NO_SHUTDOWN_IN_PROGRESS => Ok(false),
        code => Err(error("AbortSystemShutdownW", "", code)),
    }
}
