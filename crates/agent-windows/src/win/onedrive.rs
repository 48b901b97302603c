//! Freeing a synced file's local copy: `CfDehydratePlaceholder` of the Cloud Files API
//! (`cldapi.dll`, Windows 10 1709 and later), loaded when it is first needed so the agent still
//! starts where the library is missing (Wine has none: the call then fails naming it). The file
//! is opened for `FILE_WRITE_DATA` without sharing restrictions, and the whole file
//! (offset 0, length -1) is dehydrated in the background mode a system service uses.

use std::ptr::null_mut;

use agent::{Error, Result};
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
    FILE_WRITE_DATA, OPEN_EXISTING,
};
use windows_sys::Win32::System::LibraryLoader::{GetProcAddress, LoadLibraryW};

use super::{last_error, wide};

/// `CF_DEHYDRATE_FLAG_BACKGROUND`: a system process, not on a user's behalf.
const CF_DEHYDRATE_FLAG_BACKGROUND: u32 = 1;
/// `HRESULT_FROM_WIN32(ERROR_CLOUD_FILE_NOT_IN_SYNC)`: the file has changes not uploaded yet.
const NOT_IN_SYNC: i32 = 0x8007_0179_u32 as i32;
/// `HRESULT_FROM_WIN32(ERROR_CLOUD_FILE_PINNED)`: the user keeps it on this device.
const PINNED: i32 = 0x8007_0188_u32 as i32;
/// `HRESULT_FROM_WIN32(ERROR_NOT_A_CLOUD_FILE)`: not a placeholder of a sync root.
const NOT_A_CLOUD_FILE: i32 = 0x8007_0178_u32 as i32;

type Dehydrate = unsafe extern "system" fn(HANDLE, i64, i64, u32, *mut std::ffi::c_void) -> i32;

/// `CfDehydratePlaceholder`, or an error naming it where `cldapi.dll` does not have it.
fn dehydrate_fn() -> Result<Dehydrate> {
    let library = wide("cldapi.dll");
    let module = unsafe { LoadLibraryW(library.as_ptr()) };
    if module.is_null() {
        return Err(Error::Unsupported {
            action: "CfDehydratePlaceholder".to_string(),
            reason: format!(
                "cldapi.dll cannot be loaded ({}): the Cloud Files API needs Windows 10 1709 or later",
                std::io::Error::last_os_error()
            ),
        });
    }
    let f = unsafe { GetProcAddress(module, b"CfDehydratePlaceholder\0".as_ptr()) }.ok_or_else(
        || Error::Unsupported {
            action: "CfDehydratePlaceholder".to_string(),
            reason: "cldapi.dll does not export it".to_string(),
        },
    )?;
    Ok(unsafe { std::mem::transmute::<_, Dehydrate>(f) })
}

/// Frees the local copy of `path`, leaving a cloud-only placeholder; false when it cannot be
/// freed now (changes not uploaded, or pinned to the device).
pub fn dehydrate(path: &str) -> Result<bool> {
    let f = dehydrate_fn()?;
    let wpath = wide(path);
    let handle = unsafe {
        CreateFileW(
            wpath.as_ptr(),
            FILE_WRITE_DATA | FILE_READ_ATTRIBUTES,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            std::ptr::null(),
            OPEN_EXISTING,
            0,
            null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(last_error("CreateFileW", path));
    }
    let hr = unsafe { f(handle, 0, -1, CF_DEHYDRATE_FLAG_BACKGROUND, null_mut()) };
    unsafe { CloseHandle(handle) };
    match hr {
        0 => Ok(true),
        NOT_IN_SYNC | PINNED => Ok(false),
        NOT_A_CLOUD_FILE => Err(Error::Device(format!(
            "CfDehydratePlaceholder on {}: not a file of a cloud sync root",
            path
        ))),
        hr => Err(Error::Device(format!(
            "CfDehydratePlaceholder on {} failed: HRESULT 0x{:08X}",
            path, hr as u32
        ))),
    }
}
