//! Services and scheduled tasks that run as a migrating user run as their target account after
//! the migration, in both permission modes.

use agent::{Exit, SimWorkstation, TaskLogon, TaskPrincipal};
use chrono::Duration;
use model::runbook::{DomainJoin, PermissionMode};
use model::status::AgentStatus;

use crate::support::*;

fn migrate(mode: PermissionMode) -> (World, agent::SimState) {
    let world = World::new();
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    runbook.permissions.mode = mode;
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let exit = world.agent(100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    let state = SimWorkstation::load(&world.dir).expect("load");
    (world, state)
}

#[test]
fn services_and_scheduled_tasks_run_as_the_target_accounts_after_the_migration() {
    for mode in [PermissionMode::AddAndRemove, PermissionMode::AddOnly] {
        let (world, state) = migrate(mode);
        assert_eq!(
            state.service_accounts.get("ContosoSync"),
            Some(&sid(ALICE_NEW)),
            "{:?}",
            mode
        );
        // The system's own accounts are never touched.
        assert_eq!(
            state.service_accounts.get("Spooler").map(|s| s.to_string()),
            Some("S-1-5-18".to_string())
        );
        assert!(state.user_rights["SeServiceLogonRight"].contains(&sid(ALICE_NEW)));
        assert_eq!(
            state.task_principals.get("\\Contoso\\Backup"),
            Some(&TaskPrincipal {
                account: sid(ALICE_NEW),
                logon: TaskLogon::InteractiveToken
            })
        );
        // A stored password cannot carry over to another account: the task runs as S4U, and
        // the event says so.
        assert_eq!(
            state.task_principals.get("\\Contoso\\Report"),
            Some(&TaskPrincipal {
                account: sid(BOB_NEW),
                logon: TaskLogon::S4u
            })
        );
        assert_eq!(
            state
                .task_principals
                .get("\\Microsoft\\Windows\\Defrag\\ScheduledDefrag")
                .map(|p| p.logon),
            Some(TaskLogon::ServiceAccount)
        );
        let server = world.server.state();
        let event = |step: &str| {
            server
                .events
                .values()
                .find(|e| e.step.as_deref() == Some(step) && e.status.is_none())
                .map(|e| e.message.clone())
                .unwrap_or_default()
        };
        let services = event("permissions/services");
        assert!(
            services.contains("ContosoSync") && services.contains("stored password kept"),
            "{}",
            services
        );
        let tasks = event("permissions/scheduled-tasks");
        assert!(
            tasks.contains("\\Contoso\\Report") && tasks.contains("S4U"),
            "{}",
            tasks
        );
    }
}
