//! Cache Credentials on Windows: the signed-in user is asked for their target account through
//! the tray (the service's [`CredentialDesk`], answered over the named pipe), and what they typed
//! is checked by an interactive logon (`LogonUserW` with `LOGON32_LOGON_INTERACTIVE` and
//! `LOGON32_PROVIDER_DEFAULT`, the token closed at once), which a domain controller must accept
//! and which leaves the user's verifier in Windows' logon cache. The password is never logged,
//! never written to disk, and its UTF-16 copy is zeroed after the call.

use std::ptr::null;

use agent::{EnteredCredentials, Error, Result};
use windows_sys::Win32::Foundation::{CloseHandle, GetLastError, HANDLE};
use windows_sys::Win32::Security::{
    LogonUserW, LOGON32_LOGON_INTERACTIVE, LOGON32_PROVIDER_DEFAULT,
};

use super::sys::Sys;
use super::{error, wide, wine_lacks};
use crate::pipe::credentials::{CredentialDesk, ANSWER_TIMEOUT};

/// `ERROR_LOGON_FAILURE`: the domain controller refused the account or password.
pub const LOGON_FAILURE: u32 = 1326;

/// Asks the user signed in at the console through the tray; `None` when nobody is signed in,
/// they pressed Cancel, or nobody answered within [`ANSWER_TIMEOUT`].
pub fn prompt(
    desk: Option<&CredentialDesk>,
    title: &str,
    message: &str,
) -> Result<Option<EnteredCredentials>> {
    let desk = desk.ok_or_else(|| Error::Unsupported {
        action: "CacheCredentials".to_string(),
        reason: "the agent runs without the tray's pipe, so nobody can be asked".to_string(),
    })?;
    let user = match crate::pipe::win::interactive_user()? {
        Some(user) => user,
        None => return Ok(None),
    };
    Ok(desk
        .ask(title, message, ANSWER_TIMEOUT)
        .map(|typed| EnteredCredentials {
            user,
            username: typed.username.clone(),
            password: typed.password.expose().to_string(),
        }))
}

/// The user and domain `LogonUserW` takes for `username` as typed: `DOMAIN\user` names its
/// domain, `user@domain` (a UPN) goes with no domain, a bare name is in `domain`.
pub fn logon_names<'a>(domain: &'a str, username: &'a str) -> (&'a str, Option<&'a str>) {
    if let Some((d, u)) = username.split_once('\\') {
        (u, Some(d))
    } else if username.contains('@') {
        (username, None)
    } else {
        (username, Some(domain))
    }
}

/// Signs `username` in to `domain` with `password`: true when a domain controller accepted it
/// (and Windows cached it), false when it refused the account or password.
pub fn cache_logon(sys: &dyn Sys, domain: &str, username: &str, password: &str) -> Result<bool> {
    let (user, logon_domain) = logon_names(domain, username);
    match sys.logon_user(user, logon_domain, password)? {
        0 => Ok(true),
        LOGON_FAILURE => Ok(false),
        code => Err(error(
            "LogonUserW",
            &format!("{} in {}", username, domain),
            code,
        )),
    }
}

/// `LogonUserW` itself, the token closed at once: 0, or the last error. Wine's accepts any
/// password without a domain controller, so there it is refused by name.
pub fn win32_logon(user: &str, domain: Option<&str>, password: &str) -> Result<u32> {
    wine_lacks("LogonUserW")?;
    let (wuser, mut wpassword) = (wide(user), wide(password));
    let wdomain = domain.map(wide);
    let mut token: HANDLE = std::ptr::null_mut();
    let ok = unsafe {
        LogonUserW(
            wuser.as_ptr(),
            wdomain.as_ref().map_or(null(), |d| d.as_ptr()),
            wpassword.as_ptr(),
            LOGON32_LOGON_INTERACTIVE,
            LOGON32_PROVIDER_DEFAULT,
            &mut token,
        )
    };
    let code = if ok != 0 {
        0
    } else {
        unsafe { GetLastError() }
    };
    wpassword.iter_mut().for_each(|c| *c = 0);
    if !token.is_null() {
        unsafe { CloseHandle(token) };
    }
    Ok(code)
}
