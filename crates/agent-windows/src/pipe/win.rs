//! The pipe on Windows: the service's end (`CreateNamedPipeW` with a DACL made from SDDL by
//! `ConvertStringSecurityDescriptorToSecurityDescriptorW`, admitting only SYSTEM and the user
//! signed in at the console, local clients only, first instance only so no other process can
//! squat the name) and the tray's end (`CreateFileW`).

use std::fs::File;
use std::os::windows::io::{FromRawHandle, RawHandle};
use std::ptr::null_mut;

use agent::run::requests::Requester;
use agent::{Error, Result};
use secdesc::Sid;
use windows_sys::Win32::Foundation::{
    GetLastError, LocalFree, ERROR_FILE_NOT_FOUND, ERROR_PIPE_BUSY, ERROR_PIPE_CONNECTED,
    INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::Security::Authorization::{GetSecurityInfo, SE_KERNEL_OBJECT};
use windows_sys::Win32::Security::{
    GetSecurityDescriptorLength, DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR,
    SECURITY_ATTRIBUTES,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FlushFileBuffers, FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_GENERIC_READ,
    FILE_WRITE_DATA, OPEN_EXISTING, PIPE_ACCESS_DUPLEX, SECURITY_IDENTIFICATION,
    SECURITY_SQOS_PRESENT,
};
use windows_sys::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, DisconnectNamedPipe, WaitNamedPipeW,
    PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
};

use super::credentials::CredentialDesk;
use super::{serve_connection, ANSWER_WAIT};
use crate::win::{error, last_error, security, system, wide};

/// What a client may do with the pipe: read and write data, read its descriptor; not create
/// another instance of it (which `FILE_GENERIC_WRITE` would allow through FILE_APPEND_DATA).
pub const CLIENT_ACCESS: u32 = FILE_GENERIC_READ | FILE_WRITE_DATA;

/// The pipe's descriptor: full control for SYSTEM (the service), read and write for `user`,
/// nobody else; protected, so nothing is inherited.
pub fn descriptor_sddl(user: Option<&Sid>) -> String {
    let mut sddl = "D:P(A;;FA;;;SY)".to_string();
    if let Some(user) = user {
        sddl.push_str(&format!("(A;;0x{:x};;;{})", CLIENT_ACCESS, user));
    }
    sddl
}

/// The SID of the user signed in at the console, if anyone is.
pub fn interactive_user() -> Result<Option<Sid>> {
    match system::console_user()? {
        Some(name) => security::lookup_account_name(&name).map(Some),
        None => Ok(None),
    }
}

/// One instance of the pipe, created with the descriptor `sddl`; `first` fails when the pipe
/// exists already (another process holds the name).
pub fn create(name: &str, sddl: &str, first: bool) -> Result<File> {
    // FILE_FLAG_FIRST_PIPE_INSTANCE settles it on Windows; Wine ignores the flag, so the name is
    // also looked for first.
    if first && exists(name) {
        return Err(Error::Device(format!(
            "another process holds the pipe's name {}: the tray cannot reach this service",
            name
        )));
    }
    let mut descriptor = security::sddl_to_descriptor(sddl)?;
    let attributes = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.as_mut_ptr() as _,
        bInheritHandle: 0,
    };
    let wname = wide(name);
    let handle = unsafe {
        CreateNamedPipeW(
            wname.as_ptr(),
            PIPE_ACCESS_DUPLEX
                | if first {
                    FILE_FLAG_FIRST_PIPE_INSTANCE
                } else {
                    0
                },
            PIPE_TYPE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
            PIPE_UNLIMITED_INSTANCES,
            64 * 1024,
            64 * 1024,
            0,
            &attributes,
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(last_error(
            "CreateNamedPipeW (another process may hold the pipe's name)",
            name,
        ));
    }
    Ok(unsafe { File::from_raw_handle(handle as RawHandle) })
}

