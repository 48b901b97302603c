//! Registry keys and values (`RegOpenKeyExW`, `RegQueryValueExW`, …), and key descriptors
//! (`RegGetKeySecurity`, `RegSetKeySecurity`), always in the 64-bit view.

use std::ptr::null_mut;

use agent::{RegValue, Result};
use windows_sys::Win32::Foundation::{
    ERROR_FILE_NOT_FOUND, ERROR_INSUFFICIENT_BUFFER, ERROR_INVALID_HANDLE, ERROR_MORE_DATA,
    ERROR_NO_MORE_ITEMS, ERROR_PRIVILEGE_NOT_HELD, ERROR_SUCCESS,
};
use windows_sys::Win32::Security::{
    DACL_SECURITY_INFORMATION, GROUP_SECURITY_INFORMATION, OBJECT_SECURITY_INFORMATION,
    OWNER_SECURITY_INFORMATION, SACL_SECURITY_INFORMATION,
};
use windows_sys::Win32::System::Registry::*;

use super::{error, from_wide, wide};
use crate::keys::{KeyName, Root};

/// An open registry key, closed when dropped.
pub struct Key {
    handle: HKEY,
    name: String,
}

impl Drop for Key {
    fn drop(&mut self) {
        unsafe {
            RegCloseKey(self.handle);
        }
    }
}

fn root_handle(root: Root) -> HKEY {
    match root {
        Root::LocalMachine => HKEY_LOCAL_MACHINE,
        Root::Users => HKEY_USERS,
        Root::CurrentUser => HKEY_CURRENT_USER,
        Root::ClassesRoot => HKEY_CLASSES_ROOT,
    }
}

/// Access to read a key's values and subkeys.
pub const READ: u32 = KEY_READ;
/// Access to change a key's values.
pub const WRITE: u32 = KEY_READ | KEY_WRITE;
/// `READ_CONTROL`.
pub const READ_CONTROL: u32 = 0x0002_0000;
/// `WRITE_DAC`.
pub const WRITE_DAC: u32 = 0x0004_0000;
/// `WRITE_OWNER`.
pub const WRITE_OWNER: u32 = 0x0008_0000;
/// `ACCESS_SYSTEM_SECURITY`: read or write the SACL (needs `SeSecurityPrivilege`).
pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;

/// Opens `key` with `access`; `None` when it does not exist.
pub fn open(key: &KeyName, access: u32) -> Result<Option<Key>> {
    let path = wide(&key.path);
    let mut handle: HKEY = null_mut();
    let rc = unsafe {
        RegOpenKeyExW(
            root_handle(key.root),
            path.as_ptr(),
            0,
            access | KEY_WOW64_64KEY,
            &mut handle,
        )
    };
    match rc {
        ERROR_SUCCESS => Ok(Some(Key {
            handle,
            name: key.full(),
        })),
        ERROR_FILE_NOT_FOUND => Ok(None),
        rc => Err(error("RegOpenKeyExW", &key.full(), rc)),
    }
}

/// Opens `key` with `access`, creating it and the keys above it when missing.
pub fn create(key: &KeyName, access: u32) -> Result<Key> {
    let path = wide(&key.path);
    let mut handle: HKEY = null_mut();
    let rc = unsafe {
        RegCreateKeyExW(
            root_handle(key.root),
            path.as_ptr(),
            0,
            std::ptr::null(),
            REG_OPTION_NON_VOLATILE,
            access | KEY_WOW64_64KEY,
            std::ptr::null(),
            &mut handle,
            null_mut(),
        )
    };
    if rc != ERROR_SUCCESS {
        return Err(error("RegCreateKeyExW", &key.full(), rc));
    }
    Ok(Key {
        handle,
        name: key.full(),
    })
}

