//! ProfileList re-keyed: a user's profile entry moved to another SID, so that user signs in to
//! the profile folder (`RegCopyTreeW`, the `Sid` value rewritten, `RegDeleteTreeW`).

use agent::{Error, RegValue, Result};
use secdesc::Sid;

use super::registry;
use crate::keys::KeyName;

/// Where Windows lists the profiles, by SID.
pub const PROFILE_LIST: &str = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList";

fn entry(sid: &Sid) -> Result<KeyName> {
    KeyName::parse(&format!("{}\\{}", PROFILE_LIST, sid))
}

/// Moves the ProfileList entry of `source` to `target`: copied with its values, its `Sid` value
/// made the target's binary SID, then the source's entry deleted; the copy is read back before
/// the source goes. False when `target` has the entry already and `source` none (a re-run);
/// an error, changing nothing, when `target` has a profile of its own or `source` none.
pub fn move_profile(source: &Sid, target: &Sid) -> Result<bool> {
    let (from, to) = (entry(source)?, entry(target)?);
    let has_source = registry::open(&from, registry::READ)?.is_some();
    let has_target = registry::open(&to, registry::READ)?.is_some();
    match (has_source, has_target) {
        (false, true) => return Ok(false),
        (true, true) => {
            return Err(Error::Device(format!(
            "{} already has a profile on this device (ProfileList\\{}); {}'s cannot become theirs",
            target, target, source
        )))
        }
        (false, false) => return Err(Error::NotFound(format!("ProfileList\\{}", source))),
        (true, false) => {}
    }
    let path = registry::open(&from, registry::READ)?
        .ok_or_else(|| Error::NotFound(from.full()))?
        .value("ProfileImagePath")?;
    registry::copy_tree(&from, &to)?;
    let copied = registry::open(&to, registry::WRITE)?
        .ok_or_else(|| Error::Device(format!("RegCopyTreeW did not create {}", to.full())))?;
    copied.set_value("Sid", &RegValue::Binary(target.to_bytes()))?;
    if copied.value("ProfileImagePath")? != path
        || copied.value("Sid")? != Some(RegValue::Binary(target.to_bytes()))
    {
        return Err(Error::Device(format!(
            "the profile entry copied to {} does not read back as written",
            to.full()
        )));
    }
    drop(copied);
    registry::delete_tree(&from)?;
    Ok(true)
}