/// Whether a pipe named `name` exists (listening or busy).
fn exists(name: &str) -> bool {
    let wname = wide(name);
    // NMPWAIT_NOWAIT: answers at once.
    unsafe { WaitNamedPipeW(wname.as_ptr(), 1) != 0 || GetLastError() != ERROR_FILE_NOT_FOUND }
}

/// Waits for a client on `pipe`.
pub fn accept(pipe: &File, name: &str) -> Result<()> {
    use std::os::windows::io::AsRawHandle;
    if unsafe { ConnectNamedPipe(pipe.as_raw_handle() as _, null_mut()) } == 0 {
        let code = unsafe { GetLastError() };
        // The client connected between CreateNamedPipeW and ConnectNamedPipe.
        if code != ERROR_PIPE_CONNECTED {
            return Err(error("ConnectNamedPipe", name, code));
        }
    }
    Ok(())
}

/// The descriptor for an instance made now: SYSTEM and whoever is signed in now. A console user
/// whose SID cannot be found gets no access, rather than everyone.
fn current_sddl() -> String {
    descriptor_sddl(interactive_user().unwrap_or(None).as_ref())
}

fn serve_one(mut pipe: File, requester: &Requester, desk: &CredentialDesk) {
    use std::os::windows::io::AsRawHandle;
    // A client that sends garbage or goes away ends only its own connection.
    let _ = serve_connection(&mut pipe, requester, desk, ANSWER_WAIT);
    unsafe {
        FlushFileBuffers(pipe.as_raw_handle() as _);
        DisconnectNamedPipe(pipe.as_raw_handle() as _);
    }
}

