//! The plan: one pure function from a runbook and the facts of a device to the ordered steps the
//! device will run. The agent runs it; the console previews it.

use serde::{Deserialize, Serialize};

use uuid::Uuid;

use crate::rules::{parse_tenant_ids, parse_unc_paths};
use crate::runbook::{
    AppMode, Area, CommandPackageRef, DomainJoin, LockScreenImage, PermissionMode, RemoveFrom,
    Runbook, Switch,
};
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

/// The permission areas the agent's `Workstation` translates itself; a runbook's other areas
/// ([`Area`]) become [`Action::UpdateAreaPermissions`] steps.
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
/// Fields added after a variant was first shipped are `serde(default)`, so journals and
/// messages written before them still read.
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
    /// Show the User Experience tab's legal notice at sign-in until Completion.
    SetLegalNotice {
        /// `legalnoticecaption`.
        #[serde(default)]
        caption: String,
        /// `legalnoticetext`: the default culture's notice as plain text.
        #[serde(default)]
        text: String,
    },
    /// Replace the lock-screen image until Completion.
    SetLockScreenImage { image: LockScreenImage },
    /// Deny interactive logon to migrating users until Completion.
    PreventLogin,
    /// Create the fallback local administrator (its password travels with the secrets).
    CreateFallbackAdmin { username: String },
    /// Run a command package as SYSTEM.
    RunCommandPackage { package: CommandPackageRef },
    /// Ask each user for target credentials and cache them.
    CacheCredentials,
    /// Leave the Active Directory domain.
    LeaveActiveDirectory,
    /// Leave the Entra tenant.
    LeaveEntra,
    /// Remove the source tenant's cached Autopilot profile.
    ResetAutopilot,
    /// Rename the computer from a template.
    RenameComputer { template: String },
    /// Join the target Active Directory domain.
    JoinActiveDirectory {
        domain: String,
        /// Offline, reusing an account, into which OU, as whom.
        #[serde(default)]
        options: AdJoinOptions,
    },
    /// Join the target Entra tenant.
    JoinEntra { tenant: String },
    /// Point hybrid join at another tenant (client-side SCP).
    SetHybridJoinTenant {
        tenant_name: String,
        tenant_id: String,
    },
    /// Prompt Intune enrolment until it succeeds.
    EnrollIntune,
    /// Remove Windows Hello containers tied to the old identity.
    ResetWindowsHello,
    /// Translate source SIDs to target SIDs in one area the agent has always handled.
    UpdatePermissions {
        area: PermissionArea,
        mode: PermissionMode,
        /// Path patterns left alone.
        #[serde(default)]
        ignore: Vec<String>,
    },
    /// Translate source SIDs to target SIDs in one of the other areas.
    UpdateAreaPermissions {
        area: Area,
        mode: PermissionMode,
        ignore: Vec<String>,
    },
    /// Translate permissions on shares of other hosts (the account's password travels with the
    /// secrets).
    UpdateRemoteFileShares {
        username: String,
        paths: Vec<String>,
        mode: PermissionMode,
        ignore: Vec<String>,
    },
    /// Fresh-start Outlook; ZeroConfigExchange as given.
    ResetOutlook { zero_config_exchange: Switch },
    /// Reset Office activation, Teams and OneNote.
    ResetM365Apps,
    /// Reset Edge's work profile.
    ResetEdge,
    /// Make OneDrive files of the source tenants cloud-only, unlink them, and move what is left
    /// into the target folder.
    OneDriveCloudOnly {
        source_tenants: Vec<Uuid>,
        target_folder_name: String,
    },
    /// OneDrive SilentAccountConfig.
    SetOneDriveSilentConfig { value: Switch },
    /// Reset Azure Information Protection to the target's hosts.
    ResetInformationProtection {
        source_hosts: Vec<String>,
        target_host: String,
    },
    /// Put the legal notice back.
    RestoreLegalNotice,
    /// Put back local group members, translated.
    RestoreLocalGroups,
    /// Re-register the AppX packages kept at Startup.
    RestoreAppxPackages,
    /// Resume BitLocker protectors.
    ResumeBitLocker,
    /// Put the previous lock-screen image back.
    RestoreLockScreenImage,
    /// Allow migrating users to log on again.
    AllowLogin,
    /// Delete the fallback administrator, now or after `delay_days`.
    RemoveFallbackAdmin { username: String, delay_days: i64 },
    /// LAN settings' "Automatically detect settings".
    SetProxyAutoDetect { value: Switch },
    /// Remove the agent; always the last step.
    UninstallAgent,
}

