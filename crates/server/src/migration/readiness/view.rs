//! A batch's readiness as the API, the console and CSV show it: devices counted by their worst
//! verdict and the reasons they are held back grouped, both by aggregate queries; the devices the
//! filter keeps a page at a time, those not reported among them; CSV of every filtered row
//! streamed a few hundred devices at a time. And one device's readiness, for Agent Details.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use chrono::{DateTime, Utc};
use model::ids::{AgentId, BatchId, RunbookId};
use model::readiness::{held_back_message, CheckResult, Verdict};
use serde::Serialize;

use super::not_reported_message;
use crate::store::readiness::Waiver;
pub use crate::store::readiness_pages::DeviceFilter as Filter;
use crate::store::readiness_pages::{CheckWithWaiver, DeviceSummary};
use crate::{App, Error, Result};

/// Devices on one page of a batch's readiness.
pub const PER_PAGE: u64 = 100;
/// Devices whose checks are read at a time while CSV is written.
const CSV_DEVICES: usize = 200;
/// Most blocking reasons listed.
const MAX_REASONS: u64 = 100;
/// The verdict shown for a device whose checks have not arrived.
pub const NOT_REPORTED: &str = "not_reported";

impl Filter {
    /// The filter of query values; an unknown verdict names the field. The verdict
    /// `not_reported` keeps the devices whose checks have not arrived.
    pub fn parse(
        verdict: Option<&str>,
        check: Option<&str>,
        device: Option<&str>,
    ) -> Result<Filter> {
        fn blank(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        let not_reported = blank(verdict).is_some_and(|v| v.eq_ignore_ascii_case(NOT_REPORTED));
        Ok(Filter {
            verdict: blank(verdict)
                .filter(|_| !not_reported)
                .map(|v| {
                    v.parse::<Verdict>()
                        .map_err(|e| Error::field("verdict", format!("{e}, or {NOT_REPORTED}")))
                })
                .transpose()?,
            check: blank(check).map(str::to_string),
            device: blank(device).map(str::to_string),
            not_reported,
        })
    }

    fn keeps(&self, row: &CheckRow) -> bool {
        self.verdict.is_none_or(|v| row.verdict == v.as_str())
            && self
                .check
                .as_deref()
                .is_none_or(|c| row.check.starts_with(c))
    }
}

/// One check of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CheckRow {
    /// The check's id.
    pub check: String,
    /// `pass`, `warn`, `block` or `unknown`.
    pub verdict: String,
    /// Why, in words.
    pub reason: String,
    /// The value seen on the device.
    pub value: String,
    /// When the device took it.
    pub taken_at: DateTime<Utc>,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// Who waived it and why, when it was.
    pub waiver: Option<Waiver>,
}

/// One device's readiness for one runbook.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeviceReadiness {
    /// The agent.
    #[schema(value_type = uuid::Uuid)]
    pub agent: AgentId,
    /// Its computer name.
    pub device: String,
    /// The runbook the checks were taken for.
    #[schema(value_type = uuid::Uuid)]
    pub runbook: RunbookId,
    /// The worst verdict of its checks, a waived block counting as a warning; `not_reported`
    /// while its checks have not arrived.
    pub verdict: String,
    /// When a check-in answer first asked the device for its checks, when known.
    pub asked_at: Option<DateTime<Utc>>,
    /// When its newest checks arrived; none while they have not.
    pub reported_at: Option<DateTime<Utc>>,
    /// Why its runbook does not start, in the words of the check; none when it may.
    pub held_back: Option<String>,
    /// Its checks (those the filter keeps).
    pub checks: Vec<CheckRow>,
}

/// How many devices, by their worst verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VerdictCounts {
    /// Held back by a check.
    pub block: u64,
    /// With a warning (or a waived block).
    pub warn: u64,
    /// With a check the device could not answer.
    pub unknown: u64,
    /// Every check passed.
    pub pass: u64,
}

/// Devices held back by one check for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BlockingReason {
    /// The check's id (`profile:` checks are grouped as one).
    pub check: String,
    /// The reason.
    pub reason: String,
    /// How many devices.
    pub devices: u64,
}

/// A batch's readiness: its counts over every device, and one page of the devices the filter
/// keeps.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchReadiness {
    /// The batch.
    #[schema(value_type = uuid::Uuid)]
    pub batch: BatchId,
    /// Its name.
    pub name: String,
    /// Devices that sent checks.
    pub reported: u64,
    /// Devices asked for their checks that have not sent them: their runbooks do not start.
    pub not_reported: u64,
    /// The reporting devices by their worst verdict (over every check, not only the filtered).
    pub counts: VerdictCounts,
    /// The reasons devices are held back, most devices first.
    pub blocking: Vec<BlockingReason>,
    /// How many devices the filter keeps.
    pub matching: u64,
    /// This page's number, from 1.
    pub page: u64,
    /// Devices per page.
    pub per_page: u64,
    /// This page of the devices the filter keeps (with a check it keeps), by name.
    pub devices: Vec<DeviceReadiness>,
}

