//! Who a scheduled task runs as, changed through Task Scheduler COM (declared here by hand, as
//! WMI is): `ITaskService::Connect`, `GetFolder("\")`, `ITaskFolder::GetTask`,
//! `IRegisteredTask::get_Xml`, the definition's `Principal` rewritten (`UserId` or `GroupId`,
//! `LogonType`; everything else kept), and `ITaskFolder::RegisterTask` with `TASK_UPDATE`, the
//! new account and its logon type, then read back. A task that runs with a stored password
//! cannot be registered again without it: that fails, naming the task.

use std::ffi::c_void;
use std::ptr::{null, null_mut};

use agent::workstation::{TaskLogon, TaskPrincipal};
use agent::{Error, Result};
use windows_sys::core::{BSTR, GUID, HRESULT};
use windows_sys::Win32::System::Com::{
    CoCreateInstance, CoInitializeEx, CLSCTX_INPROC_SERVER, COINIT_MULTITHREADED,
};
use windows_sys::Win32::System::Variant::{VARIANT, VT_BSTR};

use super::wmi::{Bstr, Com, Unknown};

const CLSID_TASK_SCHEDULER: GUID = GUID::from_u128(0x0f87369f_a4e5_4cfc_bd3e_73e6154572dd);
const IID_ITASK_SERVICE: GUID = GUID::from_u128(0x2faba4c7_4da9_4013_9697_20cc3fd40f85);
const RPC_E_CHANGED_MODE: HRESULT = 0x8001_0106_u32 as i32;
/// `TASK_UPDATE`.
const TASK_UPDATE: i32 = 4;
/// `TASK_CREATE_OR_UPDATE`.
pub const TASK_CREATE_OR_UPDATE: i32 = 6;

fn failed(call: &str, task: &str, hr: HRESULT) -> Error {
    Error::Device(format!(
        "{} on {} failed: HRESULT 0x{:08X}",
        call, task, hr as u32
    ))
}

/// The `TASK_LOGON_TYPE` of `logon`.
fn logon_type(logon: TaskLogon) -> i32 {
    match logon {
        TaskLogon::Password => 1,
        TaskLogon::S4u => 2,
        TaskLogon::InteractiveToken => 3,
        TaskLogon::Group => 4,
        TaskLogon::ServiceAccount => 5,
    }
}

fn logon_name(logon: TaskLogon) -> &'static str {
    match logon {
        TaskLogon::Password => "Password",
        TaskLogon::S4u => "S4U",
        TaskLogon::InteractiveToken => "InteractiveToken",
        TaskLogon::Group => "Group",
        TaskLogon::ServiceAccount => "ServiceAccount",
    }
}

/// `inner` without its `<tag>…</tag>` elements (and empty `<tag/>` ones).
fn without(inner: &str, tag: &str) -> String {
    let (open, close, empty) = (
        format!("<{}>", tag),
        format!("</{}>", tag),
        format!("<{}/>", tag),
    );
    let mut out = inner.replace(&empty, "");
    while let Some(start) = out.find(&open) {
        let end = match out[start..].find(&close) {
            Some(e) => start + e + close.len(),
            None => break,
        };
        out.replace_range(start..end, "");
    }
    out
}

/// `xml` with its first `Principal` running as `principal`; everything else as it was.
pub fn with_principal(xml: &str, task: &str, principal: &TaskPrincipal) -> Result<String> {
    let no = || {
        Error::Device(format!(
            "the task {} has no Principal to change (it runs as its author)",
            task
        ))
    };
    let start = xml
        .find("<Principal ")
        .or_else(|| xml.find("<Principal>"))
        .ok_or_else(no)?;
    let open_end = start + xml[start..].find('>').ok_or_else(no)? + 1;
    let close = open_end + xml[open_end..].find("</Principal>").ok_or_else(no)?;
    let mut inner = xml[open_end..close].to_string();
    for tag in ["UserId", "GroupId", "LogonType"] {
        inner = without(&inner, tag);
    }
    let account = if principal.logon == TaskLogon::Group {
        format!("<GroupId>{}</GroupId>", principal.account)
    } else {
        format!(
            "<UserId>{}</UserId><LogonType>{}</LogonType>",
            principal.account,
            logon_name(principal.logon)
        )
    };
    Ok(format!(
        "{}{}{}{}",
        &xml[..open_end],
        account,
        inner,
        &xml[close..]
    ))
}

struct Scheduler {
    root: Com,
}

fn variant_empty() -> VARIANT {
    unsafe { std::mem::zeroed() }
}

fn variant_bstr(text: &Bstr) -> VARIANT {
    let mut v: VARIANT = unsafe { std::mem::zeroed() };
    v.Anonymous.Anonymous.vt = VT_BSTR;
    v.Anonymous.Anonymous.Anonymous.bstrVal = text.0;
    v
}

