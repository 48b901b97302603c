//! Make OneDrive Files Cloud Only: OneDrive for Business of the source tenants taken apart so
//! nothing is lost and nothing is left to confuse the user, portably over the file and registry
//! primitives.

use secdesc::Sid;

use super::actions::{effect, hive};
use crate::workstation::{Effect, RegValue, Workstation, FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS};
use crate::{Error, Result};

/// The OneDrive accounts a run is taking apart, per user: `key|folder` lines, recorded before the
/// first account is unlinked so a resumed run still knows the folders.
const ONEDRIVE_WORK: &str = "HKLM\\SOFTWARE\\rehome\\Agent\\OneDrive";

/// A name beside `path` that no file has: `name (2).ext`, `name (3).ext` …
fn free_name<W: Workstation>(ws: &W, path: &str) -> Result<String> {
    if ws.file_attributes(path)?.is_none() {
        return Ok(path.to_string());
    }
    let (dir, file) = path.rsplit_once('\\').unwrap_or(("", path));
    let (stem, ext) = match file.rfind('.') {
        Some(dot) if dot > 0 => (&file[..dot], &file[dot..]),
        _ => (file, ""),
    };
    for n in 2.. {
        let candidate = format!("{}\\{} ({}){}", dir, stem, n, ext);
        if ws.file_attributes(&candidate)?.is_none() {
            return Ok(candidate);
        }
    }
    unreachable!("an unbounded range ends")
}

/// The OneDrive for Business accounts of `sid` of the source tenants (all Business accounts
/// when none is listed): (account key, synced folder). Personal OneDrive is never touched.
fn onedrive_accounts<W: Workstation>(
    ws: &W,
    sid: &Sid,
    source_tenants: &[uuid::Uuid],
) -> Result<Vec<(String, String)>> {
    let accounts = format!("{}\\Software\\Microsoft\\OneDrive\\Accounts", hive(sid));
    let mut out = Vec::new();
    for name in ws.registry_subkeys(&accounts)? {
        if !name.to_ascii_lowercase().starts_with("business") {
            continue;
        }
        let key = format!("{}\\{}", accounts, name);
        let tenant = match ws.registry_value(&key, "ConfiguredTenantId")? {
            Some(RegValue::Sz(t)) => t,
            _ => String::new(),
        };
        let listed = source_tenants.is_empty()
            || source_tenants
                .iter()
                .any(|t| t.to_string().eq_ignore_ascii_case(tenant.trim()));
        if !listed {
            continue;
        }
        if let Some(RegValue::Sz(folder)) = ws.registry_value(&key, "UserFolder")? {
            out.push((key, folder));
        }
    }
    Ok(out)
}

/// OneDrive of the source tenants: every synced file made cloud-only, the account unlinked, the
/// cloud-only placeholders removed (their content is in the cloud), and every file that could not
/// be made cloud-only **moved** to `<profile>\<target_folder_name>`, never deleted.
pub fn cloud_only<W: Workstation>(
    ws: &mut W,
    source_tenants: &[uuid::Uuid],
    target_folder_name: &str,
) -> Result<Effect> {
    let target_folder_name = target_folder_name.trim();
    if target_folder_name.is_empty() || target_folder_name.contains(['\\', '/', ':']) {
        return Err(Error::Device(format!(
            "the target OneDrive folder name {:?} must be a single folder name (apps.onedrive.target_folder_name)",
            target_folder_name
        )));
    }
    let (mut freed, mut unlinked, mut placeholders, mut moved) = (0, 0, 0, 0);
    for (sid, home) in super::profiles::user_hives(ws)? {
        let value = sid.to_string();
        let accounts = match ws.registry_value(ONEDRIVE_WORK, &value)? {
            Some(RegValue::MultiSz(lines)) => lines
                .iter()
                .filter_map(|l| l.split_once('|'))
                .map(|(k, f)| (k.to_string(), f.to_string()))
                .collect(),
            _ => {
                let accounts = onedrive_accounts(ws, &sid, source_tenants)?;
                if accounts.is_empty() {
                    continue;
                }
                let lines = accounts
                    .iter()
                    .map(|(k, f)| format!("{}|{}", k, f))
                    .collect();
                ws.set_registry_value(ONEDRIVE_WORK, &value, &RegValue::MultiSz(lines))?;
                accounts
            }
        };
        let target = format!("{}\\{}", home, target_folder_name);
        for (key, folder) in accounts {
            // Freeing space needs the account linked; once unlinked this part is over.
            if ws.registry_value(&key, "UserFolder")?.is_some() {
                for file in ws.list_files(&folder)? {
                    let attributes = ws.file_attributes(&file)?.unwrap_or(0);
                    if attributes & FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS == 0
                        && ws.dehydrate(&file)?
                    {
                        freed += 1;
                    }
                }
                // Unlinked before anything leaves the folder: a file moved out of a synced folder
                // would be deleted in the cloud.
                ws.delete_registry_key(&key)?;
                unlinked += 1;
            }
            let prefix_len = folder.trim_end_matches('\\').len() + 1;
            for file in ws.list_files(&folder)? {
                let attributes = match ws.file_attributes(&file)? {
                    Some(a) => a,
                    None => continue,
                };
                if attributes & FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS != 0 {
                    placeholders += ws.remove_tree(&file)?;
                } else {
                    let relative = file.get(prefix_len..).unwrap_or(&file);
                    let to = free_name(ws, &format!("{}\\{}", target, relative))?;
                    ws.move_file(&file, &to)?;
                    moved += 1;
                }
            }
        }
        ws.delete_registry_value(ONEDRIVE_WORK, &value)?;
    }
    Ok(effect(
        freed + unlinked + placeholders + moved,
        format!(
            "OneDrive of the source tenants: {} file(s) made cloud-only, {} account(s) unlinked, {} cloud-only placeholder(s) removed, {} file(s) moved to {}",
            freed, unlinked, placeholders, moved, target_folder_name
        ),
        "no OneDrive account of the source tenants is linked here",
    ))
}
