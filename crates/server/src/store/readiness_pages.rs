//! A batch's readiness as its page shows it, counted, grouped and paged in SQL over the summary
//! of each device (`readiness_devices`), so that no request reads every check of a large batch.

use chrono::{DateTime, Utc};
use model::ids::{AgentId, BatchId, RunbookId};
use model::readiness::{CheckResult, Verdict};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::fleet_events::like;
use super::readiness::Waiver;
use super::{from_ms, parse_text, placeholders, Store};
use crate::Result;

/// Which devices of a batch, and which of their checks: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFilter {
    /// Only checks with this verdict (and the devices that have one).
    pub verdict: Option<Verdict>,
    /// Only checks whose id starts with this (`profile:` for every profile).
    pub check: Option<String>,
    /// Only devices whose name contains this, ignoring case.
    pub device: Option<String>,
    /// Only devices that have not reported.
    pub not_reported: bool,
}

impl DeviceFilter {
    /// The values of `$2`…`$5` of [`DEVICE_WHERE`] (`$1` is the batch).
    fn binds(&self) -> [String; 4] {
        fn text(v: &Option<String>) -> &str {
            v.as_deref().map(str::trim).unwrap_or_default()
        }
        let check = text(&self.check);
        let device = text(&self.device);
        [
            self.verdict
                .map(|v| v.as_str().to_string())
                .unwrap_or_default(),
            check.to_string(),
            if device.is_empty() {
                String::new()
            } else {
                like(device, true)
            },
            if self.not_reported { "1" } else { "" }.to_string(),
        ]
    }
}

const DEVICE_WHERE: &str = "FROM readiness_devices d LEFT JOIN agents a ON a.id = d.agent \
     WHERE d.batch = $1 \
     AND ($5 = '' OR d.reported_at IS NULL) \
     AND ($4 = '' OR LOWER(COALESCE(a.computer_name, d.agent)) LIKE LOWER($4) ESCAPE '!') \
     AND (($2 = '' AND $3 = '') OR (d.agent, d.runbook) IN (SELECT c.agent, c.runbook \
         FROM readiness_checks c WHERE c.batch = $1 AND ($2 = '' OR c.verdict = $2) \
         AND ($3 = '' OR substr(c.check_id, 1, length($3)) = $3)))";

// The devices with a check the filter keeps are found once per query, from an index that holds
// every column the filter reads (`readiness_checks_filter`), not by reading each device's rows.

/// One device and runbook of a batch, summarised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSummary {
    /// The device.
    pub agent: AgentId,
    /// Its computer name (the agent's id when the agent is gone).
    pub name: String,
    /// The runbook.
    pub runbook: RunbookId,
    /// When it was first asked for its checks.
    pub asked_at: DateTime<Utc>,
    /// When its newest report arrived; none when it has not reported.
    pub reported_at: Option<DateTime<Utc>>,
}

/// One stored check with its waiver, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckWithWaiver {
    /// The device.
    pub agent: AgentId,
    /// The runbook.
    pub runbook: RunbookId,
    /// The check as the device sent it.
    pub result: CheckResult,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// Who let it pass and why.
    pub waiver: Option<Waiver>,
}

/// How many devices of a batch have each worst verdict, and how many have not reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SummaryCounts {
    /// By verdict, in the order of [`Verdict::ALL`].
    pub by_verdict: [u64; 4],
    /// Asked, not reported.
    pub not_reported: u64,
}

fn count(row: &AnyRow) -> Result<u64> {
    Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
}

fn check_with_waiver(row: &AnyRow) -> Result<CheckWithWaiver> {
    let waived_by: Option<String> = row.try_get("waived_by")?;
    let waiver = match waived_by {
        Some(waived_by) => Some(Waiver {
            check: row.try_get("check_id")?,
            waived_by,
            reason: row
                .try_get::<Option<String>, _>("waiver_reason")?
                .unwrap_or_default(),
            waived_at: from_ms(row.try_get::<Option<i64>, _>("waived_at")?.unwrap_or(0)),
        }),
        None => None,
    };
    Ok(CheckWithWaiver {
        agent: parse_text("readiness agent", &row.try_get::<String, _>("agent")?)?,
        runbook: parse_text("readiness runbook", &row.try_get::<String, _>("runbook")?)?,
        result: CheckResult {
            check: row.try_get("check_id")?,
            verdict: parse_text("readiness verdict", &row.try_get::<String, _>("verdict")?)?,
            reason: row.try_get("reason")?,
            value: row.try_get("seen")?,
            taken_at: from_ms(row.try_get("taken_at")?),
        },
        received_at: from_ms(row.try_get("received_at")?),
        waiver,
    })
}

