//! Command packages on Windows: the verified zip unpacked into a fresh private folder (a
//! protected DACL granting SYSTEM and Administrators only, set as `CreateDirectoryW` makes it),
//! `cmd.exe /c cmdline.cmd` started there suspended (`CreateProcessW`, standard output and error
//! to one file) inside a job object that kills every process of the tree when it is closed,
//! resumed and waited for up to the timeout; past it the whole tree is stopped
//! (`TerminateJobObject`). The exit code and the output (its head and tail, bounded) are
//! answered, and the folder is removed.

use std::fs::File;
use std::os::windows::io::AsRawHandle;
use std::path::{Path, PathBuf};
use std::ptr::{null, null_mut};
use std::time::Duration;

use agent::{CommandOutcome, Error, Result};
use windows_sys::Win32::Foundation::{
    CloseHandle, SetHandleInformation, HANDLE, HANDLE_FLAG_INHERIT, WAIT_OBJECT_0, WAIT_TIMEOUT,
};
use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
use windows_sys::Win32::Storage::FileSystem::CreateDirectoryW;
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectBasicAccountingInformation,
    JobObjectExtendedLimitInformation, QueryInformationJobObject, SetInformationJobObject,
    TerminateJobObject, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{
    CreateProcessW, GetExitCodeProcess, ResumeThread, WaitForSingleObject, CREATE_NO_WINDOW,
    CREATE_SUSPENDED, PROCESS_INFORMATION, STARTF_USESTDHANDLES, STARTUPINFOW,
};

use super::{last_error, security, system, unzip, wide};

/// The folder's DACL: protected, full control for SYSTEM and Administrators, inherited by
/// everything in it.
pub const FOLDER_SDDL: &str = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";
/// The output kept from the start and from the end of what the script wrote.
pub const OUTPUT_PART: usize = 32 * 1024;
/// The exit code a script stopped at its timeout is given.
const STOPPED: u32 = 0xC000_013A;

struct Owned(HANDLE);

impl Drop for Owned {
    fn drop(&mut self) {
        if !self.0.is_null() {
            unsafe { CloseHandle(self.0) };
        }
    }
}

/// Creates `path` with [`FOLDER_SDDL`] (its parents as they come).
pub fn private_folder(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::Io {
            what: "creating the folder for command packages",
            path: parent.to_path_buf(),
            source: e,
        })?;
    }
    let mut descriptor = security::sddl_to_descriptor(FOLDER_SDDL)?;
    let attributes = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.as_mut_ptr() as *mut _,
        bInheritHandle: 0,
    };
    let wpath = wide(&path.to_string_lossy());
    if unsafe { CreateDirectoryW(wpath.as_ptr(), &attributes) } == 0 {
        return Err(last_error("CreateDirectoryW", &path.to_string_lossy()));
    }
    Ok(())
}

