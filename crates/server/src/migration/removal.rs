//! Deleting an agent and deleting an agent certificate.

use model::ids::{AgentId, CertificateId};

use crate::{App, Error, Result};

/// Deletes agent `id` with its runs, logs and harvested profiles. Its device shows No Agent
/// again and can register anew (with a PSK or certificate that is still valid); a licence that
/// counted it keeps counting it.
pub async fn delete_agent(app: &App, id: AgentId) -> Result<()> {
    let deleted = app.store.delete_agent(id).await?;
    // Refused on this replica from the next request on (other replicas: see the agent cache).
    app.agent_cache.forget_agent(id);
    if deleted {
        tracing::info!(agent = %id, "agent deleted");
        Ok(())
    } else {
        Err(Error::NotFound("agent"))
    }
}

/// Deletes the agent certificate `id`. Refused while an agent holds a certificate it signed:
/// that agent could no longer talk to the server (delete those agents first).
pub async fn delete_certificate(app: &App, id: CertificateId) -> Result<()> {
    let holders = app.store.agents_issued_by(id).await?;
    if holders > 0 {
        return Err(Error::Conflict(format!(
            "{holders} registered agent(s) hold a certificate it signed and would stop working; \
             delete them first or let this certificate expire"
        )));
    }
    let deleted = app.store.delete_certificate(id).await?;
    app.agent_cache.forget_certificate(id);
    if deleted {
        tracing::info!(certificate = %id, "agent certificate deleted");
        Ok(())
    } else {
        Err(Error::NotFound("agent certificate"))
    }
}
