//! The readiness questions on Windows, read-only: the OS version (`RtlGetVersion` and the
//! `CurrentVersion` key), ProfileList and the profiles' hives, the processes running as users
//! (`WTSEnumerateProcessesExW`), scheduled tasks' principals (the task definitions under
//! `%SystemRoot%\System32\Tasks`), the system volume (`GetDiskFreeSpaceExW`), the power source
//! (`GetSystemPowerStatus`), the pending-reboot markers, reachability (WinHTTP, `DsGetDcNameW`),
//! software that gets in the way (services and registry keys), and BitLocker, the TPM and disk
//! health through WMI. What this device cannot tell fails with the call it could not make, so
//! its check is Unknown with that reason, never passed.

use std::path::Path;
use std::ptr::{null, null_mut};

use agent::readiness::device::{
    BitLockerState, Interference, InterferenceKind, ProfileCondition, SystemVolume,
};
use agent::workstation::{TaskLogon, TaskPrincipal};
use agent::{Error, RegValue, Result};
use chrono::{DateTime, TimeZone, Utc};
use model::plan::OsEdition;
use secdesc::Sid;
use windows_sys::Win32::Foundation::{ERROR_SHARING_VIOLATION, ERROR_SUCCESS};
use windows_sys::Win32::Storage::FileSystem::GetDiskFreeSpaceExW;
use windows_sys::Win32::System::Power::{GetSystemPowerStatus, SYSTEM_POWER_STATUS};
use windows_sys::Win32::System::Registry::{RegLoadKeyW, HKEY_USERS};
use windows_sys::Win32::System::RemoteDesktop::{
    WTSEnumerateProcessesExW, WTSFreeMemoryExW, WTSTypeProcessInfoLevel1,
    WTS_CURRENT_SERVER_HANDLE, WTS_PROCESS_INFO_EXW,
};
use windows_sys::Win32::System::SystemInformation::OSVERSIONINFOEXW;

use super::profiles::PROFILE_LIST;
use super::registry;
use super::{error, from_pwstr, last_error, security, services, system, wide, wine_lacks, wmi};
use crate::keys::KeyName;

const CURRENT_VERSION: &str = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion";
const PRODUCT_OPTIONS: &str = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\ProductOptions";
/// FSLogix's profile container settings.
const FSLOGIX_PROFILES: &str = "HKLM\\SOFTWARE\\FSLogix\\Profiles";
/// The namespace of `Win32_EncryptableVolume`.
pub const BITLOCKER_NAMESPACE: &str = "root\\cimv2\\Security\\MicrosoftVolumeEncryption";
/// The namespace of `Win32_Tpm`.
pub const TPM_NAMESPACE: &str = "root\\cimv2\\Security\\MicrosoftTpm";
/// The namespace of `MSFT_PhysicalDisk`.
pub const STORAGE_NAMESPACE: &str = "root\\Microsoft\\Windows\\Storage";
/// `WTS_ANY_SESSION`.
const WTS_ANY_SESSION: u32 = 0xFFFF_FFFE;
/// `VER_NT_WORKSTATION`.
const VER_NT_WORKSTATION: u8 = 1;

fn key(name: &str) -> Result<KeyName> {
    KeyName::parse(name)
}

/// The value `name` of `key`, `None` when either is absent.
fn value(key_name: &str, name: &str) -> Result<Option<RegValue>> {
    match registry::open(&key(key_name)?, registry::READ)? {
        Some(k) => k.value(name),
        None => Ok(None),
    }
}

