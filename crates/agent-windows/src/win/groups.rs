//! Local groups and their members: `NetLocalGroupEnum`, `NetLocalGroupGetMembers`,
//! `NetLocalGroupAddMembers` and `NetLocalGroupDelMembers` (level 0, by SID), through the
//! [`Sys`] seam. Every change is read back: a call that reports success and changes nothing
//! fails.

use std::collections::BTreeMap;
use std::ptr::{null, null_mut};

use agent::{Error, Result};
use secdesc::Sid;
use windows_sys::Win32::Foundation::{ERROR_MEMBER_IN_ALIAS, ERROR_MEMBER_NOT_IN_ALIAS};
use windows_sys::Win32::NetworkManagement::NetManagement::{
    NetApiBufferFree, NetLocalGroupAddMembers, NetLocalGroupDelMembers, NetLocalGroupEnum,
    NetLocalGroupGetMembers, LOCALGROUP_INFO_0, LOCALGROUP_MEMBERS_INFO_0, MAX_PREFERRED_LENGTH,
};

use super::sys::Sys;
use super::{error, from_pwstr, security, wide};

const ERROR_MORE_DATA: u32 = 234;
/// `NERR_GroupNotFound`.
const GROUP_NOT_FOUND: u32 = 2220;

/// Calls a `Net*Enum` style function until it has given every entry, handing each page's
/// entries of type `T` to `each`.
fn pages<T>(
    call: &str,
    object: &str,
    mut fetch: impl FnMut(*mut *mut u8, *mut u32, *mut u32, *mut usize) -> u32,
    mut each: impl FnMut(&T) -> Result<()>,
) -> Result<()> {
    let mut resume = 0usize;
    loop {
        let mut buf: *mut u8 = null_mut();
        let (mut read, mut total) = (0u32, 0u32);
        let rc = fetch(&mut buf, &mut read, &mut total, &mut resume);
        if rc != 0 && rc != ERROR_MORE_DATA {
            if rc == GROUP_NOT_FOUND {
                return Err(Error::NotFound(format!("the local group {}", object)));
            }
            return Err(error(call, object, rc));
        }
        let result = unsafe {
            let entries = std::slice::from_raw_parts(buf as *const T, read as usize);
            let r = entries.iter().try_for_each(&mut each);
            NetApiBufferFree(buf as _);
            r
        };
        result?;
        if rc != ERROR_MORE_DATA {
            return Ok(());
        }
    }
}

/// The names of the local groups: `NetLocalGroupEnum` itself.
pub fn win32_names() -> Result<Vec<String>> {
    let mut names = Vec::new();
    pages::<LOCALGROUP_INFO_0>(
        "NetLocalGroupEnum",
        "",
        |buf, read, total, resume| unsafe {
            NetLocalGroupEnum(null(), 0, buf, MAX_PREFERRED_LENGTH, read, total, resume)
        },
        |g| {
            names.push(unsafe { from_pwstr(g.lgrpi0_name) });
            Ok(())
        },
    )?;
    Ok(names)
}

/// The names of the local groups.
pub fn names(sys: &dyn Sys) -> Result<Vec<String>> {
    let names = sys.local_group_names()?;
    // Every Windows has Administrators, Users, Guests…: none at all is a system that keeps no
    // local groups (Wine), and backing up nothing would lose the members on restore.
    if names.is_empty() {
        return Err(Error::Device(
            "NetLocalGroupEnum listed no local groups: this system does not keep local groups"
                .to_string(),
        ));
    }
    Ok(names)
}

/// The members of the local group `group`, by SID: `NetLocalGroupGetMembers` itself.
pub fn win32_members_of(group: &str) -> Result<Vec<Sid>> {
    let wgroup = wide(group);
    let mut members = Vec::new();
    pages::<LOCALGROUP_MEMBERS_INFO_0>(
        "NetLocalGroupGetMembers",
        group,
        |buf, read, total, resume| unsafe {
            NetLocalGroupGetMembers(
                null(),
                wgroup.as_ptr(),
                0,
                buf,
                MAX_PREFERRED_LENGTH,
                read,
                total,
                resume,
            )
        },
        |m| {
            members.push(unsafe { security::sid_at(m.lgrmi0_sid)? });
            Ok(())
        },
    )?;
    Ok(members)
}

/// Every local group with its members.
pub fn members(sys: &dyn Sys) -> Result<BTreeMap<String, Vec<Sid>>> {
    names(sys)?
        .into_iter()
        .map(|g| Ok((g.clone(), sys.local_group_members(&g)?)))
        .collect()
}

/// Every member of a local group, none where the system keeps no local groups.
pub fn all_members(sys: &dyn Sys) -> Result<Vec<Sid>> {
    let mut out = Vec::new();
    for group in sys.local_group_names()? {
        out.extend(sys.local_group_members(&group)?);
    }
    Ok(out)
}

/// Adds (`add`) or removes `member` to or from `group`; false when it was so already. Read back
/// with `NetLocalGroupGetMembers`.
pub fn change(sys: &dyn Sys, group: &str, member: &Sid, add: bool) -> Result<bool> {
    let (call, already) = if add {
        ("NetLocalGroupAddMembers", ERROR_MEMBER_IN_ALIAS)
    } else {
        ("NetLocalGroupDelMembers", ERROR_MEMBER_NOT_IN_ALIAS)
    };
    let rc = sys.net_local_group_change(group, member, add)?;
    let changed = match rc {
        0 => true,
        rc if rc == already => false,
        GROUP_NOT_FOUND => return Err(Error::NotFound(format!("the local group {}", group))),
        rc => return Err(error(call, &format!("{} ({})", group, member), rc)),
    };
    if sys.local_group_members(group)?.contains(member) != add {
        return Err(Error::Device(format!(
            "{} on {} ({}) reported success but {} read back says otherwise: this system does not keep local group members",
            call, group, member, "NetLocalGroupGetMembers"
        )));
    }
    Ok(changed)
}

/// `NetLocalGroupAddMembers` or `NetLocalGroupDelMembers` level 0 itself.
pub fn win32_change(group: &str, member: &Sid, add: bool) -> Result<u32> {
    let wgroup = wide(group);
    let mut sid = member.to_bytes();
    let info = LOCALGROUP_MEMBERS_INFO_0 {
        lgrmi0_sid: sid.as_mut_ptr() as _,
    };
    let buf = &info as *const LOCALGROUP_MEMBERS_INFO_0 as *const u8;
    let rc = unsafe {
        if add {
            NetLocalGroupAddMembers(null(), wgroup.as_ptr(), 0, buf, 1)
        } else {
            NetLocalGroupDelMembers(null(), wgroup.as_ptr(), 0, buf, 1)
        }
    };
    Ok(rc)
}
