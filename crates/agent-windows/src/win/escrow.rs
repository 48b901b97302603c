//! Where the system volume's BitLocker recovery password is backed up, from the device's own
//! evidence: the events BitLocker writes to `Microsoft-Windows-BitLocker/BitLocker Management`
//! when it backs a recovery password up (784 to Active Directory Domain Services, 783 when AD DS
//! holds it already, 845 to Entra ID; 785 and 846 when the backup failed), read with
//! `EvtQuery`, and the FVE policy that lets BitLocker protect the system volume only once its
//! recovery information is in AD DS (`OSRequireActiveDirectoryBackup`). Each piece of evidence
//! names the directory the device was joined to, since the events do not name it.

use std::ptr::null_mut;

use agent::readiness::device::BitLockerState;
use agent::{Error, RegValue, Result};
use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, ERROR_NO_MORE_ITEMS};
use windows_sys::Win32::System::EventLog::{
    EvtClose, EvtNext, EvtQuery, EvtQueryChannelPath, EvtQueryReverseDirection, EvtRender,
    EvtRenderEventXml, EVT_HANDLE,
};

use super::{error, last_error, registry, wide};
use crate::keys::KeyName;

/// The channel BitLocker writes its management events to.
pub const CHANNEL: &str = "Microsoft-Windows-BitLocker/BitLocker Management";
/// Recovery information backed up to AD DS.
pub const AD_BACKED_UP: u32 = 784;
/// Recovery information for the protector already present in AD DS.
pub const AD_PRESENT: u32 = 783;
/// The backup to AD DS failed.
pub const AD_FAILED: u32 = 785;
/// Recovery information backed up to Entra ID.
pub const ENTRA_BACKED_UP: u32 = 845;
/// The backup to Entra ID failed.
pub const ENTRA_FAILED: u32 = 846;
/// BitLocker's policy key (Group Policy and the BitLocker CSP write it).
pub const FVE_POLICY: &str = "HKLM\\SOFTWARE\\Policies\\Microsoft\\FVE";
/// How many of the newest backup events are read.
const MOST_EVENTS: usize = 200;

/// One backup event: its id and the volume it names (`VolumeMountPoint`, on the Entra events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupEvent {
    /// The event id.
    pub id: u32,
    /// The volume's mount point (`C:`), when the event names one.
    pub volume: Option<String>,
    /// The key protector backed up (`{…}`, upper case), when the event names it.
    pub protector: Option<String>,
}

/// A protector id as `{…}` in upper case, however it was written.
pub fn protector_id(text: &str) -> String {
    format!(
        "{{{}}}",
        text.trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .to_ascii_uppercase()
    )
}

struct Evt(EVT_HANDLE);

impl Drop for Evt {
    fn drop(&mut self) {
        if self.0 != 0 {
            unsafe { EvtClose(self.0) };
        }
    }
}

/// The text of the `<Data Name='name'>` element of an event's XML.
fn data<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    for quote in ['\'', '"'] {
        let open = format!("<Data Name={q}{}{q}>", name, q = quote);
        if let Some(start) = xml.find(&open).map(|i| i + open.len()) {
            let end = xml[start..].find("</Data>")? + start;
            return Some(xml[start..end].trim());
        }
    }
    None
}

/// The event id of an event's XML (`<EventID>845</EventID>`, or with a `Qualifiers` attribute).
fn event_id(xml: &str) -> Option<u32> {
    let start = xml.find("<EventID")?;
    let rest = &xml[start..];
    let open_end = rest.find('>')? + 1;
    let close = rest.find("</EventID>")?;
    rest.get(open_end..close)?.trim().parse().ok()
}

/// The backup event `xml` describes, `None` for another event.
pub fn parse_event(xml: &str) -> Option<BackupEvent> {
    let id = event_id(xml)?;
    if ![
        AD_BACKED_UP,
        AD_PRESENT,
        AD_FAILED,
        ENTRA_BACKED_UP,
        ENTRA_FAILED,
    ]
    .contains(&id)
    {
        return None;
    }
    Some(BackupEvent {
        id,
        volume: data(xml, "VolumeMountPoint").map(str::to_string),
        protector: data(xml, "ProtectorGUID").map(protector_id),
    })
}

