//! User rights and privileges through the Local Security Authority: `LsaOpenPolicy`,
//! `LsaEnumerateAccountRights`, `LsaAddAccountRights`, `LsaRemoveAccountRights` and
//! `LsaEnumerateAccountsWithUserRight`. (Wine answers these with stubs: they are verified on the
//! Windows runner.)

use std::collections::BTreeSet;

use agent::Result;
use secdesc::Sid;
use windows_sys::Win32::Foundation::NTSTATUS;
use windows_sys::Win32::Security::Authentication::Identity::*;

use super::{error, security, wide};

const POLICY_VIEW_LOCAL_INFORMATION: u32 = 0x0001;
const POLICY_CREATE_ACCOUNT: u32 = 0x0010;
const POLICY_LOOKUP_NAMES: u32 = 0x0800;
const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = 0xC000_0034_u32 as NTSTATUS;
const STATUS_NO_MORE_ENTRIES: NTSTATUS = 0x8000_001A_u32 as NTSTATUS;

/// The rights and privileges Windows knows, for [`in_use`]: LSA has no call listing the rights
/// held, only who holds a given one.
pub const KNOWN_RIGHTS: &[&str] = &[
    "SeInteractiveLogonRight",
    "SeNetworkLogonRight",
    "SeBatchLogonRight",
    "SeServiceLogonRight",
    "SeRemoteInteractiveLogonRight",
    "SeDenyInteractiveLogonRight",
    "SeDenyNetworkLogonRight",
    "SeDenyBatchLogonRight",
    "SeDenyServiceLogonRight",
    "SeDenyRemoteInteractiveLogonRight",
    "SeAssignPrimaryTokenPrivilege",
    "SeAuditPrivilege",
    "SeBackupPrivilege",
    "SeChangeNotifyPrivilege",
    "SeCreateGlobalPrivilege",
    "SeCreatePagefilePrivilege",
    "SeCreatePermanentPrivilege",
    "SeCreateSymbolicLinkPrivilege",
    "SeCreateTokenPrivilege",
    "SeDebugPrivilege",
    "SeDelegateSessionUserImpersonatePrivilege",
    "SeEnableDelegationPrivilege",
    "SeImpersonatePrivilege",
    "SeIncreaseBasePriorityPrivilege",
    "SeIncreaseQuotaPrivilege",
    "SeIncreaseWorkingSetPrivilege",
    "SeLoadDriverPrivilege",
    "SeLockMemoryPrivilege",
    "SeMachineAccountPrivilege",
    "SeManageVolumePrivilege",
    "SeProfileSingleProcessPrivilege",
    "SeRelabelPrivilege",
    "SeRemoteShutdownPrivilege",
    "SeRestorePrivilege",
    "SeSecurityPrivilege",
    "SeShutdownPrivilege",
    "SeSyncAgentPrivilege",
    "SeSystemEnvironmentPrivilege",
    "SeSystemProfilePrivilege",
    "SeSystemtimePrivilege",
    "SeTakeOwnershipPrivilege",
    "SeTcbPrivilege",
    "SeTimeZonePrivilege",
    "SeTrustedCredManAccessPrivilege",
    "SeUndockPrivilege",
];

/// An open policy of this machine's LSA, closed when dropped.
struct Policy(LSA_HANDLE);

impl Drop for Policy {
    fn drop(&mut self) {
        unsafe {
            LsaClose(self.0);
        }
    }
}

fn check(status: NTSTATUS, call: &str, object: &str) -> Result<()> {
    if status == 0 {
        return Ok(());
    }
    Err(error(call, object, unsafe {
        LsaNtStatusToWinError(status)
    }))
}

fn open() -> Result<Policy> {
    let attributes: LSA_OBJECT_ATTRIBUTES = unsafe { std::mem::zeroed() };
    let mut handle: LSA_HANDLE = unsafe { std::mem::zeroed() };
    let status = unsafe {
        LsaOpenPolicy(
            std::ptr::null(),
            &attributes,
            POLICY_VIEW_LOCAL_INFORMATION | POLICY_CREATE_ACCOUNT | POLICY_LOOKUP_NAMES,
            &mut handle,
        )
    };
    check(status, "LsaOpenPolicy", "")?;
    Ok(Policy(handle))
}

/// `text` as the counted string LSA takes; `buffer` must outlive it.
fn counted(buffer: &mut [u16]) -> LSA_UNICODE_STRING {
    // Without the terminating NUL, in bytes.
    let bytes = ((buffer.len() - 1) * 2) as u16;
    LSA_UNICODE_STRING {
        Length: bytes,
        MaximumLength: bytes + 2,
        Buffer: buffer.as_mut_ptr(),
    }
}

