//! Singleton background work (the expiry sweeps of nonces, failed communications and sessions),
//! run by exactly one replica at a time: each round it takes or renews a lease row on the injected
//! clock, works only while it holds it, and another replica takes over once a dead holder's lease
//! expires.
//! The directory schedule runs the same way under a lease of its own ([`crate::directory::schedule`]).

use chrono::Duration;

use crate::{App, Result};

/// The lease singleton work runs under.
pub const LEASE: &str = "jobs";
/// How long a lease lasts without renewal.
pub fn lease_ttl() -> Duration {
    Duration::seconds(90)
}
/// How often a replica tries to take or renew the lease and run the jobs (well inside the TTL).
pub const ROUND_SECONDS: u64 = 30;
/// How long failed communications are kept.
pub fn failed_communication_retention() -> Duration {
    Duration::days(90)
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Whether this replica held the lease and so ran the jobs.
    pub held: bool,
    /// Nonces forgotten.
    pub nonces_swept: u64,
    /// Failed communications removed for age.
    pub failed_communications_swept: u64,
    /// Expired console sessions and API tokens removed.
    pub sessions_swept: u64,
    /// Audit entries past the retention period removed.
    pub audit_swept: u64,
}

/// One round: take or renew the lease, and run the jobs only if this replica holds it.
pub async fn round(app: &App) -> Result<Round> {
    let now = app.clock.now();
    if !app
        .store
        .acquire_lease(LEASE, &app.settings.replica, now, lease_ttl())
        .await?
    {
        return Ok(Round::default());
    }
    let nonces_swept = app.store.sweep_nonces(now).await?;
    let failed_communications_swept = app
        .store
        .sweep_failed_communications(now - failed_communication_retention())
        .await?;
    let sessions_swept = crate::auth::session::sweep_expired(app).await?;
    let retention = Duration::days(i64::from(app.settings.audit_retention_days));
    let audit_swept = app.store.sweep_audit(now - retention).await?;
    Ok(Round {
        held: true,
        nonces_swept,
        failed_communications_swept,
        sessions_swept,
        audit_swept,
    })
}

/// Runs `work` while holding lease `name`, renewing it for `ttl` every `every` (waiting through
/// the app's sleeper), so a long piece of work keeps its lease however long it takes while a
/// replica that dies loses it within `ttl`. When a renewal finds the lease taken by another
/// replica (this one stalled past `ttl`), `work` is dropped where it stands and a conflict is
/// returned: two replicas never go on with the same singleton work.
pub async fn holding<T>(
    app: &App,
    name: &str,
    ttl: Duration,
    every: std::time::Duration,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let renew = async {
        loop {
            app.sleeper.sleep(every).await;
            match app
                .store
                .acquire_lease(name, &app.settings.replica, app.clock.now(), ttl)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    return crate::Error::Conflict(format!(
                        "another replica took the {} lease while this one held it",
                        name
                    ))
                }
                // A database hiccup is tried again at the next renewal, well inside the TTL.
                Err(e) => tracing::warn!(error = %e, lease = name, "renewing a lease failed"),
            }
        }
    };
    tokio::select! {
        done = work => done,
        lost = renew => Err(lost),
    }
}

/// Gives the lease up (at shutdown), so another replica need not wait for it to expire.
pub async fn release(app: &App) -> Result<()> {
    app.store.release_lease(LEASE, &app.settings.replica).await
}

/// Starts the background jobs of this replica: a round every [`ROUND_SECONDS`], and the directory
/// sync schedule's checks. Aborting the handle stops both.
pub fn spawn(app: App) -> tokio::task::JoinHandle<()> {
    let sync = crate::directory::schedule::run_forever(app.clone());
    tokio::spawn(async move {
        tokio::join!(rounds(app), sync);
    })
}

async fn rounds(app: App) {
    {
        let mut ticks = tokio::time::interval(std::time::Duration::from_secs(ROUND_SECONDS));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match round(&app).await {
                Ok(r) if r.held && (r.nonces_swept > 0 || r.failed_communications_swept > 0) => {
                    tracing::debug!(
                        nonces = r.nonces_swept,
                        failed = r.failed_communications_swept,
                        "swept"
                    )
                }
                Ok(_) => {}
                // A database hiccup costs one round, not the loop.
                Err(e) => tracing::warn!(error = %e, "background jobs round failed"),
            }
        }
    }
}
