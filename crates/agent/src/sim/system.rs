//! The simulated registry, LSA user rights and SAM local accounts. The `Workstation`
//! implementation calls these.

use std::collections::BTreeSet;

use secdesc::Sid;

use super::{state, LocalUser, SimWorkstation};
use crate::workstation::RegValue;
use crate::{Error, Result};

impl SimWorkstation {
    pub(super) fn sim_registry_value(&self, key: &str, name: &str) -> Result<Option<RegValue>> {
        self.require("registry_value")?;
        Ok(self
            .state
            .registry
            .get(&self.reg_key(key))
            .and_then(|values| values.get(&name.to_lowercase()))
            .cloned())
    }

    pub(super) fn sim_registry_value_names(&self, key: &str) -> Result<Vec<String>> {
        self.require("registry_value_names")?;
        Ok(self
            .state
            .registry
            .get(&self.reg_key(key))
            .map(|values| values.keys().cloned().collect())
            .unwrap_or_default())
    }

    pub(super) fn sim_registry_subkeys(&self, key: &str) -> Result<Vec<String>> {
        self.require("registry_subkeys")?;
        let prefix = format!("{}\\", self.reg_key(key));
        let names: BTreeSet<String> = self
            .state
            .registry
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(|rest| rest.split('\\').next().unwrap_or(rest).to_string())
            .collect();
        Ok(names.into_iter().collect())
    }

    pub(super) fn sim_set_registry_value(
        &mut self,
        key: &str,
        name: &str,
        value: &RegValue,
    ) -> Result<bool> {
        let (key, name) = (self.reg_key(key), name.to_lowercase());
        self.mutate("set_registry_value", |s| {
            let values = s.registry.entry(key).or_default();
            if values.get(&name) == Some(value) {
                return false;
            }
            values.insert(name, value.clone());
            true
        })
    }

    pub(super) fn sim_delete_registry_value(&mut self, key: &str, name: &str) -> Result<bool> {
        let (key, name) = (self.reg_key(key), name.to_lowercase());
        self.mutate("delete_registry_value", |s| {
            s.registry
                .get_mut(&key)
                .map_or(false, |values| values.remove(&name).is_some())
        })
    }

    pub(super) fn sim_delete_registry_key(&mut self, key: &str) -> Result<bool> {
        let key = self.reg_key(key);
        let prefix = format!("{}\\", key);
        self.mutate("delete_registry_key", |s| {
            let before = s.registry.len();
            s.registry
                .retain(|k, _| *k != key && !k.starts_with(&prefix));
            s.registry.len() != before
        })
    }

    pub(super) fn sim_grant_user_right(&mut self, right: &str, sid: &Sid) -> Result<bool> {
        self.mutate("grant_user_right", |s| {
            s.user_rights
                .entry(right.to_string())
                .or_default()
                .insert(sid.clone())
        })
    }

    pub(super) fn sim_revoke_user_right(&mut self, right: &str, sid: &Sid) -> Result<bool> {
        self.mutate("revoke_user_right", |s| {
            let removed = s
                .user_rights
                .get_mut(right)
                .map_or(false, |holders| holders.remove(sid));
            if s.user_rights.get(right).map_or(false, BTreeSet::is_empty) {
                s.user_rights.remove(right);
            }
            removed
        })
    }

    pub(super) fn sim_user_rights(&self) -> Result<Vec<String>> {
        self.require("user_rights")?;
        Ok(self.state.user_rights.keys().cloned().collect())
    }

    pub(super) fn sim_user_right_holders(&self, right: &str) -> Result<BTreeSet<Sid>> {
        self.require("user_right_holders")?;
        Ok(self
            .state
            .user_rights
            .get(right)
            .cloned()
            .unwrap_or_default())
    }

    pub(super) fn sim_create_local_administrator(
        &mut self,
        name: &str,
        password: &str,
    ) -> Result<bool> {
        if password.is_empty() {
            return Err(Error::Device(format!(
                "the local account {} needs a password",
                name
            )));
        }
        let key = name.to_lowercase();
        let machine = self.state.machine_sid.clone();
        let next_rid = self
            .state
            .local_users
            .values()
            .filter_map(|u| u.sid.rid())
            .max()
            .map_or(1001, |rid| rid.max(1000) + 1);
        let sid = machine.with_rid(next_rid)?;
        self.mutate("create_local_administrator", |s| {
            let mut changed = false;
            let sid = match s.local_users.get(&key) {
                Some(user) => user.sid.clone(),
                None => {
                    s.local_users.insert(
                        key.clone(),
                        LocalUser {
                            name: name.to_string(),
                            sid: sid.clone(),
                            password_set: true,
                        },
                    );
                    changed = true;
                    sid
                }
            };
            let admins = s
                .local_groups
                .entry(state::ADMINISTRATORS.to_string())
                .or_default();
            if !admins.contains(&sid) {
                admins.push(sid);
                changed = true;
            }
            changed
        })
    }

    pub(super) fn sim_delete_local_user(&mut self, name: &str) -> Result<bool> {
        let key = name.to_lowercase();
        self.mutate("delete_local_user", |s| match s.local_users.remove(&key) {
            Some(user) => {
                // Windows takes a deleted account out of every group.
                for members in s.local_groups.values_mut() {
                    members.retain(|m| *m != user.sid);
                }
                true
            }
            None => false,
        })
    }

    pub(super) fn sim_local_user_exists(&self, name: &str) -> Result<bool> {
        self.require("local_user_exists")?;
        Ok(self.state.local_users.contains_key(&name.to_lowercase()))
    }
}