fn text(key_name: &str, name: &str) -> Result<Option<String>> {
    Ok(match value(key_name, name)? {
        Some(RegValue::Sz(s)) | Some(RegValue::ExpandSz(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    })
}

fn dword(key_name: &str, name: &str) -> Result<Option<u32>> {
    Ok(match value(key_name, name)? {
        Some(RegValue::Dword(d)) => Some(d),
        _ => None,
    })
}

fn key_exists(name: &str) -> Result<bool> {
    Ok(registry::open(&key(name)?, registry::READ)?.is_some())
}

/// `RtlGetVersion` (which, unlike `GetVersionExW`, does not lie to programs without a
/// manifest): major, minor, build and product type.
fn rtl_version() -> Result<OSVERSIONINFOEXW> {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
    let ntdll = wide("ntdll.dll");
    unsafe {
        let module = GetModuleHandleW(ntdll.as_ptr());
        if module.is_null() {
            return Err(last_error("GetModuleHandleW", "ntdll.dll"));
        }
        let f = GetProcAddress(module, b"RtlGetVersion\0".as_ptr())
            .ok_or_else(|| last_error("GetProcAddress", "RtlGetVersion"))?;
        let rtl_get_version: extern "system" fn(*mut OSVERSIONINFOEXW) -> i32 =
            std::mem::transmute(f);
        let mut info: OSVERSIONINFOEXW = std::mem::zeroed();
        info.dwOSVersionInfoSize = std::mem::size_of::<OSVERSIONINFOEXW>() as u32;
        let status = rtl_get_version(&mut info);
        if status != 0 {
            return Err(Error::Device(format!(
                "RtlGetVersion failed: NTSTATUS 0x{:08X}",
                status as u32
            )));
        }
        Ok(info)
    }
}

/// The edition and the version as the readiness checks read it: `Windows 11 Pro 23H2
/// (10.0.22631)`. `ProductName` still says Windows 10 on Windows 11 (build 22000 and later), so
/// the build decides; `EditionID` `Core…` is Home; the product type (`RtlGetVersion`, else
/// `ProductOptions\ProductType`, else `InstallationType`) tells a workstation from a server.
pub fn os() -> Result<(OsEdition, String)> {
    let info = rtl_version()?;
    let product = text(CURRENT_VERSION, "ProductName")?.unwrap_or_else(|| "Windows".to_string());
    let product = product.trim_start_matches("Microsoft ").to_string();
    let mut name = if info.dwBuildNumber >= 22000 && product.contains("Windows 10") {
        product.replacen("Windows 10", "Windows 11", 1)
    } else {
        product
    };
    let edition_id = text(CURRENT_VERSION, "EditionID")?.unwrap_or_default();
    if edition_id.starts_with("Core") && !name.to_ascii_lowercase().contains(" home") {
        name.push_str(" Home");
    }
    if let Some(display) =
        text(CURRENT_VERSION, "DisplayVersion")?.or(text(CURRENT_VERSION, "ReleaseId")?)
    {
        name = format!("{} {}", name, display);
    }
    let edition = if info.wProductType != 0 {
        if info.wProductType == VER_NT_WORKSTATION {
            OsEdition::Workstation
        } else {
            OsEdition::Server
        }
    } else {
        match text(PRODUCT_OPTIONS, "ProductType")? {
            Some(t) if !t.eq_ignore_ascii_case("WinNT") => OsEdition::Server,
            Some(_) => OsEdition::Workstation,
            None => match text(CURRENT_VERSION, "InstallationType")? {
                Some(t) if t.starts_with("Server") => OsEdition::Server,
                _ => OsEdition::Workstation,
            },
        }
    };
    Ok((
        edition,
        format!(
            "{} ({}.{}.{})",
            name, info.dwMajorVersion, info.dwMinorVersion, info.dwBuildNumber
        ),
    ))
}

/// A FILETIME (100 ns since 1601) as a time, `None` for zero or out of range.
fn filetime(high: u32, low: u32) -> Option<DateTime<Utc>> {
    let ticks = (u64::from(high) << 32) | u64::from(low);
    if ticks == 0 {
        return None;
    }
    let secs = (ticks / 10_000_000) as i64 - 11_644_473_600;
    let nanos = ((ticks % 10_000_000) * 100) as u32;
    Utc.timestamp_opt(secs, nanos).single()
}

/// Whether the hive of `sid` in the profile folder `path` can be read: loaded already under
/// `HKU\<sid>` (the user is signed in), or loaded by this call under a private name and
/// unloaded again (`RegLoadKeyW`, `RegUnLoadKeyW`). A hive file another process holds open is
/// in use, so readable. `NTUSER.MAN` (mandatory) is read where it exists.
fn hive_readable(sid: &str, path: &str) -> Result<bool> {
    if registry::open(&key(&format!("HKU\\{}", sid))?, registry::READ)?.is_some() {
        return Ok(true);
    }
    let folder = Path::new(path);
    let file = ["NTUSER.MAN", "NTUSER.DAT"]
        .iter()
        .map(|f| folder.join(f))
        .find(|f| f.exists());
    let file = match file {
        Some(f) => f,
        None => return Ok(false),
    };
    let name = format!("rehome-readiness-{}", sid);
    let (wname, wfile) = (wide(&name), wide(&file.to_string_lossy()));
    let rc = unsafe { RegLoadKeyW(HKEY_USERS, wname.as_ptr(), wfile.as_ptr()) };
    match rc {
        ERROR_SUCCESS => {
            registry::unload_user_hive(&name)?;
            Ok(true)
        }
        ERROR_SHARING_VIOLATION => Ok(true),
        // A privilege the account lacks is this agent's limit, not the hive's fault.
        1314 => Err(error("RegLoadKeyW", &file.to_string_lossy(), rc)),
        _ => Ok(false),
    }
}

/// Every account profile of ProfileList, with its `.bak` duplicate folded in.
pub fn profile_conditions() -> Result<Vec<ProfileCondition>> {
    let list = key(PROFILE_LIST)?;
    let names = match registry::open(&list, registry::READ)? {
        Some(k) => k.subkeys()?,
        None => return Ok(Vec::new()),
    };
    let fslogix = dword(FSLOGIX_PROFILES, "Enabled")? == Some(1);
    let mut out: Vec<ProfileCondition> = Vec::new();
    let mut bases: Vec<String> = Vec::new();
    for name in &names {
        let base = match name.len().checked_sub(4) {
            Some(cut) if name[cut..].eq_ignore_ascii_case(".bak") => &name[..cut],
            _ => name.as_str(),
        };
        // Accounts only: not SYSTEM, LOCAL SERVICE and NETWORK SERVICE.
        if !(base.starts_with("S-1-5-21-") || base.starts_with("S-1-12-1-")) {
            continue;
        }
        if !bases.iter().any(|b| b.eq_ignore_ascii_case(base)) {
            bases.push(base.to_string());
        }
    }
    for base in bases {
        let sid: Sid = match base.parse() {
            Ok(sid) => sid,
            Err(_) => continue,
        };
        let bak = names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(&format!("{}.bak", base)));
        let main = names.iter().find(|n| n.eq_ignore_ascii_case(&base));
        // The entry Windows reads: the SID's own, else the .bak left alone.
        let entry = format!("{}\\{}", PROFILE_LIST, main.or(bak).map_or(&base, |n| n));
        let path = match text(&entry, "ProfileImagePath")? {
            Some(p) => system::expand(&p)?,
            None => String::new(),
        };
        let state = dword(&entry, "State")?.unwrap_or(0);
        let central_profile = text(&entry, "CentralProfile")?;
        let last_used = match (
            dword(&entry, "LocalProfileLoadTimeHigh")?,
            dword(&entry, "LocalProfileLoadTimeLow")?,
        ) {
            (Some(high), Some(low)) => filetime(high, low),
            _ => None,
        };
        let folder = Path::new(&path)
            .file_name()
            .map(|f| f.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let container = if fslogix
            && (key_exists(&format!("{}\\Sessions\\{}", FSLOGIX_PROFILES, base))?
                || folder.starts_with("local_"))
        {
            Some("FSLogix".to_string())
        } else {
            None
        };
        let hive_readable = !path.is_empty() && hive_readable(&base, &path)?;
        out.push(ProfileCondition {
            account: security::lookup_sid(&sid).ok(),
            sid,
            path,
            state,
            central_profile,
            bak_entry: bak.is_some(),
            container,
            hive_readable,
            last_used,
        });
    }
    Ok(out)
}

/// The processes running as accounts other than SYSTEM, LOCAL SERVICE and NETWORK SERVICE, as
/// `name (pid)` with the account's SID (`WTSEnumerateProcessesExW` level 1 in every session).
pub fn user_processes() -> Result<Vec<(String, Sid)>> {
    // Wine exports it as a stub that fails without saying why.
    wine_lacks("WTSEnumerateProcessesExW")?;
    let mut level = 1u32;
    let mut info: *mut u16 = null_mut();
    let mut count = 0u32;
    let ok = unsafe {
        WTSEnumerateProcessesExW(
            WTS_CURRENT_SERVER_HANDLE,
            &mut level,
            WTS_ANY_SESSION,
            &mut info,
            &mut count,
        )
    };
    if ok == 0 {
        return Err(last_error("WTSEnumerateProcessesExW", ""));
    }
    let mut out = Vec::new();
    let result = (|| {
        let entries = unsafe {
            std::slice::from_raw_parts(info as *const WTS_PROCESS_INFO_EXW, count as usize)
        };
        for e in entries {
            if e.pUserSid.is_null() {
                continue;
            }
            let sid = unsafe { security::sid_at(e.pUserSid)? };
            if services::is_builtin(&sid) {
                continue;
            }
            let name = unsafe { from_pwstr(e.pProcessName) };
            out.push((format!("{} ({})", name, e.ProcessId), sid));
        }
        Ok(())
    })();
    unsafe { WTSFreeMemoryExW(WTSTypeProcessInfoLevel1, info as *const _, count) };
    result.map(|()| out)
}

/// The text between `<tag>` and `</tag>` in `xml`, trimmed.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{}>", tag);
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{}>", tag))? + start;
    Some(xml[start..end].trim())
}

/// A task definition file's text: UTF-16 with a byte-order mark, as the Task Scheduler writes
/// them, or UTF-8.
fn task_text(bytes: &[u8]) -> String {
    if bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xFE {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// The principal of one task definition: `UserId` (a SID or an account name) or `GroupId`, and
/// `LogonType`. `None` for a task without one, which runs as its author.
pub fn task_principal(xml: &str) -> Result<Option<TaskPrincipal>> {
    let principal =
        match element(xml, "Principal").or_else(|| xml.find("<Principal ").map(|i| &xml[i..])) {
            Some(p) => p,
            None => return Ok(None),
        };
    let (account, group) = match (element(principal, "UserId"), element(principal, "GroupId")) {
        (Some(user), _) => (user, false),
        (None, Some(group)) => (group, true),
        (None, None) => return Ok(None),
    };
    let sid = match account.parse::<Sid>() {
        Ok(sid) => sid,
        Err(_) => services::account_sid(account)?,
    };
    let logon = match element(principal, "LogonType") {
        _ if group => TaskLogon::Group,
        Some("S4U") => TaskLogon::S4u,
        Some("Password") => TaskLogon::Password,
        Some("ServiceAccount") => TaskLogon::ServiceAccount,
        _ if services::is_builtin(&sid) => TaskLogon::ServiceAccount,
        _ => TaskLogon::InteractiveToken,
    };
    Ok(Some(TaskPrincipal {
        account: sid,
        logon,
    }))
}

fn collect_tasks(root: &Path, folder: &Path, out: &mut Vec<(String, TaskPrincipal)>) -> Result<()> {
    let io = |e: std::io::Error| Error::Io {
        what: "listing scheduled tasks in",
        path: folder.to_path_buf(),
        source: e,
    };
    let mut entries: Vec<_> = std::fs::read_dir(folder)
        .map_err(io)?
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_type().map_err(io)?.is_dir() {
            collect_tasks(root, &path, out)?;
            continue;
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            // A task being rewritten, or one only SYSTEM may read: the rest still count.
            Err(_) => continue,
        };
        let name = path
            .strip_prefix(root)
            .map(|p| format!("\\{}", p.to_string_lossy()))
            .unwrap_or_else(|_| path.to_string_lossy().into_owned());
        if let Some(principal) = task_principal(&task_text(&bytes))? {
            out.push((name, principal));
        }
    }
    Ok(())
}

/// Every scheduled task with its principal, by task path, from the definitions the Task
/// Scheduler keeps under `%SystemRoot%\System32\Tasks` (read-only; the same `Principal` that
/// `IRegisteredTask::get_Definition` answers).
pub fn task_principals() -> Result<Vec<(String, TaskPrincipal)>> {
    let root = system::expand("%SystemRoot%\\System32\\Tasks")?;
    tasks_under(Path::new(&root))
}

/// The tasks whose definitions are under `root`, named by their path below it.
pub fn tasks_under(root: &Path) -> Result<Vec<(String, TaskPrincipal)>> {
    let mut out = Vec::new();
    if root.is_dir() {
        collect_tasks(root, root, &mut out)?;
    }
    Ok(out)
}

/// Free and total bytes of the system volume (`GetDiskFreeSpaceExW` on `%SystemDrive%\`) and the
/// health of the physical disks (`MSFT_PhysicalDisk.HealthStatus`, 0 healthy); when the Storage
/// namespace cannot be read the space is still given and the health says why it is unknown.
pub fn system_volume() -> Result<SystemVolume> {
    let drive = system::expand("%SystemDrive%\\")?;
    let wdrive = wide(&drive);
    let (mut free, mut total, mut total_free) = (0u64, 0u64, 0u64);
    if unsafe { GetDiskFreeSpaceExW(wdrive.as_ptr(), &mut free, &mut total, &mut total_free) } == 0
    {
        return Err(last_error("GetDiskFreeSpaceExW", &drive));
    }
    let health = wmi::connect(STORAGE_NAMESPACE).and_then(|ns| {
        ns.query(
            "SELECT FriendlyName, HealthStatus FROM MSFT_PhysicalDisk",
            &["FriendlyName", "HealthStatus"],
        )
    });
    let (healthy, health_unread) = match health {
        Ok(rows) if rows.is_empty() => (
            false,
            Some(format!(
                "MSFT_PhysicalDisk in {} lists no physical disk",
                STORAGE_NAMESPACE
            )),
        ),
        Ok(rows) => (rows.iter().all(|r| r[1].int() == Some(0)), None),
        Err(e) => (false, Some(e.to_string())),
    };
    Ok(SystemVolume {
        free_bytes: free,
        total_bytes: total,
        healthy,
        health_unread,
    })
}

/// The battery charge when the device runs on battery, `None` on mains or without a battery
/// (`GetSystemPowerStatus`).
pub fn on_battery() -> Result<Option<u8>> {
    let mut status: SYSTEM_POWER_STATUS = unsafe { std::mem::zeroed() };
    if unsafe { GetSystemPowerStatus(&mut status) } == 0 {
        return Err(last_error("GetSystemPowerStatus", ""));
    }
    const NO_SYSTEM_BATTERY: u8 = 128;
    match status.ACLineStatus {
        1 => Ok(None),
        0 => Ok(Some(status.BatteryLifePercent.min(100))),
        _ if status.BatteryFlag & NO_SYSTEM_BATTERY != 0 => Ok(None),
        other => Err(Error::Device(format!(
            "GetSystemPowerStatus does not know the power source (ACLineStatus {}, BatteryFlag {})",
            other, status.BatteryFlag
        ))),
    }
}

/// Why a reboot is pending, from the markers Windows leaves: Component Based Servicing's
/// `RebootPending`, Windows Update's `RebootRequired`, `PendingFileRenameOperations`, and a
/// computer name that changes at the next start.
pub fn pending_reboot() -> Result<Option<String>> {
    let mut why = Vec::new();
    if key_exists("HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\RebootPending")? {
        why.push("Windows servicing (Component Based Servicing\\RebootPending)".to_string());
    }
    if key_exists(
        "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update\\RebootRequired",
    )? {
        why.push("Windows Update (Auto Update\\RebootRequired)".to_string());
    }
    let renames = value(
        "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager",
        "PendingFileRenameOperations",
    )?;
    if let Some(RegValue::MultiSz(files)) = renames {
        let n = files.iter().filter(|f| !f.is_empty()).count();
        if n > 0 {
            why.push(format!(
                "{} file operation(s) waiting for the restart (PendingFileRenameOperations)",
                (n + 1) / 2
            ));
        }
    }
    let active = text(
        "HKLM\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ActiveComputerName",
        "ComputerName",
    )?;
    let next = text(
        "HKLM\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName",
        "ComputerName",
    )?;
    if let (Some(active), Some(next)) = (active, next) {
        if !active.eq_ignore_ascii_case(&next) {
            why.push(format!("a rename from {} to {}", active, next));
        }
    }
    Ok(if why.is_empty() {
        None
    } else {
        Some(why.join("; "))
    })
}

/// Whether `url` (`http://` or `https://`, host, optional port and path) answers a WinHTTP
/// `HEAD` within 15 s, whatever the status; false when it cannot be resolved, connected to or
/// its TLS fails.
pub fn endpoint_reachable(url: &str) -> Result<bool> {
    super::http::head_answers(url)
}

/// Whether the directory `target` answers: a GUID or a `*.onmicrosoft.com` name is an Entra
/// tenant, asked through its OpenID configuration; anything else is an Active Directory domain,
/// whose writable domain controller `DsGetDcNameW` must find (`DS_FORCE_REDISCOVERY`).
pub fn directory_reachable(target: &str) -> Result<bool> {
    let lower = target.to_ascii_lowercase();
    let is_guid = lower.len() == 36
        && lower.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        });
    if is_guid || lower.ends_with(".onmicrosoft.com") {
        return endpoint_reachable(&format!(
            "https://login.microsoftonline.com/{}/v2.0/.well-known/openid-configuration",
            target
        ));
    }
    use windows_sys::Win32::NetworkManagement::NetManagement::NetApiBufferFree;
    // Wine's is a semi-stub that asks the system's DNS for SRV records it cannot use.
    wine_lacks("DsGetDcNameW")?;
    use windows_sys::Win32::Networking::ActiveDirectory::{
        DsGetDcNameW, DOMAIN_CONTROLLER_INFOW, DS_FORCE_REDISCOVERY, DS_WRITABLE_REQUIRED,
    };
    const ERROR_NO_SUCH_DOMAIN: u32 = 1355;
    let domain = wide(target);
    let mut info: *mut DOMAIN_CONTROLLER_INFOW = null_mut();
    let rc = unsafe {
        DsGetDcNameW(
            null(),
            domain.as_ptr(),
            null(),
            null(),
            DS_FORCE_REDISCOVERY | DS_WRITABLE_REQUIRED,
            &mut info,
        )
    };
    if !info.is_null() {
        unsafe { NetApiBufferFree(info as *const _) };
    }
    match rc {
        0 => Ok(true),
        ERROR_NO_SUCH_DOMAIN => Ok(false),
        rc => Err(error("DsGetDcNameW", target, rc)),
    }
}

