//! Startup tab: how visible the run is, and what the device is prepared with before its join
//! state changes.

use serde::{Deserialize, Serialize};

use super::{check_package, keep, CommandPackageRef, Secret};
use crate::rules::{check_days, PasswordPolicy};
use crate::Validator;

/// How much of the run the signed-in user sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserInteraction {
    /// Nothing is shown: typical for prerequisite runbooks.
    Silent,
    /// The dialogs of the User Experience tab are shown.
    #[default]
    ShowProgress,
}

/// The image shown on the lock screen while the migration runs; the previous one comes back at
/// Completion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum LockScreenImage {
    /// Leave the lock screen alone.
    #[default]
    None,
    /// rehome's own "migration in progress" image.
    Builtin,
    /// An uploaded image, stored once and referenced by its SHA-256.
    Custom {
        /// File name as uploaded, for display.
        name: String,
        /// Lower-case hex SHA-256 of the image.
        sha256: String,
    },
}

/// A local administrator created at Startup so a device that fails half-way can still be
/// signed in to; deleted at Completion (or that many days later).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminFallback {
    /// Local account name.
    pub username: String,
    /// Write-only: accepted on input, never serialized back out.
    #[serde(default, skip_serializing)]
    pub password: Secret,
    /// Whole days to keep the account after Completion, 0–365.
    #[serde(default)]
    pub delay_deletion_days: i64,
}

/// Startup tab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupSettings {
    /// Skip the whole Startup phase, its default processing included.
    #[serde(default)]
    pub do_not_run: bool,
    /// Silent or Show Progress.
    #[serde(default)]
    pub interaction: UserInteraction,
    /// Lock-screen image while the migration runs.
    #[serde(default)]
    pub lock_screen_image: LockScreenImage,
    /// Show the User Experience tab's legal notice at sign-in while the migration runs.
    #[serde(default)]
    pub set_legal_notice: bool,
    /// Deny interactive logon to migrating users until Completion.
    #[serde(default)]
    pub prevent_login: bool,
    /// Optional fallback administrator.
    #[serde(default)]
    pub admin_fallback: Option<AdminFallback>,
    /// Optional command package run as SYSTEM at Startup.
    #[serde(default)]
    pub command_package: Option<CommandPackageRef>,
    /// How old, in hours, the device's readiness checks may be when its runbook starts (1–720);
    /// none: [`DEFAULT_READINESS_MAX_AGE_HOURS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_max_age_hours: Option<u32>,
}

/// How old a device's readiness checks may be at its start, unless the runbook says otherwise.
pub const DEFAULT_READINESS_MAX_AGE_HOURS: u32 = 72;

/// Characters Windows refuses in a local account name.
const BAD_USER_CHARS: &str = "\"/\\[]:;|=,+*?<>@";

impl StartupSettings {
    /// How old, in hours, the readiness checks may be when the runbook starts on a device.
    pub fn readiness_max_age_hours(&self) -> u32 {
        self.readiness_max_age_hours
            .unwrap_or(DEFAULT_READINESS_MAX_AGE_HOURS)
    }

    pub(super) fn check(&self, v: &mut Validator, policy: &PasswordPolicy) {
        if let Some(hours) = self.readiness_max_age_hours {
            v.check(
                (1..=720).contains(&hours),
                "startup.readiness_max_age_hours",
                "readiness checks may be 1 to 720 hours old at the start",
            );
        }
        if let LockScreenImage::Custom { name, sha256 } = &self.lock_screen_image {
            let lower = name.to_ascii_lowercase();
            v.check(
                [".png", ".jpg", ".jpeg", ".bmp"]
                    .iter()
                    .any(|ext| lower.ends_with(ext)),
                "startup.lock_screen_image.name",
                "upload a .png, .jpg or .bmp image",
            );
            v.check(
                super::is_sha256(sha256),
                "startup.lock_screen_image.sha256",
                "not a SHA-256 hash: upload the image again",
            );
        }
        if let Some(admin) = &self.admin_fallback {
            let user = admin.username.trim();
            if user.is_empty() {
                v.fail(
                    "startup.admin_fallback.username",
                    "give the fallback account a name, or turn the fallback account off",
                );
            } else if user.chars().count() > 20
                || user
                    .chars()
                    .any(|c| BAD_USER_CHARS.contains(c) || c.is_control())
                || user.ends_with('.')
            {
                v.fail(
                    "startup.admin_fallback.username",
                    "a local account name has at most 20 characters, none of \" / \\ [ ] : ; | = , + * ? < > @, and does not end with a dot",
                );
            }
            if let Some(password) = admin.password.expose() {
                keep(
                    v,
                    policy.check("startup.admin_fallback.password", user, password),
                );
            }
            keep(
                v,
                check_days(
                    "startup.admin_fallback.delay_deletion_days",
                    admin.delay_deletion_days,
                    0,
                    365,
                ),
            );
        }
        if let Some(package) = &self.command_package {
            check_package(v, "startup.command_package", package);
        }
    }
}
