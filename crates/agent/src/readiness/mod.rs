//! The readiness checks: read-only questions to the device about what would make its migration
//! fail, each answered with a verdict, a reason in words and the value seen. They change nothing
//! on the device, so they run as soon as it is in a batch, again before the final check-in, and
//! whenever the server asks. A question the workstation cannot answer is Unknown, never a pass.

use chrono::{DateTime, Duration, Utc};
use model::plan::{JoinState, OsEdition};
use model::protocol::DeviceAssignment;
use model::readiness::{checks, CheckResult, Verdict};
use model::runbook::DomainJoin;
use secdesc::Sid;

use crate::workstation::{Facts, Workstation};
use crate::Error;

pub mod device;
mod profiles;
#[cfg(test)]
mod tests;

use device::{BitLockerState, InterferenceKind, SystemVolume};

/// The endpoint an Intune enrolment talks to.
pub const INTUNE_ENDPOINT: &str = "https://enrollment.manage.microsoft.com";
/// Space a run needs on the system volume for its journal, logs and backups.
pub const BASE_SPACE: u64 = 2 * GIB;
/// More space a run needs when it moves OneDrive folders (files rehydrated on the way).
pub const ONEDRIVE_SPACE: u64 = 5 * GIB;
const GIB: u64 = 1024 * 1024 * 1024;

/// Takes every check of `assignment` on `workstation` at `now`. Whether the server answers the
/// device is recorded by the server when the checks reach it.
pub fn take<W: Workstation>(
    workstation: &W,
    assignment: &DeviceAssignment,
    now: DateTime<Utc>,
) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let join = assignment.runbook.device_state.domain_join;
    let facts = match workstation.facts() {
        Ok(facts) => Some(facts),
        Err(e) => {
            for check in [checks::OS_EDITION, checks::OS_VERSION, checks::OS_SERVER] {
                out.push(unknown(check, &e, now));
            }
            None
        }
    };
    if let Some(facts) = &facts {
        out.extend(os_checks(facts, assignment, now));
    }
    out.extend(profiles::check(workstation, now));
    let source = facts.as_ref().map(|f| f.join_state.clone());
    match workstation.bitlocker_state() {
        Ok(state) => out.extend(bitlocker(&state, source.as_ref(), assignment, now)),
        Err(e) => {
            out.push(unknown(checks::BITLOCKER, &e, now));
            out.push(unknown(checks::RECOVERY_KEY, &e, now));
        }
    }
    out.push(match workstation.tpm_version() {
        Ok(version) => tpm(version.as_deref(), join, now),
        Err(e) => unknown(checks::TPM, &e, now),
    });
    match workstation.system_volume() {
        Ok(volume) => out.extend(disk(&volume, assignment, now)),
        Err(e) => {
            out.push(unknown(checks::FREE_SPACE, &e, now));
            out.push(unknown(checks::DISK_HEALTH, &e, now));
        }
    }
    out.extend(reachability(workstation, assignment, now));
    out.extend(software(workstation, join, now));
    out.push(match workstation.pending_reboot() {
        Ok(None) => pass(checks::PENDING_REBOOT, "no reboot is pending", "none", now),
        Ok(Some(why)) => CheckResult::new(
            checks::PENDING_REBOOT,
            Verdict::Warn,
            "a reboot is pending: restart the device before the batch starts so updates do not finish in the middle of the migration",
            why,
            now,
        ),
        Err(e) => unknown(checks::PENDING_REBOOT, &e, now),
    });
    out.push(match workstation.on_battery() {
        Ok(None) => pass(checks::BATTERY, "the device runs on mains power", "mains", now),
        Ok(Some(percent)) => CheckResult::new(
            checks::BATTERY,
            Verdict::Warn,
            "the device runs on battery: plug it in, a migration must not stop when the battery runs out",
            format!("battery {}%", percent),
            now,
        ),
        Err(e) => unknown(checks::BATTERY, &e, now),
    });
    out
}

fn pass(check: &str, reason: &str, value: impl Into<String>, at: DateTime<Utc>) -> CheckResult {
    CheckResult::new(check, Verdict::Pass, reason, value, at)
}

/// The Unknown result of a check the workstation could not answer.
fn unknown(check: &str, error: &Error, at: DateTime<Utc>) -> CheckResult {
    CheckResult::new(
        check,
        Verdict::Unknown,
        format!("not checked: {}", error),
        "unknown",
        at,
    )
}

