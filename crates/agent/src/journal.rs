//! The durable step journal: an append-only file of records, each fsynced before the agent acts on
//! it. A step is recorded started before it touches the device and done after; on restart the
//! agent resumes at the step it was on. A step recorded done never runs again. A step recorded
//! started but not done runs again, which is safe only because every step is idempotent (see
//! [`crate::workstation::Workstation`]): the re-run finds the device before or after the
//! operation and finishes it or does nothing. A runbook recorded Completed never runs again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use model::ids::RunbookId;
use model::plan::Step;
use model::status::AgentStatus;
use secdesc::Sid;
use serde::{Deserialize, Serialize};

use crate::{fsutil, Error, Result};

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "kebab-case")]
pub enum Record {
    /// A runbook started, with the exact steps it will run (kept so that a resumed run follows
    /// the same plan even though the device's facts have changed half way).
    RunbookStarted {
        /// The runbook.
        runbook: RunbookId,
        /// Its name, for logs.
        name: String,
        /// The plan.
        steps: Vec<Step>,
        /// When.
        at: DateTime<Utc>,
    },
    /// A step is about to act.
    StepStarted {
        /// The runbook.
        runbook: RunbookId,
        /// The step id.
        step: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A step finished.
    StepDone {
        /// The runbook.
        runbook: RunbookId,
        /// The step id.
        step: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A step failed and stopped the runbook.
    StepFailed {
        /// The runbook.
        runbook: RunbookId,
        /// The step id.
        step: String,
        /// Why.
        message: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// The translations a run uses, fetched once before its first change that needs them, and
    /// what the profiles looked like then: a resumed run uses the same translations, and
    /// `verify` checks the device against them.
    Translations {
        /// The runbook.
        runbook: RunbookId,
        /// Source SID → target SID, for the SIDs found on the device.
        pairs: Vec<(Sid, Sid)>,
        /// The profiles and their key descriptors before anything was translated.
        profiles: Vec<BaselineProfile>,
        /// When.
        at: DateTime<Utc>,
    },
    /// An operator asked the server to retry a runbook that ended in Error, and this device took
    /// it up: the run goes on from the steps it recorded done.
    RunbookRetried {
        /// The runbook.
        runbook: RunbookId,
        /// The server's retry count it answers.
        retry: u32,
        /// When.
        at: DateTime<Utc>,
    },
    /// Every step finished: the runbook never runs here again.
    RunbookCompleted {
        /// The runbook.
        runbook: RunbookId,
        /// When.
        at: DateTime<Utc>,
    },
}

/// A profile as it was before the run translated anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineProfile {
    /// Its owner's SID then.
    pub sid: Sid,
    /// `ProfileImagePath`.
    pub path: String,
    /// The profile folder's, NTUSER.DAT's and UsrClass.dat's descriptors (those that exist), by
    /// path, in SDDL.
    pub descriptors: Vec<(String, String)>,
}

/// The translations a run recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTranslations {
    /// Source SID → target SID.
    pub pairs: Vec<(Sid, Sid)>,
    /// The profiles before the run.
    pub profiles: Vec<BaselineProfile>,
}

/// A runbook as the journal knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunbookRun {
    /// Its name.
    pub name: String,
    /// The plan it runs.
    pub steps: Vec<Step>,
    /// Steps recorded done.
    pub done: BTreeSet<String>,
    /// InProgress, Completed or Error.
    pub status: AgentStatus,
    /// The step started last.
    pub current: Option<String>,
    /// The translations it uses, once recorded.
    pub translations: Option<RecordedTranslations>,
    /// The server's retry count this device honoured last (0 before any retry).
    pub retry: u32,
}

/// The journal file and what it says.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    records: Vec<Record>,
    runs: BTreeMap<RunbookId, RunbookRun>,
}

