//! Runbooks: the instructions an agent runs, as general settings plus six tabs.

use serde::{Deserialize, Serialize};

use crate::ids::{DirectoryId, RunbookId};
use crate::{Result, Validator};

/// A runbook as configured in the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runbook {
    /// Its id.
    pub id: RunbookId,
    /// A unique, recognisable name.
    pub name: String,
    /// Directories whose devices this runbook may migrate.
    pub source_directories: Vec<DirectoryId>,
    /// The directory devices end up in.
    pub target_directory: DirectoryId,
    /// Whether the runbook may run on a server edition of Windows.
    #[serde(default)]
    pub allow_on_server_os: bool,
    /// Startup tab.
    #[serde(default)]
    pub startup: StartupSettings,
    /// Device State tab.
    #[serde(default)]
    pub device_state: DeviceStateSettings,
    /// Permission Updates tab.
    #[serde(default)]
    pub permissions: PermissionSettings,
    /// Completion tab.
    #[serde(default)]
    pub completion: CompletionSettings,
}

/// Startup tab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartupSettings {
    /// Skip the whole Startup phase, default processing included.
    #[serde(default)]
    pub do_not_run: bool,
}

/// Where a device is removed from before it joins the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoveFrom {
    /// Stay joined.
    #[default]
    None,
    /// Leave the Active Directory domain.
    ActiveDirectory,
    /// Leave the Entra tenant.
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
    /// Join the target Entra tenant.
    Entra,
}

/// Device State tab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStateSettings {
    /// What the device leaves.
    #[serde(default)]
    pub remove_from: RemoveFrom,
    /// What the device joins.
    #[serde(default)]
    pub domain_join: DomainJoin,
}

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

/// Permission Updates tab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionSettings {
    /// Don't / only add / add and remove.
    #[serde(default)]
    pub mode: PermissionMode,
}

/// Completion tab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionSettings {
    /// Skip the whole Completion phase, reverting default processing included.
    #[serde(default)]
    pub do_not_run: bool,
}

impl Runbook {
    /// Checks every rule; the error names each field that breaks one.
    pub fn validate(&self) -> Result<()> {
        let mut v = Validator::default();
        let name = self.name.trim();
        v.check(!name.is_empty(), "name", "a runbook needs a name");
        v.check(name.len() <= 100, "name", "at most 100 characters");
        v.check(
            !self.source_directories.is_empty(),
            "source_directories",
            "choose at least one source directory",
        );
        for (i, source) in self.source_directories.iter().enumerate() {
            if self.source_directories[..i].contains(source) {
                v.fail(format!("source_directories[{}]", i), "listed twice");
            }
        }
        v.check(
            !self.source_directories.contains(&self.target_directory)
                || self.device_state.domain_join == DomainJoin::None,
            "target_directory",
            "a device cannot leave and join the same directory",
        );
        v.finish()
    }
}
