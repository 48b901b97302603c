//! Who holds a user's hive file open, before its profile is translated: a hive loaded for a
//! signed-in user (its SID loaded under `HKU`, ProfileList mapping the file's folder to that SID)
//! is held by that user's session; any other process holding the file is found with Restart
//! Manager (`RmStartSession`, `RmRegisterResources`, `RmGetList`, `RmEndSession`). Wine exports
//! Restart Manager as stubs that find nothing, so under Wine the real calls are refused by name
//! rather than answering "free"; the workstation reaches them through the [`Sys`] seam.

use std::ptr::{null, null_mut};

use agent::Result;
use secdesc::Sid;
use windows_sys::Win32::System::RestartManager::{
    RmEndSession, RmGetList, RmRegisterResources, RmStartSession, CCH_RM_SESSION_KEY,
    RM_PROCESS_INFO,
};

use super::registry;
use super::sys::Sys;
use super::{error, from_wide, wide, wine_lacks};
use crate::keys::KeyName;

/// `ERROR_MORE_DATA`.
const MORE_DATA: u32 = 234;

/// The holder of the hive file `path`, as `name (pid)`, or `None` when nothing holds it.
/// `profiles` is ProfileList: SID, profile folder.
pub fn hive_holder(
    sys: &dyn Sys,
    profiles: &[(Sid, String)],
    path: &str,
) -> Result<Option<String>> {
    let folder = path
        .rsplit_once('\\')
        .map_or("", |(folder, _)| folder)
        .trim_end_matches('\\');
    let owner = profiles
        .iter()
        .find(|(_, p)| p.trim_end_matches('\\').eq_ignore_ascii_case(folder));
    if let Some((sid, _)) = owner {
        let loaded = KeyName::parse(&format!("HKU\\{}", sid))?;
        if registry::open(&loaded, registry::READ)?.is_some() {
            return Ok(Some(format!(
                "the signed-in session of {} (its hive is loaded under HKU\\{})",
                sid, sid
            )));
        }
    }
    let holders = sys.file_holders(path)?;
    Ok(if holders.is_empty() {
        None
    } else {
        let named: Vec<String> = holders
            .iter()
            .map(|(name, pid)| format!("{} ({})", name, pid))
            .collect();
        Some(named.join(", "))
    })
}

/// Ends a Restart Manager session when dropped.
struct Session(u32);

impl Drop for Session {
    fn drop(&mut self) {
        unsafe { RmEndSession(self.0) };
    }
}

/// The processes Restart Manager finds holding the file `path` open: name and process id.
pub fn win32_file_holders(path: &str) -> Result<Vec<(String, u32)>> {
    wine_lacks("RmStartSession")?;
    let mut handle = 0u32;
    let mut key = [0u16; CCH_RM_SESSION_KEY as usize + 1];
    let rc = unsafe { RmStartSession(&mut handle, 0, key.as_mut_ptr()) };
    if rc != 0 {
        return Err(error("RmStartSession", path, rc));
    }
    let session = Session(handle);
    let file = wide(path);
    let files = [file.as_ptr()];
    let rc = unsafe { RmRegisterResources(session.0, 1, files.as_ptr(), 0, null(), 0, null()) };
    if rc != 0 {
        return Err(error("RmRegisterResources", path, rc));
    }
    let mut list: Vec<RM_PROCESS_INFO> = Vec::new();
    // Processes may open the file between the two calls: ask again while the list grows.
    for _ in 0..5 {
        let (mut needed, mut count, mut reasons) = (0u32, list.len() as u32, 0u32);
        let buffer = if list.is_empty() {
            null_mut()
        } else {
            list.as_mut_ptr()
        };
        let rc = unsafe { RmGetList(session.0, &mut needed, &mut count, buffer, &mut reasons) };
        match rc {
            0 => {
                list.truncate(count as usize);
                return Ok(list
                    .iter()
                    .map(|p| (from_wide(&p.strAppName), p.Process.dwProcessId))
                    .collect());
            }
            MORE_DATA => list = vec![RM_PROCESS_INFO::default(); needed as usize],
            rc => return Err(error("RmGetList", path, rc)),
        }
    }
    Err(error("RmGetList", path, MORE_DATA))
}
