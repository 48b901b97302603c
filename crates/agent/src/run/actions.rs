//! The runbook actions rehome decides portably, over the [`Workstation`] primitives: what to
//! keep before changing a setting, what to put back at Completion, which users a setting
//! concerns, and how a re-run after a crash finds its own earlier work. Every function here is
//! idempotent: the state it needs to finish is written to the agent's work key before it acts.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use model::runbook::{LockScreenImage, Switch};
use secdesc::translate::SidMap;
use secdesc::Sid;

use crate::workstation::{Effect, RegValue, Workstation};
use crate::{Error, Result};

/// The agent's own key: what it kept and what it still has to do.
pub const WORK_KEY: &str = "HKLM\\SOFTWARE\\rehome\\Agent";
/// Lock-screen values kept at Startup.
const LOCK_SCREEN_BACKUP: &str = "HKLM\\SOFTWARE\\rehome\\Agent\\Backup\\LockScreen";
/// Local accounts to delete later: value name = account, value = due instant (RFC 3339).
pub const PENDING_REMOVALS: &str = "HKLM\\SOFTWARE\\rehome\\Agent\\PendingRemoval";
const PERSONALIZATION: &str =
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\PersonalizationCSP";
const LOCK_SCREEN_VALUES: [&str; 3] = [
    "LockScreenImagePath",
    "LockScreenImageUrl",
    "LockScreenImageStatus",
];
/// Where the installer puts rehome's own lock-screen image.
pub const BUILTIN_LOCK_SCREEN: &str = "C:\\Program Files\\rehome\\lock-screen.png";
/// The user rights that keep a migrating user from signing in, locally and over RDP.
pub const DENY_LOGON_RIGHTS: [&str; 2] = [
    "SeDenyInteractiveLogonRight",
    "SeDenyRemoteInteractiveLogonRight",
];
const DENIED_LOGON: &str = "DeniedLogon";
const RENAME_TO: &str = "RenameTo";
const CDJ: &str = "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\CDJ\\AAD";
const ONEDRIVE_POLICY: &str = "HKLM\\SOFTWARE\\Policies\\Microsoft\\OneDrive";
const MSIPC_REDIRECTION: [&str; 2] = [
    "HKLM\\SOFTWARE\\Microsoft\\MSIPC\\ServiceLocation\\LicensingRedirection",
    "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\MSIPC\\ServiceLocation\\LicensingRedirection",
];
/// The Outlook profile a fresh start creates and makes the default.
pub const OUTLOOK_PROFILE: &str = "Migrated";

pub(super) fn effect(changes: usize, done: String, nothing: &str) -> Effect {
    if changes == 0 {
        Effect::unchanged(nothing)
    } else {
        Effect::changed(changes, done)
    }
}

/// Each user with a profile on the device: their SID and profile folder.
pub(super) fn profiles<W: Workstation>(ws: &W) -> Result<Vec<(Sid, String)>> {
    Ok(ws
        .harvest_profiles()?
        .into_iter()
        .map(|p| (p.sid, p.path))
        .collect())
}

/// A user's hive as a registry root.
pub(super) fn hive(sid: &Sid) -> String {
    format!("HKU\\{}", sid)
}

/// Sets or clears `name` under `key` as `switch` says: Set writes DWORD 1, Clear removes it.
fn apply_switch<W: Workstation>(ws: &mut W, key: &str, name: &str, switch: Switch) -> Result<bool> {
    match switch {
        Switch::LeaveAlone => Ok(false),
        Switch::Set => ws.set_registry_value(key, name, &RegValue::Dword(1)),
        Switch::Clear => ws.delete_registry_value(key, name),
    }
}

/// Where a runbook's own lock-screen image is placed, named by its SHA-256.
pub const LOCK_SCREEN_FOLDER: &str = "C:\\ProgramData\\rehome\\LockScreen";
/// The value of the lock-screen backup naming the image rehome placed, removed at Completion.
const PLACED_IMAGE: &str = "PlacedImage";

