//! Leases: which replica runs a piece of singleton work, until when.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;

use super::{from_ms, to_ms, Store};
use crate::Result;

impl Store {
    /// Takes or renews lease `name` for `holder` until `now + ttl`. The row is taken only when it is
    /// free, expired, or already `holder`'s, in one statement, so two replicas never both hold it.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $4",
        )
        .bind(name)
        .bind(holder)
        .bind(to_ms(now + ttl))
        .bind(to_ms(now))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Gives lease `name` up if `holder` has it, so another replica need not wait for expiry.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Who holds lease `name` and until when, if anyone does.
    pub async fn lease_holder(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>> {
        let row = sqlx::query("SELECT holder, expires_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(row) => Ok(Some((
                row.try_get("holder")?,
                from_ms(row.try_get("expires_at")?),
            ))),
            None => Ok(None),
        }
    }
}
