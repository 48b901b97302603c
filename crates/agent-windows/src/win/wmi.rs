//! WMI through its COM interfaces, declared here by hand (the `windows-sys` crate has the
//! functions and structures but no interfaces, and the `windows` crate is not in the offline
//! build): `IWbemLocator::ConnectServer`, `IWbemServices::ExecQuery`, `IWbemServices::ExecMethod`,
//! `IEnumWbemClassObject::Next` and `IWbemClassObject::Get` / `Put` / `SpawnInstance`. Only what
//! the readiness checks and BitLocker need: a query's rows as named values, and a method call on
//! one object.

use std::ffi::c_void;
use std::ptr::{null, null_mut};

use agent::{Error, Result};
use windows_sys::core::{BSTR, GUID, HRESULT};
use windows_sys::Win32::Foundation::{SysAllocString, SysFreeString, VARIANT_BOOL};
use windows_sys::Win32::System::Com::{
    CoCreateInstance, CoInitializeEx, CoInitializeSecurity, CoSetProxyBlanket,
    CLSCTX_INPROC_SERVER, COINIT_MULTITHREADED, EOAC_NONE, RPC_C_AUTHN_LEVEL_DEFAULT,
    RPC_C_AUTHN_LEVEL_PKT_PRIVACY, RPC_C_IMP_LEVEL_IMPERSONATE,
};
use windows_sys::Win32::System::Variant::{
    VariantClear, VARIANT, VT_BOOL, VT_BSTR, VT_I1, VT_I2, VT_I4, VT_I8, VT_UI1, VT_UI2, VT_UI4,
    VT_UI8,
};

use super::wide;

const CLSID_WBEM_LOCATOR: GUID = GUID::from_u128(0x4590f811_1d3a_11d0_891f_00aa004b2e24);
const IID_IWBEM_LOCATOR: GUID = GUID::from_u128(0xdc12a687_737f_11cf_884d_00aa004b2e24);
const WBEM_FLAG_RETURN_IMMEDIATELY: i32 = 0x10;
const WBEM_FLAG_FORWARD_ONLY: i32 = 0x20;
const WBEM_INFINITE: i32 = -1;
const WBEM_S_FALSE: HRESULT = 1;
const RPC_E_CHANGED_MODE: HRESULT = 0x8001_0106_u32 as i32;
const RPC_E_TOO_LATE: HRESULT = 0x8001_0119_u32 as i32;
const RPC_C_AUTHN_WINNT: u32 = 10;
const RPC_C_AUTHZ_NONE: u32 = 0;

pub(super) type Unknown = *mut *const usize;

/// A COM interface pointer, released when dropped. Its vtable is read by slot: the slots are
/// the interface's methods in the order the IDL declares them (IUnknown's three first).
pub(super) struct Com(pub(super) Unknown);

impl Com {
    /// The function in vtable slot `slot`.
    pub(super) unsafe fn slot(&self, slot: usize) -> usize {
        *(*self.0).add(slot)
    }
}

impl Drop for Com {
    fn drop(&mut self) {
        if !self.0.is_null() {
            unsafe {
                let release: extern "system" fn(Unknown) -> u32 = std::mem::transmute(self.slot(2));
                release(self.0);
            }
        }
    }
}

/// A BSTR, freed when dropped.
pub(super) struct Bstr(pub(super) BSTR);

impl Bstr {
    pub(super) fn new(text: &str) -> Bstr {
        let w = wide(text);
        Bstr(unsafe { SysAllocString(w.as_ptr()) })
    }
}

impl Drop for Bstr {
    fn drop(&mut self) {
        if !self.0.is_null() {
            unsafe { SysFreeString(self.0) }
        }
    }
}

/// A WMI value as the agent reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `VT_NULL` / `VT_EMPTY`, or a type the agent does not read.
    Null,
    /// Any integer type.
    Int(i64),
    /// `VT_BOOL`.
    Bool(bool),
    /// `VT_BSTR`.
    Text(String),
}