impl Action {
    /// The action's name as events and errors show it, e.g. `RunCommandPackage`.
    pub fn name(&self) -> &'static str {
        match self {
            Action::SuspendBitLocker => "SuspendBitLocker",
            Action::BackupLegalNotice => "BackupLegalNotice",
            Action::BackupLocalGroups => "BackupLocalGroups",
            Action::BackupAppxPackages => "BackupAppxPackages",
            Action::SetLegalNotice { .. } => "SetLegalNotice",
            Action::SetLockScreenImage { .. } => "SetLockScreenImage",
            Action::PreventLogin => "PreventLogin",
            Action::CreateFallbackAdmin { .. } => "CreateFallbackAdmin",
            Action::RunCommandPackage { .. } => "RunCommandPackage",
            Action::CacheCredentials => "CacheCredentials",
            Action::LeaveActiveDirectory => "LeaveActiveDirectory",
            Action::LeaveEntra => "LeaveEntra",
            Action::ResetAutopilot => "ResetAutopilot",
            Action::RenameComputer { .. } => "RenameComputer",
            Action::JoinActiveDirectory { .. } => "JoinActiveDirectory",
            Action::JoinEntra { .. } => "JoinEntra",
            Action::SetHybridJoinTenant { .. } => "SetHybridJoinTenant",
            Action::EnrollIntune => "EnrollIntune",
            Action::ResetWindowsHello => "ResetWindowsHello",
            Action::UpdatePermissions { .. } => "UpdatePermissions",
            Action::UpdateAreaPermissions { .. } => "UpdateAreaPermissions",
            Action::UpdateRemoteFileShares { .. } => "UpdateRemoteFileShares",
            Action::ResetOutlook { .. } => "ResetOutlook",
            Action::ResetM365Apps => "ResetM365Apps",
            Action::ResetEdge => "ResetEdge",
            Action::OneDriveCloudOnly { .. } => "OneDriveCloudOnly",
            Action::SetOneDriveSilentConfig { .. } => "SetOneDriveSilentConfig",
            Action::ResetInformationProtection { .. } => "ResetInformationProtection",
            Action::RestoreLegalNotice => "RestoreLegalNotice",
            Action::RestoreLocalGroups => "RestoreLocalGroups",
            Action::RestoreAppxPackages => "RestoreAppxPackages",
            Action::ResumeBitLocker => "ResumeBitLocker",
            Action::RestoreLockScreenImage => "RestoreLockScreenImage",
            Action::AllowLogin => "AllowLogin",
            Action::RemoveFallbackAdmin { .. } => "RemoveFallbackAdmin",
            Action::SetProxyAutoDetect { .. } => "SetProxyAutoDetect",
            Action::UninstallAgent => "UninstallAgent",
        }
    }
}

/// The caption and plain text of the legal notice the User Experience tab gives, in its default
/// culture: Windows shows `legalnoticetext` as plain text, so markup is dropped.
fn legal_notice_of(runbook: &Runbook) -> (String, String) {
    let ux = &runbook.user_experience;
    let culture = ux
        .culture(&ux.default_culture)
        .or_else(|| ux.cultures.first());
    match culture {
        Some(culture) => (
            culture.dialogs.migration_in_progress.title.clone(),
            plain_text(culture.legal_notice.as_str()),
        ),
        None => (String::new(), String::new()),
    }
}

