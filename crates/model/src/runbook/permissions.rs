//! Permission Updates tab: which SIDs are translated where, and how.

use serde::{Deserialize, Serialize};

use super::{keep, Secret};
use crate::rules::parse_unc_paths;
use crate::Validator;

/// How permissions are updated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PermissionMode {
    /// Leave permissions as they are.
    #[default]
    DontUpdate,
    /// Add a target ACE beside each source ACE; the source keeps access.
    AddOnly,
    /// Replace each source ACE with its target ACE.
    AddAndRemove,
}

/// The thirteen areas whose permissions can be translated on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Area {
    /// Profile list entries and profile folders.
    WindowsProfiles,
    /// Files and folders on local volumes.
    FileSystem,
    /// Registry keys.
    Registry,
    /// Members of local groups.
    LocalGroups,
    /// Shares the device publishes.
    FileShares,
    /// Local printers and their shares.
    Printers,
    /// Service accounts and service security.
    Services,
    /// User rights assignments.
    UserRights,
    /// SQL Server logons.
    Sql,
    /// IIS application pool identities and site permissions.
    Iis,
    /// DCOM launch and access permissions.
    Dcom,
    /// WMI namespaces' security (every namespace from `root` down).
    WmiNamespaces,
    /// Scheduled tasks' principals and security.
    ScheduledTasks,
}

impl Area {
    /// Every area, in the order the plan runs them.
    pub const ALL: [Area; 13] = [
        Area::WindowsProfiles,
        Area::FileSystem,
        Area::Registry,
        Area::LocalGroups,
        Area::FileShares,
        Area::Printers,
        Area::Services,
        Area::UserRights,
        Area::Sql,
        Area::Iis,
        Area::Dcom,
        Area::WmiNamespaces,
        Area::ScheduledTasks,
    ];

    /// The area's part of its step id, e.g. `file-system`.
    pub fn slug(self) -> &'static str {
        match self {
            Area::WindowsProfiles => "windows-profiles",
            Area::FileSystem => "file-system",
            Area::Registry => "registry",
            Area::LocalGroups => "local-groups",
            Area::FileShares => "file-shares",
            Area::Printers => "printers",
            Area::Services => "services",
            Area::UserRights => "user-rights",
            Area::Sql => "sql",
            Area::Iis => "iis",
            Area::Dcom => "dcom",
            Area::WmiNamespaces => "wmi-namespaces",
            Area::ScheduledTasks => "scheduled-tasks",
        }
    }
}

/// Paths never repermissioned unless the engineer removes them.
pub const DEFAULT_IGNORE: [&str; 4] = [
    "%SystemRoot%\\*",
    "%ProgramFiles%\\*",
    "%ProgramFiles(x86)%\\*",
    "*:\\System Volume Information\\*",
];

/// Shares on other hosts (a NAS, a file server without an agent) repermissioned from this
/// device with an account that may change their ACLs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteFileShares {
    /// Account that may change the shares' permissions.
    pub username: String,
    /// Write-only: accepted on input, never serialized back out.
    #[serde(default, skip_serializing)]
    pub password: Secret,
    /// UNC paths, one per line.
    pub paths: String,
}

/// Permission Updates tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSettings {
    /// Don't / only add / add and remove.
    #[serde(default)]
    pub mode: PermissionMode,
    /// Areas repermissioned. A runbook saved before areas were configurable planned Windows
    /// Profiles, File System and Local Groups, so that is what a missing list means; the console
    /// offers [`Area::ALL`] for a new runbook.
    #[serde(default = "legacy_areas")]
    pub areas: Vec<Area>,
    /// Path patterns left alone.
    #[serde(default = "default_ignore")]
    pub ignore: Vec<String>,
    /// Optional remote file shares.
    #[serde(default)]
    pub remote_file_shares: Option<RemoteFileShares>,
    /// Leave the profiles of users without a translation as they are, instead of refusing to
    /// start (a profile left behind is one its user no longer reaches).
    #[serde(default)]
    pub skip_untranslated_profiles: bool,
}

fn legacy_areas() -> Vec<Area> {
    vec![Area::WindowsProfiles, Area::FileSystem, Area::LocalGroups]
}

fn default_ignore() -> Vec<String> {
    default_ignore_patterns()
}

/// [`DEFAULT_IGNORE`] as the owned list a runbook holds.
pub fn default_ignore_patterns() -> Vec<String> {
    DEFAULT_IGNORE.iter().map(|s| s.to_string()).collect()
}

impl Default for PermissionSettings {
    fn default() -> PermissionSettings {
        PermissionSettings {
            mode: PermissionMode::default(),
            areas: legacy_areas(),
            ignore: default_ignore(),
            remote_file_shares: None,
            skip_untranslated_profiles: false,
        }
    }
}

impl PermissionSettings {
    pub(super) fn check(&self, v: &mut Validator) {
        for (i, area) in self.areas.iter().enumerate() {
            v.check(
                !self.areas[..i].contains(area),
                format!("permissions.areas[{}]", i),
                "this area is listed twice",
            );
        }
        for (i, pattern) in self.ignore.iter().enumerate() {
            let field = format!("permissions.ignore[{}]", i);
            let p = pattern.trim();
            if p.is_empty() {
                v.fail(field, "an empty pattern would match nothing: remove it");
            } else if self.ignore[..i]
                .iter()
                .any(|q| q.trim().eq_ignore_ascii_case(p))
            {
                v.fail(field, "this pattern is listed twice");
            } else if p.contains(['<', '>', '|', '"']) {
                v.fail(field, "a path pattern cannot contain < > | or \"");
            }
        }
        if let Some(remote) = &self.remote_file_shares {
            v.check(
                !remote.username.trim().is_empty(),
                "permissions.remote_file_shares.username",
                "give the account that may change the shares' permissions",
            );
            match parse_unc_paths("permissions.remote_file_shares.paths", &remote.paths) {
                Ok(paths) => v.check(
                    !paths.is_empty(),
                    "permissions.remote_file_shares.paths",
                    "list at least one share as \\\\server\\share, one per line",
                ),
                Err(e) => keep(v, Err(e)),
            }
        }
    }
}
