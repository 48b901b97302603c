//! Files: the objects of the File System area (every file and folder of the local fixed
//! volumes), their descriptors written with `SetNamedSecurityInfoW` and read back, and whole-file
//! reads and writes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::ptr::null_mut;

use agent::{Error, Result, SecurityParts};
use windows_sys::Win32::Security::Authorization::{SetNamedSecurityInfoW, SE_FILE_OBJECT};
use windows_sys::Win32::Storage::FileSystem::{
    GetDriveTypeW, GetLogicalDriveStringsW, MoveFileExW, FILE_ATTRIBUTE_REPARSE_POINT,
    MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH,
};

use super::sys::Sys;
use super::{error, last_error, security, wide};

/// `DRIVE_FIXED` of `GetDriveTypeW`.
const DRIVE_FIXED: u32 = 3;

/// The roots of the local fixed volumes (`C:\`, …).
pub fn fixed_volumes() -> Result<Vec<String>> {
    let mut buf = vec![0u16; 1024];
    let n = unsafe { GetLogicalDriveStringsW(buf.len() as u32, buf.as_mut_ptr()) } as usize;
    if n == 0 || n > buf.len() {
        return Err(last_error("GetLogicalDriveStringsW", ""));
    }
    Ok(buf[..n]
        .split(|&c| c == 0)
        .filter(|d| !d.is_empty())
        .map(String::from_utf16_lossy)
        .filter(|d| {
            let w = wide(d);
            unsafe { GetDriveTypeW(w.as_ptr()) == DRIVE_FIXED }
        })
        .collect())
}

/// `root` and every file and folder under it, depth first, folders before what they hold. A
/// junction or symbolic link is listed but not followed: what it points at is listed where it
/// is (a profile's `Application Data` junction would otherwise be walked twice, or forever).
pub fn walk(root: &Path, out: &mut Vec<String>) -> Result<()> {
    use std::os::windows::fs::MetadataExt;
    let io = |path: &Path, e| Error::Io {
        what: "listing",
        path: path.to_path_buf(),
        source: e,
    };
    let meta = std::fs::symlink_metadata(root).map_err(|e| io(root, e))?;
    out.push(root.to_string_lossy().into_owned());
    if !meta.is_dir() || meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        return Ok(());
    }
    let mut children = Vec::new();
    for entry in std::fs::read_dir(root).map_err(|e| io(root, e))? {
        children.push(entry.map_err(|e| io(root, e))?.path());
    }
    children.sort_by_key(|p| p.to_string_lossy().to_lowercase());
    for child in children {
        walk(&child, out)?;
    }
    Ok(())
}

/// Writes the `info` parts of the self-relative `descriptor` to the file or folder `path`
/// (`SetNamedSecurityInfoW`, which also passes inheritable ACEs on to what a folder holds), then
/// reads it back: a write the file system did not keep fails.
pub fn set_descriptor(
    sys: &dyn Sys,
    path: &str,
    descriptor: &[u8],
    info: u32,
    parts: SecurityParts,
) -> Result<()> {
    match sys.set_file_security(path, info, descriptor, parts)? {
        0 => {}
        2 | 3 => return Err(Error::NotFound(path.to_string())),
        rc => return Err(error("SetNamedSecurityInfoW", path, rc)),
    }
    let back = sys
        .file_security(path, parts.sacl)?
        .ok_or_else(|| Error::NotFound(path.to_string()))?;
    security::verify_written("SetNamedSecurityInfoW", path, descriptor, parts, &back)
}

/// `SetNamedSecurityInfoW` itself: its return code.
pub fn win32_set_security(
    path: &str,
    info: u32,
    descriptor: &[u8],
    parts: SecurityParts,
) -> Result<u32> {
    let mut copy = descriptor.to_vec();
    let wpath = wide(path);
    Ok(unsafe {
        let (owner, group, dacl, sacl) = security::parts_of(&mut copy)?;
        SetNamedSecurityInfoW(
            wpath.as_ptr(),
            SE_FILE_OBJECT,
            info,
            if parts.owner { owner } else { null_mut() },
            if parts.group { group } else { null_mut() },
            if parts.dacl { dacl } else { null_mut() },
            if parts.sacl { sacl } else { null_mut() },
        )
    })
}

/// The bytes of the file `path`, `None` when there is no such file.
pub fn read(path: &str) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io {
            what: "reading",
            path: PathBuf::from(path),
            source: e,
        }),
    }
}

/// Writes `bytes` as the whole of `path`: beside it first, flushed, then moved over it
/// (`MoveFileExW` with `MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH`), so a crash leaves
/// the old content or the new. False when the file held these bytes already.
pub fn write(path: &str, bytes: &[u8]) -> Result<bool> {
    if read(path)?.as_deref() == Some(bytes) {
        return Ok(false);
    }
    let target = Path::new(path);
    let io = |what: &'static str, p: &Path, e| Error::Io {
        what,
        path: p.to_path_buf(),
        source: e,
    };
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io("creating", parent, e))?;
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Device(format!("{} names no file", path)))?;
    let temp = target.with_file_name(format!("{}.rehome-new", name));
    {
        let mut file = std::fs::File::create(&temp).map_err(|e| io("creating", &temp, e))?;
        file.write_all(bytes)
            .and_then(|_| file.sync_all())
            .map_err(|e| io("writing", &temp, e))?;
    }
    let (wfrom, wto) = (wide(&temp.to_string_lossy()), wide(path));
    let ok = unsafe {
        MoveFileExW(
            wfrom.as_ptr(),
            wto.as_ptr(),
            MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
        )
    };
    if ok == 0 {
        let e = last_error("MoveFileExW", &format!("{} to {}", temp.display(), path));
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    Ok(true)
}
