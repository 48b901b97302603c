//! Removing an agent with everything recorded about it, and a server certificate for agents.

use model::ids::{AgentId, CertificateId};

use super::Store;
use crate::Result;

impl Store {
    /// Deletes agent `id` with its runs, events, harvested profiles and readiness (checks,
    /// waivers, summaries and requests); false when there was no such agent. The devices a licence counted stay counted.
    pub async fn delete_agent(&self, agent: AgentId) -> Result<bool> {
        let done = self.delete_agent_rows(agent).await;
        self.device_changed(agent);
        done
    }

    async fn delete_agent_rows(&self, id: AgentId) -> Result<bool> {
        let id = id.to_string();
        let mut tx = self.pool().begin().await?;
        for table in [
            "agent_runs",
            "agent_events",
            "harvested_profiles",
            "readiness_checks",
            "readiness_waivers",
            "readiness_devices",
            "readiness_requests",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE agent = $1"))
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM agents WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    /// How many agents hold a certificate the server certificate `id` signed.
    pub async fn agents_issued_by(&self, id: CertificateId) -> Result<u64> {
        // The agent's certificate is stored as compact JSON naming its issuer.
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agents WHERE certificate LIKE $1")
            .bind(format!("%\"issuer\":\"{id}\"%"))
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Deletes the server certificate `id`; false when there was none.
    pub async fn delete_certificate(&self, id: CertificateId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM agent_certificates WHERE id = $1")
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
