//! What a registered device would run next, before it runs: the steps of its next runbook's plan,
//! made from the facts its agent last reported with the same `model::plan` the agent runs, and for
//! each profile it harvested the target SID the agent API would answer for that runbook's join
//! (`directory::device_translation`), with why, or why there is none. Nothing is sent to the
//! device and nothing changes.

use std::collections::HashSet;

use model::assignment;
use model::directory::ObjectKind;
use model::ids::{AgentId, BatchId, RunbookId};
use model::plan::{
    plan, Action, DeviceFacts, JoinState, OsEdition, PermissionArea, Refusal, Step, TargetFacts,
};
use model::protocol::UserProfile;
use model::status::AgentStatus;
use secdesc::Sid;
use serde::Serialize;

use crate::directory::device_translation::{self, DeviceTranslations};
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
    /// The profiles that get no translation, each with why; `stops_run` marks those that stop
    /// the run in its pre-flight checks, the others are left as they are.
    pub untranslated_profiles: Vec<UntranslatedProfile>,
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
    /// Why this target SID: which of the target's SIDs the device will use after the runbook's
    /// join.
    pub reason: String,
}

/// A profile on the device whose SID gets no translation, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UntranslatedProfile {
    /// The profile owner's SID.
    pub sid: Sid,
    /// The profile folder.
    pub path: String,
    /// Why its SID gets no translation.
    pub reason: String,
    /// Whether the run stops in its pre-flight checks because of it (a profile of a domain the
    /// translations cover, while the runbook moves profiles and does not skip untranslated ones);
    /// otherwise the profile is left as it is.
    pub stops_run: bool,
}

/// Sorts `profiles` by the device's translation answer: the SID changes, and the profiles left
/// without one with why. `may_stop` says whether the runbook stops on an untranslated profile of
/// a translated domain, as the agent's pre-flight gate does.
fn profile_changes(
    profiles: Vec<UserProfile>,
    answer: &DeviceTranslations,
    may_stop: bool,
) -> (Vec<SidChange>, Vec<UntranslatedProfile>) {
    // As the agent's pre-flight gate sees it: a profile of a domain the translations cover but
    // without a translation of its own would be left behind; local accounts are not.
    let domains: HashSet<Sid> = answer
        .translations
        .iter()
        .filter_map(|t| domain_of(&t.source))
        .collect();
    let mut changes = Vec::new();
    let mut untranslated = Vec::new();
    for profile in profiles {
        let covered = domain_of(&profile.sid).is_some_and(|d| domains.contains(&d));
        let translation = answer.translations.iter().find(|t| t.source == profile.sid);
        let reason = match translation {
            Some(t) if t.target != profile.sid => {
                changes.push(SidChange {
                    kind: t.kind,
                    source: profile.sid.clone(),
                    target: t.target.clone(),
                    target_name: t.target_name.clone(),
                    profile: profile.path.clone(),
                    reason: t.reason.clone().unwrap_or_default(),
                });
                continue;
            }
            Some(t) => {
                untranslated.push(UntranslatedProfile {
                    sid: profile.sid.clone(),
                    path: profile.path.clone(),
                    reason: format!(
                        "it translates to itself ({}): nothing changes",
                        t.reason.as_deref().unwrap_or("the same SID")
                    ),
                    stops_run: false,
                });
                continue;
            }
            None => match answer.untranslated.iter().find(|u| u.sid == profile.sid) {
                Some(refused) => refused.reason.clone(),
                None if covered => "no source object of the translation table holds this SID: match its user".to_string(),
                None => "no SID of its domain translates: a local account, or a domain the batch does not migrate".to_string(),
            },
        };
        untranslated.push(UntranslatedProfile {
            sid: profile.sid,
            path: profile.path,
            reason,
            stops_run: covered && may_stop,
        });
    }
    (changes, untranslated)
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
    let runbooks = super::batches::runbooks_by_id(app).await?;
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
    // The answer the agent API gives this device for these SIDs: the same function, so the plan
    // shows the target SID the device will be sent.
    let answer = device_translation::for_assignment(app, next.batch, next.runbook, &sids).await?;
    let moves_profiles = steps.iter().any(|s| {
        matches!(
            s.action,
            Action::UpdatePermissions {
                area: PermissionArea::WindowsProfiles,
                ..
            }
        )
    });
    let (sid_changes, untranslated_profiles) = profile_changes(
        profiles,
        &answer,
        moves_profiles && !next.runbook.permissions.skip_untranslated_profiles,
    );
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
