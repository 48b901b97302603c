//! The seven roles and what each may do, as pure data.

use serde::{Deserialize, Serialize};

/// A role a console user holds. Users may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Role {
    /// Everything, including users and roles.
    TenantAdmin,
    /// Edits directories, scopes, match profiles and schedules.
    SyncAdmin,
    /// Runs imports and matching.
    SyncOperator,
    /// Reads the directory side.
    SyncViewer,
    /// Edits runbooks, PSKs, certificates and batches.
    AgentAdmin,
    /// Schedules batches and acts on agents; cannot edit runbooks.
    AgentOperator,
    /// Reads the migration side.
    AgentViewer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 7] = [
        Role::TenantAdmin,
        Role::SyncAdmin,
        Role::SyncOperator,
        Role::SyncViewer,
        Role::AgentAdmin,
        Role::AgentOperator,
        Role::AgentViewer,
    ];

    /// The stable name used in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::TenantAdmin => "TenantAdmin",
            Role::SyncAdmin => "SyncAdmin",
            Role::SyncOperator => "SyncOperator",
            Role::SyncViewer => "SyncViewer",
            Role::AgentAdmin => "AgentAdmin",
            Role::AgentOperator => "AgentOperator",
            Role::AgentViewer => "AgentViewer",
        }
    }

    /// Parses [`Role::as_str`].
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.as_str() == s)
    }

    /// Whether this role grants `access` in `area`.
    pub fn allows(self, area: Area, access: Access) -> bool {
        match (self, area) {
            (Role::TenantAdmin, _) => true,
            (_, Area::Tenant) => false,
            (Role::SyncAdmin, Area::Sync) | (Role::AgentAdmin, Area::Agent) => true,
            (Role::SyncOperator, Area::Sync) | (Role::AgentOperator, Area::Agent) => {
                access <= Access::Operate
            }
            (Role::SyncViewer, Area::Sync) | (Role::AgentViewer, Area::Agent) => {
                access == Access::Read
            }
            _ => false,
        }
    }
}

/// The product areas roles are defined over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    /// Users, roles and global settings.
    Tenant,
    /// Directories, imports, matching, the translation table.
    Sync,
    /// PSKs, certificates, runbooks, batches, agents and their reports.
    Agent,
}

/// How much a route does, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Reads.
    Read,
    /// Acts (runs an import, schedules a batch) without editing configuration.
    Operate,
    /// Creates, changes or deletes configuration.
    Edit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_only_read_and_operators_never_edit() {
        for area in [Area::Sync, Area::Agent] {
            for role in [Role::SyncViewer, Role::AgentViewer] {
                assert!(!role.allows(area, Access::Operate));
                assert!(!role.allows(area, Access::Edit));
            }
            for role in [Role::SyncOperator, Role::AgentOperator] {
                assert!(!role.allows(area, Access::Edit));
            }
        }
        assert!(Role::AgentOperator.allows(Area::Agent, Access::Operate));
        assert!(!Role::AgentOperator.allows(Area::Sync, Access::Read));
        assert!(!Role::AgentAdmin.allows(Area::Tenant, Access::Read));
        assert!(Role::TenantAdmin.allows(Area::Tenant, Access::Edit));
    }
}
