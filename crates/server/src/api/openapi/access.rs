//! Access phrases for the `description` of operations, one per area and level.

/// Reads the directory side.
pub const SYNC_READ: &str = "Access: Sync read (SyncViewer, SyncOperator, SyncAdmin, TenantAdmin).";
/// Runs imports and matching.
pub const SYNC_OPERATE: &str = "Access: Sync operate (SyncOperator, SyncAdmin, TenantAdmin).";
/// Edits directories.
pub const SYNC_EDIT: &str = "Access: Sync edit (SyncAdmin, TenantAdmin).";
/// Reads the migration side.
pub const AGENT_READ: &str =
    "Access: Agent read (AgentViewer, AgentOperator, AgentAdmin, TenantAdmin).";
/// Schedules batches.
pub const AGENT_OPERATE: &str = "Access: Agent operate (AgentOperator, AgentAdmin, TenantAdmin).";
/// Edits runbooks, PSKs, certificates, packages and tokens.
pub const AGENT_EDIT: &str = "Access: Agent edit (AgentAdmin, TenantAdmin).";
/// Users and licences.
pub const TENANT_READ: &str = "Access: Tenant read (TenantAdmin).";
/// Users and licences.
pub const TENANT_EDIT: &str = "Access: Tenant edit (TenantAdmin).";
