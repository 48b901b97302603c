//! Active Directory joins: `NetJoinDomain` (online, into an OU, creating or taking over the
//! computer account), `NetRequestOfflineDomainJoin` (the server's blob) and `NetUnjoinDomain`.
//! Each takes effect at the next restart. Wine exports these as stubs that abort the process:
//! there the real calls are refused by name before they are made.

use std::ptr::null;

use agent::workstation::AdJoin;
use agent::{Effect, Error, Result};
use windows_sys::Win32::NetworkManagement::NetManagement::{
    NetJoinDomain, NetRequestOfflineDomainJoin, NetUnjoinDomain, NETSETUP_ACCT_CREATE,
    NETSETUP_DOMAIN_JOIN_IF_JOINED, NETSETUP_JOIN_DOMAIN, NETSETUP_PROVISION_ONLINE_CALLER,
};

use super::sys::Sys;
use super::{error, system, wide, wine_lacks};

/// Whether the device is joined to `domain` (by DNS or NetBIOS name, as `NetGetJoinInformation`
/// gives the NetBIOS one).
fn joined_to(sys: &dyn Sys, domain: &str) -> Result<bool> {
    let netbios = domain.split('.').next().unwrap_or(domain);
    Ok(sys.joined_domain()?.map_or(false, |d| {
        d.eq_ignore_ascii_case(domain) || d.eq_ignore_ascii_case(netbios)
    }))
}

/// The options `NetJoinDomain` gets for `join`: a domain join creating the computer account
/// (`NETSETUP_ACCT_CREATE`, which takes over one of the same name when the join account may);
/// with `reuse_existing`, also `NETSETUP_DOMAIN_JOIN_IF_JOINED`, so a device joined elsewhere
/// moves. Whether an existing account may be reused at all is decided by the pre-flight.
pub fn options(join: &AdJoin<'_>) -> u32 {
    let mut options = NETSETUP_JOIN_DOMAIN | NETSETUP_ACCT_CREATE;
    if join.reuse_existing {
        options |= NETSETUP_DOMAIN_JOIN_IF_JOINED;
    }
    options
}

/// Joins `domain` with `join`'s account; unchanged when joined to it already. The password
/// never reaches an error or a log.
pub fn join(sys: &dyn Sys, domain: &str, join: &AdJoin<'_>) -> Result<Effect> {
    if joined_to(sys, domain)? {
        return Ok(Effect::unchanged(format!("already joined to {}", domain)));
    }
    let ou = Some(join.ou).filter(|ou| !ou.is_empty());
    let rc = sys.net_join_domain(domain, ou, join.account, join.password, options(join))?;
    if rc != 0 {
        return Err(error(
            "NetJoinDomain",
            &format!("{} as {}", domain, join.account),
            rc,
        ));
    }
    Ok(Effect::changed(
        1,
        format!(
            "joined {}{}; it takes effect at the next restart",
            domain,
            ou.map(|ou| format!(" in {}", ou)).unwrap_or_default()
        ),
    ))
}

/// Joins `domain` from the offline provisioning `blob`; unchanged when joined to it already.
pub fn join_offline(sys: &dyn Sys, domain: &str, blob: &[u8]) -> Result<Effect> {
    if joined_to(sys, domain)? {
        return Ok(Effect::unchanged(format!("already joined to {}", domain)));
    }
    let windows = system::expand("%SystemRoot%")?;
    let rc =
        sys.net_request_offline_domain_join(blob, NETSETUP_PROVISION_ONLINE_CALLER, &windows)?;
    if rc != 0 {
        return Err(error("NetRequestOfflineDomainJoin", domain, rc));
    }
    Ok(Effect::changed(
        1,
        format!(
            "joined {} offline; it takes effect at the next restart",
            domain
        ),
    ))
}

/// Leaves the Active Directory domain the device is joined to; unchanged in a workgroup. The
/// computer account stays in the directory (no credentials are given to disable it).
pub fn leave(sys: &dyn Sys) -> Result<Effect> {
    let domain = match sys.joined_domain()? {
        Some(d) => d,
        None => return Ok(Effect::unchanged("the device is not joined to a domain")),
    };
    let rc = sys.net_unjoin_domain()?;
    if rc != 0 {
        return Err(error("NetUnjoinDomain", &domain, rc));
    }
    Ok(Effect::changed(
        1,
        format!("left {}; it takes effect at the next restart", domain),
    ))
}

/// `NetJoinDomain` itself.
pub fn win32_join(
    domain: &str,
    ou: Option<&str>,
    account: &str,
    password: &str,
    options: u32,
) -> Result<u32> {
    wine_lacks("NetJoinDomain")?;
    let (wdomain, waccount, mut wpassword) = (wide(domain), wide(account), wide(password));
    let wou = ou.map(wide);
    let rc = unsafe {
        NetJoinDomain(
            null(),
            wdomain.as_ptr(),
            wou.as_ref().map_or(null(), |w| w.as_ptr()),
            waccount.as_ptr(),
            wpassword.as_ptr(),
            options,
        )
    };
    wpassword.iter_mut().for_each(|c| *c = 0);
    Ok(rc)
}

/// `NetRequestOfflineDomainJoin` itself.
pub fn win32_offline(blob: &[u8], options: u32, windows: &str) -> Result<u32> {
    wine_lacks("NetRequestOfflineDomainJoin")?;
    let windows = wide(windows);
    let len = u32::try_from(blob.len())
        .map_err(|_| Error::Device("the offline join blob is too large".to_string()))?;
    Ok(unsafe { NetRequestOfflineDomainJoin(blob.as_ptr(), len, options, windows.as_ptr()) })
}

/// `NetUnjoinDomain` itself.
pub fn win32_unjoin() -> Result<u32> {
    wine_lacks("NetUnjoinDomain")?;
    Ok(unsafe { NetUnjoinDomain(null(), null(), null(), 0) })
}
