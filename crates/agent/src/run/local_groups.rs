//! Local groups: members translated (Local Groups of Permission Updates), and the members kept
//! before the device leaves its domain and put back at Completion (default processing). The
//! copy is kept in the agent's work key, one `REG_MULTI_SZ` of SIDs per group, written once.

use secdesc::translate::{SidMap, TranslateMode};
use secdesc::Sid;

use super::actions::{effect, WORK_KEY};
use crate::workstation::{Effect, RegValue, Workstation};
use crate::{Error, Result};

/// Where the members of each local group are kept until Completion.
pub const GROUPS_BACKUP: &str = "HKLM\\SOFTWARE\\rehome\\Agent\\Backup\\LocalGroups";
/// The value of the agent's work key saying the copy is complete.
const KEPT: &str = "LocalGroupsKept";

/// Adds each member's target to its groups and, with `Replace`, removes the member. A member
/// is added before its source goes, so a crash in between leaves both, never neither.
pub fn translate_members<W: Workstation>(
    ws: &mut W,
    map: &SidMap,
    mode: TranslateMode,
) -> Result<Effect> {
    let mut changes = 0;
    for (group, members) in ws.local_group_members()? {
        for member in &members {
            let target = match map.get(member).filter(|t| *t != member) {
                Some(target) => target.clone(),
                None => continue,
            };
            changes += usize::from(ws.add_local_group_member(&group, &target)?);
            if mode == TranslateMode::Replace {
                changes += usize::from(ws.remove_local_group_member(&group, member)?);
            }
        }
    }
    Ok(effect(
        changes,
        format!("translated {} local group member(s)", changes),
        "no local group member to translate",
    ))
}

/// Keeps the members of every local group, once: a re-run never replaces the first copy.
pub fn backup<W: Workstation>(ws: &mut W) -> Result<Effect> {
    if ws.registry_value(WORK_KEY, KEPT)?.is_some() {
        return Ok(Effect::unchanged("local group members are already kept"));
    }
    let groups = ws.local_group_members()?;
    for (group, members) in &groups {
        let list = members.iter().map(Sid::to_string).collect();
        ws.set_registry_value(GROUPS_BACKUP, group, &RegValue::MultiSz(list))?;
    }
    // The marker last: a crash before it copies the same members again.
    ws.set_registry_value(WORK_KEY, KEPT, &RegValue::Dword(1))?;
    Ok(Effect::changed(
        1,
        format!("kept the members of {} local group(s)", groups.len()),
    ))
}

/// Puts back kept members that are missing, each as its translation where `map` has one, then
/// drops the copy.
pub fn restore<W: Workstation>(ws: &mut W, map: &SidMap) -> Result<Effect> {
    if ws.registry_value(WORK_KEY, KEPT)?.is_none() {
        return Ok(Effect::unchanged("no local group member was missing"));
    }
    let mut changes = 0;
    for group in ws.registry_value_names(GROUPS_BACKUP)? {
        let members = match ws.registry_value(GROUPS_BACKUP, &group)? {
            Some(RegValue::MultiSz(members)) => members,
            other => {
                return Err(Error::Device(format!(
                    "{}\\{} is {:?}, not a list of SIDs",
                    GROUPS_BACKUP, group, other
                )))
            }
        };
        for member in members {
            let member: Sid = member.parse()?;
            let wanted = map.get(&member).cloned().unwrap_or(member);
            changes += usize::from(ws.add_local_group_member(&group, &wanted)?);
        }
    }
    ws.delete_registry_key(GROUPS_BACKUP)?;
    ws.delete_registry_value(WORK_KEY, KEPT)?;
    Ok(effect(
        changes,
        format!("put back {} local group member(s)", changes),
        "no local group member was missing",
    ))
}
