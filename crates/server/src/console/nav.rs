//! The console's navigation by product area, as the reference arranges it: Sync, Migration and
//! Global Settings. Each area is shown to the roles that may read it.

use crate::auth::Area;

/// A page of the navigation: its path and its label.
pub type Link = (&'static str, &'static str);

/// The areas in order, each with its heading and pages.
pub const AREAS: &[(Area, &str, &[Link])] = &[
    (
        Area::Sync,
        "Sync",
        &[
            ("/directories", "Directories"),
            ("/schedule", "Import schedule"),
            ("/profiles", "Match profiles"),
            ("/sync-messages", "Message logs"),
            ("/translations", "Translation table"),
            ("/objects", "Single Object Report"),
        ],
    ),
    (
        Area::Agent,
        "Migration",
        &[
            ("/", "Dashboard"),
            ("/download", "Download agent"),
            ("/psks", "PSKs"),
            ("/certificates", "Agent certificates"),
            ("/bulk-tokens", "Bulk enrollment tokens"),
            ("/runbooks", "Runbooks"),
            ("/batches", "Batches"),
            ("/devices", "Runbook status"),
            ("/reports/profiles", "User profile report"),
            ("/agents", "Agents"),
            ("/reports/agent-details", "Agent details"),
            ("/logs", "Agent logs"),
            ("/communications", "Failed communications"),
        ],
    ),
    (
        Area::Tenant,
        "Global Settings",
        &[
            ("/users", "Users and roles"),
            ("/licences", "Licences"),
            ("/audit", "Audit trail"),
        ],
    ),
];

/// Whether the page titled `title` is the one `label` names.
pub fn is_current(title: &str, label: &str) -> bool {
    title.eq_ignore_ascii_case(label)
}
