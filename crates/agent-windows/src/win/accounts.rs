//! Local user accounts through the network management API: `NetUserGetInfo`, `NetUserAdd`,
//! `NetLocalGroupAddMembers` (the fallback administrator) and `NetUserDel`, through the
//! [`Sys`] seam. (Wine implements only the look-up; adding and deleting are verified on the
//! Windows runner, and under Wine through the recording double.)

use std::ptr::{null, null_mut};

use agent::{Error, Result};
use secdesc::Sid;
use windows_sys::Win32::NetworkManagement::NetManagement::*;

use super::sys::Sys;
use super::{error, security, wide};

const ERROR_MEMBER_IN_ALIAS: u32 = 1378;
const ADMINISTRATORS: &str = "S-1-5-32-544";

/// Whether the local account `name` exists.
pub fn exists(sys: &dyn Sys, name: &str) -> Result<bool> {
    sys.net_user_exists(name)
}

/// Creates the local account `name` with `password` (never expiring) in the Administrators
/// group; false when it exists already. The password never reaches an error message.
pub fn create_administrator(sys: &dyn Sys, name: &str, password: &str) -> Result<bool> {
    if exists(sys, name)? {
        return Ok(false);
    }
    let code = sys.net_user_add(name, password, UF_SCRIPT | UF_DONT_EXPIRE_PASSWD)?;
    if code != NERR_Success {
        return Err(error("NetUserAdd", name, code));
    }
    // Read back as Windows keeps it: an API that answers success without an account (Wine's)
    // fails the step instead of letting it be recorded as done.
    if !exists(sys, name)? {
        return Err(Error::Device(format!(
            "NetUserAdd on {} answered success, but NetUserGetInfo finds no such account",
            name
        )));
    }
    // The group's name is localised: looked up from its SID.
    let admin_sid: Sid = ADMINISTRATORS.parse().map_err(Error::from)?;
    let group = security::lookup_sid(&admin_sid)?;
    let group = group.rsplit('\\').next().unwrap_or(&group).to_string();
    let code = sys.net_local_group_add_name(&group, name)?;
    if code != NERR_Success && code != ERROR_MEMBER_IN_ALIAS {
        return Err(error(
            "NetLocalGroupAddMembers",
            &format!("{} to {}", name, group),
            code,
        ));
    }
    Ok(true)
}

/// Deletes the local account `name`; false when there is none.
pub fn delete(sys: &dyn Sys, name: &str) -> Result<bool> {
    let code = sys.net_user_del(name)?;
    if code == NERR_Success {
        Ok(true)
    } else if code == NERR_UserNotFound {
        Ok(false)
    } else {
        Err(error("NetUserDel", name, code))
    }
}

/// `NetUserGetInfo` level 0 itself.
pub fn win32_exists(name: &str) -> Result<bool> {
    let wname = wide(name);
    let mut buffer: *mut u8 = null_mut();
    let code = unsafe { NetUserGetInfo(null(), wname.as_ptr(), 0, &mut buffer) };
    if !buffer.is_null() {
        unsafe { NetApiBufferFree(buffer as _) };
    }
    if code == NERR_Success {
        Ok(true)
    } else if code == NERR_UserNotFound {
        Ok(false)
    } else {
        Err(error("NetUserGetInfo", name, code))
    }
}

/// `NetUserAdd` level 1 itself.
pub fn win32_add(name: &str, password: &str, flags: u32) -> Result<u32> {
    let (mut wname, mut wpassword) = (wide(name), wide(password));
    let info = USER_INFO_1 {
        usri1_name: wname.as_mut_ptr(),
        usri1_password: wpassword.as_mut_ptr(),
        usri1_password_age: 0,
        usri1_priv: USER_PRIV_USER,
        usri1_home_dir: null_mut(),
        usri1_comment: null_mut(),
        usri1_flags: flags,
        usri1_script_path: null_mut(),
    };
    let mut bad_field = 0u32;
    let code = unsafe { NetUserAdd(null(), 1, &info as *const _ as *const u8, &mut bad_field) };
    wpassword.iter_mut().for_each(|c| *c = 0);
    Ok(code)
}

/// `NetLocalGroupAddMembers` level 3 itself.
pub fn win32_add_to_group(group: &str, name: &str) -> Result<u32> {
    let (wgroup, mut member) = (wide(group), wide(name));
    let entry = LOCALGROUP_MEMBERS_INFO_3 {
        lgrmi3_domainandname: member.as_mut_ptr(),
    };
    Ok(unsafe {
        NetLocalGroupAddMembers(
            null(),
            wgroup.as_ptr(),
            3,
            &entry as *const _ as *const u8,
            1,
        )
    })
}

/// `NetUserDel` itself.
pub fn win32_delete(name: &str) -> Result<u32> {
    let wname = wide(name);
    Ok(unsafe { NetUserDel(null(), wname.as_ptr()) })
}