impl Key {
    /// The value `name` (empty for the default value); `None` when absent.
    pub fn value(&self, name: &str) -> Result<Option<RegValue>> {
        let wname = wide(name);
        let mut buf: Vec<u8> = vec![0; 256];
        loop {
            let mut kind: REG_VALUE_TYPE = 0;
            let mut len = buf.len() as u32;
            let rc = unsafe {
                RegQueryValueExW(
                    self.handle,
                    wname.as_ptr(),
                    std::ptr::null(),
                    &mut kind,
                    buf.as_mut_ptr(),
                    &mut len,
                )
            };
            match rc {
                ERROR_SUCCESS => {
                    buf.truncate(len as usize);
                    return decode(kind, &buf).map(Some).map_err(|reason| {
                        agent::Error::Device(format!(
                            "registry value {}\\{}: {}",
                            self.name, name, reason
                        ))
                    });
                }
                ERROR_MORE_DATA => buf.resize(len.max(buf.len() as u32 * 2) as usize, 0),
                ERROR_FILE_NOT_FOUND => return Ok(None),
                rc => {
                    return Err(error(
                        "RegQueryValueExW",
                        &format!("{}\\{}", self.name, name),
                        rc,
                    ))
                }
            }
        }
    }

    /// Writes the value `name`.
    pub fn set_value(&self, name: &str, value: &RegValue) -> Result<()> {
        let (kind, data) = encode(value);
        let wname = wide(name);
        let rc = unsafe {
            RegSetValueExW(
                self.handle,
                wname.as_ptr(),
                0,
                kind,
                data.as_ptr(),
                data.len() as u32,
            )
        };
        if rc != ERROR_SUCCESS {
            return Err(error(
                "RegSetValueExW",
                &format!("{}\\{}", self.name, name),
                rc,
            ));
        }
        Ok(())
    }

    /// The names of the key's values.
    pub fn value_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut index = 0;
        loop {
            // Value names are at most 16,383 characters.
            let mut buf = vec![0u16; 16_384];
            let mut len = buf.len() as u32;
            let rc = unsafe {
                RegEnumValueW(
                    self.handle,
                    index,
                    buf.as_mut_ptr(),
                    &mut len,
                    std::ptr::null(),
                    null_mut(),
                    null_mut(),
                    null_mut(),
                )
            };
            match rc {
                ERROR_SUCCESS => names.push(String::from_utf16_lossy(&buf[..len as usize])),
                ERROR_NO_MORE_ITEMS => return Ok(names),
                rc => return Err(error("RegEnumValueW", &self.name, rc)),
            }
            index += 1;
        }
    }

    /// The names of the key's subkeys.
    pub fn subkeys(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut index = 0;
        loop {
            // Key names are at most 255 characters.
            let mut buf = vec![0u16; 256];
            let mut len = buf.len() as u32;
            let rc = unsafe {
                RegEnumKeyExW(
                    self.handle,
                    index,
                    buf.as_mut_ptr(),
                    &mut len,
                    std::ptr::null(),
                    null_mut(),
                    null_mut(),
                    null_mut(),
                )
            };
            match rc {
                ERROR_SUCCESS => names.push(String::from_utf16_lossy(&buf[..len as usize])),
                ERROR_NO_MORE_ITEMS => return Ok(names),
                rc => return Err(error("RegEnumKeyExW", &self.name, rc)),
            }
            index += 1;
        }
    }

    /// The key's descriptor, self-relative: owner, group, DACL and, when `sacl`, the SACL.
    pub fn security(&self, sacl: bool) -> Result<Vec<u8>> {
        let mut info: OBJECT_SECURITY_INFORMATION =
            OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
        if sacl {
            info |= SACL_SECURITY_INFORMATION;
        }
        let mut buf: Vec<u8> = vec![0; 512];
        loop {
            let mut len = buf.len() as u32;
            let rc =
                unsafe { RegGetKeySecurity(self.handle, info, buf.as_mut_ptr() as _, &mut len) };
            match rc {
                ERROR_SUCCESS => {
                    buf.truncate(len as usize);
                    return Ok(buf);
                }
                ERROR_INSUFFICIENT_BUFFER => buf.resize(len as usize, 0),
                rc => return Err(error("RegGetKeySecurity", &self.name, rc)),
            }
        }
    }

    /// Writes the parts `info` of the self-relative descriptor `sd`.
    pub fn set_security(&self, info: OBJECT_SECURITY_INFORMATION, sd: &[u8]) -> Result<()> {
        // The descriptor is read through its offsets, never written: the copy keeps the caller's
        // slice untouched and aligned.
        let mut copy = sd.to_vec();
        let rc = unsafe { RegSetKeySecurity(self.handle, info, copy.as_mut_ptr() as _) };
        if rc != ERROR_SUCCESS {
            return Err(error("RegSetKeySecurity", &self.name, rc));
        }
        Ok(())
    }

    /// Saves the key and everything under it to `file` (`RegSaveKeyW`), which must not exist.
    pub fn save(&self, file: &str) -> Result<()> {
        let wfile = wide(file);
        let rc = unsafe { RegSaveKeyW(self.handle, wfile.as_ptr(), std::ptr::null()) };
        if rc != ERROR_SUCCESS {
            return Err(error(
                "RegSaveKeyW",
                &format!("{} to {}", self.name, file),
                rc,
            ));
        }
        Ok(())
    }
}