/// Where the custom image `name` (as uploaded) with hash `sha256` goes on the device.
pub fn custom_lock_screen_path(name: &str, sha256: &str) -> String {
    let lower = name.to_ascii_lowercase();
    let ext = ["png", "jpg", "jpeg", "bmp"]
        .iter()
        .find(|ext| lower.ends_with(&format!(".{}", ext)))
        .copied()
        .unwrap_or("img");
    format!(
        "{}\\{}.{}",
        LOCK_SCREEN_FOLDER,
        sha256.to_ascii_lowercase(),
        ext
    )
}

/// Keeps the lock-screen values (once), then shows `image` until Completion. A custom image's
/// bytes (`custom`, fetched from the server by its hash) are written under
/// [`LOCK_SCREEN_FOLDER`] first.
pub fn set_lock_screen<W: Workstation>(
    ws: &mut W,
    image: &LockScreenImage,
    custom: Option<&[u8]>,
) -> Result<Effect> {
    let (path, bytes) = match (image, custom) {
        (LockScreenImage::None, _) => {
            return Ok(Effect::unchanged("the lock screen is left alone"))
        }
        (LockScreenImage::Builtin, _) => (BUILTIN_LOCK_SCREEN.to_string(), None),
        (LockScreenImage::Custom { name, sha256 }, Some(bytes)) => {
            (custom_lock_screen_path(name, sha256), Some(bytes))
        }
        (LockScreenImage::Custom { name, .. }, None) => {
            return Err(Error::Device(format!(
                "the lock-screen image {} was not received from the server",
                name
            )))
        }
    };
    let mut changes = 0;
    // The marker is written after the copies: a crash in between copies the same originals again.
    if ws.registry_value(LOCK_SCREEN_BACKUP, "Kept")?.is_none() {
        for name in LOCK_SCREEN_VALUES {
            if let Some(value) = ws.registry_value(PERSONALIZATION, name)? {
                ws.set_registry_value(LOCK_SCREEN_BACKUP, name, &value)?;
            }
        }
        ws.set_registry_value(LOCK_SCREEN_BACKUP, "Kept", &RegValue::Dword(1))?;
        changes += 1;
    }
    if let Some(bytes) = bytes {
        // Named before it is written, so Completion removes it even after a crash in between.
        ws.set_registry_value(
            LOCK_SCREEN_BACKUP,
            PLACED_IMAGE,
            &RegValue::Sz(path.clone()),
        )?;
        changes += usize::from(ws.write_file(&path, bytes)?);
    }
    for (name, value) in [
        ("LockScreenImagePath", RegValue::Sz(path.clone())),
        ("LockScreenImageUrl", RegValue::Sz(path.clone())),
        ("LockScreenImageStatus", RegValue::Dword(1)),
    ] {
        changes += usize::from(ws.set_registry_value(PERSONALIZATION, name, &value)?);
    }
    Ok(effect(
        changes,
        format!("the lock screen shows {} until Completion", path),
        "the lock screen already shows the migration image",
    ))
}

/// Puts the kept lock-screen values back (removing those that were absent), and removes the
/// image rehome placed.
pub fn restore_lock_screen<W: Workstation>(ws: &mut W) -> Result<Effect> {
    if ws.registry_value(LOCK_SCREEN_BACKUP, "Kept")?.is_none() {
        return Ok(Effect::unchanged("no kept lock screen to restore"));
    }
    let mut changes = 0;
    for name in LOCK_SCREEN_VALUES {
        changes += usize::from(match ws.registry_value(LOCK_SCREEN_BACKUP, name)? {
            Some(value) => ws.set_registry_value(PERSONALIZATION, name, &value)?,
            None => ws.delete_registry_value(PERSONALIZATION, name)?,
        });
    }
    if ws
        .registry_value(LOCK_SCREEN_BACKUP, PLACED_IMAGE)?
        .is_some()
    {
        changes += ws.remove_tree(LOCK_SCREEN_FOLDER)?;
    }
    ws.delete_registry_key(LOCK_SCREEN_BACKUP)?;
    Ok(Effect::changed(
        changes + 1,
        "put the previous lock screen back",
    ))
}

