//! The device's name, join state, clock, firmware serial and environment.

use agent::{Error, Result};
use windows_sys::Win32::NetworkManagement::NetManagement::{
    NetApiBufferFree, NetGetJoinInformation, NetSetupDomainName, NETSETUP_JOIN_STATUS,
};
use windows_sys::Win32::Storage::FileSystem::MoveFileExW;
use windows_sys::Win32::System::Environment::ExpandEnvironmentStringsW;
use windows_sys::Win32::System::LibraryLoader::GetModuleFileNameW;
use windows_sys::Win32::System::RemoteDesktop::{
    WTSDomainName, WTSFreeMemory, WTSGetActiveConsoleSessionId, WTSQuerySessionInformationW,
    WTSUserName, WTS_CURRENT_SERVER_HANDLE, WTS_INFO_CLASS,
};
use windows_sys::Win32::System::SystemInformation::{
    ComputerNamePhysicalDnsHostname, ComputerNamePhysicalNetBIOS, GetComputerNameExW,
    GetSystemFirmwareTable, SetComputerNameExW, COMPUTER_NAME_FORMAT, RSMB,
};
use windows_sys::Win32::System::Time::{
    GetDynamicTimeZoneInformation, DYNAMIC_TIME_ZONE_INFORMATION,
};

use super::{error, from_pwstr, from_wide, last_error, wide};

fn computer_name_of(format: COMPUTER_NAME_FORMAT) -> Result<String> {
    let mut buf = vec![0u16; 256];
    let mut len = buf.len() as u32;
    if unsafe { GetComputerNameExW(format, buf.as_mut_ptr(), &mut len) } == 0 {
        return Err(last_error("GetComputerNameExW", ""));
    }
    Ok(String::from_utf16_lossy(&buf[..len as usize]))
}

/// The NetBIOS name the device has now.
pub fn computer_name() -> Result<String> {
    computer_name_of(ComputerNamePhysicalNetBIOS)
}

/// The host name the device will have after its next reboot, when a rename is pending.
pub fn pending_computer_name() -> Result<Option<String>> {
    let key = crate::keys::KeyName::parse(
        "HKLM\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName",
    )?;
    match super::registry::open(&key, super::registry::READ)? {
        Some(k) => Ok(match k.value("ComputerName")? {
            Some(agent::RegValue::Sz(name)) => Some(name),
            _ => None,
        }),
        None => Ok(None),
    }
}

/// Renames the device (`SetComputerNameExW(ComputerNamePhysicalDnsHostname)`).
pub fn set_computer_name(name: &str) -> Result<()> {
    let wname = wide(name);
    if unsafe { SetComputerNameExW(ComputerNamePhysicalDnsHostname, wname.as_ptr()) } == 0 {
        return Err(last_error("SetComputerNameExW", name));
    }
    Ok(())
}

/// The Active Directory domain the device is joined to (`NetGetJoinInformation`), if any.
pub fn joined_domain() -> Result<Option<String>> {
    let mut name: *mut u16 = std::ptr::null_mut();
    let mut status: NETSETUP_JOIN_STATUS = 0;
    let rc = unsafe { NetGetJoinInformation(std::ptr::null(), &mut name, &mut status) };
    if rc != 0 {
        return Err(error("NetGetJoinInformation", "", rc));
    }
    let text = unsafe { from_pwstr(name) };
    unsafe {
        NetApiBufferFree(name as _);
    }
    Ok(if status == NetSetupDomainName {
        Some(text)
    } else {
        None
    })
}

/// The Windows time zone's key name (`W. Europe Standard Time`) and the bias of the wall clock
/// now, in minutes east of UTC.
pub fn time_zone() -> Result<(String, i32)> {
    let mut info: DYNAMIC_TIME_ZONE_INFORMATION = unsafe { std::mem::zeroed() };
    let which = unsafe { GetDynamicTimeZoneInformation(&mut info) };
    if which == u32::MAX {
        return Err(last_error("GetDynamicTimeZoneInformation", ""));
    }
    // Bias is minutes to add to local time to get UTC; daylight time adds its own bias.
    let bias = info.Bias
        + match which {
            2 => info.DaylightBias,
            1 => info.StandardBias,
            _ => 0,
        };
    Ok((from_wide(&info.TimeZoneKeyName), -bias))
}

