//! App Reconfiguration tab: resetting Microsoft apps so they sign in to the target.

use serde::{Deserialize, Serialize};

use super::keep;
use crate::rules::{check_onedrive_folder, parse_tenant_ids};
use crate::Validator;

/// Whether apps are reconfigured at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppMode {
    /// Leave apps alone.
    #[default]
    DontReconfigure,
    /// Run the selected reconfigurations.
    Reconfigure,
}

/// A registry-backed switch the runbook may leave, clear or set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Switch {
    /// Do not touch it.
    #[default]
    LeaveAlone,
    /// Remove the value.
    Clear,
    /// Set it on.
    Set,
}

/// OneDrive for Business.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneDrive {
    /// Mark synced files cloud-only and unlink the source tenants' accounts.
    #[serde(default)]
    pub cloud_only: bool,
    /// OneDrive SilentAccountConfig.
    #[serde(default)]
    pub silent_account_config: Switch,
    /// Source tenant ids, one per line.
    #[serde(default)]
    pub source_tenants: String,
    /// Local folder of the target OneDrive, `OneDrive - ` then the organisation's name.
    #[serde(default)]
    pub target_folder_name: String,
}

/// Azure Information Protection: re-bootstrap against the target's RMS hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformationProtection {
    /// Source distribution point hosts, one per line.
    pub source_hosts: String,
    /// Target distribution point host.
    pub target_host: String,
}

/// App Reconfiguration tab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSettings {
    /// Don't / reconfigure.
    #[serde(default)]
    pub mode: AppMode,
    /// Fresh-start Outlook, keeping the old profile hidden.
    #[serde(default)]
    pub outlook: bool,
    /// Outlook ZeroConfigExchange.
    #[serde(default)]
    pub outlook_zero_config_exchange: Switch,
    /// Reset Office activation, Teams and OneNote.
    #[serde(default)]
    pub other_m365_apps: bool,
    /// Reset Edge's work profile so the user can sign in again and merge.
    #[serde(default)]
    pub edge: bool,
    /// OneDrive settings.
    #[serde(default)]
    pub onedrive: OneDrive,
    /// Optional Azure Information Protection reset.
    #[serde(default)]
    pub information_protection: Option<InformationProtection>,
}

/// A DNS host name, e.g. `93d0ccaa-e416-4c74-a673-9f0df129847a.rms.eu.aadrm.com`.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl AppSettings {
    pub(super) fn check(&self, v: &mut Validator) {
        let od = &self.onedrive;
        let tenants = parse_tenant_ids("apps.onedrive.source_tenants", &od.source_tenants);
        let reconfigure = self.mode == AppMode::Reconfigure;
        match tenants {
            Ok(ids) => v.check(
                !(reconfigure && od.cloud_only && ids.is_empty()),
                "apps.onedrive.source_tenants",
                "list the source tenant ids whose OneDrive files go cloud-only, one per line",
            ),
            Err(e) => keep(v, Err(e)),
        }
        if (reconfigure && od.cloud_only) || !od.target_folder_name.is_empty() {
            keep(
                v,
                check_onedrive_folder("apps.onedrive.target_folder_name", &od.target_folder_name),
            );
        }
        if let Some(aip) = &self.information_protection {
            let mut any = false;
            for (i, line) in aip.source_hosts.lines().enumerate() {
                let host = line.trim();
                if host.is_empty() {
                    continue;
                }
                any = true;
                v.check(
                    is_host(host),
                    "apps.information_protection.source_hosts",
                    format!(
                        "line {}: {:?} is not a host name such as tenant.rms.eu.aadrm.com",
                        i + 1,
                        host
                    ),
                );
            }
            v.check(
                any,
                "apps.information_protection.source_hosts",
                "list the source distribution point hosts, one per line",
            );
            v.check(
                is_host(aip.target_host.trim()),
                "apps.information_protection.target_host",
                "the target distribution point host, such as tenant.rms.eu.aadrm.com",
            );
        }
    }
}