impl Store {
    /// The devices of `batch` by their worst verdict, and those that have not reported.
    pub async fn readiness_counts(&self, batch: BatchId) -> Result<SummaryCounts> {
        let rows = sqlx::query(
            "SELECT COALESCE(worst, '') AS worst, COUNT(*) AS n FROM readiness_devices \
             WHERE batch = $1 GROUP BY worst",
        )
        .bind(batch.to_string())
        .fetch_all(self.pool())
        .await?;
        let mut counts = SummaryCounts::default();
        for row in rows {
            let worst: String = row.try_get("worst")?;
            let n = count(&row)?;
            match Verdict::ALL.iter().position(|v| v.as_str() == worst) {
                Some(i) => counts.by_verdict[i] += n,
                None if worst.is_empty() => counts.not_reported += n,
                // A verdict this server does not know counts as one it cannot judge.
                None => counts.by_verdict[2] += n,
            }
        }
        Ok(counts)
    }

    /// The reasons devices of `batch` are held back, each the first blocking check of a device
    /// that is not waived (`profile:` checks grouped as one), most devices first, at most `limit`.
    pub async fn readiness_blocking(
        &self,
        batch: BatchId,
        limit: u64,
    ) -> Result<Vec<(String, String, u64)>> {
        let rows = sqlx::query(
            "SELECT CASE WHEN blocking_check LIKE 'profile:%' THEN 'profile:*' \
             ELSE blocking_check END AS grp, blocking_reason AS reason, COUNT(*) AS n \
             FROM readiness_devices WHERE batch = $1 AND blocking_check IS NOT NULL \
             GROUP BY grp, blocking_reason ORDER BY n DESC, grp, reason LIMIT $2",
        )
        .bind(batch.to_string())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("grp")?,
                    row.try_get::<Option<String>, _>("reason")?
                        .unwrap_or_default(),
                    count(row)?,
                ))
            })
            .collect()
    }

    /// How many devices of `batch` `filter` keeps.
    pub async fn readiness_device_count(
        &self,
        batch: BatchId,
        filter: &DeviceFilter,
    ) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) AS n {DEVICE_WHERE}");
        let mut query = sqlx::query(&sql).bind(batch.to_string());
        for b in filter.binds() {
            query = query.bind(b);
        }
        count(&query.fetch_one(self.pool()).await?)
    }

    /// The devices of `batch` `filter` keeps, by name, `limit` after `offset`.
    pub async fn readiness_devices(
        &self,
        batch: BatchId,
        filter: &DeviceFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<DeviceSummary>> {
        let sql = format!(
            "SELECT d.agent, d.runbook, COALESCE(a.computer_name, d.agent) AS name, d.asked_at, \
             d.reported_at {DEVICE_WHERE} ORDER BY name, d.agent, d.runbook LIMIT $6 OFFSET $7"
        );
        let mut query = sqlx::query(&sql).bind(batch.to_string());
        for b in filter.binds() {
            query = query.bind(b);
        }
        let rows = query
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(DeviceSummary {
                    agent: parse_text("readiness agent", &row.try_get::<String, _>("agent")?)?,
                    name: row.try_get("name")?,
                    runbook: parse_text(
                        "readiness runbook",
                        &row.try_get::<String, _>("runbook")?,
                    )?,
                    asked_at: from_ms(row.try_get("asked_at")?),
                    reported_at: row.try_get::<Option<i64>, _>("reported_at")?.map(from_ms),
                })
            })
            .collect()
    }

    /// Every check of `devices` for their runbooks, with its waiver, by device and in the order
    /// taken.
    pub async fn readiness_checks_of(
        &self,
        devices: &[DeviceSummary],
    ) -> Result<Vec<CheckWithWaiver>> {
        let mut out = Vec::new();
        for chunk in devices.chunks(super::ROWS_PER_STATEMENT * 2) {
            let sql = format!(
                "SELECT c.agent, c.runbook, c.check_id, c.verdict, c.reason, c.seen, c.taken_at, \
                 c.received_at, w.waived_by, w.reason AS waiver_reason, w.waived_at \
                 FROM readiness_checks c LEFT JOIN readiness_waivers w \
                 ON w.agent = c.agent AND w.runbook = c.runbook AND w.check_id = c.check_id \
                 WHERE c.agent IN ({}) ORDER BY c.agent, c.runbook, c.position",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for d in chunk {
                query = query.bind(d.agent.to_string());
            }
            for row in query.fetch_all(self.pool()).await? {
                let c = check_with_waiver(&row)?;
                if chunk
                    .iter()
                    .any(|d| d.agent == c.agent && d.runbook == c.runbook)
                {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }
}