/// Serves the tray on `name` for `connections` clients (for ever with `None`), each on a thread
/// of its own, so a status poll is answered while another client waits for a check-in. Each
/// instance is made with the descriptor of whoever is signed in then, and the next one before the
/// connected one can close, so the name is never free for another process to take. The Cache
/// Credentials dialog is handed out and answered through `desk`.
pub fn serve(
    name: &str,
    requester: &Requester,
    desk: &CredentialDesk,
    connections: Option<usize>,
) -> Result<()> {
    let mut listener = Some(create(name, &current_sddl(), true)?);
    let mut served = 0;
    let mut workers = Vec::new();
    while let Some(pipe) = listener.take() {
        accept(&pipe, name)?;
        served += 1;
        if connections.map_or(true, |n| served < n) {
            listener = Some(create(name, &current_sddl(), false)?);
        }
        let (requester, desk) = (requester.clone(), desk.clone());
        let worker = std::thread::spawn(move || serve_one(pipe, &requester, &desk));
        // Forever: the threads end with their clients; counted: the caller waits for them.
        if connections.is_some() {
            workers.push(worker);
        }
    }
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

/// Opens the service's pipe `name` as the tray does.
// Waiting for a busy pipe is the pipe's own wait (WaitNamedPipeW), not the agent's clock.
pub fn connect(name: &str) -> Result<File> {
    let wname = wide(name);
    for _ in 0..5 {
        let handle = unsafe {
            CreateFileW(
                wname.as_ptr(),
                CLIENT_ACCESS,
                0,
                std::ptr::null(),
                OPEN_EXISTING,
                SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                null_mut(),
            )
        };
        if handle != INVALID_HANDLE_VALUE {
            return Ok(unsafe { File::from_raw_handle(handle as RawHandle) });
        }
        match unsafe { GetLastError() } {
            ERROR_PIPE_BUSY => unsafe {
                WaitNamedPipeW(wname.as_ptr(), 2000);
            },
            ERROR_FILE_NOT_FOUND => {
                return Err(Error::Device(
                    "the rehome agent service is not running (its pipe is not there)".to_string(),
                ))
            }
            code => return Err(error("CreateFileW", name, code)),
        }
    }
    Err(Error::Device(format!(
        "the pipe {} stayed busy: another program is talking to the service",
        name
    )))
}

/// The DACL of the pipe behind `handle`, as SDDL written by Windows.
pub fn dacl_sddl(pipe: &File) -> Result<String> {
    use std::os::windows::io::AsRawHandle;
    let mut sd: PSECURITY_DESCRIPTOR = null_mut();
    let code = unsafe {
        GetSecurityInfo(
            pipe.as_raw_handle() as _,
            SE_KERNEL_OBJECT,
            DACL_SECURITY_INFORMATION,
            null_mut(),
            null_mut(),
            null_mut(),
            null_mut(),
            &mut sd,
        )
    };
    if code != 0 {
        return Err(error("GetSecurityInfo", "the pipe", code));
    }
    let bytes = unsafe {
        let len = GetSecurityDescriptorLength(sd) as usize;
        let bytes = std::slice::from_raw_parts(sd as *const u8, len).to_vec();
        LocalFree(sd as _);
        bytes
    };
    security::descriptor_to_sddl(&bytes)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use agent::run::requests::{self, Answer, Request};

    use super::super::{ask, Message, Reply};
    use super::*;

    fn test_pipe() -> String {
        format!(r"\\.\pipe\rehome-agent-test-{}", std::process::id())
    }

    #[test]
    fn the_descriptor_admits_system_and_the_user_only() {
        let user: Sid = "S-1-5-21-1000-2000-3000-1101".parse().expect("sid");
        assert_eq!(
            descriptor_sddl(Some(&user)),
            "D:P(A;;FA;;;SY)(A;;0x12008b;;;S-1-5-21-1000-2000-3000-1101)"
        );
        assert_eq!(descriptor_sddl(None), "D:P(A;;FA;;;SY)");
    }

    #[test]
    fn the_tray_talks_to_the_service_over_the_pipe_and_reads_back_its_descriptor() {
        let name = test_pipe();
        let (requester, agent_end) = requests::channel(Arc::new(|| {}));
        agent_end.update(|v| v.registered = true);
        let user = interactive_user()
            .expect("console user")
            .expect("someone is signed in");
        let expected = descriptor_sddl(Some(&user));
        let server_name = name.clone();
        let server = std::thread::spawn(move || {
            serve(
                &server_name,
                &requester,
                &CredentialDesk::default(),
                Some(2),
            )
        });
        let agent = std::thread::spawn(move || loop {
            if let Some(pending) = agent_end.next() {
                assert_eq!(pending.request, Request::MigrateNow);
                pending.answer(Answer::refused("the migration is not available yet"));
                return;
            }
            std::thread::yield_now();
        });
        let mut client = loop {
            match connect(&name) {
                Ok(client) => break client,
                Err(e) if e.to_string().contains("not running") => std::thread::yield_now(),
                Err(e) => panic!("connect: {}", e),
            }
        };
        // The descriptor on the pipe is the one the service set, as Windows writes it.
        let canonical =
            security::descriptor_to_sddl(&security::sddl_to_descriptor(&expected).expect("parse"))
                .expect("write");
        assert_eq!(dacl_sddl(&client).expect("read back"), canonical);
        // A second client (the tray's poll while it waits for an answer) is served meanwhile.
        let mut poll = connect(&name).expect("second connection");
        for c in [&mut client, &mut poll] {
            match ask(c, Message::Status).expect("status") {
                Reply::Status(view) => assert!(view.registered),
                other => panic!("{:?}", other),
            }
        }
        drop(poll);
        assert_eq!(
            ask(&mut client, Message::MigrateNow).expect("migrate now"),
            Reply::Answer(Answer::refused("the migration is not available yet"))
        );
        drop(client);
        agent.join().expect("agent");
        server.join().expect("server").expect("served");
    }

    #[test]
    fn no_second_server_can_take_the_name() {
        let name = format!("{}-squat", test_pipe());
        let _first = create(&name, "D:P(A;;FA;;;SY)", true).expect("first");
        let second = create(&name, "D:P(A;;FA;;;WD)", true).unwrap_err();
        assert!(second.to_string().contains("holds the pipe"), "{}", second);
    }
}
