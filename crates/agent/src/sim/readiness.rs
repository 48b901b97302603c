//! The simulated device's answers to the readiness questions. Every condition a check looks at
//! can be set here, so each check is tested blocking and passing; a new device is ready.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use model::plan::{JoinState, OsEdition};
use secdesc::Sid;
use serde::{Deserialize, Serialize};

use super::SimWorkstation;
use crate::readiness::device::{BitLockerState, Interference, ProfileCondition, SystemVolume};
use crate::workstation::{TaskLogon, TaskPrincipal};
use crate::{Error, Result};

const GIB: u64 = 1024 * 1024 * 1024;

/// What a profile shows besides its ProfileList entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimProfileCondition {
    /// `CentralProfile`: a roaming profile's share (ending `.man` for a mandatory one).
    #[serde(default)]
    pub central_profile: Option<String>,
    /// A `<SID>.bak` duplicate entry exists.
    #[serde(default)]
    pub bak_entry: bool,
    /// A container (FSLogix …) mounts the profile.
    #[serde(default)]
    pub container: Option<String>,
    /// The hive cannot be read.
    #[serde(default)]
    pub hive_unreadable: bool,
    /// The SID names no account any more.
    #[serde(default)]
    pub orphaned: bool,
}

/// The device's readiness conditions; the default is a ready device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimReadiness {
    /// Per profile owner, what ProfileList and the hive show.
    #[serde(default)]
    pub profiles: BTreeMap<Sid, SimProfileCondition>,
    /// Processes running as users: `name (pid)` and the user.
    #[serde(default)]
    pub processes: Vec<(String, Sid)>,
    /// Where the recovery password is backed up (`ad:<domain>`, `entra:<tenant>`); `None`: to
    /// the directory the device is joined to.
    #[serde(default)]
    pub recovery_key_escrowed_to: Option<Vec<String>>,
    /// The TPM's version, `None` for no TPM.
    #[serde(default = "tpm_two")]
    pub tpm: Option<String>,
    /// Free bytes on the system volume.
    #[serde(default = "plenty")]
    pub free_bytes: u64,
    /// The system disk reports a fault.
    #[serde(default)]
    pub disk_faulty: bool,
    /// Interfering software installed.
    #[serde(default)]
    pub interfering: Vec<Interference>,
    /// Why a reboot is pending, if one is.
    #[serde(default)]
    pub pending_reboot: Option<String>,
    /// The battery charge when on battery.
    #[serde(default)]
    pub on_battery: Option<u8>,
    /// HTTPS endpoints that do not answer (lower case).
    #[serde(default)]
    pub unreachable_endpoints: Vec<String>,
}

fn tpm_two() -> Option<String> {
    Some("2.0".to_string())
}

fn plenty() -> u64 {
    120 * GIB
}

impl Default for SimReadiness {
    fn default() -> SimReadiness {
        SimReadiness {
            profiles: BTreeMap::new(),
            processes: Vec::new(),
            recovery_key_escrowed_to: None,
            tpm: tpm_two(),
            free_bytes: plenty(),
            disk_faulty: false,
            interfering: Vec::new(),
            pending_reboot: None,
            on_battery: None,
            unreachable_endpoints: Vec::new(),
        }
    }
}

/// Size of the simulated system volume.
pub const VOLUME_BYTES: u64 = 256 * GIB;

impl SimWorkstation {
    /// Changes the device's readiness conditions (a test's or the demo's setting) and saves.
    pub fn set_readiness(&mut self, change: impl FnOnce(&mut SimReadiness)) -> Result<()> {
        change(&mut self.state.readiness);
        self.save()
    }

    /// Changes the Windows edition and version the device reports, and saves.
    pub fn set_os(&mut self, edition: OsEdition, version: &str) -> Result<()> {
        self.state.os_edition = edition;
        self.state.os_version = version.to_string();
        self.save()
    }