/// Shows the User Experience tab's legal notice. The Startup backup step kept the original.
pub fn set_legal_notice<W: Workstation>(ws: &mut W, caption: &str, text: &str) -> Result<Effect> {
    if text.trim().is_empty() {
        return Err(Error::Device(
            "the runbook's legal notice is empty; write one in the User Experience tab".into(),
        ));
    }
    let changed = ws.write_legal_notice(caption, text)?;
    Ok(effect(
        usize::from(changed),
        format!("showing the legal notice \"{}\" at sign-in", caption),
        "the runbook's legal notice is already shown",
    ))
}

/// The SIDs Prevent Login denies: each profile owner the server translated, and their target.
fn migrating_users<W: Workstation>(ws: &W, map: &SidMap) -> Result<Vec<Sid>> {
    let mut sids = BTreeSet::new();
    for (sid, _) in profiles(ws)? {
        if let Some(target) = map.get(&sid) {
            sids.insert(sid.clone());
            sids.insert(target.clone());
        }
    }
    Ok(sids.into_iter().collect())
}

fn read_sids(value: Option<RegValue>) -> Result<Option<Vec<Sid>>> {
    match value {
        None => Ok(None),
        Some(RegValue::MultiSz(items)) => items
            .iter()
            .map(|s| s.parse::<Sid>().map_err(Error::from))
            .collect::<Result<Vec<Sid>>>()
            .map(Some),
        Some(other) => Err(Error::Device(format!(
            "{}\\{} is {:?}, not a list of SIDs",
            WORK_KEY, DENIED_LOGON, other
        ))),
    }
}

/// The user-right grants Prevent Login made and Allow Login will remove: (right, SID).
pub fn managed_denials<W: Workstation>(ws: &W) -> Result<Vec<(String, Sid)>> {
    let users = read_sids(ws.registry_value(WORK_KEY, DENIED_LOGON)?)?.unwrap_or_default();
    Ok(DENY_LOGON_RIGHTS
        .iter()
        .flat_map(|right| {
            users
                .iter()
                .map(move |sid| (right.to_string(), sid.clone()))
        })
        .collect())
}

/// Denies interactive and remote logon to the migrating users until Completion. The list is
/// recorded first, so Allow Login removes exactly what this added, even after a restart.
pub fn prevent_login<W: Workstation>(ws: &mut W, map: &SidMap) -> Result<Effect> {
    let users = match read_sids(ws.registry_value(WORK_KEY, DENIED_LOGON)?)? {
        Some(users) => users,
        None => {
            let users = migrating_users(ws, map)?;
            let list = users.iter().map(Sid::to_string).collect();
            ws.set_registry_value(WORK_KEY, DENIED_LOGON, &RegValue::MultiSz(list))?;
            users
        }
    };
    let mut changes = 0;
    for sid in &users {
        for right in DENY_LOGON_RIGHTS {
            changes += usize::from(ws.grant_user_right(right, sid)?);
        }
    }
    Ok(effect(
        changes,
        format!(
            "denied logon to {} account(s) until Completion",
            users.len()
        ),
        "logon is already denied to the migrating users",
    ))
}

/// Removes the denials Prevent Login recorded.
pub fn allow_login<W: Workstation>(ws: &mut W) -> Result<Effect> {
    let users = match read_sids(ws.registry_value(WORK_KEY, DENIED_LOGON)?)? {
        Some(users) => users,
        None => return Ok(Effect::unchanged("no logon was denied")),
    };
    let mut changes = 0;
    for sid in &users {
        for right in DENY_LOGON_RIGHTS {
            changes += usize::from(ws.revoke_user_right(right, sid)?);
        }
    }
    ws.delete_registry_value(WORK_KEY, DENIED_LOGON)?;
    Ok(Effect::changed(
        changes + 1,
        format!("allowed logon again to {} account(s)", users.len()),
    ))
}