impl Journal {
    /// Opens (or starts) the journal at `path`.
    pub fn open(path: &Path) -> Result<Journal> {
        let mut journal = Journal {
            path: path.to_path_buf(),
            records: Vec::new(),
            runs: BTreeMap::new(),
        };
        for (i, line) in fsutil::read_lines(path)?.iter().enumerate() {
            let record: Record = serde_json::from_str(line).map_err(|e| Error::Corrupt {
                path: path.to_path_buf(),
                reason: format!("line {}: {}", i + 1, e),
            })?;
            journal.apply(record);
        }
        Ok(journal)
    }

    fn apply(&mut self, record: Record) {
        match &record {
            Record::RunbookStarted {
                runbook,
                name,
                steps,
                ..
            } => {
                let run = self.runs.entry(*runbook).or_insert_with(|| RunbookRun {
                    name: name.clone(),
                    steps: steps.clone(),
                    done: BTreeSet::new(),
                    status: AgentStatus::InProgress,
                    current: None,
                    translations: None,
                    retry: 0,
                });
                // A runbook started again after an error keeps the steps it finished.
                run.steps = steps.clone();
                run.status = AgentStatus::InProgress;
            }
            Record::StepStarted { runbook, step, .. } => {
                if let Some(run) = self.runs.get_mut(runbook) {
                    run.current = Some(step.clone());
                }
            }
            Record::StepDone { runbook, step, .. } => {
                if let Some(run) = self.runs.get_mut(runbook) {
                    run.done.insert(step.clone());
                }
            }
            Record::StepFailed { runbook, .. } => {
                if let Some(run) = self.runs.get_mut(runbook) {
                    run.status = AgentStatus::Error;
                }
            }
            Record::Translations {
                runbook,
                pairs,
                profiles,
                ..
            } => {
                if let Some(run) = self.runs.get_mut(runbook) {
                    run.translations = Some(RecordedTranslations {
                        pairs: pairs.clone(),
                        profiles: profiles.clone(),
                    });
                }
            }
            Record::RunbookRetried { runbook, retry, .. } => {
                if let Some(run) = self.runs.get_mut(runbook) {
                    run.retry = run.retry.max(*retry);
                    run.status = AgentStatus::InProgress;
                }
            }
            Record::RunbookCompleted { runbook, .. } => {
                if let Some(run) = self.runs.get_mut(runbook) {
                    run.status = AgentStatus::Completed;
                    run.current = None;
                }
            }
        }
        self.records.push(record);
    }