/// `html` without its tags and with its five entities decoded, whitespace collapsed.
fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How an Active Directory join is done, carried in its step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdJoinOptions {
    /// Join offline from a blob the server prepares.
    pub offline: bool,
    /// Take over an existing computer account of the same name.
    pub reuse_existing_account: bool,
    /// OU DN; blank for the domain default.
    pub computer_ou: String,
    /// Account for an online join (its password travels with the secrets).
    pub username: String,
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
///
/// Default processing follows DESIGN.md exactly: BitLocker suspended at Startup when a join is
/// chosen; the legal notice backed up at Startup always; local group members backed up when both
/// a leave and a join are chosen; AppX packages backed up and Windows Hello reset when a join is
/// chosen. Do Not Run Startup skips the Startup tab's own steps (BitLocker, legal notice and the
/// tab's settings); the local group and AppX backups belong to Device State's processing, so they
/// still run, under their historical `startup/` ids, before Device State. Completion reverts what
/// was done, and only when it runs.
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
    let leaves = state.remove_from != RemoveFrom::None;
    let leaves_ad = state.remove_from.leaves_ad()
        && matches!(device.join_state, JoinState::ActiveDirectory { .. });
    let leaves_entra =
        state.remove_from.leaves_entra() && matches!(device.join_state, JoinState::Entra { .. });
    let startup = !runbook.startup.do_not_run;
    let completion = !runbook.completion.do_not_run;
    let tab = &runbook.startup;
    let backs_up_groups = leaves && joins;
    let fallback = if startup {
        tab.admin_fallback.as_ref()
    } else {
        None
    };
    let lock_screen = startup && tab.lock_screen_image != LockScreenImage::None;

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

    if startup && joins {
        add(
            Phase::Startup,
            "suspend-bitlocker",
            Action::SuspendBitLocker,
        );
    }
    if startup {
        add(
            Phase::Startup,
            "backup-legal-notice",
            Action::BackupLegalNotice,
        );
    }
    if backs_up_groups {
        add(
            Phase::Startup,
            "backup-local-groups",
            Action::BackupLocalGroups,
        );
    }
    if joins {
        add(Phase::Startup, "backup-appx", Action::BackupAppxPackages);
    }
    if startup {
        if tab.set_legal_notice {
            let (caption, text) = legal_notice_of(runbook);
            add(
                Phase::Startup,
                "set-legal-notice",
                Action::SetLegalNotice { caption, text },
            );
        }
        if lock_screen {
            add(
                Phase::Startup,
                "set-lock-screen",
                Action::SetLockScreenImage {
                    image: tab.lock_screen_image.clone(),
                },
            );
        }
        if tab.prevent_login {
            add(Phase::Startup, "prevent-login", Action::PreventLogin);
        }
        if let Some(admin) = fallback {
            add(
                Phase::Startup,
                "create-fallback-admin",
                Action::CreateFallbackAdmin {
                    username: admin.username.trim().to_string(),
                },
            );
        }
        if let Some(package) = &tab.command_package {
            add(
                Phase::Startup,
                "command-package",
                Action::RunCommandPackage {
                    package: package.clone(),
                },
            );
        }
    }

    if state.cache_user_credentials {
        add(
            Phase::DeviceState,
            "cache-credentials",
            Action::CacheCredentials,
        );
    }
    if leaves_ad {
        add(Phase::DeviceState, "leave-ad", Action::LeaveActiveDirectory);
    }
    if leaves_entra {
        add(Phase::DeviceState, "leave-entra", Action::LeaveEntra);
    }
    if state.reset_autopilot {
        add(
            Phase::DeviceState,
            "reset-autopilot",
            Action::ResetAutopilot,
        );
    }
    if let Some(rename) = &state.rename {
        add(
            Phase::DeviceState,
            "rename",
            Action::RenameComputer {
                template: rename.template.clone(),
            },
        );
    }
    match state.domain_join {
        DomainJoin::None => {}
        DomainJoin::ActiveDirectory => {
            let ad = &state.active_directory;
            add(
                Phase::DeviceState,
                "join-ad",
                Action::JoinActiveDirectory {
                    domain: target.domain.clone(),
                    options: AdJoinOptions {
                        offline: ad.offline_domain_join,
                        reuse_existing_account: ad.reuse_existing_computer_account,
                        computer_ou: ad.computer_ou.trim().to_string(),
                        username: ad.username.trim().to_string(),
                    },
                },
            )
        }
        DomainJoin::Entra => add(
            Phase::DeviceState,
            "join-entra",
            Action::JoinEntra {
                tenant: target.domain.clone(),
            },
        ),
    }
    if let Some(hybrid) = &state.hybrid_join {
        add(
            Phase::DeviceState,
            "hybrid-join-tenant",
            Action::SetHybridJoinTenant {
                tenant_name: hybrid.tenant_name.trim().to_string(),
                tenant_id: hybrid.tenant_id.trim().to_ascii_lowercase(),
            },
        );
    }
    if state.enroll_intune && state.domain_join == DomainJoin::Entra {
        add(Phase::DeviceState, "enroll-intune", Action::EnrollIntune);
    }
    if joins {
        add(
            Phase::DeviceState,
            "reset-windows-hello",
            Action::ResetWindowsHello,
        );
    }

    let permissions = &runbook.permissions;
    let mode = permissions.mode;
    if mode != PermissionMode::DontUpdate {
        let ignore: Vec<String> = permissions
            .ignore
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        for area in Area::ALL {
            if !permissions.areas.contains(&area) {
                continue;
            }
            let action = match area {
                Area::WindowsProfiles => Some(PermissionArea::WindowsProfiles),
                Area::FileSystem => Some(PermissionArea::FileSystem),
                Area::LocalGroups => Some(PermissionArea::LocalGroups),
                _ => None,
            }
            .map_or_else(
                || Action::UpdateAreaPermissions {
                    area,
                    mode,
                    ignore: ignore.clone(),
                },
                |area| Action::UpdatePermissions {
                    area,
                    mode,
                    ignore: ignore.clone(),
                },
            );
            add(Phase::Permissions, area.slug(), action);
        }
        if let Some(remote) = &permissions.remote_file_shares {
            add(
                Phase::Permissions,
                "remote-file-shares",
                Action::UpdateRemoteFileShares {
                    username: remote.username.trim().to_string(),
                    paths: parse_unc_paths("", &remote.paths).unwrap_or_default(),
                    mode,
                    ignore: ignore.clone(),
                },
            );
        }
    }

    let apps = &runbook.apps;
    if apps.mode == AppMode::Reconfigure {
        if apps.outlook {
            add(
                Phase::Apps,
                "outlook",
                Action::ResetOutlook {
                    zero_config_exchange: apps.outlook_zero_config_exchange,
                },
            );
        }
        if apps.other_m365_apps {
            add(Phase::Apps, "m365-apps", Action::ResetM365Apps);
        }
        if apps.edge {
            add(Phase::Apps, "edge", Action::ResetEdge);
        }
        let onedrive = &apps.onedrive;
        if onedrive.cloud_only {
            add(
                Phase::Apps,
                "onedrive-cloud-only",
                Action::OneDriveCloudOnly {
                    source_tenants: parse_tenant_ids("", &onedrive.source_tenants)
                        .unwrap_or_default(),
                    target_folder_name: onedrive.target_folder_name.clone(),
                },
            );
        }
        if onedrive.silent_account_config != Switch::LeaveAlone {
            add(
                Phase::Apps,
                "onedrive-silent-config",
                Action::SetOneDriveSilentConfig {
                    value: onedrive.silent_account_config,
                },
            );
        }
        if let Some(aip) = &apps.information_protection {
            add(
                Phase::Apps,
                "information-protection",
                Action::ResetInformationProtection {
                    source_hosts: aip
                        .source_hosts
                        .lines()
                        .map(str::trim)
                        .filter(|h| !h.is_empty())
                        .map(str::to_string)
                        .collect(),
                    target_host: aip.target_host.trim().to_string(),
                },
            );
        }
    }

    // Completion reverts what was done before it, and only what was done.
    if completion {
        let end = &runbook.completion;
        if startup {
            add(
                Phase::Completion,
                "restore-legal-notice",
                Action::RestoreLegalNotice,
            );
        }
        if backs_up_groups {
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
        }
        if startup && joins {
            add(
                Phase::Completion,
                "resume-bitlocker",
                Action::ResumeBitLocker,
            );
        }
        if lock_screen {
            add(
                Phase::Completion,
                "restore-lock-screen",
                Action::RestoreLockScreenImage,
            );
        }
        if startup && tab.prevent_login {
            add(Phase::Completion, "allow-login", Action::AllowLogin);
        }
        if let Some(admin) = fallback {
            add(
                Phase::Completion,
                "remove-fallback-admin",
                Action::RemoveFallbackAdmin {
                    username: admin.username.trim().to_string(),
                    delay_days: admin.delay_deletion_days,
                },
            );
        }
        if end.proxy_autodetect != Switch::LeaveAlone {
            add(
                Phase::Completion,
                "proxy-autodetect",
                Action::SetProxyAutoDetect {
                    value: end.proxy_autodetect,
                },
            );
        }
        if let Some(package) = &end.command_package {
            add(
                Phase::Completion,
                "command-package",
                Action::RunCommandPackage {
                    package: package.clone(),
                },
            );
        }
        if end.uninstall_agent {
            add(Phase::Completion, "uninstall-agent", Action::UninstallAgent);
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests;
