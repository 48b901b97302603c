//! What every agent request would otherwise read and decode again, so that a check-in touches
//! the database only for what changes per device (its runs, its nonce and contact):
//!
//! - the agent certificates' key pairs (a certificate never changes once made), read again at
//!   most every [`CONFIG_TTL`] so that a certificate deleted on another replica is refused there
//!   too, and forgotten at once when deleted on this replica;
//! - each agent's row (its keys, directory and computer never change for an id; the facts it
//!   reports are written at each check-in and read fresh where they matter), kept for
//!   [`AGENT_TTL`] and forgotten at once when the agent is deleted on this replica;
//! - the runbooks, batches, directories and licences (verified once) an assignment is chosen and
//!   admitted from. Writes made through this process are seen at the next request; a change made
//!   on another replica is seen once the fingerprint of those tables, read again at most every
//!   [`CONFIG_TTL`], changes.
//!
//! The session-form keys of each agent and certificate are derived once and kept (see
//! [`AgentApiCache::session`]).
//!
//! Both time limits run on the app's clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use model::directory::Directory;
use model::envelope::{Key32, SessionKeys};
use model::ids::{AgentId, CertificateId, DirectoryId, RunbookId};
use model::licence::Licence;

use crate::store::agents::Agent;
use crate::store::certificates::CertificateSecret;
use crate::store::config::{local_config_writes, ConfigVersion};
use crate::store::licences::StoredLicence;
use crate::{App, Result};

/// How long a change made on another replica to runbooks, batches, directories or licences may
/// go unseen.
pub fn config_ttl() -> Duration {
    Duration::seconds(CONFIG_TTL)
}
/// [`config_ttl`] in seconds.
pub const CONFIG_TTL: i64 = 2;
/// How long an agent's row is used before it is read again (seconds): the longest an agent
/// deleted on another replica is still answered.
pub const AGENT_TTL: i64 = 30;
/// Agents kept at most; past it, expired entries go, and all go when none has expired.
const AGENTS_KEPT: usize = 20_000;
/// Session keys kept at most (about 150 bytes each); past it, all go and are derived again.
const SESSIONS_KEPT: usize = 200_000;

/// The session keys of one agent and certificate, with the agent key they were derived from.
type CachedSession = (Key32, Arc<SessionKeys>);

/// A licence whose signature checked out against the trusted issuers, with its stored count.
#[derive(Debug, Clone)]
pub struct OpenedLicence {
    /// The licence's terms.
    pub licence: Licence,
    /// As stored, with the devices it counted when read.
    pub stored: StoredLicence,
}

/// The configuration an assignment is chosen and admitted from.
#[derive(Debug)]
pub struct Config {
    /// Every batch, in batch order.
    pub batches: Vec<model::batch::Batch>,
    /// Every runbook by id.
    pub runbooks: HashMap<RunbookId, model::runbook::Runbook>,
    /// The SHA-256 of each runbook's JSON (hex), part of every assignment's digest.
    pub runbook_digests: HashMap<RunbookId, String>,
    /// Every directory by id.
    pub directories: HashMap<DirectoryId, Directory>,
    /// Every applied licence a trusted issuer signed, oldest first.
    pub licences: Vec<OpenedLicence>,
}

impl Config {
    /// The domain of directory `id`, empty when there is none.
    pub fn domain(&self, id: DirectoryId) -> String {
        self.directories
            .get(&id)
            .map(|d| d.domain.clone())
            .unwrap_or_default()
    }
}

/// An agent's row with when it was read.
type CachedAgent = (DateTime<Utc>, Arc<Agent>);

#[derive(Debug)]
struct CachedConfig {
    version: ConfigVersion,
    checked_at: DateTime<Utc>,
    config: Arc<Config>,
}

/// The agent API's caches; see the module documentation.
#[derive(Debug, Default)]
pub struct AgentApiCache {
    certificates: Mutex<HashMap<CertificateId, Stamped<CertificateSecret>>>,
    config: Mutex<Option<CachedConfig>>,
    agents: Mutex<HashMap<AgentId, CachedAgent>>,
    sessions: Mutex<HashMap<(AgentId, CertificateId), CachedSession>>,
    /// The nonces this process has seen.
    pub nonces: super::nonces::NonceMemory,
}

