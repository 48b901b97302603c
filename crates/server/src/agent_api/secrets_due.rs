//! Which of a runbook's passwords a device gets, and when: only those its runbook's steps use
//! (the fallback administrator's when Startup creates one, the join account's for an Active
//! Directory join, the file shares account's when shares are re-permissioned), and only in the
//! answer to the final check-in the agent makes right before it starts the runbook. A regular
//! check-in carries none, so a device that is merely waiting never holds them.

use model::runbook::{DomainJoin, Runbook, RunbookSecrets};

/// The passwords of `stored` that `runbook`'s steps use.
pub fn needed(runbook: &Runbook, stored: RunbookSecrets) -> RunbookSecrets {
    RunbookSecrets {
        admin_fallback_password: stored
            .admin_fallback_password
            .filter(|_| runbook.startup.admin_fallback.is_some()),
        domain_join_password: stored
            .domain_join_password
            .filter(|_| runbook.device_state.domain_join == DomainJoin::ActiveDirectory),
        remote_file_shares_password: stored
            .remote_file_shares_password
            .filter(|_| runbook.permissions.remote_file_shares.is_some()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::ids::{DirectoryId, RunbookId};

    #[test]
    fn a_password_goes_only_with_the_step_that_uses_it() {
        let mut runbook: Runbook = serde_json::from_value(serde_json::json!({
            "id": RunbookId::new(), "name": "Move", "source_directories": [DirectoryId::new()],
            "target_directory": DirectoryId::new()
        }))
        .expect("runbook");
        let stored = RunbookSecrets {
            admin_fallback_password: Some("fallback".into()),
            domain_join_password: Some("join".into()),
            remote_file_shares_password: Some("shares".into()),
        };
        assert_eq!(needed(&runbook, stored.clone()), RunbookSecrets::default());
        runbook.device_state.domain_join = DomainJoin::ActiveDirectory;
        let sent = needed(&runbook, stored);
        assert_eq!(sent.domain_join_password.as_deref(), Some("join"));
        assert_eq!(sent.admin_fallback_password, None);
        assert_eq!(sent.remote_file_shares_password, None);
    }
}
