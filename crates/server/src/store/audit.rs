//! The audit trail's rows (`0007_security.sql`): inserted, read with filters, and swept after the
//! retention period; never updated.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{from_ms, to_ms, Store};
use crate::Result;

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who: a user name, `command line`, or for a refused sign-in the account or a fingerprint
    /// of the name typed.
    pub actor: String,
    /// From which client address, when known.
    pub address: Option<String>,
    /// What, e.g. `PUT /api/v1/users/…`, `sign-in`, `sign-in refused`, `account locked`.
    pub action: String,
    /// The answer's HTTP status (0 for the command line).
    pub status: i64,
    /// The state before, as JSON with secrets replaced, when known.
    pub before: Option<serde_json::Value>,
    /// The state after, or what was sent, as JSON with secrets replaced, when known.
    pub after: Option<serde_json::Value>,
}

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor (case-insensitive).
    pub actor: Option<String>,
    /// Only actions containing this text (case-insensitive).
    pub action: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// At most this many, newest first.
    pub limit: u32,
}

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

impl Store {
    /// Appends `entry` to the trail.
    pub async fn insert_audit(&self, entry: &AuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor, address, action, status, before_value, after_value) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(to_ms(entry.at))
        .bind(&entry.actor)
        .bind(entry.address.clone())
        .bind(&entry.action)
        .bind(entry.status)
        .bind(entry.before.as_ref().map(|v| v.to_string()))
        .bind(entry.after.as_ref().map(|v| v.to_string()))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Entries matching `filter`, newest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at, actor, address, action, status, before_value, after_value FROM audit_log \
             WHERE ($1 = '' OR lower(actor) = lower($1)) \
               AND ($2 = '' OR lower(action) LIKE '%' || lower($2) || '%' ESCAPE '!') \
               AND at >= $3 AND at < $4 \
             ORDER BY at DESC, id LIMIT $5",
        )
        .bind(filter.actor.clone().unwrap_or_default())
        // Text to find: `%` and `_` in it are not wildcards.
        .bind(super::computers::like_literal(
            filter.action.as_deref().unwrap_or_default(),
        ))
        .bind(filter.since.map_or(i64::MIN, to_ms))
        .bind(filter.until.map_or(i64::MAX, to_ms))
        .bind(i64::from(filter.limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    at: from_ms(row.try_get("at")?),
                    actor: row.try_get("actor")?,
                    address: row.try_get("address")?,
                    action: row.try_get("action")?,
                    status: row.try_get("status")?,
                    before: json(row.try_get("before_value")?),
                    after: json(row.try_get("after_value")?),
                })
            })
            .collect()
    }

    /// Deletes entries older than `before`, the end of the retention period; returns how many.
    pub async fn sweep_audit(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM audit_log WHERE at < $1")
            .bind(to_ms(before))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
