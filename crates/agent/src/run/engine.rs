//! The phase engine: a runbook's plan run step by step through the journal, with an event for
//! every step, SIDs translated through the server, and a failed step stopping the run.

use std::collections::BTreeSet;

use model::ids::RunbookId;
use model::plan::{plan, Action, Refusal, Step};
use model::protocol::{AgentEvent, DeviceAssignment};
use model::runbook::PermissionMode;
use model::schedule::CheckInState;
use model::status::{AgentStatus, EventLevel, Phase};
use secdesc::translate::{SidMap, TranslateMode, TranslateOptions};
use secdesc::Sid;

use super::Agent;
use crate::client::{Client, Transport};
use crate::workstation::{Effect, Workstation};
use crate::{Error, Result};

/// What one event says, before the spool numbers it.
struct Note<'a> {
    level: EventLevel,
    runbook: RunbookId,
    step: Option<&'a Step>,
    status: Option<AgentStatus>,
    message: String,
}

/// Whether the directory could know `sid`: domain accounts (S-1-5-21-…) and Entra objects
/// (S-1-12-1-…). Well-known SIDs (SYSTEM, BUILTIN\Administrators …) are the same everywhere and
/// are not sent.
fn is_directory_sid(sid: &Sid) -> bool {
    let subs = sid.sub_authorities();
    match sid.authority() {
        5 => subs.first() == Some(&21) && subs.len() >= 4,
        12 => subs.first() == Some(&1),
        _ => false,
    }
}

/// Asks the server for the translations of the SIDs found on the device.
fn fetch_sid_map<W: Workstation, T: Transport>(ws: &W, client: &Client<T>) -> Result<SidMap> {
    let asked: BTreeSet<Sid> = ws
        .list_sids()?
        .into_iter()
        .filter(is_directory_sid)
        .collect();
    let mut map = SidMap::new();
    if asked.is_empty() {
        return Ok(map);
    }
    let response = client.translate(asked.iter().cloned().collect())?;
    for t in response.translations {
        // Only the SIDs asked for may be rewritten on this device.
        if asked.contains(&t.source) {
            map.insert(t.source, t.target);
        }
    }
    Ok(map)
}

impl<W: Workstation, T: Transport> Agent<W, T> {
    fn note(&mut self, note: Note<'_>) -> Result<()> {
        self.spool
            .append(AgentEvent {
                seq: 0,
                at: self.clock.now(),
                level: note.level,
                runbook: Some(note.runbook),
                phase: note.step.map(|s| s.phase),
                step: note.step.map(|s| s.id.clone()),
                status: note.status,
                message: note.message,
            })
            .map(|_| ())
    }

    /// Plans `assignment` on this device and runs it. `None` when asked to stop half way.
    pub(super) fn start(&mut self, assignment: &DeviceAssignment) -> Result<Option<AgentStatus>> {
        let runbook = &assignment.runbook;
        let facts = self.workstation.facts()?;
        match plan(runbook, &facts.device(), &assignment.target) {
            Ok(steps) => {
                self.journal.runbook_started(
                    runbook.id,
                    &runbook.name,
                    &steps,
                    self.clock.now(),
                )?;
                self.note(Note {
                    level: EventLevel::Info,
                    runbook: runbook.id,
                    step: None,
                    status: Some(AgentStatus::InProgress),
                    message: format!("started {} ({} steps)", runbook.name, steps.len()),
                })?;
                self.execute(runbook.id, &runbook.name, steps, false)
            }
            Err(Refusal::ServerOs) => {
                let message = format!(
                    "{} does not allow a server edition of Windows; allow it in the runbook's general settings to run it here",
                    runbook.name
                );
                let now = self.clock.now();
                self.journal
                    .runbook_started(runbook.id, &runbook.name, &[], now)?;
                self.journal
                    .step_failed(runbook.id, "plan", &message, now)?;
                self.note(Note {
                    level: EventLevel::Error,
                    runbook: runbook.id,
                    step: None,
                    status: Some(AgentStatus::Error),
                    message,
                })?;
                Ok(Some(AgentStatus::Error))
            }
        }
    }