fn os_checks(facts: &Facts, assignment: &DeviceAssignment, now: DateTime<Utc>) -> Vec<CheckResult> {
    let version = facts.os_version.clone();
    let joins = assignment.runbook.device_state.domain_join != DomainJoin::None;
    let home = version.to_ascii_lowercase().contains(" home");
    let edition = if home && joins {
        CheckResult::new(
            checks::OS_EDITION,
            Verdict::Block,
            "Windows Home cannot join a domain or Entra ID: upgrade the device to Pro, Enterprise or Education first",
            version.clone(),
            now,
        )
    } else {
        pass(
            checks::OS_EDITION,
            "the edition can take the runbook's join",
            version.clone(),
            now,
        )
    };
    let supported = match facts.os_edition {
        OsEdition::Workstation => ["Windows 10", "Windows 11"]
            .iter()
            .any(|v| version.contains(v)),
        OsEdition::Server => ["2016", "2019", "2022", "2025"]
            .iter()
            .any(|v| version.contains(v)),
    };
    let os_version = if supported {
        pass(
            checks::OS_VERSION,
            "rehome migrates this Windows version",
            version.clone(),
            now,
        )
    } else {
        CheckResult::new(
            checks::OS_VERSION,
            Verdict::Block,
            "rehome migrates Windows 10 and 11 (and Windows Server 2016 or later): upgrade the device first",
            version.clone(),
            now,
        )
    };
    let server = match facts.os_edition {
        OsEdition::Server if !assignment.runbook.allow_on_server_os => CheckResult::new(
            checks::OS_SERVER,
            Verdict::Block,
            "the device runs a server OS and the runbook does not allow server OS: turn on Allow on Server OS or take the device out of the batch",
            version,
            now,
        ),
        OsEdition::Server => pass(checks::OS_SERVER, "the runbook allows server OS", version, now),
        OsEdition::Workstation => pass(checks::OS_SERVER, "a workstation OS", version, now),
    };
    vec![edition, os_version, server]
}

/// The directory name of an escrow place (`ad:corp.example` → `corp.example`).
fn escrow_directory(place: &str) -> &str {
    place.split_once(':').map_or(place, |(_, name)| name)
}

fn bitlocker(
    state: &BitLockerState,
    source: Option<&JoinState>,
    assignment: &DeviceAssignment,
    now: DateTime<Utc>,
) -> Vec<CheckResult> {
    if !state.encrypted {
        return vec![
            pass(
                checks::BITLOCKER,
                "the system volume is not encrypted",
                "off",
                now,
            ),
            pass(
                checks::RECOVERY_KEY,
                "no recovery key is needed",
                "not encrypted",
                now,
            ),
        ];
    }
    let protection = if state.protection_on {
        pass(
            checks::BITLOCKER,
            "protection is on; the runbook suspends it for the join's reboots",
            "on",
            now,
        )
    } else {
        CheckResult::new(
            checks::BITLOCKER,
            Verdict::Warn,
            "BitLocker protection is suspended: the volume is encrypted but its key sits in the clear until protection resumes",
            "suspended",
            now,
        )
    };
    let source_name = match source {
        Some(JoinState::ActiveDirectory { domain }) => Some(domain.as_str()),
        Some(JoinState::Entra { tenant }) => Some(tenant.as_str()),
        _ => None,
    };
    let holds = |place: &&String| {
        let dir = escrow_directory(place);
        dir.eq_ignore_ascii_case(&assignment.target.domain)
            || source_name.map_or(false, |s| dir.eq_ignore_ascii_case(s))
    };
    let seen = if state.escrowed_to.is_empty() {
        "nowhere".to_string()
    } else {
        state.escrowed_to.join(", ")
    };
    let key = if let Some(why) = &state.escrow_unread {
        CheckResult::new(
            checks::RECOVERY_KEY,
            Verdict::Unknown,
            format!("not checked: {}", why),
            "unknown",
            now,
        )
    } else if state.escrowed_to.iter().any(|p| holds(&p)) {
        pass(
            checks::RECOVERY_KEY,
            "a recovery password is kept by the source or the target directory",
            seen,
            now,
        )
    } else {
        CheckResult::new(
            checks::RECOVERY_KEY,
            Verdict::Block,
            "no recovery password is backed up where the source or the target directory keeps it: back it up (manage-bde -protectors -adbackup, or BackupToAAD-BitLockerKeyProtector) before the batch starts",
            seen,
            now,
        )
    };
    vec![protection, key]
}

