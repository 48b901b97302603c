//! Batches: each checked against its directories and runbooks before it is stored, shown with
//! warnings about its schedule and about computers another batch takes too; which runbooks fit a
//! batch, type-ahead over imported computers, and the computer list as CSV.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDateTime};
use model::batch::{Batch, ScheduleTimezone, ScheduledTime, SelectionMode};
use model::computer_list::{self, ListedComputer};
use model::ids::{BatchId, DirectoryId, ObjectGuid, RunbookId};
use model::runbook::Runbook;
use model::FieldError;
use serde::Serialize;

use crate::store::computers::ComputerEntry;
use crate::{App, Error, Result};

/// Type-ahead returns this many computers unless asked for fewer or more.
pub const DEFAULT_COMPUTER_LIMIT: i64 = 20;
/// Type-ahead never returns more than this many computers.
pub const MAX_COMPUTER_LIMIT: i64 = 100;

/// Wall-clock offsets in use run from UTC−12 to UTC+14: a Local time falls somewhere in that span.
const LOCAL_AHEAD_HOURS: i64 = 14;
const LOCAL_BEHIND_HOURS: i64 = 12;

/// A computer that another batch takes too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overlap {
    /// The computer.
    pub computer: ObjectGuid,
    /// Its imported name (its GUID when it is not imported).
    pub name: String,
    /// The other batch.
    pub other_batch: BatchId,
    /// The other batch's name.
    pub other_batch_name: String,
}

/// A batch as the API shows it: saved as given, with what deserves a second look.
#[derive(Debug, Clone, Serialize)]
pub struct BatchView {
    /// The batch.
    #[serde(flatten)]
    pub batch: Batch,
    /// Computers this batch takes that another batch takes too.
    pub overlaps: Vec<Overlap>,
    /// Things that are allowed but probably not meant, each naming its field.
    pub warnings: Vec<FieldError>,
}

/// Why `runbook` cannot serve `batch`, if it cannot.
pub fn misfit(batch: &Batch, runbook: &Runbook) -> Option<&'static str> {
    if !runbook.source_directories.contains(&batch.source_directory) {
        Some("the runbook's source directories do not include the batch's source directory")
    } else if runbook.target_directory != batch.target_directory {
        Some("the runbook's target directory is not the batch's target directory")
    } else {
        None
    }
}

