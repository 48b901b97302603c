//! Whether an HTTP(S) endpoint answers from this device, through WinHTTP (`WinHttpOpen`,
//! `WinHttpConnect`, `WinHttpOpenRequest` of a `HEAD`, `WinHttpSendRequest`,
//! `WinHttpReceiveResponse`): the device's own proxy settings and certificate store, as the
//! join and Intune enrolment will meet them.

use std::ptr::null;

use agent::{Error, Result};
use windows_sys::Win32::Foundation::GetLastError;
use windows_sys::Win32::Networking::WinHttp::{
    WinHttpCloseHandle, WinHttpConnect, WinHttpOpen, WinHttpOpenRequest, WinHttpReceiveResponse,
    WinHttpSendRequest, WinHttpSetTimeouts, WINHTTP_ACCESS_TYPE_DEFAULT_PROXY, WINHTTP_FLAG_SECURE,
};

use super::{error, last_error, wide};

/// How long each of resolving, connecting, sending and receiving may take, in milliseconds.
const TIMEOUT_MS: i32 = 15_000;
/// WinHTTP's errors that mean the endpoint did not answer (`ERROR_WINHTTP_TIMEOUT`,
/// `NAME_NOT_RESOLVED`, `CANNOT_CONNECT`, `CONNECTION_ERROR`, `SECURE_FAILURE`, …), as opposed to
/// the agent failing to ask.
const NO_ANSWER: &[u32] = &[12002, 12007, 12029, 12030, 12152, 12175, 12157, 12017];

struct Handle(*mut core::ffi::c_void);

impl Drop for Handle {
    fn drop(&mut self) {
        if !self.0.is_null() {
            unsafe { WinHttpCloseHandle(self.0) };
        }
    }
}

/// The parts of `url`: secure, host, port, path.
fn parse(url: &str) -> Result<(bool, String, u16, String)> {
    let bad = || Error::Config(format!("{} is not an http:// or https:// URL", url));
    let (secure, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad());
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().map_err(|_| bad())?),
        None => (authority, if secure { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((secure, host.to_string(), port, path.to_string()))
}

/// Whether `url` answers a `HEAD`, with any status.
pub fn head_answers(url: &str) -> Result<bool> {
    let (secure, host, port, path) = parse(url)?;
    let agent = wide("rehome-agent");
    let session = Handle(unsafe {
        WinHttpOpen(
            agent.as_ptr(),
            WINHTTP_ACCESS_TYPE_DEFAULT_PROXY,
            null(),
            null(),
            0,
        )
    });
    if session.0.is_null() {
        return Err(last_error("WinHttpOpen", url));
    }
    if unsafe { WinHttpSetTimeouts(session.0, TIMEOUT_MS, TIMEOUT_MS, TIMEOUT_MS, TIMEOUT_MS) } == 0
    {
        return Err(last_error("WinHttpSetTimeouts", url));
    }
    let whost = wide(&host);
    let connection = Handle(unsafe { WinHttpConnect(session.0, whost.as_ptr(), port, 0) });
    if connection.0.is_null() {
        return Err(last_error("WinHttpConnect", url));
    }
    let (verb, wpath) = (wide("HEAD"), wide(&path));
    let request = Handle(unsafe {
        WinHttpOpenRequest(
            connection.0,
            verb.as_ptr(),
            wpath.as_ptr(),
            null(),
            null(),
            null(),
            if secure { WINHTTP_FLAG_SECURE } else { 0 },
        )
    });
    if request.0.is_null() {
        return Err(last_error("WinHttpOpenRequest", url));
    }
    let sent = unsafe { WinHttpSendRequest(request.0, null(), 0, null(), 0, 0, 0) } != 0
        && unsafe { WinHttpReceiveResponse(request.0, std::ptr::null_mut()) } != 0;
    if sent {
        return Ok(true);
    }
    let code = unsafe { GetLastError() };
    if NO_ANSWER.contains(&code) {
        Ok(false)
    } else {
        Err(error("WinHttpSendRequest", url, code))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn urls_split_into_their_parts() {
        assert_eq!(
            parse("https://enrollment.manage.microsoft.com").unwrap(),
            (
                true,
                "enrollment.manage.microsoft.com".into(),
                443,
                "/".into()
            )
        );
        assert_eq!(
            parse("http://127.0.0.1:8080/health?x=1").unwrap(),
            (false, "127.0.0.1".into(), 8080, "/health?x=1".into())
        );
        assert!(parse("ftp://example.test/").is_err());
        assert!(parse("https://:443/").is_err());
    }
}