impl Value {
    /// The integer, if the value is one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text, if the value is text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// The error of a WMI call that returned `hr`.
pub(super) fn failed(call: &str, object: &str, hr: HRESULT) -> Error {
    let known = match hr as u32 {
        0x8004_100E => " (WBEM_E_INVALID_NAMESPACE: this device has no such WMI namespace)",
        0x8004_1010 => " (WBEM_E_INVALID_CLASS: this device has no such WMI class)",
        0x8004_1017 => " (WBEM_E_INVALID_QUERY)",
        0x8004_1003 => " (WBEM_E_ACCESS_DENIED)",
        0x8004_1002 => " (WBEM_E_NOT_FOUND)",
        0x8004_102E => " (WBEM_E_METHOD_NOT_IMPLEMENTED)",
        0x8004_1055 => " (WBEM_E_METHOD_DISABLED)",
        0x8000_4001 => " (E_NOTIMPL)",
        _ => "",
    };
    Error::Device(format!(
        "WMI {} on {} failed: 0x{:08X}{}",
        call, object, hr as u32, known
    ))
}

/// A connection to one WMI namespace (`root\cimv2`, …).
pub struct Namespace {
    services: Com,
    name: String,
}

/// Connects to `namespace` on this device, with the packet privacy BitLocker's provider asks
/// for.
pub fn connect(namespace: &str) -> Result<Namespace> {
    unsafe {
        let hr = CoInitializeEx(null(), COINIT_MULTITHREADED as u32);
        // A thread already initialised (in either model) keeps its model; COM works either way
        // for these out-of-process calls.
        if hr < 0 && hr != RPC_E_CHANGED_MODE {
            return Err(failed("CoInitializeEx", namespace, hr));
        }
        let hr = CoInitializeSecurity(
            null_mut(),
            -1,
            null(),
            null(),
            RPC_C_AUTHN_LEVEL_DEFAULT,
            RPC_C_IMP_LEVEL_IMPERSONATE,
            null(),
            EOAC_NONE as u32,
            null(),
        );
        if hr < 0 && hr != RPC_E_TOO_LATE {
            return Err(failed("CoInitializeSecurity", namespace, hr));
        }
        let mut locator: Unknown = null_mut();
        let hr = CoCreateInstance(
            &CLSID_WBEM_LOCATOR,
            null_mut(),
            CLSCTX_INPROC_SERVER,
            &IID_IWBEM_LOCATOR,
            &mut locator as *mut Unknown as *mut *mut c_void,
        );
        if hr < 0 || locator.is_null() {
            return Err(failed("CoCreateInstance(WbemLocator)", namespace, hr));
        }
        let locator = Com(locator);
        type ConnectServer = extern "system" fn(
            Unknown,
            BSTR,
            BSTR,
            BSTR,
            BSTR,
            i32,
            BSTR,
            *mut c_void,
            *mut Unknown,
        ) -> HRESULT;
        let connect: ConnectServer = std::mem::transmute(locator.slot(3));
        let path = Bstr::new(namespace);
        let mut services: Unknown = null_mut();
        let hr = connect(
            locator.0,
            path.0,
            null(),
            null(),
            null(),
            0,
            null(),
            null_mut(),
            &mut services,
        );
        if hr < 0 || services.is_null() {
            return Err(failed("IWbemLocator::ConnectServer", namespace, hr));
        }
        let services = Com(services);
        let hr = CoSetProxyBlanket(
            services.0 as *mut c_void,
            RPC_C_AUTHN_WINNT,
            RPC_C_AUTHZ_NONE,
            null(),
            RPC_C_AUTHN_LEVEL_PKT_PRIVACY,
            RPC_C_IMP_LEVEL_IMPERSONATE,
            null(),
            EOAC_NONE as u32,
        );
        if hr < 0 {
            return Err(failed("CoSetProxyBlanket", namespace, hr));
        }
        Ok(Namespace {
            services,
            name: namespace.to_string(),
        })
    }
}

/// The value of the property `name` of `object` (`IWbemClassObject::Get`).
unsafe fn get(object: &Com, name: &str) -> Result<Value> {
    type Get =
        extern "system" fn(Unknown, *const u16, i32, *mut VARIANT, *mut i32, *mut i32) -> HRESULT;
    let get: Get = std::mem::transmute(object.slot(4));
    let wname = wide(name);
    let mut v: VARIANT = std::mem::zeroed();
    let hr = get(object.0, wname.as_ptr(), 0, &mut v, null_mut(), null_mut());
    if hr < 0 {
        return Err(failed("IWbemClassObject::Get", name, hr));
    }
    let inner = &v.Anonymous.Anonymous;
    let value = match inner.vt {
        VT_BSTR => Value::Text(super::from_pwstr(inner.Anonymous.bstrVal)),
        VT_BOOL => {
            let b: VARIANT_BOOL = inner.Anonymous.boolVal;
            Value::Bool(b != 0)
        }
        VT_I1 | VT_UI1 => Value::Int(i64::from(inner.Anonymous.bVal)),
        VT_I2 => Value::Int(i64::from(inner.Anonymous.iVal)),
        VT_UI2 => Value::Int(i64::from(inner.Anonymous.uiVal)),
        VT_I4 => Value::Int(i64::from(inner.Anonymous.lVal)),
        VT_UI4 => Value::Int(i64::from(inner.Anonymous.ulVal)),
        VT_I8 => Value::Int(inner.Anonymous.llVal),
        VT_UI8 => Value::Int(inner.Anonymous.ullVal as i64),
        _ => Value::Null,
    };
    VariantClear(&mut v);
    Ok(value)
}

/// The strings of the `string[]` property `name` of `object` (empty when it is null).
pub(super) unsafe fn get_strings(object: &Com, name: &str) -> Result<Vec<String>> {
    use windows_sys::Win32::System::Ole::{
        SafeArrayAccessData, SafeArrayGetLBound, SafeArrayGetUBound, SafeArrayUnaccessData,
    };
    use windows_sys::Win32::System::Variant::{VT_ARRAY, VT_NULL};
    type Get =
        extern "system" fn(Unknown, *const u16, i32, *mut VARIANT, *mut i32, *mut i32) -> HRESULT;
    let get: Get = std::mem::transmute(object.slot(4));
    let wname = wide(name);
    let mut v: VARIANT = std::mem::zeroed();
    let hr = get(object.0, wname.as_ptr(), 0, &mut v, null_mut(), null_mut());
    if hr < 0 {
        return Err(failed("IWbemClassObject::Get", name, hr));
    }
    let vt = v.Anonymous.Anonymous.vt;
    if vt == VT_NULL || vt == 0 {
        return Ok(Vec::new());
    }
    if vt != VT_ARRAY | VT_BSTR {
        VariantClear(&mut v);
        return Err(Error::Device(format!(
            "WMI {} is not a string array (VARTYPE {})",
            name, vt
        )));
    }
    let array = v.Anonymous.Anonymous.Anonymous.parray;
    let (mut low, mut high) = (0i32, -1i32);
    SafeArrayGetLBound(array, 1, &mut low);
    SafeArrayGetUBound(array, 1, &mut high);
    let mut data: *mut c_void = null_mut();
    let mut out = Vec::new();
    if SafeArrayAccessData(array, &mut data) >= 0 {
        let items =
            std::slice::from_raw_parts(data as *const BSTR, (high - low + 1).max(0) as usize);
        out = items.iter().map(|&b| super::from_pwstr(b)).collect();
        SafeArrayUnaccessData(array);
    }
    VariantClear(&mut v);
    Ok(out)
}

/// Sets the property `name` of `object` to the unsigned integer `value` (`IWbemClassObject::Put`
/// of a `VT_I4`, as WMI takes a uint32).
unsafe fn put_u32(object: &Com, name: &str, value: u32) -> Result<()> {
    type Put = extern "system" fn(Unknown, *const u16, i32, *const VARIANT, i32) -> HRESULT;
    let put: Put = std::mem::transmute(object.slot(5));
    let wname = wide(name);
    let mut v: VARIANT = std::mem::zeroed();
    v.Anonymous.Anonymous.vt = VT_I4;
    v.Anonymous.Anonymous.Anonymous.lVal = value as i32;
    let hr = put(object.0, wname.as_ptr(), 0, &v, 0);
    if hr < 0 {
        return Err(failed("IWbemClassObject::Put", name, hr));
    }
    Ok(())
}

impl Namespace {
    /// The `IWbemServices` of the namespace, for the calls declared elsewhere.
    pub(super) fn services(&self) -> &Com {
        &self.services
    }

