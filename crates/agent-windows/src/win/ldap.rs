//! Whether a domain has a computer account of a name already, asked before a join that would
//! create one: a domain controller found with `DsGetDcNameW`, then wldap32 — `ldap_initW` on
//! port 389 with signing and sealing, LDAP v3, `ldap_bind_sW` as the join account (Negotiate,
//! which also proves its password), the RootDSE's `defaultNamingContext`, and `ldap_search_sW`
//! for `(sAMAccountName=<NAME>$)`. Wine's `DsGetDcNameW` is a semi-stub and it has no domain to
//! bind to, so under Wine the real call is refused by name; the workstation reaches it through
//! the [`Sys`](super::sys::Sys) seam.

use std::ptr::{null, null_mut};

use agent::Result;

use super::{error, from_pwstr, wide, wine_lacks};

/// The LDAP filter finding the computer account `name`: its `sAMAccountName` is the name in
/// upper case with a `$`, escaped as RFC 4515 says.
pub fn account_filter(name: &str) -> String {
    let mut filter = String::from("(sAMAccountName=");
    for c in name.to_uppercase().chars() {
        match c {
            '*' => filter.push_str("\\2a"),
            '(' => filter.push_str("\\28"),
            ')' => filter.push_str("\\29"),
            '\\' => filter.push_str("\\5c"),
            '\0' => filter.push_str("\\00"),
            c => filter.push(c),
        }
    }
    filter.push_str("$)");
    filter
}

/// `account` (`DOMAIN\user`, or a UPN) as the user and domain of a logon identity.
pub fn split_account(account: &str) -> (&str, &str) {
    match account.split_once('\\') {
        Some((domain, user)) => (user, domain),
        None => (account, ""),
    }
}

/// The LDAP result `rc` of `call`: an error naming the call when it is not `LDAP_SUCCESS`.
fn check(call: &str, object: &str, rc: u32) -> Result<()> {
    use windows_sys::Win32::Networking::Ldap::LdapMapErrorToWin32;
    if rc == 0 {
        return Ok(());
    }
    let code = unsafe { LdapMapErrorToWin32(rc as _) };
    Err(agent::Error::Device(format!(
        "{} on {} failed: LDAP error 0x{:x} ({})",
        call,
        object,
        rc,
        std::io::Error::from_raw_os_error(code as i32)
    )))
}

/// Unbinds (and frees) an LDAP session when dropped.
struct Session(*mut windows_sys::Win32::Networking::Ldap::LDAP);

impl Drop for Session {
    fn drop(&mut self) {
        unsafe { windows_sys::Win32::Networking::Ldap::ldap_unbind(self.0) };
    }
}

/// Frees a search result when dropped.
struct Message(*mut windows_sys::Win32::Networking::Ldap::LDAPMessage);

impl Drop for Message {
    fn drop(&mut self) {
        if !self.0.is_null() {
            unsafe { windows_sys::Win32::Networking::Ldap::ldap_msgfree(self.0) };
        }
    }
}

/// A writable domain controller of `domain`, by DNS name.
fn domain_controller(domain: &str) -> Result<String> {
    use windows_sys::Win32::NetworkManagement::NetManagement::NetApiBufferFree;
    use windows_sys::Win32::Networking::ActiveDirectory::{
        DsGetDcNameW, DOMAIN_CONTROLLER_INFOW, DS_DIRECTORY_SERVICE_REQUIRED, DS_RETURN_DNS_NAME,
        DS_WRITABLE_REQUIRED,
    };
    let name = wide(domain);
    let mut info: *mut DOMAIN_CONTROLLER_INFOW = null_mut();
    let rc = unsafe {
        DsGetDcNameW(
            null(),
            name.as_ptr(),
            null(),
            null(),
            DS_DIRECTORY_SERVICE_REQUIRED | DS_WRITABLE_REQUIRED | DS_RETURN_DNS_NAME,
            &mut info,
        )
    };
    if rc != 0 || info.is_null() {
        return Err(error("DsGetDcNameW", domain, rc));
    }
    let dc = unsafe { from_pwstr((*info).DomainControllerName) };
    unsafe { NetApiBufferFree(info as *const _) };
    Ok(dc.trim_start_matches('\\').to_string())
}

