//! Device State tab: what the device leaves, what it joins, and what changes with it.

use serde::{Deserialize, Serialize};

use super::{keep, Secret};
use crate::rename;
use crate::rules::check_computer_ou;
use crate::Validator;

/// Where a device is removed from before it joins the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoveFrom {
    /// Stay joined.
    #[default]
    None,
    /// Leave the Active Directory domain.
    ActiveDirectory,
    /// Leave the Entra tenant (and its Intune enrolment).
    Entra,
    /// Leave both.
    All,
}

impl RemoveFrom {
    /// True when the device leaves an Active Directory domain.
    pub fn leaves_ad(self) -> bool {
        matches!(self, RemoveFrom::ActiveDirectory | RemoveFrom::All)
    }

    /// True when the device leaves an Entra tenant.
    pub fn leaves_entra(self) -> bool {
        matches!(self, RemoveFrom::Entra | RemoveFrom::All)
    }
}

/// Which directory a device joins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DomainJoin {
    /// No join.
    #[default]
    None,
    /// Join the target Active Directory domain.
    ActiveDirectory,
    /// Join the target Entra tenant with its bulk enrollment token.
    Entra,
}

/// How an Active Directory join is done; used only when Domain Join is Active Directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveDirectoryJoin {
    /// Join offline from a blob the server prepares, for devices without sight of a target DC.
    /// Users need cached target credentials first (Cache User Credentials here or in a
    /// prerequisite runbook).
    #[serde(default)]
    pub offline_domain_join: bool,
    /// Take over a computer account of the same name that already exists in the target.
    #[serde(default)]
    pub reuse_existing_computer_account: bool,
    /// DN of the OU for the computer account; blank for the domain's default container.
    #[serde(default)]
    pub computer_ou: String,
    /// Account allowed to create computer objects; needed for an online join.
    #[serde(default)]
    pub username: String,
    /// Write-only: accepted on input, never serialized back out.
    #[serde(default, skip_serializing)]
    pub password: Secret,
}

/// Rename the computer while it moves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rename {
    /// New name with `%SERIAL%` and `%RAND:X%`; the result must be a NetBIOS name.
    pub template: String,
}

/// Points a device that stays in its domain at another tenant for hybrid join (client-side
/// SCP), skipping the domain's own SCP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HybridJoin {
    /// The tenant's `….onmicrosoft.com` name.
    pub tenant_name: String,
    /// The tenant's id (a GUID).
    pub tenant_id: String,
}

/// Device State tab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStateSettings {
    /// Ask each user for target credentials and cache them (for offline domain join).
    #[serde(default)]
    pub cache_user_credentials: bool,
    /// What the device leaves.
    #[serde(default)]
    pub remove_from: RemoveFrom,
    /// What the device joins.
    #[serde(default)]
    pub domain_join: DomainJoin,
    /// Options of an Active Directory join.
    #[serde(default)]
    pub active_directory: ActiveDirectoryJoin,
    /// Optional rename.
    #[serde(default)]
    pub rename: Option<Rename>,
    /// Optional Hybrid Join Controlled Validation.
    #[serde(default)]
    pub hybrid_join: Option<HybridJoin>,
    /// Keep prompting Intune enrolment after an Entra join until it succeeds.
    #[serde(default)]
    pub enroll_intune: bool,
    /// Remove the source tenant's Autopilot profile cached on the device, so a later reset of
    /// Windows does not enrol it back into the source tenant.
    #[serde(default)]
    pub reset_autopilot: bool,
}

impl DeviceStateSettings {
    pub(super) fn check(&self, v: &mut Validator) {
        if self.domain_join == DomainJoin::ActiveDirectory {
            let ad = &self.active_directory;
            keep(
                v,
                check_computer_ou("device_state.active_directory.computer_ou", &ad.computer_ou),
            );
            if !ad.offline_domain_join {
                v.check(
                    !ad.username.trim().is_empty(),
                    "device_state.active_directory.username",
                    "an online join needs an account that may create computer objects",
                );
            }
            v.check(
                !ad.password.is_set() || !ad.username.trim().is_empty(),
                "device_state.active_directory.username",
                "a join password needs the account it belongs to",
            );
        }
        if let Some(rename) = &self.rename {
            keep(v, rename::check_template(&rename.template));
        }
        if let Some(hybrid) = &self.hybrid_join {
            let name = hybrid.tenant_name.trim().to_ascii_lowercase();
            let label = name.strip_suffix(".onmicrosoft.com").unwrap_or("");
            v.check(
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "device_state.hybrid_join.tenant_name",
                "the tenant's name ending in .onmicrosoft.com, e.g. fabrikam.onmicrosoft.com",
            );
            v.check(
                uuid::Uuid::parse_str(hybrid.tenant_id.trim()).is_ok(),
                "device_state.hybrid_join.tenant_id",
                "the tenant id is a GUID such as 00000000-0000-0000-0000-000000000000",
            );
            v.check(
                self.domain_join == DomainJoin::None,
                "device_state.hybrid_join",
                "hybrid join controlled validation is for devices that stay in their domain: set Domain Join to None",
            );
        }
        v.check(
            !(self.cache_user_credentials && self.domain_join == DomainJoin::Entra),
            "device_state.cache_user_credentials",
            "cached credentials serve an offline Active Directory join; an Entra join does not use them",
        );
        v.check(
            !self.enroll_intune || self.domain_join == DomainJoin::Entra,
            "device_state.enroll_intune",
            "Intune enrolment follows an Entra join: set Domain Join to Entra",
        );
    }
}
