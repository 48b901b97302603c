//! Windows Profiles: each translated user's ProfileList entry re-keyed to the target SID, so
//! the target user signs in to the old profile folder, and the owner and ACEs of the profile's
//! key objects (the folder, `NTUSER.DAT`, `UsrClass.dat`) moved to the target with it. Also the
//! explicit loading of a user's hive before the agent touches it.

use secdesc::translate::{SidMap, TranslateOptions};
use secdesc::Sid;

use super::actions::{effect, profiles};
use crate::permissions::translate_object;
use crate::verify::profile_objects;
use crate::workstation::{Effect, Workstation};
use crate::{Error, Result};
use model::runbook::Area;

/// Moves every translated profile to its target SID. A profile has exactly one owner, so it
/// moves in both modes; in Add mode the source keeps access to the folder through its kept
/// ACEs. A target that has a profile of its own stops the step before anything changes.
pub fn move_profiles<W: Workstation>(
    ws: &mut W,
    map: &SidMap,
    options: &TranslateOptions,
) -> Result<Effect> {
    let listed = profiles(ws)?;
    let moves: Vec<(Sid, Sid, String)> = listed
        .iter()
        .filter_map(|(sid, path)| {
            map.get(sid)
                .filter(|t| *t != sid)
                .map(|t| (sid.clone(), t.clone(), path.clone()))
        })
        .collect();
    for (source, target, _) in &moves {
        if listed.iter().any(|(sid, _)| sid == target) {
            return Err(Error::Device(format!(
                "{} already has a profile on this device; move it aside before {}'s profile can become theirs",
                target, source
            )));
        }
    }
    let mut changes = 0;
    let mut moved = 0;
    for (source, target, path) in &moves {
        // The descriptors first: a crash before the re-keying finds the profile still under
        // the source SID and finishes it; translating again changes nothing.
        for object in profile_objects(path) {
            if ws.file_attributes(&object)?.is_some() {
                changes += translate_object(ws, Area::FileSystem, &object, map, options)?;
            }
        }
        if ws.move_profile(source, target)? {
            changes += 1;
            moved += 1;
        }
    }
    Ok(effect(
        changes,
        format!("moved {} profile(s) to their target SID", moved),
        "no profile to move",
    ))
}

/// Each user with a profile on the device, their hive loaded (`HKU\<SID>`): what a step that
/// changes users' settings works on, whether they are signed in or not.
pub fn user_hives<W: Workstation>(ws: &mut W) -> Result<Vec<(Sid, String)>> {
    let listed = profiles(ws)?;
    for (sid, home) in &listed {
        let file = format!("{}\\NTUSER.DAT", home.trim_end_matches('\\'));
        ws.load_user_hive(sid, &file)?;
    }
    Ok(listed)
}