/// The system serial number from the SMBIOS system information structure (type 1), which is
/// what `Win32_BIOS.SerialNumber` and `%SERIAL%` read; `None` when the firmware gives none.
pub fn firmware_serial() -> Result<Option<String>> {
    let len = unsafe { GetSystemFirmwareTable(RSMB, 0, std::ptr::null_mut(), 0) };
    if len == 0 {
        return Err(last_error("GetSystemFirmwareTable", "RSMB"));
    }
    let mut buf = vec![0u8; len as usize];
    let got = unsafe { GetSystemFirmwareTable(RSMB, 0, buf.as_mut_ptr(), len) };
    if got == 0 || got > len {
        return Err(last_error("GetSystemFirmwareTable", "RSMB"));
    }
    // RawSMBIOSData: 8 bytes of header, then the structures.
    Ok(buf.get(8..).and_then(crate::smbios::system_serial))
}

/// `text` with `%VARIABLES%` expanded from the system environment.
pub fn expand(text: &str) -> Result<String> {
    let src = wide(text);
    let mut buf = vec![0u16; 1024];
    loop {
        let n =
            unsafe { ExpandEnvironmentStringsW(src.as_ptr(), buf.as_mut_ptr(), buf.len() as u32) };
        if n == 0 {
            return Err(last_error("ExpandEnvironmentStringsW", text));
        }
        if (n as usize) <= buf.len() {
            return Ok(from_wide(&buf));
        }
        buf.resize(n as usize, 0);
    }
}

/// The full path of this executable.
pub fn own_exe() -> Result<String> {
    let mut buf = vec![0u16; 32_768];
    let n = unsafe { GetModuleFileNameW(std::ptr::null_mut(), buf.as_mut_ptr(), buf.len() as u32) };
    if n == 0 {
        return Err(last_error("GetModuleFileNameW", ""));
    }
    if n as usize >= buf.len() {
        return Err(Error::Device("the agent's path is too long".to_string()));
    }
    Ok(String::from_utf16_lossy(&buf[..n as usize]))
}

fn session_string(session: u32, class: WTS_INFO_CLASS) -> Result<String> {
    let mut buf: *mut u16 = std::ptr::null_mut();
    let mut bytes = 0u32;
    let ok = unsafe {
        WTSQuerySessionInformationW(
            WTS_CURRENT_SERVER_HANDLE,
            session,
            class,
            &mut buf,
            &mut bytes,
        )
    };
    if ok == 0 {
        return Err(last_error("WTSQuerySessionInformationW", ""));
    }
    let text = unsafe { from_pwstr(buf) };
    unsafe { WTSFreeMemory(buf as _) };
    Ok(text)
}

/// The user logged on at the console (`DOMAIN\user`), if any.
pub fn console_user() -> Result<Option<String>> {
    let session = unsafe { WTSGetActiveConsoleSessionId() };
    if session == u32::MAX {
        return Ok(None);
    }
    let user = session_string(session, WTSUserName)?;
    if user.is_empty() {
        return Ok(None);
    }
    let domain = session_string(session, WTSDomainName)?;
    Ok(Some(if domain.is_empty() {
        user
    } else {
        format!("{}\\{}", domain, user)
    }))
}

/// Moves a file within its volume, creating the folders it needs; fails when `to` exists
/// (`MoveFileExW` without `MOVEFILE_REPLACE_EXISTING`).
pub fn move_file(from: &str, to: &str) -> Result<()> {
    if let Some(parent) = std::path::Path::new(to).parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::Io {
            what: "creating",
            path: parent.to_path_buf(),
            source: e,
        })?;
    }
    let (wfrom, wto) = (wide(from), wide(to));
    if unsafe { MoveFileExW(wfrom.as_ptr(), wto.as_ptr(), 0) } == 0 {
        return Err(last_error("MoveFileExW", &format!("{} to {}", from, to)));
    }
    Ok(())
}
