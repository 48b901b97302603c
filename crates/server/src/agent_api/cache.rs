//! What every agent request would otherwise read and decode again: the agent certificates' key
//! pairs (a certificate never changes once made) and the runbooks and batches an assignment is
//! chosen from, read again only when their fingerprint in the store changed (so a change made on
//! another replica is seen at the next check-in too).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use model::ids::{CertificateId, RunbookId};

use crate::store::certificates::CertificateSecret;
use crate::store::config::ConfigVersion;
use crate::{App, Result};

/// The configuration an assignment is chosen from.
#[derive(Debug)]
pub struct Config {
    /// Every batch, in batch order.
    pub batches: Vec<model::batch::Batch>,
    /// Every runbook by id.
    pub runbooks: HashMap<RunbookId, model::runbook::Runbook>,
}

/// The agent API's caches; see the module documentation.
#[derive(Debug, Default)]
pub struct AgentApiCache {
    certificates: Mutex<HashMap<CertificateId, Arc<CertificateSecret>>>,
    config: Mutex<Option<(ConfigVersion, Arc<Config>)>>,
}

impl AgentApiCache {
    /// The certificate `id` with its key pair.
    pub async fn certificate(
        &self,
        app: &App,
        id: CertificateId,
    ) -> Result<Option<Arc<CertificateSecret>>> {
        if let Some(found) = self.lock_certificates().get(&id) {
            return Ok(Some(found.clone()));
        }
        let Some(secret) = app.store.certificate_secret(id).await? else {
            return Ok(None);
        };
        let secret = Arc::new(secret);
        self.lock_certificates().insert(id, secret.clone());
        Ok(Some(secret))
    }

    fn lock_certificates(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<CertificateId, Arc<CertificateSecret>>> {
        self.certificates.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The runbooks and batches as the store holds them now.
    pub async fn config(&self, app: &App) -> Result<Arc<Config>> {
        let version = app.store.config_version().await?;
        if let Some((cached, config)) = &*self.config.lock().unwrap_or_else(|e| e.into_inner()) {
            if *cached == version {
                return Ok(config.clone());
            }
        }
        let config = Arc::new(Config {
            batches: app.store.batches().await?,
            runbooks: app
                .store
                .runbooks()
                .await?
                .into_iter()
                .map(|r| (r.id, r))
                .collect(),
        });
        // Written after the read: a change racing with it gets a new version, read next time.
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = Some((version, config.clone()));
        Ok(config)
    }
}