/// Checks `batch` and its runbooks against what is stored; every problem is a field error.
async fn check(app: &App, batch: &Batch) -> Result<()> {
    batch.validate()?;
    let mut errors: Vec<FieldError> = Vec::new();
    if app.store.directory(batch.source_directory).await?.is_none() {
        errors.push(FieldError::new("source_directory", "no such directory"));
    }
    if app.store.directory(batch.target_directory).await?.is_none() {
        errors.push(FieldError::new("target_directory", "no such directory"));
    }
    for (i, a) in batch.assignments.iter().enumerate() {
        let field = format!("assignments[{}].runbook", i);
        match app.store.runbook(a.runbook).await? {
            None => errors.push(FieldError::new(field, "no such runbook")),
            Some(runbook) => {
                if let Some(problem) = misfit(batch, &runbook) {
                    errors.push(FieldError::new(field, problem));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

/// Adds a batch after checking it and its runbooks.
pub async fn create(app: &App, batch: Batch) -> Result<Batch> {
    check(app, &batch).await?;
    let batch = Batch {
        name: batch.name.trim().to_string(),
        ..batch
    };
    app.store.insert_batch(&batch, app.clock.now()).await?;
    Ok(batch)
}

/// Replaces a batch after checking it.
pub async fn update(app: &App, batch: Batch) -> Result<Batch> {
    check(app, &batch).await?;
    let batch = Batch {
        name: batch.name.trim().to_string(),
        ..batch
    };
    if !app.store.update_batch(&batch, app.clock.now()).await? {
        return Err(Error::NotFound("batch"));
    }
    Ok(batch)
}

/// Whether `runbook` may be assigned in a batch from `source` to `target`.
pub fn fits(runbook: &Runbook, source: DirectoryId, target: DirectoryId) -> bool {
    runbook.source_directories.contains(&source) && runbook.target_directory == target
}

/// The earliest and latest instant (as UTC wall time) `time` can fall on, on any device.
fn span(time: ScheduledTime) -> (NaiveDateTime, NaiveDateTime) {
    match time.timezone {
        ScheduleTimezone::Utc => (time.at, time.at),
        ScheduleTimezone::Local => (
            time.at - Duration::hours(LOCAL_AHEAD_HOURS),
            time.at + Duration::hours(LOCAL_BEHIND_HOURS),
        ),
    }
}

/// Whether `first` can fall after `second` on some device. Two Local times are read on the same
/// device clock; a Local and a UTC time are compared over every offset in use.
fn can_be_later(first: ScheduledTime, second: ScheduledTime) -> bool {
    if first.timezone == second.timezone {
        first.at > second.at
    } else {
        span(first).1 > span(second).0
    }
}

/// Warnings for prerequisites this batch schedules after the runbooks that need them.
pub fn schedule_warnings(batch: &Batch, runbooks: &HashMap<RunbookId, Runbook>) -> Vec<FieldError> {
    let mut warnings = Vec::new();
    let name = |id: &RunbookId| {
        runbooks
            .get(id)
            .map(|r| r.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    for (i, dependant) in batch.assignments.iter().enumerate() {
        let needs = match runbooks.get(&dependant.runbook) {
            Some(r) => &r.prerequisites,
            None => continue,
        };
        for (j, prerequisite) in batch.assignments.iter().enumerate() {
            if !needs.contains(&prerequisite.runbook) {
                continue;
            }
            let opens =
                |a: &model::batch::Assignment| a.available().unwrap_or_else(|| a.enforced());
            let field = if can_be_later(prerequisite.enforced(), dependant.enforced()) {
                format!("assignments[{}].enforced_after", j)
            } else if can_be_later(opens(prerequisite), opens(dependant)) {
                match prerequisite.available_from {
                    Some(_) => format!("assignments[{}].available_from", j),
                    None => format!("assignments[{}].enforced_after", j),
                }
            } else {
                continue;
            };
            warnings.push(FieldError::new(
                field,
                format!(
                    "{:?} is a prerequisite of {:?} (assignments[{}]) but can come after it on a device; schedule it earlier (a Local time can fall up to 14 hours before or 12 hours after the same UTC time)",
                    name(&prerequisite.runbook),
                    name(&dependant.runbook),
                    i
                ),
            ));
        }
    }
    warnings
}

/// The computers `batch` takes, given the computers imported into its source directory.
fn selected(batch: &Batch, imported: &HashMap<ObjectGuid, String>) -> Vec<ObjectGuid> {
    match batch.computers.mode {
        SelectionMode::NoneExcept => batch.computers.computers.clone(),
        SelectionMode::AllExcept => imported
            .keys()
            .filter(|g| batch.computers.includes(g))
            .copied()
            .collect(),
    }
}

/// Computers `batch` takes that another of `batches` takes too, by name.
pub async fn overlaps(app: &App, batch: &Batch, batches: &[Batch]) -> Result<Vec<Overlap>> {
    let others: Vec<&Batch> = batches
        .iter()
        .filter(|o| o.id != batch.id && o.source_directory == batch.source_directory)
        .collect();
    if others.is_empty() {
        return Ok(Vec::new());
    }
    let imported = app.store.computer_names(batch.source_directory).await?;
    let mine = selected(batch, &imported);
    let mut found = Vec::new();
    for other in others {
        for computer in &mine {
            if other.computers.includes(computer) {
                found.push(Overlap {
                    computer: *computer,
                    name: imported
                        .get(computer)
                        .cloned()
                        .unwrap_or_else(|| computer.to_string()),
                    other_batch: other.id,
                    other_batch_name: other.name.clone(),
                });
            }
        }
    }
    found.sort_by(|a, b| {
        (a.name.to_lowercase(), &a.other_batch_name)
            .cmp(&(b.name.to_lowercase(), &b.other_batch_name))
    });
    Ok(found)
}

/// One warning per other batch sharing computers, naming a few of them.
fn overlap_warnings(overlaps: &[Overlap]) -> Vec<FieldError> {
    let mut by_batch: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for o in overlaps {
        by_batch
            .entry(&o.other_batch_name)
            .or_default()
            .push(&o.name);
    }
    by_batch
        .into_iter()
        .map(|(other, names)| {
            let shown: Vec<&str> = names.iter().take(5).copied().collect();
            let more = names.len() - shown.len();
            let mut message = format!(
                "{} computer(s) are also in batch \"{}\": {}",
                names.len(),
                other,
                shown.join(", ")
            );
            if more > 0 {
                message.push_str(&format!(" and {} more", more));
            }
            message.push_str("; a computer should be in one batch only");
            FieldError::new("computers", message)
        })
        .collect()
}

/// Every runbook, by id.
pub(crate) async fn runbooks_by_id(app: &App) -> Result<HashMap<RunbookId, Runbook>> {
    Ok(app
        .store
        .runbooks()
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect())
}

/// `batch` with its overlaps and warnings, against every stored batch.
pub async fn view(app: &App, batch: Batch) -> Result<BatchView> {
    let batches = app.store.batches().await?;
    let runbooks = runbooks_by_id(app).await?;
    view_among(app, batch, &batches, &runbooks).await
}

async fn view_among(
    app: &App,
    batch: Batch,
    batches: &[Batch],
    runbooks: &HashMap<RunbookId, Runbook>,
) -> Result<BatchView> {
    let overlaps = overlaps(app, &batch, batches).await?;
    let mut warnings = schedule_warnings(&batch, runbooks);
    warnings.extend(overlap_warnings(&overlaps));
    Ok(BatchView {
        batch,
        overlaps,
        warnings,
    })
}

/// Every stored batch as [`BatchView`]s, in batch order.
pub async fn views(app: &App) -> Result<Vec<BatchView>> {
    let batches = app.store.batches().await?;
    let runbooks = runbooks_by_id(app).await?;
    let mut out = Vec::with_capacity(batches.len());
    for batch in &batches {
        out.push(view_among(app, batch.clone(), &batches, &runbooks).await?);
    }
    Ok(out)
}

/// The batch `id` with its overlaps and warnings.
pub async fn get(app: &App, id: BatchId) -> Result<BatchView> {
    let batch = stored(app, id).await?;
    view(app, batch).await
}

/// Deletes the batch `id`.
pub async fn delete(app: &App, id: BatchId) -> Result<()> {
    if app.store.delete_batch(id).await? {
        Ok(())
    } else {
        Err(Error::NotFound("batch"))
    }
}

async fn stored(app: &App, id: BatchId) -> Result<Batch> {
    app.store.batch(id).await?.ok_or(Error::NotFound("batch"))
}

/// The runbooks a batch from `source` to `target` may assign.
pub async fn compatible_runbooks(
    app: &App,
    source: DirectoryId,
    target: DirectoryId,
) -> Result<Vec<Runbook>> {
    Ok(app
        .store
        .runbooks()
        .await?
        .into_iter()
        .filter(|r| fits(r, source, target))
        .collect())
}

/// Imported computers of `directory` whose name starts with `search` (ignoring case), `limit` at
/// most.
pub async fn computers(
    app: &App,
    directory: DirectoryId,
    search: &str,
    limit: i64,
) -> Result<Vec<ComputerEntry>> {
    if app.store.directory(directory).await?.is_none() {
        return Err(Error::NotFound("directory"));
    }
    app.store
        .computers_by_prefix(directory, search, limit)
        .await
}

/// Replaces the listed computers of batch `id` with those of a CSV (`name`, `objectGuid`). A bad
/// line, a computer not imported into the batch's source directory, or a name that is not the
/// one its GUID has there, is an error naming its line, and nothing changes.
pub async fn import_computer_list(app: &App, id: BatchId, csv: &[u8]) -> Result<BatchView> {
    let mut batch = stored(app, id).await?;
    let text = std::str::from_utf8(csv)
        .map_err(|_| Error::field("body", "the computer list must be UTF-8 text"))?;
    let rows = computer_list::parse_numbered(text).map_err(|bad| {
        Error::Invalid(
            bad.into_iter()
                .map(|b| FieldError::new(format!("line {}", b.line), b.message))
                .collect(),
        )
    })?;
    let imported = app.store.computer_names(batch.source_directory).await?;
    let directory = app
        .store
        .directory(batch.source_directory)
        .await?
        .map(|d| d.name)
        .unwrap_or_else(|| batch.source_directory.to_string());
    let wrong: Vec<FieldError> = rows
        .iter()
        .filter_map(|(line, c)| {
            let message = match imported.get(&c.guid) {
                None => format!(
                    "{} ({}) is not an imported computer of {}; import its computers first, or remove the line",
                    c.name, c.guid, directory
                ),
                // A GUID copied from the wrong line would put another computer in the batch.
                Some(name) if !names_computer(&c.name, name) => format!(
                    "names {} but {} is {} in {}; correct the name or the GUID",
                    c.name, c.guid, name, directory
                ),
                Some(_) => return None,
            };
            Some(FieldError::new(format!("line {}", line), message))
        })
        .collect();
    if !wrong.is_empty() {
        return Err(Error::Invalid(wrong));
    }
    batch.computers.computers = rows.into_iter().map(|(_, c)| c.guid).collect();
    let batch = update(app, batch).await?;
    view(app, batch).await
}

/// Whether `given`, a computer list's name, names the computer called `stored` in its directory,
/// ignoring case: the name itself, its account name (`PC-7$`) or a DNS name under it
/// (`pc-7.contoso.test`).
fn names_computer(given: &str, stored: &str) -> bool {
    let (given, stored) = (given.to_lowercase(), stored.to_lowercase());
    given == stored
        || given.strip_suffix('$') == Some(stored.as_str())
        || given
            .strip_prefix(stored.as_str())
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The listed computers of batch `id` as a CSV that [`import_computer_list`] reads back.
pub async fn export_computer_list(app: &App, id: BatchId) -> Result<String> {
    let batch = stored(app, id).await?;
    // The names of the listed computers only, not of every computer the directory holds.
    let imported = app
        .store
        .object_names_of(batch.source_directory, &batch.computers.computers)
        .await?;
    let listed: Vec<ListedComputer> = batch
        .computers
        .computers
        .iter()
        .map(|guid| ListedComputer {
            name: imported
                .get(guid)
                .cloned()
                .unwrap_or_else(|| guid.to_string()),
            guid: *guid,
        })
        .collect();
    Ok(computer_list::write(&listed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use model::batch::{Assignment, ComputerSelection};

    #[test]
    fn an_overlap_names_the_other_batch_as_it_is_written() {
        let overlap = |n: u128, name: &str| Overlap {
            computer: ObjectGuid(uuid::Uuid::from_u128(n)),
            name: name.to_string(),
            other_batch: BatchId(uuid::Uuid::from_u128(1)),
            other_batch_name: r#"Wave "2" \ Sales"#.to_string(),
        };
        let warnings = overlap_warnings(&[overlap(1, "WS-01"), overlap(2, "WS-02")]);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].field, "computers");
        assert_eq!(
            warnings[0].message,
            r#"2 computer(s) are also in batch "Wave "2" \ Sales": WS-01, WS-02; a computer should be in one batch only"#
        );
    }

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 5, day)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .expect("valid time")
    }

    fn runbook(name: &str, prerequisites: Vec<RunbookId>) -> Runbook {
        serde_json::from_value(serde_json::json!({
            "id": RunbookId::new(), "name": name, "source_directories": [DirectoryId::new()],
            "target_directory": DirectoryId::new(), "prerequisites": prerequisites
        }))
        .expect("runbook")
    }

    fn assign(
        r: &Runbook,
        available: Option<NaiveDateTime>,
        enforced: NaiveDateTime,
        tz: ScheduleTimezone,
    ) -> Assignment {
        Assignment {
            runbook: r.id,
            available_from: available,
            enforced_after: enforced,
            timezone: tz,
        }
    }

    fn warnings_for(assignments: Vec<Assignment>, runbooks: &[&Runbook]) -> Vec<String> {
        let batch = Batch {
            id: BatchId::new(),
            name: "Wave".into(),
            source_directory: DirectoryId::new(),
            target_directory: DirectoryId::new(),
            assignments,
            computers: ComputerSelection::default(),
        };
        let map = runbooks.iter().map(|r| (r.id, (*r).clone())).collect();
        schedule_warnings(&batch, &map)
            .into_iter()
            .map(|w| w.field)
            .collect()
    }

    #[test]
    fn a_prerequisite_scheduled_after_its_dependant_is_named() {
        use ScheduleTimezone::{Local, Utc};
        let prep = runbook("prep", Vec::new());
        let main = runbook("main", vec![prep.id]);
        let rbs = [&prep, &main];
        // (prerequisite, dependant, expected warning fields)
        let cases: Vec<(Assignment, Assignment, Vec<&str>)> = vec![
            (
                assign(&prep, None, at(1, 9), Utc),
                assign(&main, None, at(2, 9), Utc),
                vec![],
            ),
            (
                assign(&prep, None, at(3, 9), Utc),
                assign(&main, None, at(2, 9), Utc),
                vec!["assignments[0].enforced_after"],
            ),
            (
                assign(&prep, None, at(2, 9), Local),
                assign(&main, None, at(2, 9), Local),
                vec![],
            ),
            (
                assign(&prep, Some(at(2, 9)), at(3, 9), Local),
                assign(&main, Some(at(1, 9)), at(4, 9), Local),
                vec!["assignments[0].available_from"],
            ),
            // Local 09:00 can be as late as 21:00 UTC: after a UTC 12:00 dependant.
            (
                assign(&prep, None, at(2, 9), Local),
                assign(&main, None, at(2, 12), Utc),
                vec!["assignments[0].enforced_after"],
            ),
            // A day apart, no offset makes them swap.
            (
                assign(&prep, None, at(1, 9), Local),
                assign(&main, None, at(2, 22), Utc),
                vec![],
            ),
            // UTC 09:00 can be after a Local 12:00 on a device 14 hours ahead.
            (
                assign(&prep, None, at(2, 9), Utc),
                assign(&main, None, at(2, 12), Local),
                vec!["assignments[0].enforced_after"],
            ),
        ];
        for (i, (prerequisite, dependant, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                warnings_for(vec![prerequisite, dependant], &rbs),
                want,
                "case {}",
                i
            );
        }
    }
}
