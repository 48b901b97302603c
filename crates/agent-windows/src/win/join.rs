//! Active Directory joins: `NetJoinDomain` (online, into an OU, creating or taking over the
//! computer account), `NetRequestOfflineDomainJoin` (the server's blob) and `NetUnjoinDomain`.
//! Each takes effect at the next restart. Wine exports these as stubs that abort the process:
//! there they are refused by name before the call.

use std::ptr::null;

use agent::workstation::AdJoin;
use agent::{Effect, Error, Result};
use windows_sys::Win32::NetworkManagement::NetManagement::{
    NetJoinDomain, NetRequestOfflineDomainJoin, NetUnjoinDomain, NETSETUP_ACCT_CREATE,
    NETSETUP_JOIN_DOMAIN, NETSETUP_PROVISION_ONLINE_CALLER,
};

use super::{error, system, wide, wine_lacks};

/// Whether the device is joined to `domain` (by DNS or NetBIOS name, as `NetGetJoinInformation`
/// gives the NetBIOS one).
fn joined_to(domain: &str) -> Result<bool> {
    let netbios = domain.split('.').next().unwrap_or(domain);
    Ok(system::joined_domain()?.map_or(false, |d| {
        d.eq_ignore_ascii_case(domain) || d.eq_ignore_ascii_case(netbios)
    }))
}

/// Joins `domain` with `join`'s account; unchanged when joined to it already. The password
/// never reaches an error or a log.
pub fn join(domain: &str, join: &AdJoin<'_>) -> Result<Effect> {
    if joined_to(domain)? {
        return Ok(Effect::unchanged(format!("already joined to {}", domain)));
    }
    wine_lacks("NetJoinDomain")?;
    // With NETSETUP_ACCT_CREATE Windows creates the computer account, or takes over one of the
    // same name when the join account may; whether an existing one may be reused at all
    // (`reuse_existing`) is decided by the pre-flight before any step runs.
    let options = NETSETUP_JOIN_DOMAIN | NETSETUP_ACCT_CREATE;
    let (wdomain, waccount, wpassword) = (wide(domain), wide(join.account), wide(join.password));
    let wou = wide(join.ou);
    let rc = unsafe {
        NetJoinDomain(
            null(),
            wdomain.as_ptr(),
            if join.ou.is_empty() {
                null()
            } else {
                wou.as_ptr()
            },
            waccount.as_ptr(),
            wpassword.as_ptr(),
            options,
        )
    };
    if rc != 0 {
        return Err(error(
            "NetJoinDomain",
            &format!("{} as {}", domain, join.account),
            rc,
        ));
    }
    Ok(Effect::changed(
        1,
        format!("joined {}; it takes effect at the next restart", domain),
    ))
}

/// Joins `domain` from the offline provisioning `blob`; unchanged when joined to it already.
pub fn join_offline(domain: &str, blob: &[u8]) -> Result<Effect> {
    if joined_to(domain)? {
        return Ok(Effect::unchanged(format!("already joined to {}", domain)));
    }
    wine_lacks("NetRequestOfflineDomainJoin")?;
    let windows = wide(&system::expand("%SystemRoot%")?);
    let len = u32::try_from(blob.len())
        .map_err(|_| Error::Device("the offline join blob is too large".to_string()))?;
    let rc = unsafe {
        NetRequestOfflineDomainJoin(
            blob.as_ptr(),
            len,
            NETSETUP_PROVISION_ONLINE_CALLER,
            windows.as_ptr(),
        )
    };
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
pub fn leave() -> Result<Effect> {
    let domain = match system::joined_domain()? {
        Some(d) => d,
        None => return Ok(Effect::unchanged("the device is not joined to a domain")),
    };
    wine_lacks("NetUnjoinDomain")?;
    let rc = unsafe { NetUnjoinDomain(null(), null(), null(), 0) };
    if rc != 0 {
        return Err(error("NetUnjoinDomain", &domain, rc));
    }
    Ok(Effect::changed(
        1,
        format!("left {}; it takes effect at the next restart", domain),
    ))
}
