//! The shares this device publishes and their share-level descriptors: `NetShareEnum` (level 1),
//! `NetShareGetInfo` and `NetShareSetInfo` at level 1501, read back after every write.

use std::ptr::{null, null_mut};

use agent::{Error, Result, SecurityParts};
use windows_sys::Win32::NetworkManagement::NetManagement::{
    NetApiBufferFree, MAX_PREFERRED_LENGTH,
};
use windows_sys::Win32::Security::GetSecurityDescriptorLength;
use windows_sys::Win32::Storage::FileSystem::{
    NetShareEnum, NetShareGetInfo, NetShareSetInfo, SHARE_INFO_1, SHARE_INFO_1501, STYPE_DISKTREE,
    STYPE_SPECIAL,
};

use super::{error, from_pwstr, security, wide, wine_lacks};

const ERROR_MORE_DATA: u32 = 234;
/// `NERR_NetNameNotFound`.
const NET_NAME_NOT_FOUND: u32 = 2310;

/// The disk shares the device publishes, by name; the administrative ones (`C$`, `ADMIN$`,
/// `IPC$`), which Windows re-creates with its own descriptors, are left out.
pub fn names() -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut resume = 0u32;
    loop {
        let mut buf: *mut u8 = null_mut();
        let (mut read, mut total) = (0u32, 0u32);
        let rc = unsafe {
            NetShareEnum(
                null(),
                1,
                &mut buf,
                MAX_PREFERRED_LENGTH,
                &mut read,
                &mut total,
                &mut resume,
            )
        };
        if rc != 0 && rc != ERROR_MORE_DATA {
            return Err(error("NetShareEnum", "", rc));
        }
        unsafe {
            let entries = std::slice::from_raw_parts(buf as *const SHARE_INFO_1, read as usize);
            for e in entries {
                if e.shi1_type & STYPE_SPECIAL == 0 && e.shi1_type & 0xFF == STYPE_DISKTREE {
                    names.push(from_pwstr(e.shi1_netname));
                }
            }
            NetApiBufferFree(buf as _);
        }
        if rc != ERROR_MORE_DATA {
            names.sort_by_key(|n| n.to_lowercase());
            return Ok(names);
        }
    }
}

/// The share-level descriptor of `share` (`NetShareGetInfo` level 1501), self-relative. A share
/// without one (everyone has full control) is an error: there is nothing to translate in it,
/// and writing one would change who may connect.
pub fn descriptor(share: &str) -> Result<Vec<u8>> {
    let wshare = wide(share);
    let mut buf: *mut u8 = null_mut();
    let rc = unsafe { NetShareGetInfo(null(), wshare.as_ptr(), 1501, &mut buf) };
    match rc {
        0 => {}
        NET_NAME_NOT_FOUND => return Err(Error::NotFound(format!("the share {}", share))),
        rc => return Err(error("NetShareGetInfo", share, rc)),
    }
    unsafe {
        let info = &*(buf as *const SHARE_INFO_1501);
        let sd = info.shi1501_security_descriptor;
        let bytes = if sd.is_null() {
            None
        } else {
            let len = GetSecurityDescriptorLength(sd) as usize;
            Some(std::slice::from_raw_parts(sd as *const u8, len).to_vec())
        };
        NetApiBufferFree(buf as _);
        bytes.ok_or_else(|| {
            Error::Device(format!(
                "the share {} has no share-level descriptor (NetShareGetInfo level 1501)",
                share
            ))
        })
    }
}

/// Writes `sd` as the share-level descriptor of `share` (`NetShareSetInfo` level 1501) and reads
/// it back: a write the server service did not keep fails.
pub fn set_descriptor(share: &str, sd: &[u8], parts: SecurityParts) -> Result<()> {
    // Wine exports NetShareSetInfo as a stub that aborts the calling process.
    wine_lacks("NetShareSetInfo")?;
    let wshare = wide(share);
    let mut copy = sd.to_vec();
    let info = SHARE_INFO_1501 {
        shi1501_reserved: 0,
        shi1501_security_descriptor: copy.as_mut_ptr() as _,
    };
    let mut bad = 0u32;
    let rc = unsafe {
        NetShareSetInfo(
            null(),
            wshare.as_ptr(),
            1501,
            &info as *const SHARE_INFO_1501 as *const u8,
            &mut bad,
        )
    };
    if rc != 0 {
        return Err(error("NetShareSetInfo", share, rc));
    }
    let back = descriptor(share)?;
    security::verify_written("NetShareSetInfo", share, sd, parts, &back)
}

/// Connects to the share `unc` of another host as `account` (`WNetAddConnection2W`, no drive
/// letter), for re-permissioning remote shares. The password never reaches an error.
pub fn connect(unc: &str, account: &str, password: &str) -> Result<()> {
    use windows_sys::Win32::NetworkManagement::WNet::{
        WNetAddConnection2W, NETRESOURCEW, RESOURCETYPE_DISK,
    };
    let mut wunc = wide(unc);
    let (waccount, wpassword) = (wide(account), wide(password));
    let resource = NETRESOURCEW {
        dwScope: 0,
        dwType: RESOURCETYPE_DISK,
        dwDisplayType: 0,
        dwUsage: 0,
        lpLocalName: null_mut(),
        lpRemoteName: wunc.as_mut_ptr(),
        lpComment: null_mut(),
        lpProvider: null_mut(),
    };
    let rc = unsafe {
        WNetAddConnection2W(
            &resource,
            wpassword.as_ptr(),
            if account.is_empty() {
                null()
            } else {
                waccount.as_ptr()
            },
            0,
        )
    };
    if rc != 0 {
        return Err(error(
            "WNetAddConnection2W",
            &format!("{} as {}", unc, account),
            rc,
        ));
    }
    Ok(())
}

/// Ends the connection to `unc`; nothing to do when there is none.
pub fn disconnect(unc: &str) -> Result<()> {
    use windows_sys::Win32::NetworkManagement::WNet::WNetCancelConnection2W;
    /// `ERROR_NOT_CONNECTED`, and `ERROR_NO_NETWORK`: without a network provider there is no
    /// connection either.
    const NOT_CONNECTED: u32 = 2250;
    const NO_NETWORK: u32 = 1222;
    let wunc = wide(unc);
    match unsafe { WNetCancelConnection2W(wunc.as_ptr(), 0, 1) } {
        0 | NOT_CONNECTED | NO_NETWORK => Ok(()),
        rc => Err(error("WNetCancelConnection2W", unc, rc)),
    }
}