fn worst(rows: &[CheckRow]) -> Verdict {
    let effective = |r: &CheckRow| match r.verdict.parse::<Verdict>() {
        Ok(Verdict::Block) if r.waiver.is_some() => Verdict::Warn,
        Ok(v) => v,
        Err(_) => Verdict::Unknown,
    };
    Verdict::ALL
        .into_iter()
        .find(|v| rows.iter().any(|r| effective(r) == *v))
        .unwrap_or(Verdict::Pass)
}

/// The readiness of one device for one runbook from its checks with their waivers.
fn device(
    agent: AgentId,
    name: String,
    runbook: RunbookId,
    rows: Vec<CheckWithWaiver>,
) -> DeviceReadiness {
    let rows: Vec<CheckRow> = rows
        .into_iter()
        .map(|c| CheckRow {
            waiver: c.waiver,
            check: c.result.check,
            verdict: c.result.verdict.as_str().to_string(),
            reason: c.result.reason,
            value: c.result.value,
            taken_at: c.result.taken_at,
            received_at: c.received_at,
        })
        .collect();
    let held_back = rows
        .iter()
        .find(|r| r.verdict == Verdict::Block.as_str() && r.waiver.is_none())
        .map(|r| {
            held_back_message(&CheckResult::new(
                r.check.clone(),
                Verdict::Block,
                r.reason.clone(),
                r.value.clone(),
                r.taken_at,
            ))
        });
    DeviceReadiness {
        agent,
        device: name,
        runbook,
        verdict: worst(&rows).as_str().to_string(),
        asked_at: None,
        reported_at: rows.iter().map(|r| r.received_at).max(),
        held_back,
        checks: rows,
    }
}

/// `offset` and `limit` devices of `batch` that `filter` keeps, each with the checks it keeps.
async fn devices(
    app: &App,
    batch: BatchId,
    filter: &Filter,
    offset: u64,
    limit: u64,
) -> Result<Vec<DeviceReadiness>> {
    let summaries = app
        .store
        .readiness_devices(batch, filter, offset, limit)
        .await?;
    with_checks(app, summaries, filter).await
}

/// `summaries` each with the checks `filter` keeps.
async fn with_checks(
    app: &App,
    summaries: Vec<DeviceSummary>,
    filter: &Filter,
) -> Result<Vec<DeviceReadiness>> {
    let mut checks: BTreeMap<(AgentId, RunbookId), Vec<CheckWithWaiver>> = BTreeMap::new();
    for c in app.store.readiness_checks_of(&summaries).await? {
        checks.entry((c.agent, c.runbook)).or_default().push(c);
    }
    Ok(summaries
        .into_iter()
        .map(|s: DeviceSummary| {
            let rows = checks.remove(&(s.agent, s.runbook)).unwrap_or_default();
            let mut d = match s.reported_at {
                Some(_) => device(s.agent, s.name, s.runbook, rows),
                None => DeviceReadiness {
                    agent: s.agent,
                    device: s.name,
                    runbook: s.runbook,
                    verdict: NOT_REPORTED.to_string(),
                    asked_at: None,
                    reported_at: None,
                    held_back: Some(not_reported_message(s.asked_at)),
                    checks: Vec::new(),
                },
            };
            d.asked_at = Some(s.asked_at);
            d.reported_at = s.reported_at;
            d.checks.retain(|r| filter.keeps(r));
            d
        })
        .collect())
}

/// The readiness of `batch`: its counts, its blocking reasons, and page `page` (from 1; past the
/// end: the last) of its devices that `filter` keeps.
pub async fn of_batch(
    app: &App,
    batch: BatchId,
    filter: &Filter,
    page: Option<u64>,
) -> Result<BatchReadiness> {
    let b = app
        .store
        .batch(batch)
        .await?
        .ok_or(Error::NotFound("batch"))?;
    let summary = app.store.readiness_counts(batch).await?;
    let [block, warn, unknown, pass] = summary.by_verdict;
    let blocking = app
        .store
        .readiness_blocking(batch, MAX_REASONS)
        .await?
        .into_iter()
        .map(|(check, reason, devices)| BlockingReason {
            check,
            reason,
            devices,
        })
        .collect();
    let matching = app.store.readiness_device_count(batch, filter).await?;
    let pages = matching.div_ceil(PER_PAGE).max(1);
    let page = page.unwrap_or(1).clamp(1, pages);
    let devices = devices(app, batch, filter, (page - 1) * PER_PAGE, PER_PAGE).await?;
    Ok(BatchReadiness {
        batch,
        name: b.name,
        reported: block + warn + unknown + pass,
        not_reported: summary.not_reported,
        counts: VerdictCounts {
            block,
            warn,
            unknown,
            pass,
        },
        blocking,
        matching,
        page,
        per_page: PER_PAGE,
        devices,
    })
}

