//! Batches beyond storing them: which runbooks fit a batch, warnings about its schedule and about
//! computers another batch takes too, type-ahead over imported computers, and the computer list
//! as CSV.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use chrono::{Duration, NaiveDateTime};
use model::batch::{Batch, ScheduleTimezone, ScheduledTime, SelectionMode};
use model::computer_list::{self, ListedComputer};
use model::ids::{BatchId, DirectoryId, ObjectGuid, RunbookId};
use model::runbook::Runbook;
use model::FieldError;
use serde::Serialize;

use super::config::update_batch;
use super::parse_id;
use crate::auth::{Access, Area, Caller};
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
                "{} computer(s) are also in batch {:?}: {}",
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

async fn runbooks_by_id(app: &App) -> Result<HashMap<RunbookId, Runbook>> {
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

fn query_id(query: &HashMap<String, String>, field: &str) -> Result<DirectoryId> {
    let text = query
        .get(field)
        .ok_or_else(|| Error::field(field, "required: a directory id"))?;
    parse_id(field, text)
}

/// `GET /batches/compatible-runbooks?source=ID&target=ID`: the runbooks a batch from `source` to
/// `target` may assign.
#[utoipa::path(
    get,
    path = "/batches/compatible-runbooks",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    params(("source" = String, Query, description = "The source directory's id."), ("target" = String, Query, description = "The target directory's id.")),
    responses(
        (status = 200, description = "Runbooks that migrate from the source to the target directory.", body = [crate::api::openapi::schemas::Runbook]),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn compatible_runbooks(
    caller: Caller,
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Runbook>>> {
    caller.require(Area::Agent, Access::Read)?;
    let source = query_id(&query, "source")?;
    let target = query_id(&query, "target")?;
    Ok(Json(
        app.store
            .runbooks()
            .await?
            .into_iter()
            .filter(|r| fits(r, source, target))
            .collect(),
    ))
}

/// `GET /computers?directory=ID&search=PREFIX&limit=N`: imported computers of a directory whose
/// name starts with `search` (ignoring case), `limit` at most (20 unless given, up to 100).
#[utoipa::path(
    get,
    path = "/computers",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    params(("directory" = String, Query, description = "The directory's id.")),
    responses(
        (status = 200, description = "The computers of the directory.", body = [crate::api::openapi::schemas::ComputerEntry]),
        (status = 404, description = "No such directory.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn computers(
    caller: Caller,
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<ComputerEntry>>> {
    caller.require(Area::Agent, Access::Read)?;
    let directory = query_id(&query, "directory")?;
    let limit = match query.get("limit") {
        None => DEFAULT_COMPUTER_LIMIT,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(n) if (1..=MAX_COMPUTER_LIMIT).contains(&n) => n,
            _ => {
                return Err(Error::field(
                    "limit",
                    format!("a whole number from 1 to {}", MAX_COMPUTER_LIMIT),
                ))
            }
        },
    };
    if app.store.directory(directory).await?.is_none() {
        return Err(Error::NotFound("directory"));
    }
    let search = query.get("search").map(|s| s.trim()).unwrap_or("");
    Ok(Json(
        app.store
            .computers_by_prefix(directory, search, limit)
            .await?,
    ))
}

async fn stored_batch(app: &App, id: &str) -> Result<Batch> {
    app.store
        .batch(parse_id("id", id)?)
        .await?
        .ok_or(Error::NotFound("batch"))
}

/// `PUT /batches/{id}/computers.csv` with a CSV body (`name`, `objectGuid`): replaces the batch's
/// listed computers. A bad line, or a computer not imported into the batch's source directory, is
/// an error naming its line, and nothing changes.
#[utoipa::path(
    put,
    path = "/batches/{id}/computers.csv",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_OPERATE,
    params(("id" = String, Path, description = "The batch's id.")),
    request_body(content = String, content_type = "text/csv", description = "One computer a line, by name or object GUID."),
    responses(
        (status = 200, description = "The batch with the listed computers.", body = crate::api::openapi::schemas::BatchView),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn import_csv(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<BatchView>> {
    caller.require(Area::Agent, Access::Operate)?;
    let mut batch = stored_batch(&app, &id).await?;
    let text = std::str::from_utf8(&body)
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
    let missing: Vec<FieldError> = rows
        .iter()
        .filter(|(_, c)| !imported.contains_key(&c.guid))
        .map(|(line, c)| {
            FieldError::new(
                format!("line {}", line),
                format!(
                    "{} ({}) is not an imported computer of {}; import its computers first, or remove the line",
                    c.name, c.guid, directory
                ),
            )
        })
        .collect();
    if !missing.is_empty() {
        return Err(Error::Invalid(missing));
    }
    batch.computers.computers = rows.into_iter().map(|(_, c)| c.guid).collect();
    let batch = update_batch(&app, batch).await?;
    Ok(Json(view(&app, batch).await?))
}

/// `GET /batches/{id}/computers.csv`: the listed computers as a CSV that the import reads back.
#[utoipa::path(
    get,
    path = "/batches/{id}/computers.csv",
    tag = "batches",
    description = crate::api::openapi::access::AGENT_READ,
    params(("id" = String, Path, description = "The batch's id.")),
    responses(
        (status = 200, description = "The batch's computers as CSV.", body = String, content_type = "text/csv"),
        (status = 404, description = "No such batch.", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input; `fields` names what is wrong. Nothing was changed.", body = crate::error::ErrorBody)
    )
)]
pub async fn export_csv(
    caller: Caller,
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse> {
    caller.require(Area::Agent, Access::Read)?;
    let batch = stored_batch(&app, &id).await?;
    let imported = app.store.computer_names(batch.source_directory).await?;
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
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"computers.csv\"",
            ),
        ],
        computer_list::write(&listed),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use model::batch::{Assignment, ComputerSelection};

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