/// Creates the fallback local administrator with the password the runbook sealed.
pub fn create_fallback_admin<W: Workstation>(
    ws: &mut W,
    username: &str,
    password: Option<&str>,
) -> Result<Effect> {
    let password = password.filter(|p| !p.is_empty()).ok_or_else(|| {
        Error::Device(format!(
            "the password of the fallback administrator {} did not reach the device; set it in the runbook's Startup tab",
            username
        ))
    })?;
    // A removal left pending by an earlier run must not delete the account this run needs.
    ws.delete_registry_value(PENDING_REMOVALS, username)?;
    let changed = ws.create_local_administrator(username, password)?;
    Ok(effect(
        usize::from(changed),
        format!("created the fallback local administrator {}", username),
        "the fallback local administrator already exists",
    ))
}

/// Deletes the fallback administrator now, or records its removal `delay_days` after `now`.
pub fn remove_fallback_admin<W: Workstation>(
    ws: &mut W,
    username: &str,
    delay_days: i64,
    now: DateTime<Utc>,
) -> Result<Effect> {
    if delay_days <= 0 {
        let deleted = ws.delete_local_user(username)?;
        ws.delete_registry_value(PENDING_REMOVALS, username)?;
        return Ok(effect(
            usize::from(deleted),
            format!("deleted the fallback local administrator {}", username),
            "the fallback local administrator is already gone",
        ));
    }
    // A re-run keeps the first due date rather than pushing it back.
    if let Some(RegValue::Sz(due)) = ws.registry_value(PENDING_REMOVALS, username)? {
        return Ok(Effect::unchanged(format!(
            "{} is already due for deletion at {}",
            username, due
        )));
    }
    let due = now + Duration::days(delay_days);
    ws.set_registry_value(PENDING_REMOVALS, username, &RegValue::Sz(due.to_rfc3339()))?;
    Ok(Effect::changed(
        1,
        format!(
            "the fallback local administrator {} will be deleted at {}",
            username,
            due.to_rfc3339()
        ),
    ))
}

/// The pending account removals and when each is due.
pub fn pending_removals<W: Workstation>(ws: &W) -> Result<Vec<(String, DateTime<Utc>)>> {
    let mut out = Vec::new();
    for name in ws.registry_value_names(PENDING_REMOVALS)? {
        if let Some(RegValue::Sz(due)) = ws.registry_value(PENDING_REMOVALS, &name)? {
            let due = DateTime::parse_from_rfc3339(&due).map_err(|e| {
                Error::Device(format!(
                    "{}\\{} holds {:?}, not a date: {}",
                    PENDING_REMOVALS, name, due, e
                ))
            })?;
            out.push((name, due.with_timezone(&Utc)));
        }
    }
    Ok(out)
}

/// Deletes each pending account whose time has come; returns what it did.
pub fn remove_due_accounts<W: Workstation>(ws: &mut W, now: DateTime<Utc>) -> Result<Vec<Effect>> {
    let mut done = Vec::new();
    for (name, due) in pending_removals(ws)? {
        if due <= now {
            ws.delete_local_user(&name)?;
            ws.delete_registry_value(PENDING_REMOVALS, &name)?;
            done.push(Effect::changed(
                1,
                format!(
                    "deleted the fallback local administrator {} (due {})",
                    name,
                    due.to_rfc3339()
                ),
            ));
        }
    }
    Ok(done)
}

/// The new computer name a rename step recorded, if one has drawn it.
pub fn recorded_rename<W: Workstation>(ws: &W) -> Result<Option<String>> {
    match ws.registry_value(WORK_KEY, RENAME_TO)? {
        Some(RegValue::Sz(name)) => Ok(Some(name)),
        _ => Ok(None),
    }
}

