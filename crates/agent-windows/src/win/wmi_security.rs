//! WMI namespaces' descriptors: every namespace under `root` (`__NAMESPACE` instances, walked),
//! and each one's descriptor through its `__SystemSecurity` object: `GetSD` answers it as a
//! `uint8[]`, `SetSD` takes the merged one (`IWbemServices::ExecMethod` on `__SystemSecurity=@`),
//! read back after. Wine's WMI has no `__SystemSecurity`: the calls fail naming it.

use std::ffi::c_void;
use std::ptr::null_mut;

use agent::{Error, Result, SecurityParts};
use windows_sys::core::{BSTR, HRESULT};
use windows_sys::Win32::System::Ole::{
    SafeArrayAccessData, SafeArrayCreateVector, SafeArrayDestroy, SafeArrayGetLBound,
    SafeArrayGetUBound, SafeArrayUnaccessData,
};
use windows_sys::Win32::System::Variant::{VariantClear, VARIANT, VT_ARRAY, VT_UI1};

use super::wide;
use super::wmi::{self, failed, Bstr, Com, Unknown};

/// The namespace the WMI Namespaces area walks down from.
pub const ROOT: &str = "root";

/// The object whose methods read and write a namespace's descriptor.
const SYSTEM_SECURITY: &str = "__SystemSecurity=@";

/// Every namespace from `root` down, `root` first.
pub fn namespaces(root: &str) -> Result<Vec<String>> {
    let mut out = vec![root.to_string()];
    let mut at = 0;
    while at < out.len() {
        let ns = wmi::connect(&out[at])?;
        let mut children: Vec<String> = ns
            .query("SELECT Name FROM __NAMESPACE", &["Name"])
            .map_err(|e| {
                Error::Device(format!(
                    "listing the namespaces under {} (__NAMESPACE): {}",
                    out[at], e
                ))
            })?
            .into_iter()
            .filter_map(|row| row[0].text().map(|n| format!("{}\\{}", out[at], n)))
            .collect();
        children.sort();
        out.extend(children);
        at += 1;
    }
    Ok(out)
}

/// `IWbemServices::ExecMethod` of `method` on `__SystemSecurity=@` with `input`: the output.
unsafe fn exec(
    namespace: &wmi::Namespace,
    name: &str,
    method: &str,
    input: Unknown,
) -> Result<Com> {
    type ExecMethod = extern "system" fn(
        Unknown,
        BSTR,
        BSTR,
        i32,
        *mut c_void,
        Unknown,
        *mut Unknown,
        *mut c_void,
    ) -> HRESULT;
    let services = namespace.services();
    let exec: ExecMethod = std::mem::transmute(services.slot(24));
    let (path, method_name) = (Bstr::new(SYSTEM_SECURITY), Bstr::new(method));
    let mut output: Unknown = null_mut();
    let hr = exec(
        services.0,
        path.0,
        method_name.0,
        0,
        null_mut(),
        input,
        &mut output,
        null_mut(),
    );
    if hr < 0 || output.is_null() {
        return Err(failed(&format!("__SystemSecurity.{}", method), name, hr));
    }
    let output = Com(output);
    type Get =
        extern "system" fn(Unknown, *const u16, i32, *mut VARIANT, *mut i32, *mut i32) -> HRESULT;
    let get: Get = std::mem::transmute(output.slot(4));
    let wname = wide("ReturnValue");
    let mut v: VARIANT = std::mem::zeroed();
    let hr = get(output.0, wname.as_ptr(), 0, &mut v, null_mut(), null_mut());
    let code = v.Anonymous.Anonymous.Anonymous.lVal;
    VariantClear(&mut v);
    if hr < 0 || code != 0 {
        return Err(Error::Device(format!(
            "__SystemSecurity.{} on {} answered {}",
            method, name, code
        )));
    }
    Ok(output)
}