/// The rights and privileges granted to `sid` itself (not through its groups).
pub fn rights_of(sid: &Sid) -> Result<Vec<String>> {
    let policy = open()?;
    let mut bytes = sid.to_bytes();
    let mut list: *mut LSA_UNICODE_STRING = std::ptr::null_mut();
    let mut count = 0u32;
    let status = unsafe {
        LsaEnumerateAccountRights(policy.0, bytes.as_mut_ptr() as _, &mut list, &mut count)
    };
    if status == STATUS_OBJECT_NAME_NOT_FOUND {
        return Ok(Vec::new());
    }
    check(status, "LsaEnumerateAccountRights", &sid.to_string())?;
    let mut rights = Vec::new();
    unsafe {
        for s in std::slice::from_raw_parts(list, count as usize) {
            let text = std::slice::from_raw_parts(s.Buffer, s.Length as usize / 2);
            rights.push(String::from_utf16_lossy(text));
        }
        LsaFreeMemory(list as _);
    }
    Ok(rights)
}

/// Reads the rights of `sid` back after `call`: an LSA that answers success without keeping the
/// change (Wine's) must fail the step, not let it be recorded as done.
fn held_as_said(sid: &Sid, right: &str, held: bool, call: &str, object: &str) -> Result<()> {
    if rights_of(sid)?
        .iter()
        .any(|r| r.eq_ignore_ascii_case(right))
        == held
    {
        return Ok(());
    }
    Err(agent::Error::Device(format!(
        "{} on {} answered success, but reading the rights back shows no change",
        call, object
    )))
}

/// Grants `right` to `sid`; false when it held it already.
pub fn grant(sid: &Sid, right: &str) -> Result<bool> {
    if rights_of(sid)?
        .iter()
        .any(|r| r.eq_ignore_ascii_case(right))
    {
        return Ok(false);
    }
    let policy = open()?;
    let mut bytes = sid.to_bytes();
    let mut name = wide(right);
    let name = counted(&mut name);
    let status = unsafe { LsaAddAccountRights(policy.0, bytes.as_mut_ptr() as _, &name, 1) };
    let object = format!("{} for {}", right, sid);
    check(status, "LsaAddAccountRights", &object)?;
    held_as_said(sid, right, true, "LsaAddAccountRights", &object)?;
    Ok(true)
}

/// Takes `right` from `sid`; false when it did not hold it.
pub fn revoke(sid: &Sid, right: &str) -> Result<bool> {
    if !rights_of(sid)?
        .iter()
        .any(|r| r.eq_ignore_ascii_case(right))
    {
        return Ok(false);
    }
    let policy = open()?;
    let mut bytes = sid.to_bytes();
    let mut name = wide(right);
    let name = counted(&mut name);
    let status =
        unsafe { LsaRemoveAccountRights(policy.0, bytes.as_mut_ptr() as _, false, &name, 1) };
    let object = format!("{} for {}", right, sid);
    check(status, "LsaRemoveAccountRights", &object)?;
    held_as_said(sid, right, false, "LsaRemoveAccountRights", &object)?;
    Ok(true)
}

/// The SIDs holding `right`.
pub fn holders(right: &str) -> Result<BTreeSet<Sid>> {
    let policy = open()?;
    let mut name = wide(right);
    let name = counted(&mut name);
    let mut buffer: *mut core::ffi::c_void = std::ptr::null_mut();
    let mut count = 0u32;
    let status =
        unsafe { LsaEnumerateAccountsWithUserRight(policy.0, &name, &mut buffer, &mut count) };
    if status == STATUS_NO_MORE_ENTRIES || status == STATUS_OBJECT_NAME_NOT_FOUND {
        return Ok(BTreeSet::new());
    }
    check(status, "LsaEnumerateAccountsWithUserRight", right)?;
    let mut sids = BTreeSet::new();
    let result = unsafe {
        std::slice::from_raw_parts(buffer as *const LSA_ENUMERATION_INFORMATION, count as usize)
            .iter()
            .try_for_each(|entry| {
                sids.insert(security::sid_at(entry.Sid)?);
                Ok(())
            })
    };
    unsafe {
        LsaFreeMemory(buffer);
    }
    result.map(|()| sids)
}

/// The known rights that someone holds.
pub fn in_use() -> Result<Vec<String>> {
    let mut used = Vec::new();
    for right in KNOWN_RIGHTS {
        if !holders(right)?.is_empty() {
            used.push(right.to_string());
        }
    }
    Ok(used)
}
