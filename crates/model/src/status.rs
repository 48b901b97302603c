//! Where a device stands with a runbook, and the phases a runbook runs in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Per device and runbook, what the progress reports count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AgentStatus {
    /// A step failed; the device is recoverable and the error is in its log.
    Error,
    /// The computer is in a batch but no agent has registered for it.
    NoAgent,
    /// The agent has the assignment but it is not available to start yet.
    NotAvailable,
    /// Available or enforced, not yet started.
    NotStarted,
    /// Running.
    InProgress,
    /// Every phase finished.
    Completed,
}

impl AgentStatus {
    /// Every status, in the order the dashboard lists them.
    pub const ALL: [AgentStatus; 6] = [
        AgentStatus::Error,
        AgentStatus::NoAgent,
        AgentStatus::NotAvailable,
        AgentStatus::NotStarted,
        AgentStatus::InProgress,
        AgentStatus::Completed,
    ];

    /// The stable name used in the store, the API and CSV exports.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Error => "Error",
            AgentStatus::NoAgent => "NoAgent",
            AgentStatus::NotAvailable => "NotAvailable",
            AgentStatus::NotStarted => "NotStarted",
            AgentStatus::InProgress => "InProgress",
            AgentStatus::Completed => "Completed",
        }
    }

    /// The words the console shows.
    pub fn label(self) -> &'static str {
        match self {
            AgentStatus::Error => "Error",
            AgentStatus::NoAgent => "No Agent",
            AgentStatus::NotAvailable => "Not Available",
            AgentStatus::NotStarted => "Not Started",
            AgentStatus::InProgress => "In Progress",
            AgentStatus::Completed => "Completed",
        }
    }
}

impl fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for AgentStatus {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<AgentStatus> {
        AgentStatus::ALL
            .iter()
            .copied()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| crate::Error::field("status", format!("unknown status {:?}", s)))
    }
}

/// The five phases of a runbook, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Phase {
    /// Prepare the device and the user: backups, notices, fallback account.
    Startup,
    /// Leave the source directory and join the target.
    DeviceState,
    /// Re-permission profiles and data by translating SIDs.
    Permissions,
    /// Reset and reconfigure the Microsoft apps.
    Apps,
    /// Revert the temporary changes and finish.
    Completion,
}

impl Phase {
    /// Every phase in running order.
    pub const ALL: [Phase; 5] = [
        Phase::Startup,
        Phase::DeviceState,
        Phase::Permissions,
        Phase::Apps,
        Phase::Completion,
    ];

    /// The words the console shows.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Startup => "Startup",
            Phase::DeviceState => "Device State",
            Phase::Permissions => "Permissions",
            Phase::Apps => "Apps",
            Phase::Completion => "Completion",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Severity of an agent event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventLevel {
    /// Progress.
    Info,
    /// Something an engineer should look at; the runbook goes on.
    Warning,
    /// A step failed.
    Error,
}

impl EventLevel {
    /// The stable name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            EventLevel::Info => "Info",
            EventLevel::Warning => "Warning",
            EventLevel::Error => "Error",
        }
    }
}