/// The descriptor of the namespace `name` (`__SystemSecurity.GetSD`).
pub fn descriptor(name: &str) -> Result<Vec<u8>> {
    let namespace = wmi::connect(name)?;
    unsafe {
        let output = exec(&namespace, name, "GetSD", null_mut())?;
        type Get = extern "system" fn(
            Unknown,
            *const u16,
            i32,
            *mut VARIANT,
            *mut i32,
            *mut i32,
        ) -> HRESULT;
        let get: Get = std::mem::transmute(output.slot(4));
        let wname = wide("SD");
        let mut v: VARIANT = std::mem::zeroed();
        let hr = get(output.0, wname.as_ptr(), 0, &mut v, null_mut(), null_mut());
        if hr < 0 || v.Anonymous.Anonymous.vt != VT_ARRAY | VT_UI1 {
            VariantClear(&mut v);
            return Err(failed("__SystemSecurity.GetSD (SD)", name, hr));
        }
        let array = v.Anonymous.Anonymous.Anonymous.parray;
        let (mut low, mut high) = (0i32, -1i32);
        SafeArrayGetLBound(array, 1, &mut low);
        SafeArrayGetUBound(array, 1, &mut high);
        let len = (high - low + 1).max(0) as usize;
        let mut data: *mut c_void = null_mut();
        let mut out = Vec::new();
        if SafeArrayAccessData(array, &mut data) >= 0 {
            out = std::slice::from_raw_parts(data as *const u8, len).to_vec();
            SafeArrayUnaccessData(array);
        }
        VariantClear(&mut v);
        if out.is_empty() {
            return Err(Error::Device(format!(
                "__SystemSecurity.GetSD on {} answered no descriptor",
                name
            )));
        }
        Ok(out)
    }
}

/// Writes the `parts` of `new` to the namespace `name` (`__SystemSecurity.SetSD` with the
/// merged descriptor) and reads them back.
pub fn set_descriptor(name: &str, new: &[u8], parts: SecurityParts) -> Result<()> {
    let merged = super::dcom::merge(&descriptor(name)?, new, parts)?;
    let namespace = wmi::connect(name)?;
    unsafe {
        type GetObject = extern "system" fn(
            Unknown,
            BSTR,
            i32,
            *mut c_void,
            *mut Unknown,
            *mut c_void,
        ) -> HRESULT;
        let services = namespace.services();
        let get_object: GetObject = std::mem::transmute(services.slot(6));
        let class = Bstr::new("__SystemSecurity");
        let mut class_object: Unknown = null_mut();
        let hr = get_object(
            services.0,
            class.0,
            0,
            null_mut(),
            &mut class_object,
            null_mut(),
        );
        if hr < 0 || class_object.is_null() {
            return Err(failed(
                "IWbemServices::GetObject(__SystemSecurity)",
                name,
                hr,
            ));
        }
        let class_object = Com(class_object);
        type GetMethod =
            extern "system" fn(Unknown, *const u16, i32, *mut Unknown, *mut Unknown) -> HRESULT;
        let get_method: GetMethod = std::mem::transmute(class_object.slot(19));
        let wmethod = wide("SetSD");
        let (mut in_class, mut out_class): (Unknown, Unknown) = (null_mut(), null_mut());
        let hr = get_method(
            class_object.0,
            wmethod.as_ptr(),
            0,
            &mut in_class,
            &mut out_class,
        );
        let _out = Com(out_class);
        if hr < 0 || in_class.is_null() {
            return Err(failed("IWbemClassObject::GetMethod(SetSD)", name, hr));
        }
        let in_class = Com(in_class);
        type Spawn = extern "system" fn(Unknown, i32, *mut Unknown) -> HRESULT;
        let spawn: Spawn = std::mem::transmute(in_class.slot(15));
        let mut input: Unknown = null_mut();
        let hr = spawn(in_class.0, 0, &mut input);
        if hr < 0 || input.is_null() {
            return Err(failed("IWbemClassObject::SpawnInstance(SetSD)", name, hr));
        }
        let input = Com(input);
        let array = SafeArrayCreateVector(VT_UI1, 0, merged.len() as u32);
        if array.is_null() {
            return Err(Error::Device(format!(
                "SafeArrayCreateVector of {} bytes failed",
                merged.len()
            )));
        }
        let mut data: *mut c_void = null_mut();
        if SafeArrayAccessData(array, &mut data) < 0 {
            SafeArrayDestroy(array);
            return Err(Error::Device("SafeArrayAccessData failed".to_string()));
        }
        std::ptr::copy_nonoverlapping(merged.as_ptr(), data as *mut u8, merged.len());
        SafeArrayUnaccessData(array);
        let mut v: VARIANT = std::mem::zeroed();
        v.Anonymous.Anonymous.vt = VT_ARRAY | VT_UI1;
        v.Anonymous.Anonymous.Anonymous.parray = array;
        type Put = extern "system" fn(Unknown, *const u16, i32, *const VARIANT, i32) -> HRESULT;
        let put: Put = std::mem::transmute(input.slot(5));
        let wsd = wide("SD");
        let hr = put(input.0, wsd.as_ptr(), 0, &v, 0);
        VariantClear(&mut v);
        if hr < 0 {
            return Err(failed("IWbemClassObject::Put(SD)", name, hr));
        }
        exec(&namespace, name, "SetSD", input.0)?;
    }
    let back = descriptor(name)?;
    super::security::verify_written("__SystemSecurity.SetSD", name, new, parts, &back)
}