/// Renames the computer from `template`: to the name recorded by an earlier attempt, else to
/// `chosen` (the name the pre-flight found free in the target domain), else to a fresh
/// expansion. The name is recorded before the rename, so a re-run uses the same one.
pub fn rename_computer<W: Workstation>(
    ws: &mut W,
    template: &str,
    chosen: Option<&str>,
    mut digit: impl FnMut() -> u8,
) -> Result<Effect> {
    let name = match recorded_rename(ws)? {
        Some(name) => name,
        None => {
            let name = match chosen {
                Some(name) => name.to_string(),
                None => {
                    let serial = ws.facts()?.serial;
                    model::rename::expand(template, &serial, &mut digit)
                        .map_err(|e| Error::Device(format!("cannot rename the computer: {}", e)))?
                }
            };
            ws.set_registry_value(WORK_KEY, RENAME_TO, &RegValue::Sz(name.clone()))?;
            name
        }
    };
    let changed = ws.rename_computer(&name)?;
    Ok(effect(
        usize::from(changed),
        format!("renamed the computer {} (from {})", name, template),
        "the computer already has its new name",
    ))
}

/// Points hybrid join at the target tenant (the client-side SCP values).
pub fn set_hybrid_join_tenant<W: Workstation>(
    ws: &mut W,
    tenant_name: &str,
    tenant_id: &str,
) -> Result<Effect> {
    let changes = usize::from(ws.set_registry_value(
        CDJ,
        "TenantId",
        &RegValue::Sz(tenant_id.to_string()),
    )?) + usize::from(ws.set_registry_value(
        CDJ,
        "TenantName",
        &RegValue::Sz(tenant_name.to_string()),
    )?);
    Ok(effect(
        changes,
        format!("hybrid join now points at {} ({})", tenant_name, tenant_id),
        "hybrid join already points at the target tenant",
    ))
}

/// OneDrive's SilentAccountConfig policy.
pub fn set_onedrive_silent_config<W: Workstation>(ws: &mut W, value: Switch) -> Result<Effect> {
    let changed = apply_switch(ws, ONEDRIVE_POLICY, "SilentAccountConfig", value)?;
    Ok(effect(
        usize::from(changed),
        format!("OneDrive SilentAccountConfig {:?}", value),
        "OneDrive SilentAccountConfig is already as asked",
    ))
}

/// Byte 8 of `DefaultConnectionSettings`: 0x08 is "Automatically detect settings".
const AUTO_DETECT: u8 = 0x08;

/// "Automatically detect settings" for every user with a profile.
pub fn set_proxy_autodetect<W: Workstation>(ws: &mut W, value: Switch) -> Result<Effect> {
    if value == Switch::LeaveAlone {
        return Ok(Effect::unchanged("proxy auto-detect is left alone"));
    }
    let mut changes = 0;
    for (sid, _) in super::profiles::user_hives(ws)? {
        let key = format!(
            "{}\\Software\\Microsoft\\Windows\\CurrentVersion\\Internet Settings\\Connections",
            hive(&sid)
        );
        let mut blob = match ws.registry_value(&key, "DefaultConnectionSettings")? {
            Some(RegValue::Binary(bytes)) if bytes.len() > 8 => bytes,
            // What Windows writes for a user who never opened the LAN settings: direct only.
            _ => {
                let mut fresh = vec![0u8; 0x38];
                fresh[0] = 0x46;
                fresh[8] = 0x01;
                fresh
            }
        };
        let before = blob[8];
        match value {
            Switch::Set => blob[8] |= AUTO_DETECT,
            _ => blob[8] &= !AUTO_DETECT,
        }
        if blob[8] != before
            || ws
                .registry_value(&key, "DefaultConnectionSettings")?
                .is_none()
        {
            // Windows bumps the counter at bytes 4..8 on every change.
            let counter = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]).wrapping_add(1);
            blob[4..8].copy_from_slice(&counter.to_le_bytes());
            ws.set_registry_value(&key, "DefaultConnectionSettings", &RegValue::Binary(blob))?;
            changes += 1;
        }
    }
    Ok(effect(
        changes,
        format!(
            "proxy auto-detect {} for {} user(s)",
            if value == Switch::Set { "on" } else { "off" },
            changes
        ),
        "proxy auto-detect is already as asked for every user",
    ))
}