    /// The rows of the WQL `query`, each with the values of `properties` in their order
    /// (`IWbemServices::ExecQuery`, `IEnumWbemClassObject::Next`).
    pub fn query(&self, query: &str, properties: &[&str]) -> Result<Vec<Vec<Value>>> {
        unsafe {
            type ExecQuery =
                extern "system" fn(Unknown, BSTR, BSTR, i32, *mut c_void, *mut Unknown) -> HRESULT;
            let exec: ExecQuery = std::mem::transmute(self.services.slot(20));
            let (language, text) = (Bstr::new("WQL"), Bstr::new(query));
            let mut rows: Unknown = null_mut();
            let hr = exec(
                self.services.0,
                language.0,
                text.0,
                WBEM_FLAG_FORWARD_ONLY | WBEM_FLAG_RETURN_IMMEDIATELY,
                null_mut(),
                &mut rows,
            );
            if hr < 0 || rows.is_null() {
                return Err(failed("IWbemServices::ExecQuery", &self.name, hr));
            }
            let rows = Com(rows);
            type Next = extern "system" fn(Unknown, i32, u32, *mut Unknown, *mut u32) -> HRESULT;
            let next: Next = std::mem::transmute(rows.slot(4));
            let mut out = Vec::new();
            loop {
                let mut object: Unknown = null_mut();
                let mut returned = 0u32;
                let hr = next(rows.0, WBEM_INFINITE, 1, &mut object, &mut returned);
                if hr < 0 {
                    return Err(failed("IEnumWbemClassObject::Next", query, hr));
                }
                if returned == 0 || object.is_null() {
                    break;
                }
                let object = Com(object);
                let mut row = Vec::with_capacity(properties.len());
                for p in properties {
                    row.push(get(&object, p)?);
                }
                out.push(row);
                if hr == WBEM_S_FALSE {
                    break;
                }
            }
            Ok(out)
        }
    }

