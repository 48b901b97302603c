//! The machine's services and the accounts they run as, through the service control manager:
//! `EnumServicesStatusExW`, `QueryServiceConfigW` and `ChangeServiceConfigW`.

use std::ptr::{null, null_mut};

use agent::Result;
use secdesc::Sid;
use windows_sys::Win32::Foundation::GetLastError;
use windows_sys::Win32::System::Services::*;

use super::service::{manager, Handle};
use super::{error, from_pwstr, last_error, security, wide};

const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
const ERROR_MORE_DATA: u32 = 234;
const ERROR_SERVICE_DOES_NOT_EXIST: u32 = 1060;
const LOCAL_SYSTEM: &str = "S-1-5-18";
/// The service accounts `LookupAccountNameW` does not know by the names the SCM keeps.
const WELL_KNOWN: &[(&str, &str)] = &[
    ("LocalSystem", LOCAL_SYSTEM),
    ("NT AUTHORITY\\LocalService", "S-1-5-19"),
    ("NT AUTHORITY\\NetworkService", "S-1-5-20"),
];

/// A buffer aligned for the structures the SCM writes into it.
fn aligned(bytes: u32) -> Vec<u64> {
    vec![0u64; (bytes as usize + 7) / 8]
}

/// The names of every Win32 service.
pub fn names() -> Result<Vec<String>> {
    let scm = manager()?;
    let mut names = Vec::new();
    let mut resume = 0u32;
    let mut size = 64 * 1024;
    loop {
        let mut buffer = aligned(size);
        let (mut needed, mut count) = (0u32, 0u32);
        let ok = unsafe {
            EnumServicesStatusExW(
                scm.0,
                SC_ENUM_PROCESS_INFO,
                SERVICE_WIN32,
                SERVICE_STATE_ALL,
                buffer.as_mut_ptr() as *mut u8,
                size,
                &mut needed,
                &mut count,
                &mut resume,
                null(),
            )
        };
        let more = ok == 0 && unsafe { GetLastError() } == ERROR_MORE_DATA;
        if ok == 0 && !more {
            return Err(last_error("EnumServicesStatusExW", ""));
        }
        let entries = unsafe {
            std::slice::from_raw_parts(
                buffer.as_ptr() as *const ENUM_SERVICE_STATUS_PROCESSW,
                count as usize,
            )
        };
        names.extend(
            entries
                .iter()
                .map(|e| unsafe { from_pwstr(e.lpServiceName) }),
        );
        if !more {
            return Ok(names);
        }
        size = size.max(needed);
    }
}

fn open(scm: &Handle, service: &str, access: u32) -> Result<Option<Handle>> {
    let name = wide(service);
    let h = unsafe { OpenServiceW(scm.0, name.as_ptr(), access) };
    if h.is_null() {
        let code = unsafe { GetLastError() };
        if code == ERROR_SERVICE_DOES_NOT_EXIST {
            return Ok(None);
        }
        return Err(error("OpenServiceW", service, code));
    }
    Ok(Some(Handle(h)))
}

/// The account `service` runs as (`lpServiceStartName`; LocalSystem when the SCM keeps none).
fn start_name(service: &Handle, name: &str) -> Result<String> {
    let mut needed = 0u32;
    let ok = unsafe { QueryServiceConfigW(service.0, null_mut(), 0, &mut needed) };
    if ok == 0 && unsafe { GetLastError() } != ERROR_INSUFFICIENT_BUFFER {
        return Err(last_error("QueryServiceConfigW", name));
    }
    let mut buffer = aligned(needed);
    let config = buffer.as_mut_ptr() as *mut QUERY_SERVICE_CONFIGW;
    if unsafe { QueryServiceConfigW(service.0, config, needed, &mut needed) } == 0 {
        return Err(last_error("QueryServiceConfigW", name));
    }
    let account = unsafe { from_pwstr((*config).lpServiceStartName) };
    Ok(if account.is_empty() {
        "LocalSystem".to_string()
    } else {
        account
    })
}

/// The account `service` runs as, `None` when there is no such service.
pub fn account(service: &str) -> Result<Option<String>> {
    let scm = manager()?;
    match open(&scm, service, SERVICE_QUERY_CONFIG)? {
        Some(h) => start_name(&h, service).map(Some),
        None => Ok(None),
    }
}

/// Every Win32 service with the account it runs as; a service removed meanwhile is left out.
pub fn accounts() -> Result<Vec<(String, String)>> {
    let scm = manager()?;
    let mut accounts = Vec::new();
    for name in names()? {
        if let Some(h) = open(&scm, &name, SERVICE_QUERY_CONFIG)? {
            let account = start_name(&h, &name)?;
            accounts.push((name, account));
        }
    }
    Ok(accounts)
}