fn render(event: EVT_HANDLE) -> Result<String> {
    let mut used = 0u32;
    let mut count = 0u32;
    let ok = unsafe {
        EvtRender(
            0,
            event,
            EvtRenderEventXml,
            0,
            null_mut(),
            &mut used,
            &mut count,
        )
    };
    if ok == 0 {
        let code = unsafe { windows_sys::Win32::Foundation::GetLastError() };
        if code != ERROR_INSUFFICIENT_BUFFER {
            return Err(error("EvtRender", CHANNEL, code));
        }
    }
    let mut buf = vec![0u16; (used as usize + 1) / 2 + 1];
    let size = (buf.len() * 2) as u32;
    let ok = unsafe {
        EvtRender(
            0,
            event,
            EvtRenderEventXml,
            size,
            buf.as_mut_ptr() as *mut _,
            &mut used,
            &mut count,
        )
    };
    if ok == 0 {
        return Err(last_error("EvtRender", CHANNEL));
    }
    Ok(super::from_wide(&buf))
}

/// The backup events of `channel`, newest first (`EvtQuery` with an XPath on the ids, then
/// `EvtNext` and `EvtRender` as XML). A channel this device does not have fails naming
/// `EvtQuery` and the channel.
pub fn backup_events(channel: &str) -> Result<Vec<BackupEvent>> {
    let query = format!(
        "*[System[(EventID={} or EventID={} or EventID={} or EventID={} or EventID={})]]",
        AD_BACKED_UP, AD_PRESENT, AD_FAILED, ENTRA_BACKED_UP, ENTRA_FAILED
    );
    let (wchannel, wquery) = (wide(channel), wide(&query));
    let results = Evt(unsafe {
        EvtQuery(
            0,
            wchannel.as_ptr(),
            wquery.as_ptr(),
            EvtQueryChannelPath | EvtQueryReverseDirection,
        )
    });
    if results.0 == 0 {
        return Err(last_error("EvtQuery", channel));
    }
    let mut out = Vec::new();
    while out.len() < MOST_EVENTS {
        let mut events = [0isize; 16];
        let mut returned = 0u32;
        let ok = unsafe {
            EvtNext(
                results.0,
                events.len() as u32,
                events.as_mut_ptr(),
                5_000,
                0,
                &mut returned,
            )
        };
        if ok == 0 {
            let code = unsafe { windows_sys::Win32::Foundation::GetLastError() };
            if code == ERROR_NO_MORE_ITEMS {
                break;
            }
            return Err(error("EvtNext", channel, code));
        }
        let handles: Vec<Evt> = events[..returned as usize]
            .iter()
            .map(|&h| Evt(h))
            .collect();
        for h in &handles {
            if let Some(event) = parse_event(&render(h.0)?) {
                out.push(event);
            }
        }
    }
    Ok(out)
}

