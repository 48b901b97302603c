//! Completion tab: what runs after the device has moved, besides reverting default processing.

use serde::{Deserialize, Serialize};

use super::apps::Switch;
use super::{check_package, CommandPackageRef};
use crate::Validator;

/// Completion tab.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionSettings {
    /// Skip the whole Completion phase, reverting default processing included.
    #[serde(default)]
    pub do_not_run: bool,
    /// LAN settings' "Automatically detect settings".
    #[serde(default)]
    pub proxy_autodetect: Switch,
    /// Optional command package run as SYSTEM at Completion.
    #[serde(default)]
    pub command_package: Option<CommandPackageRef>,
    /// Remove the agent at the very end (users then miss the Migration Complete dialog).
    #[serde(default)]
    pub uninstall_agent: bool,
}

impl CompletionSettings {
    pub(super) fn check(&self, v: &mut Validator) {
        if let Some(package) = &self.command_package {
            check_package(v, "completion.command_package", package);
        }
    }
}