    /// Calls `method` of the object at `path` (`Win32_EncryptableVolume.DeviceID='…'`) of class
    /// `class` with the uint32 arguments `args`, and returns its `ReturnValue`
    /// (`IWbemServices::GetObject` of the class, `IWbemClassObject::GetMethod`, `SpawnInstance`,
    /// `Put`, `IWbemServices::ExecMethod`).
    pub fn call(&self, class: &str, path: &str, method: &str, args: &[(&str, u32)]) -> Result<i64> {
        let output = self.call_output(class, path, method, args)?;
        unsafe { get(&output, "ReturnValue")? }
            .int()
            .ok_or_else(|| Error::Device(format!("WMI {} returned no ReturnValue", method)))
    }

    /// [`Namespace::call`]'s output parameters, for the methods that answer more than a code.
    pub(super) fn call_output(
        &self,
        class: &str,
        path: &str,
        method: &str,
        args: &[(&str, u32)],
    ) -> Result<Com> {
        unsafe {
            type GetObject = extern "system" fn(
                Unknown,
                BSTR,
                i32,
                *mut c_void,
                *mut Unknown,
                *mut c_void,
            ) -> HRESULT;
            let get_object: GetObject = std::mem::transmute(self.services.slot(6));
            let class_name = Bstr::new(class);
            let mut class_object: Unknown = null_mut();
            let hr = get_object(
                self.services.0,
                class_name.0,
                0,
                null_mut(),
                &mut class_object,
                null_mut(),
            );
            if hr < 0 || class_object.is_null() {
                return Err(failed("IWbemServices::GetObject", class, hr));
            }
            let class_object = Com(class_object);
            let mut input: Option<Com> = None;
            if !args.is_empty() {
                // IWbemClassObject::GetMethod is slot 19.
                type GetMethod = extern "system" fn(
                    Unknown,
                    *const u16,
                    i32,
                    *mut Unknown,
                    *mut Unknown,
                ) -> HRESULT;
                let get_method: GetMethod = std::mem::transmute(class_object.slot(19));
                let wmethod = wide(method);
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
                    return Err(failed("IWbemClassObject::GetMethod", method, hr));
                }
                let in_class = Com(in_class);
                // IWbemClassObject::SpawnInstance is slot 15.
                type Spawn = extern "system" fn(Unknown, i32, *mut Unknown) -> HRESULT;
                let spawn: Spawn = std::mem::transmute(in_class.slot(15));
                let mut instance: Unknown = null_mut();
                let hr = spawn(in_class.0, 0, &mut instance);
                if hr < 0 || instance.is_null() {
                    return Err(failed("IWbemClassObject::SpawnInstance", method, hr));
                }
                let instance = Com(instance);
                for (name, value) in args {
                    put_u32(&instance, name, *value)?;
                }
                input = Some(instance);
            }
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
            let exec: ExecMethod = std::mem::transmute(self.services.slot(24));
            let (object_path, method_name) = (Bstr::new(path), Bstr::new(method));
            let mut output: Unknown = null_mut();
            let hr = exec(
                self.services.0,
                object_path.0,
                method_name.0,
                0,
                null_mut(),
                input.as_ref().map_or(null_mut(), |c| c.0),
                &mut output,
                null_mut(),
            );
            if hr < 0 || output.is_null() {
                return Err(failed("IWbemServices::ExecMethod", method, hr));
            }
            Ok(Com(output))
        }
    }
}
