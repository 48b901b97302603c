//! Readiness: what a device checks, read-only, before its batch starts, so that a migration that
//! would fail half way is stopped before its first change. The agent takes the checks, the server
//! stores them per device and runbook, and a blocking result keeps the runbook from starting until
//! it passes or an Agent Admin waives it.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{BatchId, RunbookId};

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing in the way.
    Pass,
    /// Worth a look; the runbook may still start.
    Warn,
    /// The migration would fail or harm the device: the runbook does not start.
    Block,
    /// The device could not answer the question (a workstation without that check): never a pass.
    Unknown,
}

impl Verdict {
    /// Every verdict, in the order the console counts them.
    pub const ALL: [Verdict; 4] = [
        Verdict::Block,
        Verdict::Warn,
        Verdict::Unknown,
        Verdict::Pass,
    ];

    /// The stable name used in the store, the API and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Block => "block",
            Verdict::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verdict {
    type Err = String;

    fn from_str(s: &str) -> Result<Verdict, String> {
        Verdict::ALL
            .iter()
            .copied()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("{:?} is not a verdict (pass, warn, block, unknown)", s))
    }
}

/// The stable ids of the checks. A profile's check is [`profile`] of its SID.
pub mod checks {
    /// Windows edition: Home cannot join a domain or Entra.
    pub const OS_EDITION: &str = "os.edition";
    /// Windows version: rehome migrates Windows 10 and 11.
    pub const OS_VERSION: &str = "os.version";
    /// A server OS without the runbook's Allow on Server OS.
    pub const OS_SERVER: &str = "os.server";
    /// BitLocker protection of the system volume.
    pub const BITLOCKER: &str = "bitlocker.protection";
    /// Where the BitLocker recovery key is escrowed.
    pub const RECOVERY_KEY: &str = "bitlocker.recovery_key";
    /// TPM present and its version.
    pub const TPM: &str = "tpm";
    /// Free space on the system volume.
    pub const FREE_SPACE: &str = "disk.free_space";
    /// Health of the system disk.
    pub const DISK_HEALTH: &str = "disk.health";
    /// The rehome server answers the device.
    pub const SERVER_REACHABLE: &str = "reach.server";
    /// The target directory (a domain controller, or the Entra tenant) answers the device.
    pub const TARGET_REACHABLE: &str = "reach.target";
    /// Intune's enrolment endpoint answers (Entra joins).
    pub const INTUNE_REACHABLE: &str = "reach.intune";
    /// A Configuration Manager client.
    pub const CONFIGMGR: &str = "software.configmgr";
    /// An MDM enrolment of the source.
    pub const SOURCE_MDM: &str = "software.mdm";
    /// An EDR agent with device isolation on.
    pub const EDR_ISOLATION: &str = "software.edr";
    /// Application control that would block the agent.
    pub const APP_CONTROL: &str = "software.app_control";
    /// A reboot is pending.
    pub const PENDING_REBOOT: &str = "reboot.pending";
    /// The device runs on battery.
    pub const BATTERY: &str = "power.battery";

    /// The check of the user profile of `sid`.
    pub fn profile(sid: &str) -> String {
        format!("profile:{}", sid)
    }
}

/// Most checks one report may carry (a device with many profiles has one per profile).
pub const MAX_CHECKS: usize = 2_000;

/// One check as the device took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Its stable id ([`checks`]).
    pub check: String,
    /// What it found.
    pub verdict: Verdict,
    /// Why, in words a service desk acts on.
    pub reason: String,
    /// The value seen on the device (`Windows 11 Home`, `12.4 GB free`, `TPM 1.2`).
    pub value: String,
    /// When the device took it, by its clock.
    pub taken_at: DateTime<Utc>,
}

impl CheckResult {
    /// A result of `check` taken at `at`.
    pub fn new(
        check: impl Into<String>,
        verdict: Verdict,
        reason: impl Into<String>,
        value: impl Into<String>,
        at: DateTime<Utc>,
    ) -> CheckResult {
        CheckResult {
            check: check.into(),
            verdict,
            reason: reason.into(),
            value: value.into(),
            taken_at: at,
        }
    }
}

/// The checks of one device for one runbook of its batch, sent under `/agent/readiness`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessReport {
    /// The batch the device is in.
    pub batch: BatchId,
    /// The runbook the checks were taken for.
    pub runbook: RunbookId,
    /// Every check, in the order taken.
    pub checks: Vec<CheckResult>,
}

/// The first blocking check of `checks` that is not in `waived`: the reason a runbook does not
/// start, or `None` when it may.
pub fn first_blocking<'a>(
    checks: &'a [CheckResult],
    waived: &BTreeSet<String>,
) -> Option<&'a CheckResult> {
    checks
        .iter()
        .find(|c| c.verdict == Verdict::Block && !waived.contains(&c.check))
}

/// The words a device's status shows for a runbook held back by `check`.
pub fn held_back_message(check: &CheckResult) -> String {
    format!(
        "not ready: {} ({}: {}); fix it and check readiness again, or an Agent Admin waives the check",
        check.reason, check.check, check.value
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn a_waived_block_lets_the_next_block_through_and_warnings_never_hold_back() {
        let checks = vec![
            CheckResult::new(checks::BATTERY, Verdict::Warn, "on battery", "42%", at()),
            CheckResult::new(checks::OS_EDITION, Verdict::Block, "Home", "Home", at()),
            CheckResult::new(checks::TPM, Verdict::Block, "no TPM", "none", at()),
        ];
        let none = BTreeSet::new();
        assert_eq!(
            first_blocking(&checks, &none).map(|c| c.check.as_str()),
            Some(checks::OS_EDITION)
        );
        let waived: BTreeSet<String> = [checks::OS_EDITION.to_string()].into_iter().collect();
        assert_eq!(
            first_blocking(&checks, &waived).map(|c| c.check.as_str()),
            Some(checks::TPM)
        );
        assert_eq!(first_blocking(&checks[..1], &none), None);
    }

    #[test]
    fn verdicts_read_back_from_their_names() {
        for v in Verdict::ALL {
            assert_eq!(v.as_str().parse::<Verdict>(), Ok(v));
        }
        assert!("maybe".parse::<Verdict>().is_err());
    }
}