fn tpm(version: Option<&str>, join: DomainJoin, now: DateTime<Utc>) -> CheckResult {
    let entra = join == DomainJoin::Entra;
    match version {
        Some(v) if v.trim_start().starts_with('2') => pass(
            checks::TPM,
            "a TPM 2.0 is present",
            format!("TPM {}", v),
            now,
        ),
        other => {
            let value = other.map_or("no TPM".to_string(), |v| format!("TPM {}", v));
            if entra {
                CheckResult::new(
                    checks::TPM,
                    Verdict::Block,
                    "an Entra join needs a TPM 2.0 to protect the device's keys: turn the TPM on in the firmware, or replace the device",
                    value,
                    now,
                )
            } else {
                CheckResult::new(
                    checks::TPM,
                    Verdict::Warn,
                    "no TPM 2.0: the device cannot be moved to Entra ID later without one",
                    value,
                    now,
                )
            }
        }
    }
}

/// Space shown as GiB with one decimal.
fn gib(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / GIB as f64)
}

/// What a run of `assignment` needs free on the system volume.
pub fn space_needed(assignment: &DeviceAssignment) -> u64 {
    if assignment
        .runbook
        .apps
        .onedrive
        .target_folder_name
        .is_empty()
    {
        BASE_SPACE
    } else {
        BASE_SPACE + ONEDRIVE_SPACE
    }
}

fn disk(
    volume: &SystemVolume,
    assignment: &DeviceAssignment,
    now: DateTime<Utc>,
) -> Vec<CheckResult> {
    let needed = space_needed(assignment);
    let value = format!(
        "{} free of {}",
        gib(volume.free_bytes),
        gib(volume.total_bytes)
    );
    let space = if volume.free_bytes < needed {
        CheckResult::new(
            checks::FREE_SPACE,
            Verdict::Block,
            format!(
                "the system volume has less free space than the run needs ({}): free some space",
                gib(needed)
            ),
            value,
            now,
        )
    } else if volume.free_bytes < needed * 2 {
        CheckResult::new(
            checks::FREE_SPACE,
            Verdict::Warn,
            format!(
                "the system volume has little more free space than the run needs ({})",
                gib(needed)
            ),
            value,
            now,
        )
    } else {
        pass(
            checks::FREE_SPACE,
            "enough free space for the run",
            value,
            now,
        )
    };
    let health = if let Some(why) = &volume.health_unread {
        CheckResult::new(
            checks::DISK_HEALTH,
            Verdict::Unknown,
            format!("not checked: {}", why),
            "unknown",
            now,
        )
    } else if volume.healthy {
        pass(
            checks::DISK_HEALTH,
            "the system disk reports itself healthy",
            "healthy",
            now,
        )
    } else {
        CheckResult::new(
            checks::DISK_HEALTH,
            Verdict::Block,
            "the system disk reports a fault: replace or repair it before migrating",
            "unhealthy",
            now,
        )
    };
    vec![space, health]
}

fn reachability<W: Workstation>(
    workstation: &W,
    assignment: &DeviceAssignment,
    now: DateTime<Utc>,
) -> Vec<CheckResult> {
    let ds = &assignment.runbook.device_state;
    let target = assignment.target.domain.as_str();
    let what = match ds.domain_join {
        DomainJoin::ActiveDirectory => Some("a domain controller of"),
        DomainJoin::Entra => Some("the Entra sign-in endpoint of"),
        DomainJoin::None => None,
    };
    let target_check = match what {
        None => pass(
            checks::TARGET_REACHABLE,
            "the runbook joins nothing",
            "no join",
            now,
        ),
        Some(what) => match workstation.directory_reachable(target) {
            Ok(true) => pass(
                checks::TARGET_REACHABLE,
                "the target directory answers the device",
                format!("{} {} answered", what, target),
                now,
            ),
            Ok(false) => CheckResult::new(
                checks::TARGET_REACHABLE,
                Verdict::Block,
                format!(
                    "{} {} does not answer the device: check its DNS, VPN and firewall",
                    what, target
                ),
                format!("{} unreachable", target),
                now,
            ),
            Err(e) => unknown(checks::TARGET_REACHABLE, &e, now),
        },
    };
    let intune = if ds.enroll_intune || ds.domain_join == DomainJoin::Entra {
        match workstation.endpoint_reachable(INTUNE_ENDPOINT) {
            Ok(true) => pass(checks::INTUNE_REACHABLE, "Intune's enrolment endpoint answers", INTUNE_ENDPOINT, now),
            Ok(false) => CheckResult::new(
                checks::INTUNE_REACHABLE,
                Verdict::Block,
                "Intune's enrolment endpoint does not answer the device: allow it through the proxy and firewall",
                INTUNE_ENDPOINT,
                now,
            ),
            Err(e) => unknown(checks::INTUNE_REACHABLE, &e, now),
        }
    } else {
        pass(
            checks::INTUNE_REACHABLE,
            "the runbook does not enrol in Intune",
            "not needed",
            now,
        )
    };
    vec![target_check, intune]
}

