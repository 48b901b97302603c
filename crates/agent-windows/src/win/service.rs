//! The agent as a Windows service: `install` (CreateServiceW as LocalSystem, started
//! automatically, the server URL and PSK in `HKLM\SOFTWARE\rehome\Agent`), `uninstall`, the SCM
//! entry point, and the agent's run loop on the Windows workstation.

use std::path::PathBuf;
use std::ptr::null;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use agent::run::requests::{self, Requests};
use agent::{Agent, AgentConfig, Error, Exit, RegValue, Result, Signal, Sleeper, ThreadSleeper};
use chrono::Duration;
use model::clock::SystemClock;
use model::status::EventLevel;
use windows_sys::Win32::Foundation::NO_ERROR;
use windows_sys::Win32::Storage::FileSystem::{MoveFileExW, MOVEFILE_DELAY_UNTIL_REBOOT};
use windows_sys::Win32::System::Services::*;

use super::eventlog::{self, EventLog};
use super::workstation::WindowsWorkstation;
use super::{last_error, registry, system, wide};
use crate::cli::RunOptions;
use crate::keys::KeyName;
use crate::pipe::credentials::CredentialDesk;

/// The service's name.
pub const SERVICE_NAME: &str = "RehomeAgent";
const DISPLAY_NAME: &str = "rehome agent";
const DESCRIPTION: &str =
    "Migrates this computer to its new directory as the rehome server's runbooks say.";
/// Where the installer and `install` keep the configuration.
pub const CONFIG_KEY: &str = "HKLM\\SOFTWARE\\rehome\\Agent";
const ERROR_SERVICE_ALREADY_RUNNING: u32 = 1056;
const ERROR_SERVICE_DOES_NOT_EXIST: u32 = 1060;
const ERROR_SERVICE_NOT_ACTIVE: u32 = 1062;
const ERROR_SERVICE_EXISTS: u32 = 1073;
const ERROR_SERVICE_MARKED_FOR_DELETE: u32 = 1072;

/// A service control manager or service handle, closed when dropped.
pub(super) struct Handle(pub(super) SC_HANDLE);

impl Drop for Handle {
    fn drop(&mut self) {
        unsafe {
            CloseServiceHandle(self.0);
        }
    }
}

pub(super) fn manager() -> Result<Handle> {
    let h = unsafe { OpenSCManagerW(null(), null(), SC_MANAGER_ALL_ACCESS) };
    if h.is_null() {
        return Err(last_error("OpenSCManagerW", ""));
    }
    Ok(Handle(h))
}

fn open_service(scm: &Handle) -> Result<Option<Handle>> {
    let name = wide(SERVICE_NAME);
    let h = unsafe { OpenServiceW(scm.0, name.as_ptr(), SERVICE_ALL_ACCESS) };
    if h.is_null() {
        let code = unsafe { windows_sys::Win32::Foundation::GetLastError() };
        if code == ERROR_SERVICE_DOES_NOT_EXIST {
            return Ok(None);
        }
        return Err(super::error("OpenServiceW", SERVICE_NAME, code));
    }
    Ok(Some(Handle(h)))
}

/// The default folder of the agent's identity, journal and spool.
pub fn state_dir() -> Result<PathBuf> {
    Ok(PathBuf::from(system::expand("%ProgramData%")?)
        .join("rehome")
        .join("agent"))
}

fn config_key() -> KeyName {
    KeyName::parse(CONFIG_KEY).expect("a fixed key name")
}

/// What the installer left: the server URL, the PSK and the CA file, each when set.
#[derive(Default)]
struct Installed {
    server: Option<String>,
    psk: Option<String>,
    ca_file: Option<PathBuf>,
}