/// Makes `service` run as `account`, keeping everything else and the stored password; false
/// when it runs as `account` already.
pub fn set_account(service: &str, account: &str) -> Result<bool> {
    let scm = manager()?;
    let h = open(&scm, service, SERVICE_QUERY_CONFIG | SERVICE_CHANGE_CONFIG)?
        .ok_or_else(|| agent::Error::NotFound(format!("the service {}", service)))?;
    if start_name(&h, service)?.eq_ignore_ascii_case(account) {
        return Ok(false);
    }
    let waccount = wide(account);
    let ok = unsafe {
        ChangeServiceConfigW(
            h.0,
            SERVICE_NO_CHANGE,
            SERVICE_NO_CHANGE,
            SERVICE_NO_CHANGE,
            null(),
            null(),
            null_mut(),
            null(),
            waccount.as_ptr(),
            null(),
            null(),
        )
    };
    if ok == 0 {
        return Err(last_error(
            "ChangeServiceConfigW",
            &format!("{} (run as {})", service, account),
        ));
    }
    Ok(true)
}

/// The SID of a service's account name.
pub fn account_sid(name: &str) -> Result<Sid> {
    if let Some((_, sid)) = WELL_KNOWN
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        return sid.parse().map_err(agent::Error::from);
    }
    // `.\name` is a local account: the machine's name is what LookupAccountNameW wants.
    let name = match name.strip_prefix(".\\") {
        Some(local) => format!("{}\\{}", super::system::computer_name()?, local),
        None => name.to_string(),
    };
    security::lookup_account_name(&name)
}

/// The name the SCM takes for the account `sid`.
pub fn account_name(sid: &Sid) -> Result<String> {
    let text = sid.to_string();
    if let Some((name, _)) = WELL_KNOWN.iter().find(|(_, s)| *s == text) {
        return Ok(name.to_string());
    }
    security::lookup_sid(sid)
}

/// Whether `sid` is one of the built-in service accounts, which need no logon right.
pub fn is_builtin(sid: &Sid) -> bool {
    let text = sid.to_string();
    WELL_KNOWN.iter().any(|(_, s)| *s == text)
}

/// `READ_CONTROL`, `WRITE_DAC`, `WRITE_OWNER` and `ACCESS_SYSTEM_SECURITY` on a service handle.
const READ_CONTROL: u32 = 0x0002_0000;
const WRITE_DAC: u32 = 0x0004_0000;
const WRITE_OWNER: u32 = 0x0008_0000;
const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;

fn query_security(h: &Handle, service: &str, info: u32) -> Result<Vec<u8>> {
    let mut needed = 0u32;
    let ok = unsafe { QueryServiceObjectSecurity(h.0, info, null_mut(), 0, &mut needed) };
    if ok == 0 && unsafe { GetLastError() } != ERROR_INSUFFICIENT_BUFFER {
        return Err(last_error("QueryServiceObjectSecurity", service));
    }
    let mut buffer = vec![0u8; needed as usize];
    let ok = unsafe {
        QueryServiceObjectSecurity(h.0, info, buffer.as_mut_ptr() as _, needed, &mut needed)
    };
    if ok == 0 {
        return Err(last_error("QueryServiceObjectSecurity", service));
    }
    Ok(buffer)
}

/// The descriptor of `service` (`QueryServiceObjectSecurity`): owner, group, DACL and, when the
/// account may read it (`SeSecurityPrivilege`), the SACL.
pub fn descriptor(service: &str) -> Result<Vec<u8>> {
    use windows_sys::Win32::Security::{
        DACL_SECURITY_INFORMATION, GROUP_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION,
        SACL_SECURITY_INFORMATION,
    };
    let scm = manager()?;
    let base = OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
    let missing = || agent::Error::NotFound(format!("the service {}", service));
    match open(&scm, service, READ_CONTROL | ACCESS_SYSTEM_SECURITY) {
        Ok(Some(h)) => query_security(&h, service, base | SACL_SECURITY_INFORMATION),
        Ok(None) => Err(missing()),
        // Without SeSecurityPrivilege: the rest of the descriptor.
        Err(_) => {
            let h = open(&scm, service, READ_CONTROL)?.ok_or_else(missing)?;
            query_security(&h, service, base)
        }
    }
}

/// Writes the `info` parts of the self-relative `sd` to `service` (`SetServiceObjectSecurity`)
/// and reads them back: a write the service control manager did not keep fails.
pub fn set_descriptor(
    service: &str,
    sd: &[u8],
    info: u32,
    parts: agent::SecurityParts,
) -> Result<()> {
    let scm = manager()?;
    let mut access = READ_CONTROL;
    if parts.owner || parts.group {
        access |= WRITE_OWNER;
    }
    if parts.dacl {
        access |= WRITE_DAC;
    }
    if parts.sacl {
        access |= ACCESS_SYSTEM_SECURITY;
    }
    let h = open(&scm, service, access)?
        .ok_or_else(|| agent::Error::NotFound(format!("the service {}", service)))?;
    let mut copy = sd.to_vec();
    if unsafe { SetServiceObjectSecurity(h.0, info, copy.as_mut_ptr() as _) } == 0 {
        return Err(last_error("SetServiceObjectSecurity", service));
    }
    let back = query_security(&h, service, info & 0xF)?;
    security::verify_written("SetServiceObjectSecurity", service, sd, parts, &back)
}