/// Whether `e` is the error of a Win32 call that failed with `code`.
fn is_code(e: &agent::Error, code: u32) -> bool {
    let text = std::io::Error::from_raw_os_error(code as i32).to_string();
    matches!(e, agent::Error::Device(m) if m.ends_with(&text))
}

/// Whether a call failed for want of `SeSecurityPrivilege` (reading or writing a SACL).
pub fn is_privilege_error(e: &agent::Error) -> bool {
    is_code(e, ERROR_PRIVILEGE_NOT_HELD)
}

/// Whether enumerating a key failed because it is a virtual key with no subkeys of its own
/// (the performance counter text under `Perflib\<language>` answers `ERROR_INVALID_HANDLE`).
pub fn is_virtual_key_error(e: &agent::Error) -> bool {
    is_code(e, ERROR_INVALID_HANDLE)
}

/// Deletes the value `name` of `key`; false when there was none.
pub fn delete_value(key: &KeyName, name: &str) -> Result<bool> {
    let k = match open(key, WRITE)? {
        Some(k) => k,
        None => return Ok(false),
    };
    let wname = wide(name);
    match unsafe { RegDeleteValueW(k.handle, wname.as_ptr()) } {
        ERROR_SUCCESS => Ok(true),
        ERROR_FILE_NOT_FOUND => Ok(false),
        rc => Err(error(
            "RegDeleteValueW",
            &format!("{}\\{}", key.full(), name),
            rc,
        )),
    }
}

/// Deletes `key` and everything under it; false when there was no such key.
pub fn delete_tree(key: &KeyName) -> Result<bool> {
    if key.path.is_empty() {
        return Err(agent::Error::Device(format!(
            "{} is a registry root: it cannot be deleted",
            key.full()
        )));
    }
    let (parent, leaf) = match key.path.rfind('\\') {
        Some(i) => (
            KeyName {
                root: key.root,
                path: key.path[..i].to_string(),
            },
            key.path[i + 1..].to_string(),
        ),
        None => (
            KeyName {
                root: key.root,
                path: String::new(),
            },
            key.path.clone(),
        ),
    };
    let p = match open(&parent, WRITE)? {
        Some(p) => p,
        None => return Ok(false),
    };
    let wleaf = wide(&leaf);
    match unsafe { RegDeleteTreeW(p.handle, wleaf.as_ptr()) } {
        ERROR_SUCCESS => {}
        ERROR_FILE_NOT_FOUND => return Ok(false),
        rc => return Err(error("RegDeleteTreeW", &key.full(), rc)),
    }
    match unsafe { RegDeleteKeyExW(p.handle, wleaf.as_ptr(), KEY_WOW64_64KEY, 0) } {
        ERROR_SUCCESS | ERROR_FILE_NOT_FOUND => Ok(true),
        rc => Err(error("RegDeleteKeyExW", &key.full(), rc)),
    }
}