    /// Appends `record`, fsynced, before the caller acts on it.
    fn append(&mut self, record: Record) -> Result<()> {
        let line = serde_json::to_vec(&record).map_err(|e| Error::Corrupt {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        fsutil::append_line(&self.path, &line)?;
        self.apply(record);
        Ok(())
    }

    /// Every record, oldest first.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// What the journal knows of `runbook`.
    pub fn run(&self, runbook: &RunbookId) -> Option<&RunbookRun> {
        self.runs.get(runbook)
    }

    /// The status of `runbook` on this device, if it ever started.
    pub fn status(&self, runbook: &RunbookId) -> Option<AgentStatus> {
        self.runs.get(runbook).map(|r| r.status)
    }

    /// Whether `runbook` Completed here (and so must never run again).
    pub fn is_completed(&self, runbook: &RunbookId) -> bool {
        self.status(runbook) == Some(AgentStatus::Completed)
    }

    /// Every runbook that Completed here.
    pub fn completed(&self) -> Vec<RunbookId> {
        self.runs
            .iter()
            .filter(|(_, r)| r.status == AgentStatus::Completed)
            .map(|(id, _)| *id)
            .collect()
    }

    /// The runbook that was running when the agent stopped, if any: the one to resume.
    pub fn unfinished(&self) -> Option<(RunbookId, &RunbookRun)> {
        self.runs
            .iter()
            .find(|(_, r)| r.status == AgentStatus::InProgress)
            .map(|(id, r)| (*id, r))
    }

    /// Whether `step` of `runbook` is recorded done.
    pub fn is_done(&self, runbook: &RunbookId, step: &str) -> bool {
        self.runs
            .get(runbook)
            .map_or(false, |r| r.done.contains(step))
    }

    /// Records that `runbook` starts with `steps`.
    pub fn runbook_started(
        &mut self,
        runbook: RunbookId,
        name: &str,
        steps: &[Step],
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.append(Record::RunbookStarted {
            runbook,
            name: name.to_string(),
            steps: steps.to_vec(),
            at,
        })
    }

    /// Records that `step` is about to act.
    pub fn step_started(
        &mut self,
        runbook: RunbookId,
        step: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.append(Record::StepStarted {
            runbook,
            step: step.to_string(),
            at,
        })
    }

    /// Records that `step` finished.
    pub fn step_done(&mut self, runbook: RunbookId, step: &str, at: DateTime<Utc>) -> Result<()> {
        self.append(Record::StepDone {
            runbook,
            step: step.to_string(),
            at,
        })
    }

    /// Records that `step` failed, which stops the runbook with status Error.
    pub fn step_failed(
        &mut self,
        runbook: RunbookId,
        step: &str,
        message: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.append(Record::StepFailed {
            runbook,
            step: step.to_string(),
            message: message.to_string(),
            at,
        })
    }

    /// Records the translations `runbook` uses and the profiles before it changes them.
    pub fn translations_recorded(
        &mut self,
        runbook: RunbookId,
        translations: RecordedTranslations,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.append(Record::Translations {
            runbook,
            pairs: translations.pairs,
            profiles: translations.profiles,
            at,
        })
    }

    /// The runbook that ran last, if any.
    pub fn last_run(&self) -> Option<(RunbookId, &RunbookRun)> {
        let last = self.records.iter().rev().find_map(|r| match r {
            Record::RunbookStarted { runbook, .. } => Some(*runbook),
            _ => None,
        })?;
        self.runs.get(&last).map(|run| (last, run))
    }

    /// Whether the server's `retry` count asks `runbook` to run again here: it ended in Error and
    /// the count is higher than the retry honoured last.
    pub fn retry_wanted(&self, runbook: &RunbookId, retry: u32) -> bool {
        self.runs
            .get(runbook)
            .map_or(false, |r| r.status == AgentStatus::Error && retry > r.retry)
    }

    /// Records that `runbook`, which ended in Error, runs again for the server's `retry` count,
    /// keeping the steps it recorded done.
    pub fn runbook_retried(
        &mut self,
        runbook: RunbookId,
        retry: u32,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.append(Record::RunbookRetried { runbook, retry, at })
    }

    /// Records that `runbook` Completed.
    pub fn runbook_completed(&mut self, runbook: RunbookId, at: DateTime<Utc>) -> Result<()> {
        self.append(Record::RunbookCompleted { runbook, at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::Scratch;
    use model::plan::Action;
    use model::status::Phase;

    /// A fixed instant: the journal keeps what it is given.
    fn instant() -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
            .single()
            .expect("valid instant")
    }

    /// A journal's path in a directory of its own, removed when the test ends.
    fn scratch() -> (Scratch, PathBuf) {
        let dir = Scratch::new("journal");
        let path = dir.join("journal.log");
        (dir, path)
    }

    fn steps() -> Vec<Step> {
        vec![
            Step {
                id: "startup/backup-legal-notice".into(),
                phase: Phase::Startup,
                action: Action::BackupLegalNotice,
            },
            Step {
                id: "device-state/leave-ad".into(),
                phase: Phase::DeviceState,
                action: Action::LeaveActiveDirectory,
            },
        ]
    }

    #[test]
    fn a_reopened_journal_resumes_at_the_step_in_progress() {
        let (_dir, path) = scratch();
        let rb = RunbookId::new();
        let now = instant();
        {
            let mut j = Journal::open(&path).expect("open");
            j.runbook_started(rb, "AD to AD", &steps(), now)
                .expect("record");
            j.step_started(rb, "startup/backup-legal-notice", now)
                .expect("record");
            j.step_done(rb, "startup/backup-legal-notice", now)
                .expect("record");
            j.step_started(rb, "device-state/leave-ad", now)
                .expect("record");
        }
        let j = Journal::open(&path).expect("reopen");
        let (id, run) = j.unfinished().expect("unfinished run");
        assert_eq!(id, rb);
        assert_eq!(run.steps, steps());
        assert_eq!(run.current.as_deref(), Some("device-state/leave-ad"));
        assert!(j.is_done(&rb, "startup/backup-legal-notice"));
        assert!(!j.is_done(&rb, "device-state/leave-ad"));
        assert!(!j.is_completed(&rb));
    }

    #[test]
    fn a_completed_runbook_is_remembered_and_not_unfinished() {
        let (_dir, path) = scratch();
        let rb = RunbookId::new();
        let now = instant();
        {
            let mut j = Journal::open(&path).expect("open");
            j.runbook_started(rb, "AD to AD", &steps(), now)
                .expect("record");
            j.runbook_completed(rb, now).expect("record");
        }
        let j = Journal::open(&path).expect("reopen");
        assert!(j.is_completed(&rb));
        assert_eq!(j.completed(), vec![rb]);
        assert!(j.unfinished().is_none());
    }

    #[test]
    fn a_failed_step_leaves_the_runbook_in_error() {
        let (_dir, path) = scratch();
        let rb = RunbookId::new();
        let now = instant();
        let mut j = Journal::open(&path).expect("open");
        j.runbook_started(rb, "AD to AD", &steps(), now)
            .expect("record");
        j.step_started(rb, "device-state/leave-ad", now)
            .expect("record");
        j.step_failed(rb, "device-state/leave-ad", "access denied", now)
            .expect("record");
        let j = Journal::open(&path).expect("reopen");
        assert_eq!(j.status(&rb), Some(AgentStatus::Error));
        assert!(j.unfinished().is_none());
    }

    #[test]
    fn a_retry_is_taken_once_per_count_and_keeps_the_steps_done() {
        let (_dir, path) = scratch();
        let rb = RunbookId::new();
        let now = instant();
        {
            let mut j = Journal::open(&path).expect("open");
            assert!(
                !j.retry_wanted(&rb, 1),
                "a runbook never started is no retry"
            );
            j.runbook_started(rb, "AD to AD", &steps(), now)
                .expect("record");
            j.step_done(rb, "startup/backup-legal-notice", now)
                .expect("record");
            assert!(!j.retry_wanted(&rb, 1), "a running runbook is not retried");
            j.step_failed(rb, "device-state/leave-ad", "access denied", now)
                .expect("record");
            assert!(!j.retry_wanted(&rb, 0), "no retry was asked for");
            assert!(j.retry_wanted(&rb, 1));
            j.runbook_retried(rb, 1, now).expect("record");
        }
        let mut j = Journal::open(&path).expect("reopen");
        let (id, run) = j.unfinished().expect("the retried run is unfinished");
        assert_eq!((id, run.retry), (rb, 1));
        assert!(j.is_done(&rb, "startup/backup-legal-notice"));
        j.step_failed(rb, "device-state/leave-ad", "access denied again", now)
            .expect("record");
        assert!(!j.retry_wanted(&rb, 1), "the same retry is not taken twice");
        assert!(j.retry_wanted(&rb, 2));
    }

    #[test]
    fn a_garbled_record_is_an_error_not_a_guess() {
        let (_dir, path) = scratch();
        std::fs::write(&path, b"{\"record\":\"nonsense\"}\n").expect("write");
        assert!(matches!(Journal::open(&path), Err(Error::Corrupt { .. })));
    }
}
