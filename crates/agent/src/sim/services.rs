//! The simulated service control manager and task scheduler: who each service and scheduled
//! task runs as.

use secdesc::Sid;

use super::SimWorkstation;
use crate::workstation::TaskPrincipal;
use crate::{Error, Result};

/// The right a service's account needs to start it.
const SERVICE_LOGON_RIGHT: &str = "SeServiceLogonRight";

impl SimWorkstation {
    pub(super) fn sim_service_accounts(&self) -> Result<Vec<(String, Sid)>> {
        self.require("service_accounts")?;
        Ok(self
            .state
            .service_accounts
            .iter()
            .map(|(name, sid)| (name.clone(), sid.clone()))
            .collect())
    }

    pub(super) fn sim_set_service_account(&mut self, service: &str, account: &Sid) -> Result<bool> {
        let key = self
            .state
            .service_accounts
            .keys()
            .find(|k| k.eq_ignore_ascii_case(service))
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("the service {}", service)))?;
        self.mutate("set_service_account", |s| {
            let granted = s
                .user_rights
                .entry(SERVICE_LOGON_RIGHT.to_string())
                .or_default()
                .insert(account.clone());
            let moved = s.service_accounts.insert(key, account.clone()).as_ref() != Some(account);
            granted || moved
        })
    }

    pub(super) fn sim_task_principals(&self) -> Result<Vec<(String, TaskPrincipal)>> {
        self.require("task_principals")?;
        Ok(self
            .state
            .task_principals
            .iter()
            .map(|(path, p)| (path.clone(), p.clone()))
            .collect())
    }

    pub(super) fn sim_set_task_principal(
        &mut self,
        task: &str,
        principal: &TaskPrincipal,
    ) -> Result<bool> {
        let key = self
            .state
            .task_principals
            .keys()
            .find(|k| k.eq_ignore_ascii_case(task))
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("the scheduled task {}", task)))?;
        self.mutate("set_task_principal", |s| {
            s.task_principals.insert(key, principal.clone()).as_ref() != Some(principal)
        })
    }
}
