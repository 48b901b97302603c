//! What the readiness checks read from a device, as the `Workstation` answers it. Every field is
//! an observation; the verdicts are decided by the portable checks in [`super`].

use chrono::{DateTime, Utc};
use secdesc::Sid;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The ProfileList `State` bit Windows sets when it signed the user in with a temporary profile.
pub const PROFILE_STATE_TEMPORARY: u32 = 0x800;

/// One user profile as ProfileList and its hive show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileCondition {
    /// The owner's SID (the ProfileList subkey, without `.bak`).
    pub sid: Sid,
    /// `ProfileImagePath`.
    pub path: String,
    /// `State`.
    pub state: u32,
    /// `CentralProfile`: the roaming profile's share, when set.
    pub central_profile: Option<String>,
    /// A second ProfileList entry `<SID>.bak` exists.
    pub bak_entry: bool,
    /// The container product that mounts the profile (FSLogix, Citrix UPM …), when one does.
    pub container: Option<String>,
    /// Whether the hive (`NTUSER.DAT`, or `NTUSER.MAN`) could be read.
    pub hive_readable: bool,
    /// The account name the SID translates to (`LookupAccountSidW`), when it does.
    pub account: Option<String>,
    /// When the profile was last used (`LocalProfileLoadTimeHigh/Low`).
    pub last_used: Option<DateTime<Utc>>,
}

/// The system volume's BitLocker state and where its recovery password is kept.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BitLockerState {
    /// The volume is encrypted.
    pub encrypted: bool,
    /// Protection is on (not suspended).
    pub protection_on: bool,
    /// Directories holding a recovery password of the volume: `ad:<domain>`, `entra:<tenant>`.
    pub escrowed_to: Vec<String>,
    /// Why where the recovery password is backed up could not be read, when it could not: the
    /// recovery key check is then Unknown with this reason, and `escrowed_to` means nothing.
    #[serde(default)]
    pub escrow_unread: Option<String>,
}

/// The system volume's space and disk health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemVolume {
    /// Free bytes for the caller.
    pub free_bytes: u64,
    /// Size in bytes.
    pub total_bytes: u64,
    /// The disk reports itself healthy (`MSFT_PhysicalDisk.HealthStatus` 0).
    pub healthy: bool,
    /// Why the disk's health could not be read, when it could not (the space could): the
    /// health check is then Unknown with this reason, and `healthy` means nothing.
    #[serde(default)]
    pub health_unread: Option<String>,
}

/// Kinds of software that get in a migration's way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterferenceKind {
    /// A Configuration Manager client (`CcmExec`), which re-applies the source's policies.
    ConfigMgr,
    /// The device's MDM enrolment with the source.
    Mdm,
    /// An EDR agent that has isolated the device from the network.
    EdrIsolation,
    /// An EDR agent that is present and has not isolated the device (the server answers it):
    /// named in the isolation check, which passes.
    Edr,
    /// Application control (WDAC, AppLocker) that would not let the agent run.
    AppControl,
}

/// One piece of interfering software found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interference {
    /// What kind.
    pub kind: InterferenceKind,
    /// What it is (`CcmExec 5.00.9128`, `Intune (tenant contoso)`, `Defender for Endpoint`).
    pub name: String,
}

/// The error a workstation without a readiness primitive answers: the check is Unknown, with
/// the reason naming what the workstation would need.
pub fn unanswered(source: &str) -> Error {
    Error::Unsupported {
        action: "Readiness".to_string(),
        reason: format!("this workstation cannot read {}", source),
    }
}
