//! Privileges of the agent's token, SDDL conversions and account lookups, by Windows itself
//! (`ConvertStringSecurityDescriptorToSecurityDescriptorW`, `LookupAccountNameW`, …).

use std::ptr::null_mut;

use agent::{Error, Result};
use secdesc::Sid;
use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, HANDLE, LUID};
use windows_sys::Win32::Security::Authorization::{
    ConvertSecurityDescriptorToStringSecurityDescriptorW, ConvertSidToStringSidW,
    ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    AdjustTokenPrivileges, GetSecurityDescriptorLength, LookupAccountNameW, LookupAccountSidW,
    LookupPrivilegeValueW, DACL_SECURITY_INFORMATION, GROUP_SECURITY_INFORMATION,
    LUID_AND_ATTRIBUTES, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR,
    SACL_SECURITY_INFORMATION, SE_PRIVILEGE_ENABLED, SID_NAME_USE, TOKEN_ADJUST_PRIVILEGES,
    TOKEN_PRIVILEGES, TOKEN_QUERY,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use super::{from_pwstr, last_error, wide};

/// Enables the privilege `name` (`SeRestorePrivilege` …) in the process token. An account that
/// does not hold it gets an error naming it.
pub fn enable_privilege(name: &str) -> Result<()> {
    unsafe {
        let mut token: HANDLE = null_mut();
        if OpenProcessToken(
            GetCurrentProcess(),
            TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY,
            &mut token,
        ) == 0
        {
            return Err(last_error("OpenProcessToken", ""));
        }
        let wname = wide(name);
        let mut luid = LUID {
            LowPart: 0,
            HighPart: 0,
        };
        if LookupPrivilegeValueW(std::ptr::null(), wname.as_ptr(), &mut luid) == 0 {
            let e = last_error("LookupPrivilegeValueW", name);
            CloseHandle(token);
            return Err(e);
        }
        let privileges = TOKEN_PRIVILEGES {
            PrivilegeCount: 1,
            Privileges: [LUID_AND_ATTRIBUTES {
                Luid: luid,
                Attributes: SE_PRIVILEGE_ENABLED,
            }],
        };
        let ok = AdjustTokenPrivileges(token, 0, &privileges, 0, null_mut(), null_mut());
        // ERROR_NOT_ALL_ASSIGNED (1300) with a TRUE return: the account does not hold it.
        let code = windows_sys::Win32::Foundation::GetLastError();
        CloseHandle(token);
        if ok == 0 || code == 1300 {
            return Err(super::error("AdjustTokenPrivileges", name, code));
        }
    }
    Ok(())
}

/// The self-relative binary form of the descriptor `sddl`, as Windows parses it.
pub fn sddl_to_descriptor(sddl: &str) -> Result<Vec<u8>> {
    let wsddl = wide(sddl);
    let mut sd: PSECURITY_DESCRIPTOR = null_mut();
    let mut len = 0u32;
    unsafe {
        if ConvertStringSecurityDescriptorToSecurityDescriptorW(
            wsddl.as_ptr(),
            SDDL_REVISION_1,
            &mut sd,
            &mut len,
        ) == 0
        {
            return Err(last_error(
                "ConvertStringSecurityDescriptorToSecurityDescriptorW",
                sddl,
            ));
        }
        let bytes = std::slice::from_raw_parts(sd as *const u8, len as usize).to_vec();
        LocalFree(sd as _);
        Ok(bytes)
    }
}

/// The SDDL of the self-relative descriptor `descriptor`, as Windows writes it.
pub fn descriptor_to_sddl(descriptor: &[u8]) -> Result<String> {
    let mut copy = descriptor.to_vec();
    let mut text: *mut u16 = null_mut();
    unsafe {
        if GetSecurityDescriptorLength(copy.as_mut_ptr() as _) as usize > copy.len() {
            return Err(Error::Device(
                "the security descriptor is shorter than it says".to_string(),
            ));
        }
        if ConvertSecurityDescriptorToStringSecurityDescriptorW(
            copy.as_mut_ptr() as _,
            SDDL_REVISION_1,
            OWNER_SECURITY_INFORMATION
                | GROUP_SECURITY_INFORMATION
                | DACL_SECURITY_INFORMATION
                | SACL_SECURITY_INFORMATION,
            &mut text,
            null_mut(),
        ) == 0
        {
            return Err(last_error(
                "ConvertSecurityDescriptorToStringSecurityDescriptorW",
                "",
            ));
        }
        let sddl = from_pwstr(text);
        LocalFree(text as _);
        Ok(sddl)
    }
}

/// The SID of the account `name` (`BUILTIN\Administrators`, `DOMAIN\user`).
pub fn lookup_account_name(name: &str) -> Result<Sid> {
    let wname = wide(name);
    let mut sid = vec![0u8; 68];
    let mut sid_len = sid.len() as u32;
    let mut domain = vec![0u16; 256];
    let mut domain_len = domain.len() as u32;
    let mut use_: SID_NAME_USE = 0;
    let ok = unsafe {
        LookupAccountNameW(
            std::ptr::null(),
            wname.as_ptr(),
            sid.as_mut_ptr() as _,
            &mut sid_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut use_,
        )
    };
    if ok == 0 {
        return Err(last_error("LookupAccountNameW", name));
    }
    sid_string(&sid)
}

/// The `DOMAIN\name` of `sid`.
pub fn lookup_sid(sid: &Sid) -> Result<String> {
    let mut bytes = sid.to_bytes();
    let mut name = vec![0u16; 256];
    let mut name_len = name.len() as u32;
    let mut domain = vec![0u16; 256];
    let mut domain_len = domain.len() as u32;
    let mut use_: SID_NAME_USE = 0;
    let ok = unsafe {
        LookupAccountSidW(
            std::ptr::null(),
            bytes.as_mut_ptr() as _,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut use_,
        )
    };
    if ok == 0 {
        return Err(last_error("LookupAccountSidW", &sid.to_string()));
    }
    let (domain, name) = (
        String::from_utf16_lossy(&domain[..domain_len as usize]),
        String::from_utf16_lossy(&name[..name_len as usize]),
    );
    Ok(if domain.is_empty() {
        name
    } else {
        format!("{}\\{}", domain, name)
    })
}

/// The SID at `psid`, as Windows gives it.
///
/// # Safety
/// `psid` must point to a valid SID.
pub unsafe fn sid_at(psid: windows_sys::Win32::Security::PSID) -> Result<Sid> {
    let len = windows_sys::Win32::Security::GetLengthSid(psid) as usize;
    sid_string(std::slice::from_raw_parts(psid as *const u8, len))
}

/// The string form Windows gives the binary SID `bytes` (`ConvertSidToStringSidW`), parsed.
fn sid_string(bytes: &[u8]) -> Result<Sid> {
    let mut copy = bytes.to_vec();
    let mut text: *mut u16 = null_mut();
    unsafe {
        if ConvertSidToStringSidW(copy.as_mut_ptr() as _, &mut text) == 0 {
            return Err(last_error("ConvertSidToStringSidW", ""));
        }
        let s = from_pwstr(text);
        LocalFree(text as _);
        s.parse::<Sid>().map_err(Error::from)
    }
}

/// The descriptor of the file or folder `path` (`GetNamedSecurityInfoW`), self-relative: owner,
/// group, DACL and, with `sacl`, the SACL. `None` when there is no such file.
pub fn file_descriptor(path: &str, sacl: bool) -> Result<Option<Vec<u8>>> {
    use windows_sys::Win32::Security::Authorization::{GetNamedSecurityInfoW, SE_FILE_OBJECT};
    let wpath = wide(path);
    let mut info =
        OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
    if sacl {
        info |= SACL_SECURITY_INFORMATION;
    }
    let mut sd: PSECURITY_DESCRIPTOR = null_mut();
    let rc = unsafe {
        GetNamedSecurityInfoW(
            wpath.as_ptr(),
            SE_FILE_OBJECT,
            info,
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            &mut sd,
        )
    };
    match rc {
        0 => {}
        // ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND
        2 | 3 => return Ok(None),
        rc => return Err(super::error("GetNamedSecurityInfoW", path, rc)),
    }
    unsafe {
        let len = GetSecurityDescriptorLength(sd) as usize;
        let bytes = std::slice::from_raw_parts(sd as *const u8, len).to_vec();
        LocalFree(sd as _);
        Ok(Some(bytes))
    }
}

/// The ACEs of `acl` that were set on the object itself, not inherited from its parent.
fn explicit(acl: &Option<secdesc::Acl>) -> Vec<&secdesc::Ace> {
    match acl {
        Some(acl) => acl.aces.iter().filter(|a| !a.is_inherited()).collect(),
        None => Vec::new(),
    }
}

/// Checks that `object` holds the `parts` of `written` now that `call` reported them written,
/// from `read_back`, its descriptor read again: its owner, group and the ACEs set on it (ACEs
/// inherited from its parent are the system's to add). A call that reports success and keeps
/// nothing (as some of Wine's do) is an error naming it, never a change done.
pub fn verify_written(
    call: &str,
    object: &str,
    written: &[u8],
    parts: agent::SecurityParts,
    read_back: &[u8],
) -> Result<()> {
    let parse = |bytes: &[u8]| {
        secdesc::SecurityDescriptor::from_bytes(bytes).map_err(|e| {
            Error::Device(format!(
                "the descriptor of {} cannot be read: {}",
                object, e
            ))
        })
    };
    let (want, got) = (parse(written)?, parse(read_back)?);
    let mut lost = Vec::new();
    if parts.owner && want.owner != got.owner {
        lost.push("owner");
    }
    if parts.group && want.group != got.group {
        lost.push("group");
    }
    if parts.dacl && explicit(&want.dacl) != explicit(&got.dacl) {
        lost.push("DACL");
    }
    if parts.sacl && explicit(&want.sacl) != explicit(&got.sacl) {
        lost.push("SACL");
    }
    if lost.is_empty() {
        return Ok(());
    }
    Err(Error::Device(format!(
        "{} on {} reported success but the {} read back is not the one written: this system does not keep it",
        call,
        object,
        lost.join(", ")
    )))
}

/// The owner, group, DACL and SACL pointers inside the self-relative descriptor `sd`, as
/// `SetNamedSecurityInfoW` and `SetSecurityInfo` take them (null where absent).
///
/// # Safety
/// `sd` must hold a valid self-relative descriptor and outlive the pointers.
pub unsafe fn parts_of(
    sd: &mut [u8],
) -> Result<(
    windows_sys::Win32::Security::PSID,
    windows_sys::Win32::Security::PSID,
    *mut windows_sys::Win32::Security::ACL,
    *mut windows_sys::Win32::Security::ACL,
)> {
    use windows_sys::Win32::Security::{
        GetSecurityDescriptorDacl, GetSecurityDescriptorGroup, GetSecurityDescriptorOwner,
        GetSecurityDescriptorSacl, ACL, PSID,
    };
    let p = sd.as_mut_ptr() as PSECURITY_DESCRIPTOR;
    let (mut owner, mut group): (PSID, PSID) = (null_mut(), null_mut());
    let (mut dacl, mut sacl): (*mut ACL, *mut ACL) = (null_mut(), null_mut());
    let (mut defaulted, mut present) = (0, 0);
    if GetSecurityDescriptorOwner(p, &mut owner, &mut defaulted) == 0
        || GetSecurityDescriptorGroup(p, &mut group, &mut defaulted) == 0
        || GetSecurityDescriptorDacl(p, &mut present, &mut dacl, &mut defaulted) == 0
        || GetSecurityDescriptorSacl(p, &mut present, &mut sacl, &mut defaulted) == 0
    {
        return Err(last_error("GetSecurityDescriptorOwner", "a descriptor"));
    }
    Ok((owner, group, dacl, sacl))
}