/// Software that gets in a migration's way, found by its service or registry keys: the
/// ConfigMgr client (service `CcmExec`), MDM enrolments (`HKLM\SOFTWARE\Microsoft\Enrollments\*`
/// with a `ProviderID` and `EnrollmentState` 1), and application control (AppLocker's enforced
/// executable rules, a WDAC `SiPolicy.p7b`).
pub fn interfering_software() -> Result<Vec<Interference>> {
    let mut found = Vec::new();
    if services::account("CcmExec")?.is_some() {
        let version = text(
            "HKLM\\SOFTWARE\\Microsoft\\SMS\\Mobile Client",
            "ProductVersion",
        )?;
        found.push(Interference {
            kind: InterferenceKind::ConfigMgr,
            name: match version {
                Some(v) => format!("CcmExec {}", v),
                None => "CcmExec".to_string(),
            },
        });
    }
    let enrollments = "HKLM\\SOFTWARE\\Microsoft\\Enrollments";
    if let Some(k) = registry::open(&key(enrollments)?, registry::READ)? {
        for id in k.subkeys()? {
            let entry = format!("{}\\{}", enrollments, id);
            let provider = match text(&entry, "ProviderID")? {
                Some(p) => p,
                None => continue,
            };
            // Windows keeps entries of enrolments that ended; 1 is enrolled.
            if dword(&entry, "EnrollmentState")?.map_or(false, |s| s != 1) {
                continue;
            }
            let who = text(&entry, "UPN")?
                .or(text(&entry, "AADTenantID")?)
                .unwrap_or(id);
            found.push(Interference {
                kind: InterferenceKind::Mdm,
                name: format!("{} ({})", provider, who),
            });
        }
    }
    let applocker = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\SrpV2\\Exe";
    if dword(applocker, "EnforcementMode")? == Some(1) {
        found.push(Interference {
            kind: InterferenceKind::AppControl,
            name: "AppLocker (executable rules enforced)".to_string(),
        });
    }
    found.extend(super::edr::interference()?);
    let wdac = system::expand("%SystemRoot%\\System32\\CodeIntegrity\\SiPolicy.p7b")?;
    if Path::new(&wdac).exists() {
        found.push(Interference {
            kind: InterferenceKind::AppControl,
            name: format!("WDAC policy ({})", wdac),
        });
    }
    Ok(found)
}