fn installed_config() -> Result<Installed> {
    let key = match registry::open(&config_key(), registry::READ)? {
        Some(k) => k,
        None => return Ok(Installed::default()),
    };
    let text = |v: Option<RegValue>| match v {
        Some(RegValue::Sz(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    };
    Ok(Installed {
        server: text(key.value("ServerUrl")?),
        psk: text(key.value("Psk")?),
        ca_file: text(key.value("CaFile")?).map(PathBuf::from),
    })
}

/// Lets only SYSTEM and Administrators read the configuration: the PSK is a secret, and an MSI
/// writes its values with the default (readable by Users) descriptor of `HKLM\SOFTWARE`.
pub fn protect_config() -> Result<()> {
    let key = match registry::open(&config_key(), registry::WRITE_DAC)? {
        Some(k) => k,
        None => return Ok(()),
    };
    let sd = super::security::sddl_to_descriptor("D:P(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)")?;
    key.set_security(
        windows_sys::Win32::Security::DACL_SECURITY_INFORMATION
            | windows_sys::Win32::Security::PROTECTED_DACL_SECURITY_INFORMATION,
        &sd,
    )
}

/// Installs the service (or updates the installed one's configuration) and starts it.
pub fn install(server: &str, psk: &str, ca_file: Option<&std::path::Path>) -> Result<()> {
    let key = registry::create(&config_key(), registry::WRITE)?;
    key.set_value("ServerUrl", &RegValue::Sz(server.to_string()))?;
    key.set_value("Psk", &RegValue::Sz(psk.to_string()))?;
    let ca = ca_file.map(|p| p.display().to_string()).unwrap_or_default();
    key.set_value("CaFile", &RegValue::Sz(ca))?;
    drop(key);
    protect_config()?;
    let exe = system::own_exe()?;
    eventlog::register_source(&exe)?;
    crate::tray::autostart::register(&exe)?;
    let scm = manager()?;
    let service = match open_service(&scm)? {
        Some(s) => s,
        None => {
            let (name, display) = (wide(SERVICE_NAME), wide(DISPLAY_NAME));
            let command = wide(&format!("\"{}\" service", exe));
            let h = unsafe {
                CreateServiceW(
                    scm.0,
                    name.as_ptr(),
                    display.as_ptr(),
                    SERVICE_ALL_ACCESS,
                    SERVICE_WIN32_OWN_PROCESS,
                    SERVICE_AUTO_START,
                    SERVICE_ERROR_NORMAL,
                    command.as_ptr(),
                    null(),
                    std::ptr::null_mut(),
                    null(),
                    // No account: LocalSystem.
                    null(),
                    null(),
                )
            };
            if h.is_null() {
                let code = unsafe { windows_sys::Win32::Foundation::GetLastError() };
                if code == ERROR_SERVICE_EXISTS || code == ERROR_SERVICE_MARKED_FOR_DELETE {
                    return Err(Error::Device(format!(
                        "the service {} is being removed: try again once it is gone",
                        SERVICE_NAME
                    )));
                }
                return Err(super::error("CreateServiceW", SERVICE_NAME, code));
            }
            let service = Handle(h);
            let mut text = wide(DESCRIPTION);
            let description = SERVICE_DESCRIPTIONW {
                lpDescription: text.as_mut_ptr(),
            };
            // The description is for people reading services.msc; the service runs without it.
            unsafe {
                ChangeServiceConfig2W(
                    service.0,
                    SERVICE_CONFIG_DESCRIPTION,
                    &description as *const _ as _,
                );
            }
            service
        }
    };
    if unsafe { StartServiceW(service.0, 0, null()) } == 0 {
        let code = unsafe { windows_sys::Win32::Foundation::GetLastError() };
        if code != ERROR_SERVICE_ALREADY_RUNNING {
            return Err(super::error("StartServiceW", SERVICE_NAME, code));
        }
    }
    Ok(())
}

/// The service's state (`SERVICE_RUNNING` …), `None` when it is not installed.
pub fn query() -> Result<Option<u32>> {
    let scm = manager()?;
    let service = match open_service(&scm)? {
        Some(s) => s,
        None => return Ok(None),
    };
    let mut status: SERVICE_STATUS = unsafe { std::mem::zeroed() };
    if unsafe { QueryServiceStatus(service.0, &mut status) } == 0 {
        return Err(last_error("QueryServiceStatus", SERVICE_NAME));
    }
    Ok(Some(status.dwCurrentState))
}

/// Stops and removes the service and its event source; with `purge`, also the configuration
/// and the agent's state. Returns whether the service was installed.
// The SCM is polled while the service stops: no clock of the agent is involved.
#[allow(clippy::disallowed_methods)]
pub fn uninstall(purge: bool) -> Result<bool> {
    let scm = manager()?;
    let installed = match open_service(&scm)? {
        Some(service) => {
            let mut status: SERVICE_STATUS = unsafe { std::mem::zeroed() };
            if unsafe { ControlService(service.0, SERVICE_CONTROL_STOP, &mut status) } == 0 {
                let code = unsafe { windows_sys::Win32::Foundation::GetLastError() };
                if code != ERROR_SERVICE_NOT_ACTIVE {
                    return Err(super::error("ControlService(STOP)", SERVICE_NAME, code));
                }
            }
            for _ in 0..150 {
                if unsafe { QueryServiceStatus(service.0, &mut status) } == 0
                    || status.dwCurrentState == SERVICE_STOPPED
                {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            if unsafe { DeleteService(service.0) } == 0 {
                let code = unsafe { windows_sys::Win32::Foundation::GetLastError() };
                if code != ERROR_SERVICE_MARKED_FOR_DELETE {
                    return Err(super::error("DeleteService", SERVICE_NAME, code));
                }
            }
            true
        }
        None => false,
    };
    eventlog::unregister_source()?;
    crate::tray::autostart::unregister()?;
    if purge {
        registry::delete_tree(&config_key())?;
        let dir = state_dir()?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::Io {
                what: "removing",
                path: dir.clone(),
                source: e,
            })?;
        }
    }
    Ok(installed)
}

/// The `uninstall_agent` primitive: marks the service for deletion (the SCM removes it once this
/// process exits), removes the event source and configuration, and deletes the program at the
/// next reboot.
pub fn remove_after_exit() -> Result<()> {
    let scm = manager()?;
    if let Some(service) = open_service(&scm)? {
        if unsafe { DeleteService(service.0) } == 0 {
            let code = unsafe { windows_sys::Win32::Foundation::GetLastError() };
            if code != ERROR_SERVICE_MARKED_FOR_DELETE {
                return Err(super::error("DeleteService", SERVICE_NAME, code));
            }
        }
    }
    eventlog::unregister_source()?;
    registry::delete_tree(&config_key())?;
    let exe = system::own_exe()?;
    let wexe = wide(&exe);
    if unsafe { MoveFileExW(wexe.as_ptr(), null(), MOVEFILE_DELAY_UNTIL_REBOOT) } == 0 {
        return Err(last_error("MoveFileExW(DELAY_UNTIL_REBOOT)", &exe));
    }
    Ok(())
}

/// Runs the agent on this device until it is stopped (or idle, with `exit_when_idle`).
pub fn run(options: &RunOptions, sleeper: Box<dyn Sleeper>) -> Result<Exit> {
    run_serving(options, sleeper, None)
}

/// [`run`], serving the tray's `requests` and asking for credentials at its `desk` when given.
pub fn run_serving(
    options: &RunOptions,
    sleeper: Box<dyn Sleeper>,
    requests: Option<(Requests, CredentialDesk)>,
) -> Result<Exit> {
    let installed = installed_config()?;
    let server = options.server.clone().or(installed.server).ok_or_else(|| {
        Error::Config(
            "no server URL: install with --server URL (or the MSI's URL property), or give run --server"
                .to_string(),
        )
    })?;
    let psk = options.psk.clone().or(installed.psk).unwrap_or_default();
    let ca_file = options.ca_file.clone().or(installed.ca_file);
    crate::cli::check_url(&server).map_err(Error::Config)?;
    let state_dir = match &options.state_dir {
        Some(dir) => dir.clone(),
        None => state_dir()?,
    };
    let mut config = AgentConfig::new(&server, &psk, &state_dir);
    config.state_dir = state_dir;
    config.exit_when_idle = options.exit_when_idle;
    let transport = crate::transport::for_url(&server, ca_file.as_deref())?;
    let mut workstation = WindowsWorkstation::open();
    let requests = match requests {
        Some((requests, desk)) => {
            workstation = workstation.with_credential_desk(desk);
            Some(requests)
        }
        None => None,
    };
    let mut agent = Agent::new(
        config,
        workstation,
        transport,
        Arc::new(SystemClock),
        sleeper,
    )?;
    if let Some(requests) = requests {
        agent.serve_requests(requests);
    }
    agent.run()
}

static STATUS_HANDLE: AtomicUsize = AtomicUsize::new(0);
static STOP: Mutex<Option<Sender<Signal>>> = Mutex::new(None);

fn set_state(state: u32, exit_code: u32) {
    let handle = STATUS_HANDLE.load(Ordering::SeqCst) as SERVICE_STATUS_HANDLE;
    if handle.is_null() {
        return;
    }
    let status = SERVICE_STATUS {
        dwServiceType: SERVICE_WIN32_OWN_PROCESS,
        dwCurrentState: state,
        dwControlsAccepted: if state == SERVICE_RUNNING {
            SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN
        } else {
            0
        },
        dwWin32ExitCode: exit_code,
        dwServiceSpecificExitCode: 0,
        dwCheckPoint: 0,
        dwWaitHint: if state == SERVICE_RUNNING { 0 } else { 30_000 },
    };
    unsafe {
        SetServiceStatus(handle, &status);
    }
}

unsafe extern "system" fn control_handler(
    control: u32,
    _event: u32,
    _data: *mut core::ffi::c_void,
    _context: *mut core::ffi::c_void,
) -> u32 {
    match control {
        SERVICE_CONTROL_STOP | SERVICE_CONTROL_SHUTDOWN => {
            set_state(SERVICE_STOP_PENDING, NO_ERROR);
            if let Ok(stop) = STOP.lock() {
                if let Some(tx) = stop.as_ref() {
                    let _ = tx.send(Signal::Stop);
                }
            }
            NO_ERROR
        }
        SERVICE_CONTROL_INTERROGATE => NO_ERROR,
        // ERROR_CALL_NOT_IMPLEMENTED
        _ => 120,
    }
}

/// How long the service waits after a failed start of the agent (server refused or unreachable
/// before registration) before trying again.
const RETRY_AFTER_MINUTES: i64 = 64;

fn service_body() -> u32 {
    set_state(SERVICE_RUNNING, NO_ERROR);
    let log = EventLog::open().ok();
    if let Err(e) = protect_config() {
        if let Some(log) = &log {
            let _ = log.write(
                EventLevel::Warning,
                &format!(
                    "The agent's configuration key could not be restricted: {}",
                    e
                ),
            );
        }
    }
    // The tray's requests wake whichever wait the service is in.
    let (requester, requests) = requests::channel(Arc::new(|| {
        if let Ok(slot) = STOP.lock() {
            if let Some(tx) = slot.as_ref() {
                let _ = tx.send(Signal::Wake);
            }
        }
    }));
    // The Cache Credentials dialog goes to the tray through the pipe's threads, which answer
    // while a runbook's step waits for it.
    let desk = CredentialDesk::default();
    let pipe_desk = desk.clone();
    std::thread::spawn(move || {
        if let Err(e) =
            crate::pipe::win::serve(crate::pipe::PIPE_NAME, &requester, &pipe_desk, None)
        {
            if let Ok(log) = EventLog::open() {
                let _ = log.write(
                    EventLevel::Error,
                    &format!(
                        "The tray's pipe stopped; the tray cannot reach the agent: {}",
                        e
                    ),
                );
            }
        }
    });
    loop {
        let (run_sleeper, run_stop) = ThreadSleeper::with_signals();
        // The service's stop reaches the agent's waits through its own channel.
        if let Ok(mut slot) = STOP.lock() {
            *slot = Some(run_stop);
        }
        match run_serving(
            &RunOptions::default(),
            Box::new(run_sleeper),
            Some((requests.clone(), desk.clone())),
        ) {
            Ok(Exit::Stopped) | Ok(Exit::Idle { .. }) => return NO_ERROR,
            Ok(Exit::Uninstalled) => return NO_ERROR,
            Err(e) => {
                if let Some(log) = &log {
                    let _ = log.write(
                        EventLevel::Error,
                        &format!(
                            "The rehome agent stopped: {}. It tries again in {} minutes.",
                            e, RETRY_AFTER_MINUTES
                        ),
                    );
                }
            }
        }
        // Register or Check Runbooks from the tray wakes this wait: the agent tries at once.
        let (mut sleeper, stop) = ThreadSleeper::with_signals();
        if let Ok(mut slot) = STOP.lock() {
            *slot = Some(stop);
        }
        if !sleeper.sleep(Duration::minutes(RETRY_AFTER_MINUTES)) {
            return NO_ERROR;
        }
    }
}

unsafe extern "system" fn service_main(_argc: u32, _argv: *mut windows_sys::core::PWSTR) {
    let name = wide(SERVICE_NAME);
    let handle = RegisterServiceCtrlHandlerExW(name.as_ptr(), Some(control_handler), null());
    if handle.is_null() {
        return;
    }
    STATUS_HANDLE.store(handle as usize, Ordering::SeqCst);
    set_state(SERVICE_START_PENDING, NO_ERROR);
    let code = service_body();
    set_state(SERVICE_STOPPED, code);
}

/// Hands this process to the SCM (`StartServiceCtrlDispatcherW`); returns when the service
/// stopped. Fails when the process was not started by the SCM.
pub fn dispatch() -> Result<()> {
    let mut name = wide(SERVICE_NAME);
    let table = [
        SERVICE_TABLE_ENTRYW {
            lpServiceName: name.as_mut_ptr(),
            lpServiceProc: Some(service_main),
        },
        SERVICE_TABLE_ENTRYW {
            lpServiceName: std::ptr::null_mut(),
            lpServiceProc: None,
        },
    ];
    if unsafe { StartServiceCtrlDispatcherW(table.as_ptr()) } == 0 {
        return Err(last_error(
            "StartServiceCtrlDispatcherW (rehome-agent service is started by the service control manager)",
            "",
        ));
    }
    Ok(())
}
