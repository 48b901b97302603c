//! Edge's work profile, reset for the target account. Edge keeps, for each user, its profiles
//! under `%LOCALAPPDATA%\Microsoft\Edge\User Data`: `Local State` lists them
//! (`profile.info_cache`, one entry per profile folder, with the account it is signed in to),
//! and each folder's `Preferences` holds that account's binding (`account_info`). A work profile
//! bound to the source account cannot be signed in to the target account. The reset removes
//! the binding and keeps every byte of the user's data (favourites, passwords, history), so at
//! the next start Edge shows the profile signed out; the user signs in with the target account
//! and Edge offers to merge the kept data into it, as the reference describes.
//!
//! The original of each file changed is kept once beside it (`<file>.rehome-backup`), and a
//! re-run finds nothing bound and changes nothing.

use serde_json::{Map, Value};

use super::actions::{effect, profiles};
use crate::workstation::{Effect, Workstation};
use crate::{Error, Result};

/// Edge's user data folder, under a profile folder.
pub const EDGE_USER_DATA: &str = "AppData\\Local\\Microsoft\\Edge\\User Data";
/// The suffix of the copy kept of each file the reset changes.
pub const BACKUP_SUFFIX: &str = ".rehome-backup";

/// The fields of a `Local State` profile entry that name the account it is signed in to.
const ENTRY_ACCOUNT_FIELDS: [&str; 5] = [
    "gaia_id",
    "gaia_name",
    "gaia_given_name",
    "hosted_domain",
    "is_consented_primary_account",
];
/// The fields under `google.services` of `Preferences` that bind the profile to its account.
const SERVICES_ACCOUNT_FIELDS: [&str; 3] = ["account_id", "last_account_id", "last_gaia_id"];

/// Resets the Edge work profiles of every user on the device.
pub fn reset_edge<W: Workstation>(ws: &mut W) -> Result<Effect> {
    let mut reset = Vec::new();
    for (_, home) in profiles(ws)? {
        let user_data = format!("{}\\{}", home.trim_end_matches('\\'), EDGE_USER_DATA);
        for folder in reset_user(ws, &user_data)? {
            reset.push(format!("{}\\{}", user_data, folder));
        }
    }
    Ok(effect(
        reset.len(),
        format!(
            "Edge work profiles signed out of the source account, their data kept: {}",
            reset.join(", ")
        ),
        "no Edge profile is bound to an account",
    ))
}

/// Resets the profiles listed in one user's `Local State`; the folders it reset.
fn reset_user<W: Workstation>(ws: &mut W, user_data: &str) -> Result<Vec<String>> {
    let local_state_path = format!("{}\\Local State", user_data);
    let mut local_state = match read_json(ws, &local_state_path)? {
        Some(json) => json,
        None => return Ok(Vec::new()),
    };
    let mut reset = Vec::new();
    if let Some(cache) = local_state
        .pointer_mut("/profile/info_cache")
        .and_then(Value::as_object_mut)
    {
        for (folder, entry) in cache.iter_mut() {
            let entry = match entry.as_object_mut() {
                Some(entry) => entry,
                None => continue,
            };
            // Preferences first: a crash before Local State is written finds the entry still
            // bound and finishes the profile.
            let signed_in = entry
                .get("user_name")
                .and_then(Value::as_str)
                .map_or(false, |name| !name.is_empty());
            if !signed_in {
                continue;
            }
            check_folder(folder, &local_state_path)?;
            let preferences = format!("{}\\{}\\Preferences", user_data, folder);
            if let Some(mut prefs) = read_json(ws, &preferences)? {
                if unbind_preferences(&mut prefs) {
                    write_json(ws, &preferences, &prefs)?;
                }
            }
            unbind_entry(entry);
            reset.push(folder.clone());
        }
    }
    if !reset.is_empty() {
        write_json(ws, &local_state_path, &local_state)?;
    }
    Ok(reset)
}

/// Refuses a profile folder name that would reach outside `User Data`.
fn check_folder(folder: &str, file: &str) -> Result<()> {
    if folder.is_empty() || folder == "." || folder == ".." || folder.contains(['\\', '/', ':']) {
        return Err(Error::Device(format!(
            "{} lists a profile folder {:?} that is not a folder of User Data",
            file, folder
        )));
    }
    Ok(())
}

/// Clears the account of a `Local State` profile entry; its name and avatar stay.
fn unbind_entry(entry: &mut Map<String, Value>) {
    entry.insert("user_name".to_string(), Value::String(String::new()));
    for field in ENTRY_ACCOUNT_FIELDS {
        entry.remove(field);
    }
}

/// Removes the account binding from a profile's `Preferences`; whether it held one.
fn unbind_preferences(prefs: &mut Value) -> bool {
    let root = match prefs.as_object_mut() {
        Some(root) => root,
        None => return false,
    };
    let mut changed = root.remove("account_info").is_some();
    if let Some(services) = root
        .get_mut("google")
        .and_then(|g| g.get_mut("services"))
        .and_then(Value::as_object_mut)
    {
        for field in SERVICES_ACCOUNT_FIELDS {
            changed |= services.remove(field).is_some();
        }
    }
    changed
}

fn read_json<W: Workstation>(ws: &W, path: &str) -> Result<Option<Value>> {
    match ws.read_file(path)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::Device(format!(
                "{} is not the JSON Edge writes ({}); Edge's profile was left as it is",
                path, e
            ))
        }),
    }
}

/// Writes `json` to `path`, keeping the original once beside it.
fn write_json<W: Workstation>(ws: &mut W, path: &str, json: &Value) -> Result<()> {
    let backup = format!("{}{}", path, BACKUP_SUFFIX);
    if ws.read_file(&backup)?.is_none() {
        if let Some(original) = ws.read_file(path)? {
            ws.write_file(&backup, &original)?;
        }
    }
    let bytes = serde_json::to_vec(json)
        .map_err(|e| Error::Device(format!("cannot write {}: {}", path, e)))?;
    ws.write_file(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_binding_goes_and_the_data_stays() {
        let mut prefs = json!({
            "account_info": [{"email": "alice@contoso.test", "gaia": "1"}],
            "google": {"services": {"account_id": "1", "last_username": "alice@contoso.test"}},
            "bookmark_bar": {"show_on_all_tabs": true}
        });
        assert!(unbind_preferences(&mut prefs));
        assert_eq!(
            prefs,
            json!({
                "google": {"services": {"last_username": "alice@contoso.test"}},
                "bookmark_bar": {"show_on_all_tabs": true}
            })
        );
        assert!(!unbind_preferences(&mut prefs), "nothing left to unbind");
    }

    #[test]
    fn a_folder_outside_user_data_is_refused() {
        assert!(check_folder("Profile 1", "Local State").is_ok());
        assert!(check_folder("..", "Local State").is_err());
        assert!(check_folder("..\\..\\Windows", "Local State").is_err());
    }
}
