//! Batches: which computers get which runbooks, from when.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{BatchId, DirectoryId, ObjectGuid, RunbookId};
use crate::{Result, Validator};

/// How the wall-clock times of an assignment are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduleTimezone {
    /// The device's own wall clock: 09:00 is 09:00 wherever the device is.
    #[default]
    Local,
    /// One instant everywhere.
    Utc,
}

/// A wall-clock time read in a [`ScheduleTimezone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledTime {
    /// The time as the engineer typed it.
    pub at: NaiveDateTime,
    /// How to read it.
    pub timezone: ScheduleTimezone,
}

impl ScheduledTime {
    /// The instant this time falls on for a device whose clock runs at `device_offset`.
    pub fn instant(&self, device_offset: FixedOffset) -> DateTime<Utc> {
        match self.timezone {
            ScheduleTimezone::Utc => Utc.from_utc_datetime(&self.at),
            ScheduleTimezone::Local => {
                let utc =
                    self.at - chrono::Duration::seconds(i64::from(device_offset.local_minus_utc()));
                Utc.from_utc_datetime(&utc)
            }
        }
    }
}

impl ScheduledTime {
    /// The instant this time falls on for a device whose time zone is `time_zone` (an IANA name
    /// such as `Europe/Berlin`), honouring its daylight-saving changes; for a device whose zone
    /// is unknown, or not a name the time zone database knows, the wall clock's current offset.
    pub fn instant_for(
        &self,
        time_zone: Option<&str>,
        device_offset: FixedOffset,
    ) -> DateTime<Utc> {
        match time_zone.and_then(|name| name.parse::<chrono_tz::Tz>().ok()) {
            Some(zone) => self.instant_in(&zone),
            None => self.instant(device_offset),
        }
    }

    /// The instant this time falls on for a device in time zone `zone`, with its daylight-saving
    /// rules: a Local time skipped by a spring-forward change means the first instant after the
    /// gap; one that happens twice at a fall-back change means the first of the two.
    pub fn instant_in<Z: TimeZone>(&self, zone: &Z) -> DateTime<Utc> {
        match self.timezone {
            ScheduleTimezone::Utc => Utc.from_utc_datetime(&self.at),
            ScheduleTimezone::Local => local_to_utc(zone, self.at),
        }
    }
}

/// Reads wall-clock time `at` in `zone`, resolving daylight-saving gaps forward and folds to the
/// earlier instant.
pub fn local_to_utc<Z: TimeZone>(zone: &Z, at: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&at) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, second) => {
            first.with_timezone(&Utc).min(second.with_timezone(&Utc))
        }
        LocalResult::None => {
            // Inside a gap: walk forward to the first wall-clock minute that exists. Gaps are at
            // most a few hours anywhere in the tz database.
            let mut probe = at;
            for _ in 0..(24 * 60) {
                probe += chrono::Duration::minutes(1);
                let start = probe
                    .date()
                    .and_hms_opt(probe.hour(), probe.minute(), 0)
                    .unwrap_or(probe);
                if let Some(t) = zone.from_local_datetime(&start).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&at)
        }
    }
}

/// A runbook offered to the computers of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The runbook.
    pub runbook: RunbookId,
    /// From when users may start it themselves; `None` means only once enforced.
    #[serde(default)]
    pub available_from: Option<NaiveDateTime>,
    /// From when it starts without asking.
    pub enforced_after: NaiveDateTime,
    /// How both times are read.
    #[serde(default)]
    pub timezone: ScheduleTimezone,
}

impl Assignment {
    /// Available From as a [`ScheduledTime`].
    pub fn available(&self) -> Option<ScheduledTime> {
        self.available_from.map(|at| ScheduledTime {
            at,
            timezone: self.timezone,
        })
    }

    /// Enforced After as a [`ScheduledTime`].
    pub fn enforced(&self) -> ScheduledTime {
        ScheduledTime {
            at: self.enforced_after,
            timezone: self.timezone,
        }
    }
}

/// Which computers of the source directory a batch takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectionMode {
    /// Every computer except those listed.
    AllExcept,
    /// No computer except those listed.
    #[default]
    NoneExcept,
}

/// A batch's computer selection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputerSelection {
    /// All-except or none-except.
    pub mode: SelectionMode,
    /// The listed computers.
    #[serde(default)]
    pub computers: Vec<ObjectGuid>,
}

impl ComputerSelection {
    /// True when the batch takes `computer`.
    pub fn includes(&self, computer: &ObjectGuid) -> bool {
        let listed = self.computers.contains(computer);
        match self.mode {
            SelectionMode::AllExcept => !listed,
            SelectionMode::NoneExcept => listed,
        }
    }
}

/// A batch: a source and a target directory, runbook assignments and a computer selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Its id.
    pub id: BatchId,
    /// A recognisable name.
    pub name: String,
    /// Where the computers come from.
    pub source_directory: DirectoryId,
    /// Where they go.
    pub target_directory: DirectoryId,
    /// The runbooks offered, in order.
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// The computers taken.
    #[serde(default)]
    pub computers: ComputerSelection,
}

impl Batch {
    /// Checks every rule; the error names each field that breaks one.
    pub fn validate(&self) -> Result<()> {
        let mut v = Validator::default();
        v.check(!self.name.trim().is_empty(), "name", "a batch needs a name");
        v.check(self.name.len() <= 100, "name", "at most 100 characters");
        v.check(
            self.source_directory != self.target_directory,
            "target_directory",
            "the target directory must differ from the source directory",
        );
        for (i, a) in self.assignments.iter().enumerate() {
            if self.assignments[..i].iter().any(|b| b.runbook == a.runbook) {
                v.fail(
                    format!("assignments[{}].runbook", i),
                    "this runbook is already assigned",
                );
            }
            if let Some(available) = a.available_from {
                v.check(
                    available <= a.enforced_after,
                    format!("assignments[{}].available_from", i),
                    "Available From must not be later than Enforced After",
                );
            }
        }
        v.finish()
    }
}

#[cfg(test)]
mod tests;
