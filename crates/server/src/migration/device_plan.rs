//! What a registered device would run next, before it runs: the steps of its next runbook's plan,
//! made from the facts its agent last reported with the same `model::plan` the agent runs, and the
//! SID change each profile it harvested would get. Nothing is sent to the device and nothing
//! changes.

use std::collections::{HashMap, HashSet};

use model::assignment;
use model::directory::ObjectKind;
use model::ids::{AgentId, BatchId, RunbookId};
use model::plan::{plan, DeviceFacts, JoinState, OsEdition, Refusal, Step, TargetFacts};
use model::protocol::UserProfile;
use model::status::AgentStatus;
use secdesc::Sid;
use serde::Serialize;

use crate::{App, Error, Result};

/// The plan of the runbook a device runs next.
#[derive(Debug, Clone, Serialize)]
pub struct DevicePlan {
    /// The agent.
    pub agent: AgentId,
    /// The runbook it runs next.
    pub runbook: RunbookId,
    /// That runbook's name.
    pub runbook_name: String,
    /// The batch that assigns it.
    pub batch: BatchId,
    /// The DNS domain or tenant the device joins.
    pub target: String,
    /// What the device is joined to, as its agent last reported it: the plan is made from it.
    pub join_state: JoinState,
    /// Workstation or server, as registered.
    pub os_edition: OsEdition,
    /// The steps, in the order the agent runs them.
    pub steps: Vec<Step>,
    /// The profiles whose owner would change, with the target each gets.
    pub sid_changes: Vec<SidChange>,
    /// Profiles of a translated domain that the translation table has no target for: left as they
    /// are when the runbook says untranslated profiles may be skipped, otherwise they stop the run
    /// in its pre-flight checks. Local accounts' profiles are not listed.
    pub untranslated_profiles: Vec<UserProfile>,
}

/// One SID found on the device and what it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SidChange {
    /// User or group.
    pub kind: ObjectKind,
    /// The SID on the device.
    pub source: Sid,
    /// The SID it becomes.
    pub target: Sid,
    /// The target object's name.
    pub target_name: String,
    /// Where the device holds it: the profile folder.
    pub profile: String,
}

/// The directory a SID belongs to: its domain for AD accounts, the whole of Entra for Entra
/// objects (S-1-12-1-…, whose sub-authorities are the object id).
fn domain_of(sid: &Sid) -> Option<Sid> {
    if sid.authority() == 12 {
        Sid::new(12, &[1]).ok()
    } else {
        sid.parent()
    }
}

/// The plan of the runbook agent `id` runs next. An agent without a runbook to run, or one the
/// runbook refuses (a server edition), is a conflict that says why.
pub async fn device_plan(app: &App, id: AgentId) -> Result<DevicePlan> {
    let agent = app.store.agent(id).await?.ok_or(Error::NotFound("agent"))?;
    let batches = app.store.batches().await?;
    let runbooks: HashMap<RunbookId, model::runbook::Runbook> = app
        .store
        .runbooks()
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let completed: HashSet<RunbookId> = app
        .store
        .runs_of_agent(id)
        .await?
        .into_iter()
        .filter(|r| r.status == AgentStatus::Completed)
        .map(|r| r.runbook)
        .collect();
    let next = assignment::next(
        agent.directory,
        &agent.computer_guid,
        &batches,
        &runbooks,
        &completed,
    )
    .ok_or_else(|| {
        Error::Conflict(format!(
            "{} has no runbook to run next: no batch assigns it one it has not completed",
            agent.computer_name
        ))
    })?;
    let target = app
        .store
        .directory(next.batch.target_directory)
        .await?
        .ok_or(Error::NotFound("target directory"))?;
    let target = TargetFacts {
        domain: target.domain,
    };
    let device = DeviceFacts {
        os_edition: agent.os_edition,
        join_state: agent.join_state.clone(),
    };
    let steps = plan(next.runbook, &device, &target).map_err(|refusal| match refusal {
        Refusal::ServerOs => Error::Conflict(format!(
            "{} runs a server edition of Windows, which {} does not allow",
            agent.computer_name, next.runbook.name
        )),
    })?;
    let profiles = app.store.profiles(id).await?;
    let mut sids: Vec<Sid> = profiles.iter().map(|p| p.sid.clone()).collect();
    sids.sort_by_key(|s| s.to_string());
    sids.dedup();
    let entries = app
        .store
        .translations_for_sids(next.batch.target_directory, &sids)
        .await?;
    // As the agent's pre-flight gate sees it: a profile of a domain the translations cover but
    // without a translation of its own would be left behind; local accounts are not.
    let domains: HashSet<Sid> = entries
        .iter()
        .filter_map(|e| domain_of(&e.source.sid))
        .collect();
    let mut sid_changes = Vec::new();
    let mut untranslated_profiles = Vec::new();
    for profile in profiles {
        match entries.iter().find(|e| e.source.sid == profile.sid) {
            Some(e) if e.target.sid != profile.sid => sid_changes.push(SidChange {
                kind: e.kind,
                source: profile.sid.clone(),
                target: e.target.sid.clone(),
                target_name: e.target.name.clone(),
                profile: profile.path.clone(),
            }),
            Some(_) => {}
            None if domain_of(&profile.sid).is_some_and(|d| domains.contains(&d)) => {
                untranslated_profiles.push(profile)
            }
            None => {}
        }
    }
    Ok(DevicePlan {
        agent: id,
        runbook: next.runbook.id,
        runbook_name: next.runbook.name.clone(),
        batch: next.batch.id,
        target: target.domain,
        join_state: agent.join_state,
        os_edition: agent.os_edition,
        steps,
        sid_changes,
        untranslated_profiles,
    })
}