/// Whether the FVE policy lets BitLocker protect the system volume only after its recovery
/// information is stored in AD DS (`OSRecovery`, `OSActiveDirectoryBackup` and
/// `OSRequireActiveDirectoryBackup` all 1).
pub fn policy_requires_ad_backup() -> Result<bool> {
    let key = match registry::open(&KeyName::parse(FVE_POLICY)?, registry::READ)? {
        Some(k) => k,
        None => return Ok(false),
    };
    for name in [
        "OSRecovery",
        "OSActiveDirectoryBackup",
        "OSRequireActiveDirectoryBackup",
    ] {
        if key.value(name)? != Some(RegValue::Dword(1)) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The escrow places the evidence shows, for a device joined to the AD domain `domain` and the
/// Entra tenant `tenant` (both for a hybrid join) whose system volume is `drive` (`C:`): `ad:<domain>` for a backup to AD DS (or a policy that required one before
/// protection), `entra:<tenant>` for one to Entra ID, the newest event of each directory
/// deciding. `Err` with the reason when there is no evidence either way.
///
/// With `protectors` (the volume's recovery password protectors, `GetKeyProtectors` type 3),
/// only events backing up one of them count: a backup of a password removed since proves
/// nothing.
pub fn places(
    domain: Option<&str>,
    tenant: Option<&str>,
    drive: &str,
    events: std::result::Result<Vec<BackupEvent>, Error>,
    policy_requires_ad: bool,
    protectors: Option<&[String]>,
) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut failed = Vec::new();
    let (events, unread) = match events {
        Ok(events) => (events, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    // Entra events name the volume; AD DS events name it by GUID only, so they count for any.
    let ours = |e: &&BackupEvent| {
        let volume = e.volume.as_deref().map_or(true, |v| {
            v.trim_end_matches('\\').eq_ignore_ascii_case(drive)
        });
        let protector = match (protectors, &e.protector) {
            (Some(ids), Some(id)) => ids.iter().any(|p| protector_id(p) == *id),
            _ => true,
        };
        volume && protector
    };
    let newest = |ids: &[u32]| events.iter().filter(ours).find(|e| ids.contains(&e.id));
    match (newest(&[AD_BACKED_UP, AD_PRESENT, AD_FAILED]), domain) {
        (Some(e), Some(domain)) if e.id != AD_FAILED => out.push(format!("ad:{}", domain)),
        (Some(_), Some(domain)) => failed.push(format!(
            "the last backup to AD DS ({}) failed (event {})",
            domain, AD_FAILED
        )),
        (None, Some(domain)) if policy_requires_ad => out.push(format!("ad:{}", domain)),
        _ => {}
    }
    match (newest(&[ENTRA_BACKED_UP, ENTRA_FAILED]), tenant) {
        (Some(e), Some(tenant)) if e.id == ENTRA_BACKED_UP => out.push(format!("entra:{}", tenant)),
        (Some(_), Some(tenant)) => failed.push(format!(
            "the last backup to Entra ID ({}) failed (event {})",
            tenant, ENTRA_FAILED
        )),
        _ => {}
    }
    if !out.is_empty() || !failed.is_empty() {
        return Ok(out);
    }
    let joined = match (domain, tenant) {
        (None, None) => "the device is joined to no directory that could hold it".to_string(),
        (Some(d), None) => format!("the device is joined to {}", d),
        (None, Some(t)) => format!("the device is joined to Entra ID {}", t),
        (Some(d), Some(t)) => format!("the device is joined to {} and Entra ID {}", d, t),
    };
    Err(match unread {
        Some(why) => format!(
            "the BitLocker Management event log cannot be read ({}) and no FVE policy requires an AD DS backup; {}: check the directory's BitLocker recovery entries",
            why, joined
        ),
        None => format!(
            "{} holds no backup event for {} (events {} and {} for AD DS, {} for Entra ID; it may have rolled over) and no FVE policy requires an AD DS backup; {}: check the directory's BitLocker recovery entries",
            CHANNEL, drive, AD_BACKED_UP, AD_PRESENT, ENTRA_BACKED_UP, joined
        ),
    })
}

/// The escrow part of `state` for the device joined to `domain` and `tenant`: where the
/// recovery password is kept, or why that is unknown.
pub fn fill(
    state: &mut BitLockerState,
    domain: Option<&str>,
    tenant: Option<&str>,
    drive: &str,
    protectors: Option<&[String]>,
) -> Result<()> {
    let policy = policy_requires_ad_backup()?;
    match places(
        domain,
        tenant,
        drive,
        backup_events(CHANNEL),
        policy,
        protectors,
    ) {
        Ok(places) => {
            state.escrowed_to = places;
            state.escrow_unread = None;
        }
        Err(why) => {
            state.escrowed_to = Vec::new();
            state.escrow_unread = Some(why);
        }
    }
    Ok(())
}

/// The recovery password protectors of the volume `device_id` (`Win32_EncryptableVolume.
/// GetKeyProtectors` with `KeyProtectorType` 3, `VolumeKeyProtectorID`).
pub fn recovery_protectors(device_id: &str) -> Result<Vec<String>> {
    const CLASS: &str = "Win32_EncryptableVolume";
    let ns = super::wmi::connect(super::readiness::BITLOCKER_NAMESPACE)?;
    // An object path quotes the DeviceID with its backslashes doubled.
    let path = format!("{}.DeviceID='{}'", CLASS, device_id.replace('\\', "\\\\"));
    let output = ns.call_output(CLASS, &path, "GetKeyProtectors", &[("KeyProtectorType", 3)])?;
    let ids = unsafe { super::wmi::get_strings(&output, "VolumeKeyProtectorID")? };
    Ok(ids.iter().map(|id| protector_id(id)).collect())
}
