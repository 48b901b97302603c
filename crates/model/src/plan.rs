//! The plan: one pure function from a runbook and the facts of a device to the ordered steps the
//! device will run. The agent runs it; the console previews it.

use serde::{Deserialize, Serialize};

use crate::runbook::{DomainJoin, PermissionMode, Runbook};
use crate::status::Phase;

/// Windows edition family, which decides whether a runbook may run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OsEdition {
    /// Windows 10/11 and other client editions.
    Workstation,
    /// Windows Server.
    Server,
}

/// What a device is joined to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinState {
    /// Not joined to anything.
    Workgroup,
    /// Joined to an Active Directory domain (DNS name).
    ActiveDirectory { domain: String },
    /// Joined to an Entra tenant (tenant id or primary domain).
    Entra { tenant: String },
}

/// What the plan needs to know about the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFacts {
    /// Workstation or server.
    pub os_edition: OsEdition,
    /// Current join state.
    pub join_state: JoinState,
}

/// What the plan needs to know about the target directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetFacts {
    /// DNS domain (AD) or tenant (Entra) the device joins.
    pub domain: String,
}

/// The areas whose permissions are translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PermissionArea {
    /// Profile list entries and profile folders.
    WindowsProfiles,
    /// Files and folders on local volumes.
    FileSystem,
    /// Members of local groups.
    LocalGroups,
}

/// One thing a step does. Each is idempotent, so a step interrupted by a crash can run again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action")]
pub enum Action {
    /// Suspend BitLocker protectors so the reboots of a join do not ask for a recovery key.
    SuspendBitLocker,
    /// Keep a copy of the legal notice so Completion can restore it.
    BackupLegalNotice,
    /// Keep the members of every local group so members lost by leaving can be restored.
    BackupLocalGroups,
    /// Keep the list of AppX packages provisioned for each user.
    BackupAppxPackages,
    /// Leave the Active Directory domain.
    LeaveActiveDirectory,
    /// Leave the Entra tenant.
    LeaveEntra,
    /// Join the target Active Directory domain.
    JoinActiveDirectory { domain: String },
    /// Join the target Entra tenant.
    JoinEntra { tenant: String },
    /// Remove Windows Hello containers tied to the old identity.
    ResetWindowsHello,
    /// Translate source SIDs to target SIDs in one area.
    UpdatePermissions {
        area: PermissionArea,
        mode: PermissionMode,
    },
    /// Put the legal notice back.
    RestoreLegalNotice,
    /// Put back local group members, translated.
    RestoreLocalGroups,
    /// Re-register the AppX packages kept at Startup.
    RestoreAppxPackages,
    /// Resume BitLocker protectors.
    ResumeBitLocker,
}

/// One journaled step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Stable within a plan, e.g. `startup/backup-legal-notice`: the journal's key.
    pub id: String,
    /// The phase it belongs to.
    pub phase: Phase,
    /// What it does.
    pub action: Action,
}

/// Why a runbook may not run on a device at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The device runs a server edition and the runbook does not allow that.
    ServerOs,
}

/// Builds the ordered steps `runbook` runs on a device with `device` facts, joining `target`.
pub fn plan(
    runbook: &Runbook,
    device: &DeviceFacts,
    target: &TargetFacts,
) -> Result<Vec<Step>, Refusal> {
    if device.os_edition == OsEdition::Server && !runbook.allow_on_server_os {
        return Err(Refusal::ServerOs);
    }
    let state = &runbook.device_state;
    let joins = state.domain_join != DomainJoin::None;
    let leaves_ad = state.remove_from.leaves_ad()
        && matches!(device.join_state, JoinState::ActiveDirectory { .. });
    let leaves_entra =
        state.remove_from.leaves_entra() && matches!(device.join_state, JoinState::Entra { .. });
    let leaves = state.remove_from != crate::runbook::RemoveFrom::None;
    let startup = !runbook.startup.do_not_run;
    let completion = !runbook.completion.do_not_run;

    let mut steps = Vec::new();
    let mut add = |phase: Phase, name: &str, action: Action| {
        let prefix = match phase {
            Phase::Startup => "startup",
            Phase::DeviceState => "device-state",
            Phase::Permissions => "permissions",
            Phase::Apps => "apps",
            Phase::Completion => "completion",
        };
        steps.push(Step {
            id: format!("{}/{}", prefix, name),
            phase,
            action,
        });
    };

    if startup {
        if joins {
            add(
                Phase::Startup,
                "suspend-bitlocker",
                Action::SuspendBitLocker,
            );
        }
        add(
            Phase::Startup,
            "backup-legal-notice",
            Action::BackupLegalNotice,
        );
        if leaves && joins {
            add(
                Phase::Startup,
                "backup-local-groups",
                Action::BackupLocalGroups,
            );
        }
        if joins {
            add(Phase::Startup, "backup-appx", Action::BackupAppxPackages);
        }
    }

    if leaves_ad {
        add(Phase::DeviceState, "leave-ad", Action::LeaveActiveDirectory);
    }
    if leaves_entra {
        add(Phase::DeviceState, "leave-entra", Action::LeaveEntra);
    }
    match state.domain_join {
        DomainJoin::None => {}
        DomainJoin::ActiveDirectory => add(
            Phase::DeviceState,
            "join-ad",
            Action::JoinActiveDirectory {
                domain: target.domain.clone(),
            },
        ),
        DomainJoin::Entra => add(
            Phase::DeviceState,
            "join-entra",
            Action::JoinEntra {
                tenant: target.domain.clone(),
            },
        ),
    }
    if joins {
        add(
            Phase::DeviceState,
            "reset-windows-hello",
            Action::ResetWindowsHello,
        );
    }

    let mode = runbook.permissions.mode;
    if mode != PermissionMode::DontUpdate {
        for (name, area) in [
            ("windows-profiles", PermissionArea::WindowsProfiles),
            ("file-system", PermissionArea::FileSystem),
            ("local-groups", PermissionArea::LocalGroups),
        ] {
            add(
                Phase::Permissions,
                name,
                Action::UpdatePermissions { area, mode },
            );
        }
    }

    // Completion reverts what Startup's default processing changed; without Startup there is
    // nothing to revert.
    if completion && startup {
        add(
            Phase::Completion,
            "restore-legal-notice",
            Action::RestoreLegalNotice,
        );
        if leaves && joins {
            add(
                Phase::Completion,
                "restore-local-groups",
                Action::RestoreLocalGroups,
            );
        }
        if joins {
            add(
                Phase::Completion,
                "restore-appx",
                Action::RestoreAppxPackages,
            );
            add(
                Phase::Completion,
                "resume-bitlocker",
                Action::ResumeBitLocker,
            );
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests;
