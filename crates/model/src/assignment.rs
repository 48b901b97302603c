//! What a device should run: the first assignment, in batch order, of a batch that takes the
//! device's computer, whose runbook has not Completed there. Pure functions of the configuration,
//! the device's completed runbooks and the time, shared by check-in and the progress report.

use std::collections::{HashMap, HashSet};

use crate::batch::{Assignment, Batch};
use crate::ids::{DirectoryId, ObjectGuid, RunbookId};
use crate::runbook::Runbook;
use crate::status::AgentStatus;
use chrono::{DateTime, FixedOffset, Utc};

/// One batch assignment that applies to a computer.
#[derive(Debug, Clone, Copy)]
pub struct Applicable<'a> {
    /// The batch.
    pub batch: &'a Batch,
    /// Its assignment.
    pub assignment: &'a Assignment,
    /// The assigned runbook.
    pub runbook: &'a Runbook,
}

/// True when `batch` takes the computer `guid` of `directory`.
pub fn batch_takes(batch: &Batch, directory: DirectoryId, guid: &ObjectGuid) -> bool {
    batch.source_directory == directory && batch.computers.includes(guid)
}

/// Every assignment that applies to the computer, in batch order then assignment order. Assignments
/// whose runbook no longer exists are skipped.
pub fn applicable<'a>(
    directory: DirectoryId,
    guid: &ObjectGuid,
    batches: &'a [Batch],
    runbooks: &'a HashMap<RunbookId, Runbook>,
) -> Vec<Applicable<'a>> {
    batches
        .iter()
        .filter(|b| batch_takes(b, directory, guid))
        .flat_map(|batch| {
            batch.assignments.iter().filter_map(move |assignment| {
                runbooks.get(&assignment.runbook).map(|runbook| Applicable {
                    batch,
                    assignment,
                    runbook,
                })
            })
        })
        .collect()
}

/// The assignment the device runs next: the first applicable one whose runbook is not in
/// `completed` and whose prerequisites all are.
pub fn next<'a>(
    directory: DirectoryId,
    guid: &ObjectGuid,
    batches: &'a [Batch],
    runbooks: &'a HashMap<RunbookId, Runbook>,
    completed: &HashSet<RunbookId>,
) -> Option<Applicable<'a>> {
    applicable(directory, guid, batches, runbooks)
        .into_iter()
        .find(|a| {
            !completed.contains(&a.runbook.id)
                && a.runbook
                    .prerequisites
                    .iter()
                    .all(|p| completed.contains(p))
        })
}