    /// Runs the steps of `runbook` not yet recorded done. `None` when asked to stop while
    /// waiting for the server; the step then resumes at the next start.
    pub(super) fn execute(
        &mut self,
        runbook: RunbookId,
        name: &str,
        steps: Vec<Step>,
        resumed: bool,
    ) -> Result<Option<AgentStatus>> {
        if resumed {
            self.note(Note {
                level: EventLevel::Info,
                runbook,
                step: None,
                status: Some(AgentStatus::InProgress),
                message: format!("resumed {} after a restart", name),
            })?;
        }
        let mut map: Option<SidMap> = None;
        let mut phase: Option<Phase> = None;
        for step in &steps {
            if phase.map_or(false, |p| p != step.phase) {
                // Progress reaches the console phase by phase; a failure keeps events spooled.
                let _ = self.flush();
            }
            phase = Some(step.phase);
            if self.journal.is_done(&runbook, &step.id) {
                continue;
            }
            // Recorded before it acts: after a crash the journal shows where the agent was.
            self.journal
                .step_started(runbook, &step.id, self.clock.now())?;
            let mut failures = CheckInState::default();
            let outcome = loop {
                match self.perform(step, &mut map) {
                    // The server is needed for translations: wait for it with the unreachable
                    // backoff rather than fail the migration. Safe because the step is idempotent.
                    Err(Error::Unreachable(_)) => {
                        failures.failed();
                        if !self.sleeper.sleep(failures.delay()) {
                            return Ok(None);
                        }
                    }
                    other => break other,
                }
            };
            match outcome {
                Ok(effect) => {
                    self.note(Note {
                        level: EventLevel::Info,
                        runbook,
                        step: Some(step),
                        status: None,
                        message: effect.summary,
                    })?;
                    self.journal
                        .step_done(runbook, &step.id, self.clock.now())?;
                }
                Err(e) => {
                    let message = format!("{} failed: {}", step.id, e);
                    self.note(Note {
                        level: EventLevel::Error,
                        runbook,
                        step: Some(step),
                        status: Some(AgentStatus::Error),
                        message: message.clone(),
                    })?;
                    self.journal
                        .step_failed(runbook, &step.id, &message, self.clock.now())?;
                    return Ok(Some(AgentStatus::Error));
                }
            }
        }
        self.journal.runbook_completed(runbook, self.clock.now())?;
        self.note(Note {
            level: EventLevel::Info,
            runbook,
            step: None,
            status: Some(AgentStatus::Completed),
            message: format!("{} completed", name),
        })?;
        Ok(Some(AgentStatus::Completed))
    }

    /// The translations, fetched once per run when a step first needs them.
    fn sid_map<'m>(&self, map: &'m mut Option<SidMap>) -> Result<&'m SidMap> {
        if map.is_none() {
            *map = Some(fetch_sid_map(&self.workstation, &self.client)?);
        }
        map.as_ref().ok_or(Error::NotRegistered)
    }

    fn perform(&mut self, step: &Step, map: &mut Option<SidMap>) -> Result<Effect> {
        match &step.action {
            Action::SuspendBitLocker => self.workstation.suspend_bitlocker(),
            Action::BackupLegalNotice => self.workstation.backup_legal_notice(),
            Action::BackupLocalGroups => self.workstation.backup_local_groups(),
            Action::BackupAppxPackages => self.workstation.backup_appx(),
            Action::LeaveActiveDirectory => self.workstation.leave_active_directory(),
            Action::LeaveEntra => self.workstation.leave_entra(),
            Action::JoinActiveDirectory { domain, .. } => {
                self.workstation.join_active_directory(domain)
            }
            Action::JoinEntra { tenant } => self.workstation.join_entra(tenant),
            Action::ResetWindowsHello => self.workstation.reset_windows_hello(),
            Action::UpdatePermissions { area, mode, .. } => {
                let mode = match mode {
                    PermissionMode::DontUpdate => {
                        return Ok(Effect::unchanged("permissions are left as they are"))
                    }
                    PermissionMode::AddOnly => TranslateMode::Add,
                    PermissionMode::AddAndRemove => TranslateMode::Replace,
                };
                // Owners move to the target too: a single SID cannot be "added beside", and the
                // migrated user should own their files. Add mode keeps the source's ACEs.
                let options = TranslateOptions {
                    mode,
                    owner_and_group: true,
                };
                let map = self.sid_map(map)?;
                self.workstation.update_permissions(*area, map, &options)
            }
            Action::RestoreLegalNotice => self.workstation.restore_legal_notice(),
            Action::RestoreLocalGroups => {
                let map = self.sid_map(map)?;
                self.workstation.restore_local_groups(map)
            }
            Action::RestoreAppxPackages => {
                let map = self.sid_map(map)?;
                self.workstation.restore_appx(map)
            }
            Action::ResumeBitLocker => self.workstation.resume_bitlocker(),
            _ => Ok(Effect::unchanged("not carried out by this agent yet")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_directory_sids_are_sent_for_translation() {
        let sid = |s: &str| s.parse::<Sid>().expect("sid");
        assert!(is_directory_sid(&sid("S-1-5-21-1-2-3-1001")));
        assert!(is_directory_sid(&sid(
            "S-1-12-1-1943430372-1249052806-2496021943-3034400218"
        )));
        assert!(!is_directory_sid(&sid("S-1-5-18")));
        assert!(!is_directory_sid(&sid("S-1-5-32-544")));
    }
}
