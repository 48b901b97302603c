//! AppX packages per user, and their registration again for the user's new SID at its first
//! sign-in. Windows lists the packages registered for each user under
//! `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Appx\AppxAllUserStore\<SID>\<package full
//! name>`, and where each package is installed in the AppModel repository
//! (`…\AppModel\Repository\Packages\<package full name>` `PackageRootFolder`). The backup keeps
//! each user's list under the agent's backup key (never overwriting it); the restore writes, for
//! each package of each user, an Active Setup component whose `StubPath` runs `Add-AppxPackage
//! -DisableDevelopmentMode -Register <PackageRootFolder>\AppxManifest.xml` in the context of
//! whoever signs in, guarded so it acts only for the translated SID. Active Setup runs it once per
//! user, at sign-in, before the desktop.

use std::collections::BTreeMap;

use agent::{Effect, Error, RegValue, Result};
use secdesc::translate::SidMap;
use secdesc::Sid;

use super::registry;
use crate::keys::KeyName;

/// Each user's registered packages.
pub const ALL_USER_STORE: &str =
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Appx\\AppxAllUserStore";
/// Where each package is installed.
pub const REPOSITORY: &str = "HKLM\\SOFTWARE\\Classes\\Local Settings\\Software\\Microsoft\\Windows\\CurrentVersion\\AppModel\\Repository\\Packages";
/// Active Setup's components.
pub const ACTIVE_SETUP: &str = "HKLM\\SOFTWARE\\Microsoft\\Active Setup\\Installed Components";
/// The prefix of the components this agent writes.
pub const COMPONENT_PREFIX: &str = "rehome-appx";

fn subkeys(key: &str) -> Result<Vec<String>> {
    Ok(
        match registry::open(&KeyName::parse(key)?, registry::READ)? {
            Some(k) => k.subkeys()?,
            None => Vec::new(),
        },
    )
}

fn text(key: &str, name: &str) -> Result<Option<String>> {
    Ok(
        match registry::open(&KeyName::parse(key)?, registry::READ)? {
            Some(k) => match k.value(name)? {
                Some(RegValue::Sz(s)) | Some(RegValue::ExpandSz(s)) if !s.is_empty() => Some(s),
                _ => None,
            },
            None => None,
        },
    )
}

/// The packages registered for each user account (SIDs `S-1-5-21-…` and `S-1-12-1-…`).
pub fn packages() -> Result<BTreeMap<Sid, Vec<String>>> {
    let mut out = BTreeMap::new();
    for name in subkeys(ALL_USER_STORE)? {
        if !(name.starts_with("S-1-5-21-") || name.starts_with("S-1-12-1-")) {
            continue;
        }
        let sid: Sid = match name.parse() {
            Ok(sid) => sid,
            Err(_) => continue,
        };
        let mut list = subkeys(&format!("{}\\{}", ALL_USER_STORE, name))?;
        list.sort();
        if !list.is_empty() {
            out.insert(sid, list);
        }
    }
    Ok(out)
}

/// The Active Setup component registering `package` for `user`.
pub fn component(user: &Sid, package: &str) -> String {
    format!(
        "{}\\{}-{}-{}",
        ACTIVE_SETUP, COMPONENT_PREFIX, user, package
    )
}

/// `text` as a PowerShell single-quoted string.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The command Active Setup runs at `user`'s first sign-in for the package installed at `root`.
pub fn stub_path(user: &Sid, root: &str) -> String {
    let manifest = format!("{}\\AppxManifest.xml", root.trim_end_matches('\\'));
    format!(
        "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden -Command \"if ([Security.Principal.WindowsIdentity]::GetCurrent().User.Value -eq {}) {{ Add-AppxPackage -DisableDevelopmentMode -Register {} }}\"",
        quoted(&user.to_string()),
        quoted(&manifest)
    )
}

/// Writes the Active Setup component registering `package` for `user`; false when it is there
/// already. A package the AppModel repository does not know fails naming it.
pub fn register(user: &Sid, package: &str) -> Result<bool> {
    let key = component(user, package);
    if text(&key, "StubPath")?.is_some() {
        return Ok(false);
    }
    let root = text(&format!("{}\\{}", REPOSITORY, package), "PackageRootFolder")?.ok_or_else(
        || {
            Error::Device(format!(
                "the AppX package {} is not in the AppModel repository ({}): it cannot be registered again",
                package, REPOSITORY
            ))
        },
    )?;
    let k = registry::create(&KeyName::parse(&key)?, registry::WRITE)?;
    k.set_value(
        "",
        &RegValue::Sz(format!("rehome: {} for {}", package, user)),
    )?;
    k.set_value("Version", &RegValue::Sz("1,0,0,0".to_string()))?;
    k.set_value("IsInstalled", &RegValue::Dword(1))?;
    k.set_value("StubPath", &RegValue::Sz(stub_path(user, &root)))?;
    Ok(true)
}

/// The value under `backup_key` that keeps `sid`'s package list.
fn kept_name(sid: &Sid) -> String {
    format!("Appx {}", sid)
}

/// Keeps each user's package list under `backup_key`, never replacing a kept list.
pub fn backup(backup_key: &str) -> Result<Effect> {
    let key = KeyName::parse(backup_key)?;
    if let Some(k) = registry::open(&key, registry::READ)? {
        if k.value("AppxKept")?.is_some() {
            return Ok(Effect::unchanged("the AppX packages are already kept"));
        }
    }
    let found = packages()?;
    let k = registry::create(&key, registry::WRITE)?;
    for (sid, list) in &found {
        k.set_value(&kept_name(sid), &RegValue::MultiSz(list.clone()))?;
    }
    k.set_value("AppxKept", &RegValue::Dword(1))?;
    let count: usize = found.values().map(Vec::len).sum();
    Ok(Effect::changed(
        found.len().max(1),
        format!(
            "kept {} AppX package registration(s) of {} user(s)",
            count,
            found.len()
        ),
    ))
}

/// Registers each kept package for its user's translated SID (the same SID when `map` has
/// none) at their next sign-in, then forgets the kept lists.
pub fn restore(backup_key: &str, map: &SidMap) -> Result<Effect> {
    let key = KeyName::parse(backup_key)?;
    let k = match registry::open(&key, registry::READ)? {
        Some(k) if k.value("AppxKept")?.is_some() => k,
        _ => return Ok(Effect::unchanged("no kept AppX packages to register")),
    };
    let mut kept = Vec::new();
    for name in k.value_names()? {
        if let Some(sid) = name.strip_prefix("Appx ") {
            if let (Ok(sid), Some(RegValue::MultiSz(list))) = (sid.parse::<Sid>(), k.value(&name)?)
            {
                kept.push((name, sid, list));
            }
        }
    }
    drop(k);
    let mut changes = 0;
    for (_, sid, list) in &kept {
        let owner = map.get(sid).cloned().unwrap_or_else(|| sid.clone());
        for package in list.iter().filter(|p| !p.is_empty()) {
            if register(&owner, package)? {
                changes += 1;
            }
        }
    }
    for (name, _, _) in &kept {
        registry::delete_value(&key, name)?;
    }
    registry::delete_value(&key, "AppxKept")?;
    Ok(if changes == 0 {
        Effect::unchanged("every kept AppX package is registered already")
    } else {
        Effect::changed(
            changes,
            format!(
                "registered {} AppX package(s) again at their users' next sign-in",
                changes
            ),
        )
    })
}