/// What [`interfering_software`] cannot see: whether an EDR agent present isolated the device,
/// when the agent has no server to try ([`super::edr`]).
pub fn interference_not_checked() -> Vec<(InterferenceKind, String)> {
    super::edr::not_checked()
}

/// The system volume's BitLocker state (`Win32_EncryptableVolume` of `%SystemDrive%`:
/// `ConversionStatus`, `ProtectionStatus`) and where its recovery password is backed up, from
/// the device's evidence for the AD domain `domain` and the Entra tenant `tenant` it is joined
/// to ([`super::escrow`]).
pub fn bitlocker_state(domain: Option<&str>, tenant: Option<&str>) -> Result<BitLockerState> {
    let (volume, (encrypted, protection_on)) = bitlocker_volume()?;
    let mut state = BitLockerState {
        encrypted,
        protection_on,
        escrowed_to: Vec::new(),
        escrow_unread: None,
    };
    if !encrypted {
        // No recovery password is needed: the recovery key check passes without evidence.
        return Ok(state);
    }
    let drive = system::expand("%SystemDrive%")?;
    match super::escrow::recovery_protectors(&volume) {
        Ok(protectors) => {
            super::escrow::fill(&mut state, domain, tenant, &drive, Some(&protectors))?
        }
        // The protection state stands; only where the key is kept is unknown.
        Err(e) => {
            state.escrow_unread = Some(format!(
                "the volume's recovery password protectors cannot be listed: {}",
                e
            ))
        }
    }
    Ok(state)
}