/// Whether `domain` has the computer account `name`, asked of one of its domain controllers
/// bound as `account` with `password`.
pub fn win32_computer_account_exists(
    domain: &str,
    name: &str,
    account: &str,
    password: &str,
) -> Result<bool> {
    use windows_sys::Win32::Networking::Ldap::{
        ldap_bind_sW, ldap_count_entries, ldap_first_entry, ldap_get_valuesW, ldap_initW,
        ldap_search_sW, ldap_set_optionW, ldap_value_freeW, LDAPMessage, LdapGetLastError,
        LDAP_OPT_ENCRYPT, LDAP_OPT_PROTOCOL_VERSION, LDAP_OPT_REFERRALS, LDAP_OPT_SIGN, LDAP_PORT,
        LDAP_SCOPE_BASE, LDAP_SCOPE_SUBTREE, LDAP_VERSION3,
    };
    use windows_sys::Win32::System::Rpc::{
        SEC_WINNT_AUTH_IDENTITY_UNICODE, SEC_WINNT_AUTH_IDENTITY_W,
    };
    /// `LDAP_AUTH_NEGOTIATE`: `LDAP_AUTH_OTHERKIND | 0x0400`.
    const AUTH_NEGOTIATE: u32 = 0x0486;
    /// `LDAP_OPT_ON` and `LDAP_OPT_OFF`, passed as the pointer itself.
    const ON: *const core::ffi::c_void = 1 as *const _;
    const OFF: *const core::ffi::c_void = null();

    wine_lacks("DsGetDcNameW")?;
    let dc = domain_controller(domain)?;
    let host = wide(&dc);
    let ld = unsafe { ldap_initW(host.as_ptr(), LDAP_PORT) };
    if ld.is_null() {
        return Err(error("ldap_initW", &dc, unsafe { LdapGetLastError() }));
    }
    let session = Session(ld);
    let version = LDAP_VERSION3;
    let options: [(&str, u32, *const core::ffi::c_void); 4] = [
        (
            "LDAP_OPT_PROTOCOL_VERSION",
            LDAP_OPT_PROTOCOL_VERSION,
            &version as *const u32 as *const _,
        ),
        ("LDAP_OPT_REFERRALS", LDAP_OPT_REFERRALS, OFF),
        ("LDAP_OPT_SIGN", LDAP_OPT_SIGN, ON),
        ("LDAP_OPT_ENCRYPT", LDAP_OPT_ENCRYPT, ON),
    ];
    for (what, option, value) in options {
        let rc = unsafe { ldap_set_optionW(session.0, option as i32, value) };
        check(&format!("ldap_set_optionW({})", what), &dc, rc)?;
    }
    let (user, user_domain) = split_account(account);
    let (mut user, mut user_domain, mut secret) = (wide(user), wide(user_domain), wide(password));
    let identity = SEC_WINNT_AUTH_IDENTITY_W {
        UserLength: (user.len() - 1) as u32,
        User: user.as_mut_ptr(),
        DomainLength: (user_domain.len() - 1) as u32,
        Domain: user_domain.as_mut_ptr(),
        PasswordLength: (secret.len() - 1) as u32,
        Password: secret.as_mut_ptr(),
        Flags: SEC_WINNT_AUTH_IDENTITY_UNICODE,
    };
    let rc = unsafe {
        ldap_bind_sW(
            session.0,
            null(),
            &identity as *const SEC_WINNT_AUTH_IDENTITY_W as *const u16,
            AUTH_NEGOTIATE,
        )
    };
    // The password's copy goes as soon as the bind has it.
    for c in secret.iter_mut() {
        *c = 0;
    }
    check("ldap_bind_sW", &format!("{} as {}", dc, account), rc)?;

    let (empty, any) = (wide(""), wide("(objectClass=*)"));
    let attribute = wide("defaultNamingContext");
    let attributes = [attribute.as_ptr(), null()];
    let mut result: *mut LDAPMessage = null_mut();
    let rc = unsafe {
        ldap_search_sW(
            session.0,
            empty.as_ptr(),
            LDAP_SCOPE_BASE,
            any.as_ptr(),
            attributes.as_ptr(),
            0,
            &mut result,
        )
    };
    let root = Message(result);
    check("ldap_search_sW (RootDSE)", &dc, rc)?;
    let entry = unsafe { ldap_first_entry(session.0, root.0) };
    let values = if entry.is_null() {
        null_mut()
    } else {
        unsafe { ldap_get_valuesW(session.0, entry, attribute.as_ptr()) }
    };
    if values.is_null() || unsafe { (*values).is_null() } {
        return Err(agent::Error::Device(format!(
            "the RootDSE of {} has no defaultNamingContext",
            dc
        )));
    }
    let base = unsafe { from_pwstr(*values) };
    unsafe { ldap_value_freeW(values as *const _) };
    drop(root);

    let filter = account_filter(name);
    let (base_w, filter_w) = (wide(&base), wide(&filter));
    let none = wide("1.1");
    let attributes = [none.as_ptr(), null()];
    let mut result: *mut LDAPMessage = null_mut();
    let rc = unsafe {
        ldap_search_sW(
            session.0,
            base_w.as_ptr(),
            LDAP_SCOPE_SUBTREE,
            filter_w.as_ptr(),
            attributes.as_ptr(),
            0,
            &mut result,
        )
    };
    let found = Message(result);
    check("ldap_search_sW", &format!("{} {}", base, filter), rc)?;
    let count = unsafe { ldap_count_entries(session.0, found.0) };
    if count == u32::MAX {
        return Err(error("ldap_count_entries", &filter, unsafe {
            LdapGetLastError()
        }));
    }
    Ok(count > 0)
}