/// Outlook fresh start: a new default profile for every user, and ZeroConfigExchange as asked.
pub fn reset_outlook<W: Workstation>(ws: &mut W, zero_config: Switch) -> Result<Effect> {
    let mut changes = 0;
    for (sid, _) in super::profiles::user_hives(ws)? {
        let outlook = format!("{}\\Software\\Microsoft\\Office\\16.0\\Outlook", hive(&sid));
        changes += usize::from(ws.set_registry_value(
            &outlook,
            "DefaultProfile",
            &RegValue::Sz(OUTLOOK_PROFILE.to_string()),
        )?);
        changes += usize::from(apply_switch(
            ws,
            &format!("{}\\AutoDiscover", outlook),
            "ZeroConfigExchange",
            zero_config,
        )?);
    }
    Ok(effect(
        changes,
        format!(
            "Outlook starts with the new profile {} ({} change(s))",
            OUTLOOK_PROFILE, changes
        ),
        "Outlook already starts fresh for every user",
    ))
}

/// Office activation, Teams and OneNote forget the source identity: the registry caches and the
/// licence folders of every user.
pub fn reset_m365_apps<W: Workstation>(ws: &mut W) -> Result<Effect> {
    let mut changes = 0;
    for (sid, home) in super::profiles::user_hives(ws)? {
        let office = format!("{}\\Software\\Microsoft\\Office", hive(&sid));
        for key in [
            format!("{}\\16.0\\Common\\Identity", office),
            format!("{}\\16.0\\Common\\Licensing", office),
            format!("{}\\16.0\\OneNote\\OpenNotebooks", office),
            format!("{}\\Teams", office),
        ] {
            changes += usize::from(ws.delete_registry_key(&key)?);
        }
        for folder in [
            "AppData\\Local\\Microsoft\\Office\\Licenses",
            "AppData\\Local\\Microsoft\\Office\\16.0\\Licensing",
            "AppData\\Roaming\\Microsoft\\Teams",
            "AppData\\Local\\Microsoft\\OneNote\\16.0\\cache",
        ] {
            changes += ws.remove_tree(&format!("{}\\{}", home, folder))?;
        }
    }
    Ok(effect(
        changes,
        format!(
            "Office activation, Teams and OneNote reset ({} item(s) removed)",
            changes
        ),
        "Office activation, Teams and OneNote hold no source identity",
    ))
}

/// Azure Information Protection: licensing redirected from each source host to the target, and
/// every user's MSIPC cache and store removed so the client discovers the target.
pub fn reset_information_protection<W: Workstation>(
    ws: &mut W,
    source_hosts: &[String],
    target_host: &str,
) -> Result<Effect> {
    let mut changes = 0;
    let target = format!("https://{}/_wmcs/licensing", target_host);
    for key in MSIPC_REDIRECTION {
        for source in source_hosts {
            changes += usize::from(ws.set_registry_value(
                key,
                &format!("https://{}/_wmcs/licensing", source),
                &RegValue::Sz(target.clone()),
            )?);
        }
    }
    for (sid, home) in super::profiles::user_hives(ws)? {
        for key in [
            format!(
                "{}\\Software\\Classes\\Local Settings\\Software\\Microsoft\\MSIPC",
                hive(&sid)
            ),
            format!("{}\\Software\\Microsoft\\MSIPC", hive(&sid)),
        ] {
            changes += usize::from(ws.delete_registry_key(&key)?);
        }
        changes += ws.remove_tree(&format!("{}\\AppData\\Local\\Microsoft\\MSIPC", home))?;
    }
    Ok(effect(
        changes,
        format!(
            "Information Protection redirected to {} ({} change(s))",
            target_host, changes
        ),
        "Information Protection already points at the target",
    ))
}

