//! The simulated ProfileList, hives, local group members, BitLocker and AppX registrations:
//! the primitives under Windows Profiles, Local Groups and the default processing. The
//! `Workstation` implementation calls these.

use std::collections::BTreeMap;

use secdesc::Sid;

use super::device::push_unique;
use super::SimWorkstation;
use crate::workstation::BitLockerStatus;
use crate::{Error, Result};

impl SimWorkstation {
    pub(super) fn sim_move_profile(&mut self, source: &Sid, target: &Sid) -> Result<bool> {
        self.require("move_profile")?;
        let has_source = self.state.profile_list.contains_key(source);
        match (has_source, self.state.profile_list.contains_key(target)) {
            (false, true) => Ok(false),
            (true, true) => Err(Error::Device(format!(
                "{} already has a profile on this device; move it aside before {}'s profile can become theirs",
                target, source
            ))),
            (false, false) => Err(Error::NotFound(format!("the profile of {}", source))),
            (true, false) => {
                if let Some(entry) = self.state.profile_list.remove(source) {
                    self.state.profile_list.insert(target.clone(), entry);
                }
                self.save()?;
                Ok(true)
            }
        }
    }

    /// A hive is reachable here whether loaded or not; the set says what the agent loaded, as
    /// the Windows implementation must unload it again.
    pub(super) fn sim_load_user_hive(&mut self, sid: &Sid, file: &str) -> Result<bool> {
        self.require("load_user_hive")?;
        if !self.state.profile_list.contains_key(sid) {
            return Err(Error::Device(format!(
                "{} has no profile on this device, so {} is no hive of theirs",
                sid, file
            )));
        }
        Ok(self.loaded_hives.insert(sid.clone()))
    }

    pub(super) fn sim_unload_user_hive(&mut self, sid: &Sid) -> Result<bool> {
        self.require("unload_user_hive")?;
        Ok(self.loaded_hives.remove(sid))
    }

    /// The local group named `group`, compared without case as Windows does.
    fn group_name(&self, group: &str) -> Result<String> {
        self.state
            .local_groups
            .keys()
            .find(|name| name.eq_ignore_ascii_case(group))
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("the local group {}", group)))
    }

    pub(super) fn sim_add_local_group_member(&mut self, group: &str, member: &Sid) -> Result<bool> {
        self.require("add_local_group_member")?;
        let name = self.group_name(group)?;
        let members = self.state.local_groups.entry(name).or_default();
        if members.contains(member) {
            return Ok(false);
        }
        push_unique(members, member.clone());
        self.save()?;
        Ok(true)
    }

    pub(super) fn sim_remove_local_group_member(
        &mut self,
        group: &str,
        member: &Sid,
    ) -> Result<bool> {
        self.require("remove_local_group_member")?;
        let name = self.group_name(group)?;
        let members = self.state.local_groups.entry(name).or_default();
        let before = members.len();
        members.retain(|m| m != member);
        if members.len() == before {
            return Ok(false);
        }
        self.save()?;
        Ok(true)
    }

    pub(super) fn sim_bitlocker_status(&self) -> Result<BitLockerStatus> {
        self.require("bitlocker_status")?;
        let b = self.state.bitlocker;
        Ok(BitLockerStatus {
            encrypted: b.encrypted,
            protectors_on: b.encrypted && !b.protectors_suspended,
        })
    }

    pub(super) fn sim_set_bitlocker_protectors(&mut self, enabled: bool) -> Result<bool> {
        self.require("set_bitlocker_protectors")?;
        if !self.state.bitlocker.encrypted {
            return Err(Error::Device(
                "the OS volume is not encrypted: it has no key protectors".to_string(),
            ));
        }
        self.mutate("set_bitlocker_protectors", |s| {
            let suspended = !enabled;
            if s.bitlocker.protectors_suspended == suspended {
                return false;
            }
            s.bitlocker.protectors_suspended = suspended;
            true
        })
    }

    pub(super) fn sim_appx_packages(&self) -> Result<BTreeMap<Sid, Vec<String>>> {
        self.require("appx_packages")?;
        Ok(self.state.appx.clone())
    }

    pub(super) fn sim_register_appx(&mut self, user: &Sid, package: &str) -> Result<bool> {
        let (user, package) = (user.clone(), package.to_string());
        self.mutate("register_appx", |s| {
            let registered = s.appx.entry(user).or_default();
            if registered.contains(&package) {
                return false;
            }
            registered.push(package);
            true
        })
    }
}
