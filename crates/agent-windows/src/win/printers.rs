//! Printers' descriptors through the spooler: the local printers (`EnumPrintersW` level 4 with
//! `PRINTER_ENUM_LOCAL`), each opened by name (`OpenPrinterW`), its descriptor read with
//! `GetPrinterW` level 3 and written with `SetPrinterW` level 3 (owner, group and DACL; the
//! SACL is kept as it is), merged so only the parts asked for change, and read back.

use std::ptr::{null, null_mut};

use agent::{Error, Result, SecurityParts};
use windows_sys::Win32::Graphics::Printing::{
    ClosePrinter, EnumPrintersW, GetPrinterW, OpenPrinterW, SetPrinterW, PRINTER_DEFAULTSW,
    PRINTER_ENUM_LOCAL, PRINTER_HANDLE, PRINTER_INFO_3, PRINTER_INFO_4W,
};
use windows_sys::Win32::Security::{GetSecurityDescriptorLength, MakeSelfRelativeSD};

use super::{error, from_pwstr, last_error, wide};

/// `READ_CONTROL`.
const READ_CONTROL: u32 = 0x0002_0000;
/// `PRINTER_ALL_ACCESS`: standard rights (with `WRITE_DAC`, `WRITE_OWNER`), administer, use.
const PRINTER_ALL_ACCESS: u32 = 0x000F_000C;
/// `ERROR_INVALID_PRINTER_NAME`.
const ERROR_INVALID_PRINTER_NAME: u32 = 1801;
/// `SE_SELF_RELATIVE`.
const SE_SELF_RELATIVE: u16 = 0x8000;

struct Printer(PRINTER_HANDLE);

impl Drop for Printer {
    fn drop(&mut self) {
        if !self.0.Value.is_null() {
            unsafe { ClosePrinter(self.0) };
        }
    }
}

fn open(name: &str, access: u32) -> Result<Printer> {
    let wname = wide(name);
    let defaults = PRINTER_DEFAULTSW {
        pDatatype: null_mut(),
        pDevMode: null_mut(),
        DesiredAccess: access,
    };
    let mut handle = PRINTER_HANDLE { Value: null_mut() };
    if unsafe { OpenPrinterW(wname.as_ptr(), &mut handle, &defaults) } == 0 {
        let code = unsafe { windows_sys::Win32::Foundation::GetLastError() };
        if code == ERROR_INVALID_PRINTER_NAME {
            return Err(Error::NotFound(format!("the printer {}", name)));
        }
        return Err(error("OpenPrinterW", name, code));
    }
    Ok(Printer(handle))
}

/// The local printers, by name.
pub fn names() -> Result<Vec<String>> {
    let (mut needed, mut count) = (0u32, 0u32);
    unsafe {
        EnumPrintersW(
            PRINTER_ENUM_LOCAL,
            null(),
            4,
            null_mut(),
            0,
            &mut needed,
            &mut count,
        )
    };
    if needed == 0 {
        return Ok(Vec::new());
    }
    let mut buf = vec![0u64; (needed as usize + 7) / 8];
    if unsafe {
        EnumPrintersW(
            PRINTER_ENUM_LOCAL,
            null(),
            4,
            buf.as_mut_ptr() as *mut u8,
            (buf.len() * 8) as u32,
            &mut needed,
            &mut count,
        )
    } == 0
    {
        return Err(last_error("EnumPrintersW", "local printers"));
    }
    let infos = unsafe {
        std::slice::from_raw_parts(buf.as_ptr() as *const PRINTER_INFO_4W, count as usize)
    };
    let mut out: Vec<String> = infos
        .iter()
        .map(|i| unsafe { from_pwstr(i.pPrinterName) })
        .collect();
    out.sort();
    Ok(out)
}

/// The descriptor of the printer `name` (owner, group and DACL), self-relative.
pub fn descriptor(name: &str) -> Result<Vec<u8>> {
    let printer = open(name, READ_CONTROL)?;
    let mut needed = 0u32;
    unsafe { GetPrinterW(printer.0, 3, null_mut(), 0, &mut needed) };
    if needed == 0 {
        return Err(last_error("GetPrinterW level 3", name));
    }
    let mut buf = vec![0u64; (needed as usize + 7) / 8];
    if unsafe {
        GetPrinterW(
            printer.0,
            3,
            buf.as_mut_ptr() as *mut u8,
            (buf.len() * 8) as u32,
            &mut needed,
        )
    } == 0
    {
        return Err(last_error("GetPrinterW level 3", name));
    }
    let sd = unsafe { (*(buf.as_ptr() as *const PRINTER_INFO_3)).pSecurityDescriptor };
    if sd.is_null() {
        return Err(Error::Device(format!(
            "GetPrinterW level 3 on {} answered no descriptor",
            name
        )));
    }
    let control = unsafe { *((sd as *const u8).add(2) as *const u16) };
    if control & SE_SELF_RELATIVE != 0 {
        let len = unsafe { GetSecurityDescriptorLength(sd) } as usize;
        return Ok(unsafe { std::slice::from_raw_parts(sd as *const u8, len) }.to_vec());
    }
    let mut len = 0u32;
    unsafe { MakeSelfRelativeSD(sd, null_mut(), &mut len) };
    let mut out = vec![0u8; len as usize];
    if unsafe { MakeSelfRelativeSD(sd, out.as_mut_ptr() as *mut _, &mut len) } == 0 {
        return Err(last_error("MakeSelfRelativeSD", name));
    }
    Ok(out)
}

/// Writes the `parts` of `new` to the printer `name` (`SetPrinterW` level 3) and reads them
/// back. A SACL cannot be written this way: asking for it fails, naming the printer.
pub fn set_descriptor(name: &str, new: &[u8], parts: SecurityParts) -> Result<()> {
    if parts.sacl {
        return Err(Error::Device(format!(
            "the audit entries (SACL) of the printer {} are not written through SetPrinterW level 3",
            name
        )));
    }
    let mut merged = super::dcom::merge(&descriptor(name)?, new, parts)?;
    let printer = open(name, PRINTER_ALL_ACCESS)?;
    let info = PRINTER_INFO_3 {
        pSecurityDescriptor: merged.as_mut_ptr() as *mut _,
    };
    if unsafe { SetPrinterW(printer.0, 3, &info as *const _ as *const u8, 0) } == 0 {
        return Err(last_error("SetPrinterW level 3", name));
    }
    drop(printer);
    let back = descriptor(name)?;
    super::security::verify_written("SetPrinterW", name, new, parts, &back)
}
