//! The accounts services and scheduled tasks run as, moved to the target accounts along with
//! their descriptors. An account is one SID, so it moves to the target in both permission modes,
//! as owners do. A re-run finds them on the target already and changes nothing.

use model::runbook::Area;
use secdesc::translate::SidMap;

use crate::workstation::{Effect, TaskLogon, TaskPrincipal, Workstation};
use crate::Result;

/// Moves each service that runs as a translated account to its target account. The password
/// the service control manager stores stays: with passwords synchronised to the target the
/// service starts as before; otherwise its password is to be set again, which the summary says.
pub fn translate_services<W: Workstation>(ws: &mut W, map: &SidMap) -> Result<Effect> {
    let mut moved = Vec::new();
    for (service, account) in ws.service_accounts()? {
        if let Some(target) = map.get(&account).filter(|t| **t != account) {
            if ws.set_service_account(&service, target)? {
                moved.push(format!("{} ({} → {})", service, account, target));
            }
        }
    }
    Ok(if moved.is_empty() {
        Effect::unchanged("no service runs as a translated account")
    } else {
        Effect::changed(
            moved.len(),
            format!(
                "{} service(s) now run as their target account, with the stored password kept (set it again where the target's password differs): {}",
                moved.len(),
                moved.join(", ")
            ),
        )
    })
}

/// Moves each scheduled task whose principal is a translated account to its target. A task that
/// signed in with a stored password cannot keep it for another account: it runs as S4U (signed
/// in or not, without network credentials) and the summary names it.
pub fn translate_tasks<W: Workstation>(ws: &mut W, map: &SidMap) -> Result<Effect> {
    let mut moved = Vec::new();
    let mut now_s4u = Vec::new();
    for (task, principal) in ws.task_principals()? {
        let target = match map
            .get(&principal.account)
            .filter(|t| **t != principal.account)
        {
            Some(target) => target.clone(),
            None => continue,
        };
        let logon = match principal.logon {
            TaskLogon::Password => TaskLogon::S4u,
            other => other,
        };
        let wanted = TaskPrincipal {
            account: target.clone(),
            logon,
        };
        if ws.set_task_principal(&task, &wanted)? {
            if principal.logon == TaskLogon::Password {
                now_s4u.push(task.clone());
            }
            moved.push(format!("{} ({} → {})", task, principal.account, target));
        }
    }
    Ok(if moved.is_empty() {
        Effect::unchanged("no scheduled task runs as a translated account")
    } else {
        let mut summary = format!(
            "{} scheduled task(s) now run as their target account: {}",
            moved.len(),
            moved.join(", ")
        );
        if !now_s4u.is_empty() {
            summary.push_str(&format!(
                "; {} had a stored password, which cannot carry over, and run without network credentials (S4U) until a password is set in Task Scheduler",
                now_s4u.join(", ")
            ));
        }
        Effect::changed(moved.len(), summary)
    })
}

/// The run-as accounts of `area` translated, when it has them; `None` for the other areas.
pub fn translate_area<W: Workstation>(
    ws: &mut W,
    area: Area,
    map: &SidMap,
) -> Result<Option<Effect>> {
    match area {
        Area::Services => translate_services(ws, map).map(Some),
        Area::ScheduledTasks => translate_tasks(ws, map).map(Some),
        _ => Ok(None),
    }
}

/// One effect for the descriptors and the run-as accounts of an area.
pub fn combine(descriptors: Effect, run_as: Effect) -> Effect {
    let changes = descriptors.changes + run_as.changes;
    let summary = format!("{}; {}", descriptors.summary, run_as.summary);
    if changes == 0 {
        Effect::unchanged(summary)
    } else {
        Effect::changed(changes, summary)
    }
}