/// The head and the tail of `bytes`, each at most `part` bytes, as text.
pub fn bounded(bytes: &[u8], part: usize) -> String {
    if bytes.len() <= 2 * part {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    format!(
        "{}\n… {} bytes left out …\n{}",
        String::from_utf8_lossy(&bytes[..part]),
        bytes.len() - 2 * part,
        String::from_utf8_lossy(&bytes[bytes.len() - part..])
    )
}

/// The folder a package runs in under `base`.
pub fn run_folder(base: &Path, sha256: &str) -> PathBuf {
    let short: String = sha256
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(16)
        .collect();
    base.join(format!("run-{}", short))
}

/// Stops every process of `job` and waits, up to 10 s, until none is left, so the files they
/// held can be removed.
fn stop_all(job: &Owned) {
    unsafe { TerminateJobObject(job.0, STOPPED) };
    for _ in 0..100 {
        let mut info: JOBOBJECT_BASIC_ACCOUNTING_INFORMATION = unsafe { std::mem::zeroed() };
        let ok = unsafe {
            QueryInformationJobObject(
                job.0,
                JobObjectBasicAccountingInformation,
                &mut info as *mut _ as *mut _,
                std::mem::size_of::<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION>() as u32,
                null_mut(),
            )
        };
        if ok == 0 || info.ActiveProcesses == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts `cmd.exe /c cmdline.cmd` in `folder` inside a kill-on-close job, output to `output`,
/// and waits up to `timeout`: the exit code, `None` when it was stopped.
fn run_script(folder: &Path, output: &File, timeout: Duration) -> Result<Option<i32>> {
    let cmd = system::expand("%SystemRoot%\\System32\\cmd.exe")?;
    let arguments = format!("/c {}", agent::package::SCRIPT);
    run_program(&cmd, &arguments, folder, output, timeout)
}

/// Starts `program` with `arguments` in `folder` inside a kill-on-close job, standard output and
/// error to `output`, and waits up to `timeout`: the exit code, `None` when it was stopped.
pub fn run_program(
    program: &str,
    arguments: &str,
    folder: &Path,
    output: &File,
    timeout: Duration,
) -> Result<Option<i32>> {
    let job = Owned(unsafe { CreateJobObjectW(null(), null()) });
    if job.0.is_null() {
        return Err(last_error("CreateJobObjectW", ""));
    }
    let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    if unsafe {
        SetInformationJobObject(
            job.0,
            JobObjectExtendedLimitInformation,
            &limits as *const _ as *const _,
            std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    } == 0
    {
        return Err(last_error("SetInformationJobObject", "kill on close"));
    }
    let out = output.as_raw_handle() as HANDLE;
    if unsafe { SetHandleInformation(out, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT) } == 0 {
        return Err(last_error("SetHandleInformation", "the output file"));
    }
    let input = File::open("NUL").map_err(|e| Error::Io {
        what: "opening",
        path: PathBuf::from("NUL"),
        source: e,
    })?;
    let inp = input.as_raw_handle() as HANDLE;
    if unsafe { SetHandleInformation(inp, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT) } == 0 {
        return Err(last_error("SetHandleInformation", "NUL"));
    }
    let cmd = program;
    let mut line = wide(&format!("\"{}\" {}", cmd, arguments));
    let wcmd = wide(cmd);
    let wfolder = wide(&folder.to_string_lossy());
    let mut startup: STARTUPINFOW = unsafe { std::mem::zeroed() };
    startup.cb = std::mem::size_of::<STARTUPINFOW>() as u32;
    startup.dwFlags = STARTF_USESTDHANDLES;
    startup.hStdInput = inp;
    startup.hStdOutput = out;
    startup.hStdError = out;
    let mut process: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
    let ok = unsafe {
        CreateProcessW(
            wcmd.as_ptr(),
            line.as_mut_ptr(),
            null(),
            null(),
            1,
            CREATE_SUSPENDED | CREATE_NO_WINDOW,
            null(),
            wfolder.as_ptr(),
            &startup,
            &mut process,
        )
    };
    if ok == 0 {
        return Err(last_error("CreateProcessW", cmd));
    }
    let (proc_handle, thread) = (Owned(process.hProcess), Owned(process.hThread));
    if unsafe { AssignProcessToJobObject(job.0, proc_handle.0) } == 0 {
        let e = last_error("AssignProcessToJobObject", cmd);
        unsafe { TerminateJobObject(job.0, STOPPED) };
        unsafe { windows_sys::Win32::System::Threading::TerminateProcess(proc_handle.0, STOPPED) };
        return Err(e);
    }
    if unsafe { ResumeThread(thread.0) } == u32::MAX {
        let e = last_error("ResumeThread", cmd);
        unsafe { TerminateJobObject(job.0, STOPPED) };
        return Err(e);
    }
    let ms = timeout.as_millis().min(u128::from(u32::MAX - 1)) as u32;
    match unsafe { WaitForSingleObject(proc_handle.0, ms) } {
        WAIT_OBJECT_0 => {
            let mut code = 0u32;
            if unsafe { GetExitCodeProcess(proc_handle.0, &mut code) } == 0 {
                return Err(last_error("GetExitCodeProcess", cmd));
            }
            // What the script left running in the background goes with the job.
            stop_all(&job);
            Ok(Some(code as i32))
        }
        WAIT_TIMEOUT => {
            if unsafe { TerminateJobObject(job.0, STOPPED) } == 0 {
                return Err(last_error("TerminateJobObject", cmd));
            }
            unsafe { WaitForSingleObject(proc_handle.0, 10_000) };
            stop_all(&job);
            Ok(None)
        }
        _ => Err(last_error("WaitForSingleObject", cmd)),
    }
}

/// Unpacks the package `sha256` (`zip`) into a fresh private folder under `base`, runs its
/// `cmdline.cmd` with `timeout`, removes the folder, and answers how it ended.
pub fn run(base: &Path, sha256: &str, zip: &[u8], timeout: Duration) -> Result<CommandOutcome> {
    agent::package::check(sha256, zip)?;
    let folder = run_folder(base, sha256);
    // What an earlier run left (the agent stopped in the middle) goes first.
    if folder.exists() {
        std::fs::remove_dir_all(&folder).map_err(|e| Error::Io {
            what: "removing an earlier run of the command package at",
            path: folder.clone(),
            source: e,
        })?;
    }
    private_folder(&folder)?;
    let result = (|| -> Result<CommandOutcome> {
        let files = folder.join("files");
        unzip::unpack(sha256, zip, &files)?;
        let output_path = folder.join("output.txt");
        let output = File::create(&output_path).map_err(|e| Error::Io {
            what: "creating the output file",
            path: output_path.clone(),
            source: e,
        })?;
        let exit_code = run_script(&files, &output, timeout)?;
        drop(output);
        let bytes = std::fs::read(&output_path).map_err(|e| Error::Io {
            what: "reading the output of",
            path: output_path.clone(),
            source: e,
        })?;
        Ok(CommandOutcome {
            exit_code,
            output: bounded(&bytes, OUTPUT_PART),
        })
    })();
    // A process of the tree may hold a file a moment after it was stopped, and a folder whose
    // removal is pending stays until its last handle closes.
    let mut removed = std::fs::remove_dir_all(&folder);
    for _ in 0..25 {
        if removed.is_ok() && !folder.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if folder.exists() {
            removed = std::fs::remove_dir_all(&folder);
        }
    }
    let outcome = result?;
    removed.map_err(|e| Error::Io {
        what: "removing the command package's folder",
        path: folder,
        source: e,
    })?;
    Ok(outcome)
}
