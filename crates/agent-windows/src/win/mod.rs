//! The Win32 edge: thin wrappers over the calls the Windows workstation, the service and the
//! installer make. Everything here turns a Win32 error code into an [`agent::Error`] that names
//! the call.

use std::ffi::OsStr;
use std::os::windows::ffi::OsStrExt;

use agent::Error;

pub mod accounts;
pub mod appx;
pub mod areas;
pub mod bitlocker;
pub mod cache_logon;
pub mod certs;
pub mod command;
pub mod dcom;
pub mod edr;
pub mod entra;
pub mod escrow;
pub mod eventlog;
pub mod files;
pub mod groups;
pub mod hello;
pub mod holders;
pub mod http;
pub mod join;
pub mod ldap;
pub mod lsa;
pub mod mdm;
pub mod onedrive;
pub mod printers;
pub mod profiles;
pub mod readiness;
pub mod registry;
pub mod restart;
pub mod security;
pub mod service;
pub mod services;
pub mod shares;
pub mod sys;
pub mod system;
pub mod task_principal;
pub mod tasks;
pub mod unzip;
pub mod wmi;
pub mod wmi_security;
pub mod workstation;

/// `text` as a NUL-terminated UTF-16 string.
pub fn wide(text: &str) -> Vec<u16> {
    OsStr::new(text).encode_wide().chain(Some(0)).collect()
}

/// A UTF-16 buffer up to its first NUL.
pub fn from_wide(buf: &[u16]) -> String {
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    String::from_utf16_lossy(&buf[..end])
}

/// A NUL-terminated UTF-16 string at `p`.
///
/// # Safety
/// `p` must be null or point to a NUL-terminated UTF-16 string.
pub unsafe fn from_pwstr(p: *const u16) -> String {
    if p.is_null() {
        return String::new();
    }
    let mut len = 0;
    while *p.add(len) != 0 {
        len += 1;
    }
    String::from_utf16_lossy(std::slice::from_raw_parts(p, len))
}

/// The error of the Win32 call `call` on `object`, with the system's message for `code`.
pub fn error(call: &str, object: &str, code: u32) -> Error {
    let message = std::io::Error::from_raw_os_error(code as i32);
    if object.is_empty() {
        Error::Device(format!("{} failed: {}", call, message))
    } else {
        Error::Device(format!("{} on {} failed: {}", call, object, message))
    }
}

/// The thread's last error, for a call that returned FALSE or null.
pub fn last_error(call: &str, object: &str) -> Error {
    let code = unsafe { windows_sys::Win32::Foundation::GetLastError() };
    error(call, object, code)
}

/// The error of a primitive this Windows agent does not carry out: the step fails and the run
/// ends in Error, never Completed.
pub fn unsupported(primitive: &str) -> Error {
    Error::Unsupported {
        action: primitive.to_string(),
        reason: "the Windows agent does not implement this primitive yet".to_string(),
    }
}

/// Whether this process runs under Wine (its ntdll exports `wine_get_version`) rather than on
/// Windows.
pub fn under_wine() -> bool {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
    let ntdll = wide("ntdll.dll");
    unsafe {
        let module = GetModuleHandleW(ntdll.as_ptr());
        !module.is_null() && GetProcAddress(module, b"wine_get_version\0".as_ptr()).is_some()
    }
}

/// Refuses, before the call, a Win32 function that Wine exports only as a stub which aborts the
/// calling process (`NetShareSetInfo`, `NetJoinDomain`, …): under Wine the step fails with an
/// error naming the call, and the agent keeps running.
pub fn wine_lacks(call: &str) -> agent::Result<()> {
    if under_wine() {
        return Err(Error::Unsupported {
            action: call.to_string(),
            reason: "Wine does not implement it (only on Windows)".to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod sys_recording;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_appx;
#[cfg(test)]
mod tests_areas;
#[cfg(test)]
mod tests_command;
#[cfg(test)]
mod tests_escrow;
#[cfg(test)]
mod tests_objects;
#[cfg(test)]
mod tests_readiness;
#[cfg(test)]
mod tests_runbook;
#[cfg(test)]
mod tests_system;
#[cfg(test)]
mod tests_tasks;
#[cfg(test)]
mod tests_wmi_security;