/// Command packages that ran to a good end, by step id: a re-run of the step after a restart does
/// not run the script again.
const PACKAGES_RUN: &str = "HKLM\\SOFTWARE\\rehome\\Agent\\PackagesRun";
/// How long a package's script may run before it is stopped.
pub const PACKAGE_TIMEOUT_MINUTES: u64 = 30;
/// How much of a script's output an event carries.
const OUTPUT_IN_EVENT: usize = 2_000;

fn excerpt(output: &str) -> String {
    let output = output.trim();
    if output.is_empty() {
        return "no output".to_string();
    }
    let mut end = output.len().min(OUTPUT_IN_EVENT);
    while !output.is_char_boundary(end) {
        end -= 1;
    }
    let more = if end < output.len() { " …" } else { "" };
    format!("output: {}{}", &output[..end], more)
}

/// Checks the command package `name` (its entries, `cmdline.cmd` at the root), runs it, and
/// reports its exit code and output. A script that fails or times out fails the step.
pub fn run_command_package<W: Workstation>(
    ws: &mut W,
    step: &str,
    name: &str,
    sha256: &str,
    zip: &[u8],
) -> Result<Effect> {
    if let Some(RegValue::Dword(code)) = ws.registry_value(PACKAGES_RUN, step)? {
        return Ok(Effect::unchanged(format!(
            "{} already ran here (exit code {})",
            name, code
        )));
    }
    let entries = crate::package::check(name, zip)?;
    let timeout = std::time::Duration::from_secs(PACKAGE_TIMEOUT_MINUTES * 60);
    let outcome = ws.run_command_package(sha256, zip, timeout)?;
    match outcome.exit_code {
        Some(0) => {
            ws.set_registry_value(PACKAGES_RUN, step, &RegValue::Dword(0))?;
            Ok(Effect::changed(
                1,
                format!(
                    "ran {} of {} ({} entries): exit code 0; {}",
                    crate::package::SCRIPT,
                    name,
                    entries.len(),
                    excerpt(&outcome.output)
                ),
            ))
        }
        Some(code) => Err(Error::Device(format!(
            "{} of {} exited with code {}; {}",
            crate::package::SCRIPT,
            name,
            code,
            excerpt(&outcome.output)
        ))),
        None => Err(Error::Device(format!(
            "{} of {} did not finish within {} minutes and was stopped; {}",
            crate::package::SCRIPT,
            name,
            PACKAGE_TIMEOUT_MINUTES,
            excerpt(&outcome.output)
        ))),
    }
}

/// Set by the Uninstall step: the agent removes itself once the run is over and its last events
/// reached the server.
const UNINSTALL: &str = "Uninstall";

/// Records that the agent is to remove itself when the run is over.
pub fn schedule_uninstall<W: Workstation>(ws: &mut W) -> Result<Effect> {
    let changed = ws.set_registry_value(WORK_KEY, UNINSTALL, &RegValue::Dword(1))?;
    Ok(effect(
        usize::from(changed),
        "the agent removes itself once its last events are uploaded".to_string(),
        "the agent is already due to remove itself",
    ))
}

/// Whether the agent is due to remove itself.
pub fn uninstall_due<W: Workstation>(ws: &W) -> Result<bool> {
    Ok(ws.registry_value(WORK_KEY, UNINSTALL)?.is_some())
}

const MDM_POLICY: &str = "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\CurrentVersion\\MDM";
/// Set while an Intune enrolment is still to succeed; the service retries it hourly.
const MDM_PENDING: &str = "MdmEnrolmentPending";
/// How often a pending enrolment is tried again.
pub const MDM_RETRY_MINUTES: i64 = 60;