/// The status of an assignment the device has not started: Not Available before its Available From
/// (or, without one, before Enforced After), Not Started after. The server does not know a device's
/// UTC offset, so Local times are read as UTC here; the agent applies its own clock.
pub fn waiting_status(assignment: &Assignment, now: DateTime<Utc>) -> AgentStatus {
    let utc = FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!("zero is a valid offset"));
    let opens = assignment
        .available()
        .map(|t| t.instant(utc))
        .unwrap_or_else(|| assignment.enforced().instant(utc));
    if now < opens {
        AgentStatus::NotAvailable
    } else {
        AgentStatus::NotStarted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{ComputerSelection, ScheduleTimezone, SelectionMode};
    use chrono::{NaiveDate, TimeZone};

    fn at(h: u32) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(2025, 3, 1)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .expect("valid time")
    }

    fn runbook(source: DirectoryId, target: DirectoryId, name: &str) -> Runbook {
        serde_json::from_value(serde_json::json!({
            "id": RunbookId::new(), "name": name, "source_directories": [source], "target_directory": target
        }))
        .expect("runbook")
    }

    #[test]
    fn first_uncompleted_assignment_of_a_batch_that_takes_the_computer() {
        let (src, dst) = (DirectoryId::new(), DirectoryId::new());
        let pc = ObjectGuid::new();
        let (prep, main) = (runbook(src, dst, "prep"), runbook(src, dst, "main"));
        let assign = |r: &Runbook| Assignment {
            runbook: r.id,
            available_from: Some(at(9)),
            enforced_after: at(12),
            timezone: ScheduleTimezone::Utc,
        };
        let excluded = Batch {
            id: crate::ids::BatchId::new(),
            name: "excluded".into(),
            source_directory: src,
            target_directory: dst,
            assignments: vec![assign(&main)],
            computers: ComputerSelection {
                mode: SelectionMode::AllExcept,
                computers: vec![pc],
            },
        };
        let wave = Batch {
            id: crate::ids::BatchId::new(),
            name: "wave".into(),
            source_directory: src,
            target_directory: dst,
            assignments: vec![assign(&prep), assign(&main)],
            computers: ComputerSelection {
                mode: SelectionMode::NoneExcept,
                computers: vec![pc],
            },
        };
        let batches = vec![excluded, wave];
        let runbooks: HashMap<_, _> = [(prep.id, prep.clone()), (main.id, main.clone())]
            .into_iter()
            .collect();
        let mut done = HashSet::new();
        let first = next(src, &pc, &batches, &runbooks, &done).expect("assigned");
        assert_eq!(
            (first.batch.name.as_str(), first.runbook.id),
            ("wave", prep.id)
        );
        done.insert(prep.id);
        assert_eq!(
            next(src, &pc, &batches, &runbooks, &done).map(|a| a.runbook.id),
            Some(main.id)
        );
        done.insert(main.id);
        assert!(next(src, &pc, &batches, &runbooks, &done).is_none());
        assert!(next(dst, &pc, &batches, &runbooks, &HashSet::new()).is_none());

        let a = assign(&prep);
        assert_eq!(
            waiting_status(&a, Utc.from_utc_datetime(&at(8))),
            AgentStatus::NotAvailable
        );
        assert_eq!(
            waiting_status(&a, Utc.from_utc_datetime(&at(9))),
            AgentStatus::NotStarted
        );
        let enforced_only = Assignment {
            available_from: None,
            ..a
        };
        assert_eq!(
            waiting_status(&enforced_only, Utc.from_utc_datetime(&at(10))),
            AgentStatus::NotAvailable
        );
    }

    #[test]
    fn a_runbook_waits_until_its_prerequisite_completed_even_if_assigned_first() {
        let (src, dst) = (DirectoryId::new(), DirectoryId::new());
        let pc = ObjectGuid::new();
        let prep = runbook(src, dst, "prep");
        let mut main = runbook(src, dst, "main");
        main.prerequisites = vec![prep.id];
        let assign = |r: &Runbook| Assignment {
            runbook: r.id,
            available_from: None,
            enforced_after: at(12),
            timezone: ScheduleTimezone::Utc,
        };
        // The dependant comes first in the batch; the prerequisite still runs first.
        let wave = Batch {
            id: crate::ids::BatchId::new(),
            name: "wave".into(),
            source_directory: src,
            target_directory: dst,
            assignments: vec![assign(&main), assign(&prep)],
            computers: ComputerSelection {
                mode: SelectionMode::NoneExcept,
                computers: vec![pc],
            },
        };
        let batches = vec![wave];
        let mut runbooks: HashMap<_, _> = [(prep.id, prep.clone()), (main.id, main.clone())]
            .into_iter()
            .collect();
        let mut done = HashSet::new();
        let pick = |runbooks: &HashMap<RunbookId, Runbook>, done: &HashSet<RunbookId>| {
            next(src, &pc, &batches, runbooks, done).map(|a| a.runbook.id)
        };
        assert_eq!(pick(&runbooks, &done), Some(prep.id));
        done.insert(prep.id);
        assert_eq!(pick(&runbooks, &done), Some(main.id));
        // A prerequisite assigned nowhere holds the dependant back.
        runbooks.remove(&prep.id);
        assert_eq!(pick(&runbooks, &HashSet::new()), None);
    }
}