fn software<W: Workstation>(
    workstation: &W,
    join: DomainJoin,
    now: DateTime<Utc>,
) -> Vec<CheckResult> {
    let kinds = [
        (checks::CONFIGMGR, InterferenceKind::ConfigMgr),
        (checks::SOURCE_MDM, InterferenceKind::Mdm),
        (checks::EDR_ISOLATION, InterferenceKind::EdrIsolation),
        (checks::APP_CONTROL, InterferenceKind::AppControl),
    ];
    let found = match workstation.interfering_software() {
        Ok(found) => found,
        Err(e) => {
            return kinds
                .iter()
                .map(|(check, _)| unknown(check, &e, now))
                .collect()
        }
    };
    let not_checked = workstation.interference_not_checked();
    kinds
        .iter()
        .map(|(check, kind)| {
            let names: Vec<&str> = found
                .iter()
                .filter(|f| f.kind == *kind)
                .map(|f| f.name.as_str())
                .collect();
            if names.is_empty() && *kind == InterferenceKind::EdrIsolation {
                let present: Vec<&str> = found
                    .iter()
                    .filter(|f| f.kind == InterferenceKind::Edr)
                    .map(|f| f.name.as_str())
                    .collect();
                if !present.is_empty() {
                    return pass(
                        check,
                        "an EDR agent is present and the device reaches the server: it has not isolated the device",
                        present.join(", "),
                        now,
                    );
                }
            }
            if names.is_empty() {
                // Nothing found is a pass only where the workstation could look.
                if let Some((_, why)) = not_checked.iter().find(|(k, _)| k == kind) {
                    return CheckResult::new(
                        *check,
                        Verdict::Unknown,
                        format!("not checked: {}", why),
                        "unknown",
                        now,
                    );
                }
                return pass(check, "none found", "none", now);
            }
            let (verdict, reason) = match kind {
                InterferenceKind::ConfigMgr => (
                    Verdict::Warn,
                    "a Configuration Manager client keeps applying the source's policies: uninstall it or retarget it after the migration",
                ),
                InterferenceKind::Mdm if join == DomainJoin::Entra => (
                    Verdict::Block,
                    "the device is enrolled in the source's MDM, and an Entra join cannot enrol it in the target's: retire it from the source's MDM first",
                ),
                InterferenceKind::Mdm => (
                    Verdict::Warn,
                    "the device is enrolled in the source's MDM: retire it there once it is migrated",
                ),
                InterferenceKind::EdrIsolation => (
                    Verdict::Block,
                    "an EDR agent has isolated the device from the network: release it from isolation first",
                ),
                // Never reached: present EDR agents are judged above.
                InterferenceKind::Edr => (Verdict::Pass, "an EDR agent is present"),
                InterferenceKind::AppControl => (
                    Verdict::Block,
                    "application control would not let the agent run its steps: allow rehome-agent.exe in the WDAC or AppLocker policy",
                ),
            };
            CheckResult::new(*check, verdict, reason, names.join(", "), now)
        })
        .collect()
}

/// A profile not used for this long is reported (it may belong to someone who left).
pub fn stale_after() -> Duration {
    Duration::days(90)
}

/// `sid` as text for check ids.
fn sid_text(sid: &Sid) -> String {
    sid.to_string()
}