/// Intune enrolment: the AutoEnrollMDM policy set and an enrolment asked for now. When the
/// enrolment service does not accept it yet, the attempt's time is recorded and the agent tries
/// again an hour after each attempt until it succeeds, across restarts.
pub fn enroll_intune<W: Workstation>(ws: &mut W, now: DateTime<Utc>) -> Result<Effect> {
    let mut changes =
        usize::from(ws.set_registry_value(MDM_POLICY, "AutoEnrollMDM", &RegValue::Dword(1))?);
    changes += usize::from(ws.set_registry_value(
        MDM_POLICY,
        "UseAADCredentialType",
        &RegValue::Dword(1),
    )?);
    if ws.enroll_mdm()? {
        ws.delete_registry_value(WORK_KEY, MDM_PENDING)?;
        return Ok(Effect::changed(changes + 1, "enrolled in Intune"));
    }
    ws.set_registry_value(WORK_KEY, MDM_PENDING, &RegValue::Sz(now.to_rfc3339()))?;
    Ok(Effect::changed(
        changes + 1,
        format!(
            "Intune has not accepted the enrolment yet; it is tried again every {} minutes until it succeeds",
            MDM_RETRY_MINUTES
        ),
    ))
}

/// When a pending Intune enrolment is next due, if one is pending.
pub fn mdm_due<W: Workstation>(ws: &W) -> Result<Option<DateTime<Utc>>> {
    match ws.registry_value(WORK_KEY, MDM_PENDING)? {
        None => Ok(None),
        Some(RegValue::Sz(at)) => {
            let at = DateTime::parse_from_rfc3339(&at).map_err(|e| {
                Error::Device(format!(
                    "{}\\{} holds {:?}: {}",
                    WORK_KEY, MDM_PENDING, at, e
                ))
            })?;
            Ok(Some(
                at.with_timezone(&Utc) + Duration::minutes(MDM_RETRY_MINUTES),
            ))
        }
        Some(other) => Err(Error::Device(format!(
            "{}\\{} holds {:?}, not a time",
            WORK_KEY, MDM_PENDING, other
        ))),
    }
}

/// Tries a pending Intune enrolment again when it is due; `Some(enrolled)` when it tried.
pub fn retry_mdm<W: Workstation>(ws: &mut W, now: DateTime<Utc>) -> Result<Option<bool>> {
    match mdm_due(ws)? {
        Some(due) if due <= now => {}
        _ => return Ok(None),
    }
    let enrolled = ws.enroll_mdm()?;
    if enrolled {
        ws.delete_registry_value(WORK_KEY, MDM_PENDING)?;
    } else {
        ws.set_registry_value(WORK_KEY, MDM_PENDING, &RegValue::Sz(now.to_rfc3339()))?;
    }
    Ok(Some(enrolled))
}

/// Where Windows keeps the Autopilot profile the device was assigned.
const AUTOPILOT_KEYS: [&str; 2] = [
    "HKLM\\SOFTWARE\\Microsoft\\Provisioning\\Diagnostics\\Autopilot",
    "HKLM\\SOFTWARE\\Microsoft\\Provisioning\\AutopilotPolicyCache",
];
/// The Autopilot profile file a reset of Windows reads.
pub const AUTOPILOT_FILE: &str =
    "C:\\Windows\\Provisioning\\Autopilot\\AutopilotConfigurationFile.json";

/// Removes the source tenant's Autopilot profile from the device (its registry cache and its
/// configuration file), so a later reset of Windows does not enrol it back into that tenant.
pub fn reset_autopilot<W: Workstation>(ws: &mut W) -> Result<Effect> {
    let tenant = match ws.registry_value(AUTOPILOT_KEYS[0], "CloudAssignedTenantId")? {
        Some(RegValue::Sz(tenant)) => Some(tenant),
        _ => None,
    };
    let mut changes = 0;
    for key in AUTOPILOT_KEYS {
        changes += usize::from(ws.delete_registry_key(key)?);
    }
    changes += ws.remove_tree(AUTOPILOT_FILE)?;
    Ok(effect(
        changes,
        format!(
            "removed the Autopilot profile{} ({} item(s)): a reset of Windows no longer enrols the device there",
            tenant
                .map(|t| format!(" of the tenant {}", t))
                .unwrap_or_default(),
            changes
        ),
        "no Autopilot profile is cached on this device",
    ))
}