    /// Changes the ProfileList `State` and last use of `sid`'s profile, and saves.
    pub fn set_profile(
        &mut self,
        sid: &Sid,
        state: u32,
        last_used: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let entry = self
            .state
            .profile_list
            .get_mut(sid)
            .ok_or_else(|| Error::NotFound(format!("the profile of {}", sid)))?;
        entry.state = state;
        entry.last_used = last_used;
        self.save()
    }

    /// Adds a scheduled task running as `account` with a stored password, and saves.
    pub fn add_task(&mut self, path: &str, account: &Sid) -> Result<()> {
        self.state.task_principals.insert(
            path.to_string(),
            TaskPrincipal {
                account: account.clone(),
                logon: TaskLogon::Password,
            },
        );
        self.save()
    }

    pub(super) fn sim_profile_conditions(&self) -> Result<Vec<ProfileCondition>> {
        self.require("profile_conditions")?;
        Ok(self
            .state
            .profile_list
            .iter()
            .map(|(sid, entry)| {
                let extra = self
                    .state
                    .readiness
                    .profiles
                    .get(sid)
                    .cloned()
                    .unwrap_or_default();
                let folder = entry
                    .profile_image_path
                    .rsplit('\\')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                ProfileCondition {
                    sid: sid.clone(),
                    path: entry.profile_image_path.clone(),
                    state: entry.state,
                    central_profile: extra.central_profile,
                    bak_entry: extra.bak_entry,
                    container: extra.container,
                    hive_readable: !extra.hive_unreadable,
                    account: if extra.orphaned { None } else { Some(folder) },
                    last_used: entry.last_used,
                }
            })
            .collect())
    }

    pub(super) fn sim_user_processes(&self) -> Result<Vec<(String, Sid)>> {
        self.require("user_processes")?;
        Ok(self.state.readiness.processes.clone())
    }

    pub(super) fn sim_bitlocker_state(&self) -> Result<BitLockerState> {
        self.require("bitlocker_state")?;
        let b = &self.state.bitlocker;
        let escrowed_to = match &self.state.readiness.recovery_key_escrowed_to {
            Some(places) => places.clone(),
            None => match &self.state.join_state {
                JoinState::ActiveDirectory { domain } => vec![format!("ad:{}", domain)],
                JoinState::Entra { tenant } => vec![format!("entra:{}", tenant)],
                JoinState::Workgroup => Vec::new(),
            },
        };
        Ok(BitLockerState {
            encrypted: b.encrypted,
            protection_on: b.encrypted && !b.protectors_suspended,
            escrowed_to: if b.encrypted { escrowed_to } else { Vec::new() },
            escrow_unread: None,
        })
    }

    pub(super) fn sim_tpm_version(&self) -> Result<Option<String>> {
        self.require("tpm_version")?;
        Ok(self.state.readiness.tpm.clone())
    }

    pub(super) fn sim_system_volume(&self) -> Result<SystemVolume> {
        self.require("system_volume")?;
        Ok(SystemVolume {
            free_bytes: self.state.readiness.free_bytes,
            total_bytes: VOLUME_BYTES,
            healthy: !self.state.readiness.disk_faulty,
            health_unread: None,
        })
    }

    pub(super) fn sim_endpoint_reachable(&self, url: &str) -> Result<bool> {
        self.require("endpoint_reachable")?;
        let url = url.to_lowercase();
        Ok(!self.state.readiness.unreachable_endpoints.contains(&url))
    }

    pub(super) fn sim_interfering_software(&self) -> Result<Vec<Interference>> {
        self.require("interfering_software")?;
        Ok(self.state.readiness.interfering.clone())
    }

    pub(super) fn sim_pending_reboot(&self) -> Result<Option<String>> {
        self.require("pending_reboot")?;
        Ok(self.state.readiness.pending_reboot.clone())
    }

    pub(super) fn sim_on_battery(&self) -> Result<Option<u8>> {
        self.require("on_battery")?;
        Ok(self.state.readiness.on_battery)
    }
}