/// The `DeviceID` of the system volume in `Win32_EncryptableVolume` and (encrypted, protection
/// on).
pub fn bitlocker_volume() -> Result<(String, (bool, bool))> {
    let drive = system::expand("%SystemDrive%")?;
    let ns = wmi::connect(BITLOCKER_NAMESPACE)?;
    let rows = ns.query(
        &format!(
            "SELECT DeviceID, ConversionStatus, ProtectionStatus FROM Win32_EncryptableVolume WHERE DriveLetter = '{}'",
            drive
        ),
        &["DeviceID", "ConversionStatus", "ProtectionStatus"],
    )?;
    let row = rows.into_iter().next().ok_or_else(|| {
        Error::Device(format!("Win32_EncryptableVolume lists no volume {}", drive))
    })?;
    let id = row[0].text().unwrap_or_default().to_string();
    // ConversionStatus 0 is fully decrypted; ProtectionStatus 1 is on.
    let encrypted = row[1].int().map_or(false, |c| c != 0);
    let protection_on = row[2].int() == Some(1);
    Ok((id, (encrypted, protection_on)))
}

/// The TPM's specification version (`Win32_Tpm.SpecVersion`, its first number: `2.0`), `None`
/// when the device has none.
pub fn tpm_version() -> Result<Option<String>> {
    let ns = wmi::connect(TPM_NAMESPACE)?;
    let rows = ns.query("SELECT SpecVersion FROM Win32_Tpm", &["SpecVersion"])?;
    Ok(rows.into_iter().next().and_then(|row| {
        row[0]
            .text()
            .and_then(|s| s.split(',').next())
            .map(|s| s.trim().to_string())
    }))
}