const CSV_HEADER: [&str; 11] = [
    "device",
    "agent",
    "runbook",
    "check",
    "verdict",
    "reason",
    "value",
    "taken_at",
    "waived_by",
    "waiver_reason",
    "asked_at",
];

/// The CSV lines of `devices`: one per check, and one for a device not reported.
fn csv_part(header: bool, devices: &[DeviceReadiness]) -> Result<String> {
    let rows = devices.iter().flat_map(|d| {
        let asked = d.asked_at.map(|t| t.to_rfc3339()).unwrap_or_default();
        let lines: Vec<[String; 11]> = if d.reported_at.is_none() {
            vec![[
                d.device.clone(),
                d.agent.to_string(),
                d.runbook.to_string(),
                String::new(),
                d.verdict.clone(),
                d.held_back.clone().unwrap_or_default(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                asked,
            ]]
        } else {
            d.checks
                .iter()
                .map(|c| {
                    [
                        d.device.clone(),
                        d.agent.to_string(),
                        d.runbook.to_string(),
                        c.check.clone(),
                        c.verdict.clone(),
                        c.reason.clone(),
                        c.value.clone(),
                        c.taken_at.to_rfc3339(),
                        c.waiver
                            .as_ref()
                            .map(|w| w.waived_by.clone())
                            .unwrap_or_default(),
                        c.waiver
                            .as_ref()
                            .map(|w| w.reason.clone())
                            .unwrap_or_default(),
                        asked.clone(),
                    ]
                })
                .collect()
        };
        lines
    });
    crate::csv_export::write_part(header.then_some(CSV_HEADER), rows)
}

/// Every row of `batch` that `filter` keeps as CSV (one line per check, one per device not
/// reported), written and sent a few hundred devices at a time. An unknown batch is refused
/// before anything is sent.
pub async fn csv(app: &App, batch: BatchId, filter: &Filter) -> Result<Body> {
    app.store
        .batch(batch)
        .await?
        .ok_or(Error::NotFound("batch"))?;
    // The devices in order once (a small row each); their checks a few hundred devices at a time.
    let all = app
        .store
        .readiness_devices(batch, filter, 0, u64::MAX)
        .await?;
    let chunks: Vec<Vec<DeviceSummary>> = all
        .chunks(CSV_DEVICES)
        .map(<[DeviceSummary]>::to_vec)
        .collect();
    let state = (app.clone(), filter.clone(), chunks.into_iter(), true);
    let parts =
        futures_util::stream::unfold(state, move |(app, filter, mut chunks, first)| async move {
            // The header goes out even when no row does.
            let chunk = match chunks.next() {
                Some(chunk) => chunk,
                None if first => Vec::new(),
                None => return None,
            };
            let part = match with_checks(&app, chunk, &filter).await {
                Ok(devices) => csv_part(first, &devices),
                Err(e) => Err(e),
            };
            if let Err(e) = &part {
                tracing::error!(batch = %batch, error = %e, "readiness CSV stopped part way");
            }
            let next = match part {
                Ok(_) => chunks,
                Err(_) => Vec::new().into_iter(),
            };
            Some((part.map(Bytes::from), (app, filter, next, false)))
        });
    Ok(Body::from_stream(parts))
}

/// One device's readiness for every runbook it sent checks for, for Agent Details.
pub async fn of_agent(app: &App, agent: AgentId) -> Result<Vec<DeviceReadiness>> {
    let a = app
        .store
        .agent(agent)
        .await?
        .ok_or(Error::NotFound("agent"))?;
    let waivers = app.store.waivers_of_agent(agent).await?;
    let mut per_runbook: BTreeMap<RunbookId, Vec<CheckWithWaiver>> = BTreeMap::new();
    for c in app.store.readiness_of_agent(agent).await? {
        let waiver = waivers
            .get(&c.runbook)
            .and_then(|w| w.iter().find(|w| w.check == c.result.check))
            .cloned();
        per_runbook
            .entry(c.runbook)
            .or_default()
            .push(CheckWithWaiver {
                agent: c.agent,
                runbook: c.runbook,
                result: c.result,
                received_at: c.received_at,
                waiver,
            });
    }
    Ok(per_runbook
        .into_iter()
        .map(|(runbook, rows)| device(agent, a.computer_name.clone(), runbook, rows))
        .collect())
}