/// Copies every value and subkey of `from` into `to`, creating `to` (`RegCopyTreeW`).
pub fn copy_tree(from: &KeyName, to: &KeyName) -> Result<()> {
    let source = open(from, READ)?.ok_or_else(|| agent::Error::NotFound(from.full()))?;
    let target = create(to, WRITE)?;
    let rc = unsafe { RegCopyTreeW(source.handle, std::ptr::null(), target.handle) };
    if rc != ERROR_SUCCESS {
        return Err(error(
            "RegCopyTreeW",
            &format!("{} to {}", from.full(), to.full()),
            rc,
        ));
    }
    Ok(())
}

/// Loads the hive file `file` as `HKU\<name>` (`RegLoadKeyW`; needs `SeRestorePrivilege` and
/// `SeBackupPrivilege` enabled).
pub fn load_user_hive(name: &str, file: &str) -> Result<()> {
    let (wname, wfile) = (wide(name), wide(file));
    let rc = unsafe { RegLoadKeyW(HKEY_USERS, wname.as_ptr(), wfile.as_ptr()) };
    if rc != ERROR_SUCCESS {
        return Err(error(
            "RegLoadKeyW",
            &format!("HKU\\{} from {}", name, file),
            rc,
        ));
    }
    Ok(())
}

/// Unloads `HKU\<name>` (`RegUnLoadKeyW`).
pub fn unload_user_hive(name: &str) -> Result<()> {
    let wname = wide(name);
    let rc = unsafe { RegUnLoadKeyW(HKEY_USERS, wname.as_ptr()) };
    if rc != ERROR_SUCCESS {
        return Err(error("RegUnLoadKeyW", &format!("HKU\\{}", name), rc));
    }
    Ok(())
}

fn utf16_units(data: &[u8]) -> Vec<u16> {
    data.chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

fn decode(kind: REG_VALUE_TYPE, data: &[u8]) -> std::result::Result<RegValue, String> {
    match kind {
        REG_SZ => Ok(RegValue::Sz(from_wide(&utf16_units(data)))),
        REG_EXPAND_SZ => Ok(RegValue::ExpandSz(from_wide(&utf16_units(data)))),
        REG_MULTI_SZ => {
            let units = utf16_units(data);
            Ok(RegValue::MultiSz(
                units
                    .split(|&c| c == 0)
                    .filter(|s| !s.is_empty())
                    .map(String::from_utf16_lossy)
                    .collect(),
            ))
        }
        REG_DWORD => match data {
            [a, b, c, d] => Ok(RegValue::Dword(u32::from_le_bytes([*a, *b, *c, *d]))),
            _ => Err(format!("a REG_DWORD of {} bytes", data.len())),
        },
        REG_BINARY | REG_NONE => Ok(RegValue::Binary(data.to_vec())),
        other => Err(format!(
            "registry type {} is not one the agent reads",
            other
        )),
    }
}

fn encode(value: &RegValue) -> (REG_VALUE_TYPE, Vec<u8>) {
    fn units(text: &str) -> Vec<u8> {
        text.encode_utf16()
            .chain(Some(0))
            .flat_map(|u| u.to_le_bytes())
            .collect()
    }
    match value {
        RegValue::Sz(s) => (REG_SZ, units(s)),
        RegValue::ExpandSz(s) => (REG_EXPAND_SZ, units(s)),
        RegValue::MultiSz(items) => {
            let mut data: Vec<u8> = items.iter().flat_map(|s| units(s)).collect();
            data.extend_from_slice(&[0, 0]);
            (REG_MULTI_SZ, data)
        }
        RegValue::Dword(d) => (REG_DWORD, d.to_le_bytes().to_vec()),
        RegValue::Binary(b) => (REG_BINARY, b.clone()),
    }
}