impl Scheduler {
    fn connect(task: &str) -> Result<Scheduler> {
        unsafe {
            let hr = CoInitializeEx(null(), COINIT_MULTITHREADED as u32);
            if hr < 0 && hr != RPC_E_CHANGED_MODE {
                return Err(failed("CoInitializeEx", task, hr));
            }
            let mut service: Unknown = null_mut();
            let hr = CoCreateInstance(
                &CLSID_TASK_SCHEDULER,
                null_mut(),
                CLSCTX_INPROC_SERVER,
                &IID_ITASK_SERVICE,
                &mut service as *mut Unknown as *mut *mut c_void,
            );
            if hr < 0 || service.is_null() {
                return Err(failed("CoCreateInstance(TaskScheduler)", task, hr));
            }
            let service = Com(service);
            type Connect =
                extern "system" fn(Unknown, VARIANT, VARIANT, VARIANT, VARIANT) -> HRESULT;
            let connect: Connect = std::mem::transmute(service.slot(10));
            let hr = connect(
                service.0,
                variant_empty(),
                variant_empty(),
                variant_empty(),
                variant_empty(),
            );
            if hr < 0 {
                return Err(failed("ITaskService::Connect", task, hr));
            }
            type GetFolder = extern "system" fn(Unknown, BSTR, *mut Unknown) -> HRESULT;
            let get_folder: GetFolder = std::mem::transmute(service.slot(7));
            let path = Bstr::new("\\");
            let mut root: Unknown = null_mut();
            let hr = get_folder(service.0, path.0, &mut root);
            if hr < 0 || root.is_null() {
                return Err(failed("ITaskService::GetFolder", "\\", hr));
            }
            Ok(Scheduler { root: Com(root) })
        }
    }

    /// The definition of `task` as XML (`ITaskFolder::GetTask`, `IRegisteredTask::get_Xml`).
    fn xml(&self, task: &str) -> Result<String> {
        unsafe {
            type GetTask = extern "system" fn(Unknown, BSTR, *mut Unknown) -> HRESULT;
            let get_task: GetTask = std::mem::transmute(self.root.slot(13));
            let path = Bstr::new(task);
            let mut registered: Unknown = null_mut();
            let hr = get_task(self.root.0, path.0, &mut registered);
            if hr < 0 || registered.is_null() {
                // HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)
                if hr as u32 == 0x8007_0002 {
                    return Err(Error::NotFound(format!("the scheduled task {}", task)));
                }
                return Err(failed("ITaskFolder::GetTask", task, hr));
            }
            let registered = Com(registered);
            type GetXml = extern "system" fn(Unknown, *mut BSTR) -> HRESULT;
            let get_xml: GetXml = std::mem::transmute(registered.slot(20));
            let mut xml: BSTR = null_mut();
            let hr = get_xml(registered.0, &mut xml);
            if hr < 0 || xml.is_null() {
                return Err(failed("IRegisteredTask::get_Xml", task, hr));
            }
            let xml = Bstr(xml);
            Ok(super::from_pwstr(xml.0))
        }
    }

    /// Registers `xml` as `task` (`ITaskFolder::RegisterTask` with `flags`).
    fn register(&self, task: &str, xml: &str, flags: i32, principal: &TaskPrincipal) -> Result<()> {
        unsafe {
            type RegisterTask = extern "system" fn(
                Unknown,
                BSTR,
                BSTR,
                i32,
                VARIANT,
                VARIANT,
                i32,
                VARIANT,
                *mut Unknown,
            ) -> HRESULT;
            let register: RegisterTask = std::mem::transmute(self.root.slot(16));
            let (path, text, account) = (
                Bstr::new(task),
                Bstr::new(xml),
                Bstr::new(&principal.account.to_string()),
            );
            let mut registered: Unknown = null_mut();
            let hr = register(
                self.root.0,
                path.0,
                text.0,
                flags,
                variant_bstr(&account),
                variant_empty(),
                logon_type(principal.logon),
                variant_empty(),
                &mut registered,
            );
            if !registered.is_null() {
                drop(Com(registered));
            }
            if hr < 0 {
                return Err(failed("ITaskFolder::RegisterTask", task, hr));
            }
            Ok(())
        }
    }
}

/// Makes `task` run as `principal`; false when it does already.
pub fn set(task: &str, principal: &TaskPrincipal) -> Result<bool> {
    if principal.logon == TaskLogon::Password {
        return Err(Error::Device(format!(
            "the scheduled task {} runs with a stored password: it cannot be registered for {} without that account's password; re-enter it in Task Scheduler",
            task, principal.account
        )));
    }
    let scheduler = Scheduler::connect(task)?;
    let xml = scheduler.xml(task)?;
    if super::readiness::task_principal(&xml)?.as_ref() == Some(principal) {
        return Ok(false);
    }
    let new = with_principal(&xml, task, principal)?;
    scheduler.register(task, &new, TASK_UPDATE, principal)?;
    let text = scheduler.xml(task)?;
    let back = super::readiness::task_principal(&text)?;
    if back.as_ref().map(|p| &p.account) != Some(&principal.account) {
        return Err(Error::Device(format!(
            "ITaskFolder::RegisterTask on {} reported success but the task runs as {} (the Task Scheduler kept no such principal)",
            task,
            back.map_or("its author".to_string(), |p| p.account.to_string())
        )));
    }
    Ok(true)
}

/// Registers the definition `xml` as `task`, created or replaced, running as `principal`.
pub fn register(task: &str, xml: &str, principal: &TaskPrincipal) -> Result<()> {
    Scheduler::connect(task)?.register(task, xml, TASK_CREATE_OR_UPDATE, principal)
}

/// The definition of `task` as XML.
pub fn xml(task: &str) -> Result<String> {
    Scheduler::connect(task)?.xml(task)
}