/// A value with the time it was read.
type Stamped<T> = (DateTime<Utc>, Arc<T>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// True while `then` is less than `ttl` before `now` (and not after it: a clock set back reads
/// again).
fn fresh(then: DateTime<Utc>, now: DateTime<Utc>, ttl: Duration) -> bool {
    now >= then && now - then < ttl
}

impl AgentApiCache {
    /// The certificate `id` with its key pair.
    pub async fn certificate(
        &self,
        app: &App,
        id: CertificateId,
    ) -> Result<Option<Arc<CertificateSecret>>> {
        let now = app.clock.now();
        if let Some((at, found)) = lock(&self.certificates).get(&id) {
            if fresh(*at, now, config_ttl()) {
                return Ok(Some(found.clone()));
            }
        }
        let Some(secret) = app.store.certificate_secret(id).await? else {
            lock(&self.certificates).remove(&id);
            return Ok(None);
        };
        let secret = Arc::new(secret);
        lock(&self.certificates).insert(id, (now, secret.clone()));
        Ok(Some(secret))
    }

    /// Forgets certificate `id` (deleted).
    pub fn forget_certificate(&self, id: CertificateId) {
        lock(&self.certificates).remove(&id);
    }

    /// The registered agent `id`, read at most every [`AGENT_TTL`] seconds.
    pub async fn agent(&self, app: &App, id: AgentId) -> Result<Option<Arc<Agent>>> {
        let now = app.clock.now();
        if let Some((at, agent)) = lock(&self.agents).get(&id) {
            if fresh(*at, now, Duration::seconds(AGENT_TTL)) {
                return Ok(Some(agent.clone()));
            }
        }
        let Some(agent) = app.store.agent(id).await? else {
            lock(&self.agents).remove(&id);
            return Ok(None);
        };
        let agent = Arc::new(agent);
        let mut agents = lock(&self.agents);
        if agents.len() >= AGENTS_KEPT {
            agents.retain(|_, (at, _)| fresh(*at, now, Duration::seconds(AGENT_TTL)));
            if agents.len() >= AGENTS_KEPT {
                agents.clear();
            }
        }
        agents.insert(id, (now, agent.clone()));
        Ok(Some(agent))
    }

    /// The session-form keys of `agent` with `certificate`, derived once (one key agreement) and
    /// kept while the agent's key is the one they were derived from.
    pub fn session(
        &self,
        agent: &Agent,
        certificate: &CertificateSecret,
    ) -> model::Result<Arc<SessionKeys>> {
        let key = (agent.id, certificate.info.id);
        if let Some((from, keys)) = lock(&self.sessions).get(&key) {
            if *from == agent.keys.encrypt {
                return Ok(keys.clone());
            }
        }
        let keys = Arc::new(SessionKeys::server_side(
            agent.id,
            &agent.keys,
            certificate.info.id,
            &certificate.keys,
        )?);
        let mut sessions = lock(&self.sessions);
        if sessions.len() >= SESSIONS_KEPT {
            sessions.clear();
        }
        sessions.insert(key, (agent.keys.encrypt, keys.clone()));
        Ok(keys)
    }

    /// Forgets agent `id` (deleted, or registered again).
    pub fn forget_agent(&self, id: AgentId) {
        lock(&self.agents).remove(&id);
    }

    /// The runbooks, batches, directories and licences as the store holds them (see the module
    /// documentation for how fresh).
    pub async fn config(&self, app: &App) -> Result<Arc<Config>> {
        let now = app.clock.now();
        let writes = local_config_writes();
        if let Some(cached) = &*lock(&self.config) {
            if cached.version.writes() == writes && fresh(cached.checked_at, now, config_ttl()) {
                return Ok(cached.config.clone());
            }
        }
        let version = app.store.config_version().await?;
        if let Some(cached) = &mut *lock(&self.config) {
            if cached.version == version {
                cached.checked_at = now;
                return Ok(cached.config.clone());
            }
        }
        let trusted = &app.settings.licence_issuers;
        let licences = if trusted.is_empty() {
            Vec::new()
        } else {
            app.store
                .licences()
                .await?
                .into_iter()
                .filter_map(|stored| {
                    model::licence::open(&stored.text, trusted)
                        .ok()
                        .map(|licence| OpenedLicence { licence, stored })
                })
                .collect()
        };
        let runbooks = crate::migration::batches::runbooks_by_id(app).await?;
        let runbook_digests = runbooks
            .iter()
            .map(|(id, r)| {
                let json = serde_json::to_vec(r)
                    .map_err(|e| crate::Error::Internal(format!("runbook {}: {}", id, e)))?;
                Ok((*id, model::protocol::sha256_hex(&json)))
            })
            .collect::<Result<_>>()?;
        let config = Arc::new(Config {
            batches: app.store.batches().await?,
            runbooks,
            runbook_digests,
            directories: app
                .store
                .directories()
                .await?
                .into_iter()
                .map(|d| (d.id, d))
                .collect(),
            licences,
        });
        // Kept with the version read before: a change racing with the reads gets a new
        // version, read again next time.
        *lock(&self.config) = Some(CachedConfig {
            version,
            checked_at: now,
            config: config.clone(),
        });
        Ok(config)
    }
}
