//! The Import → Sync → Export cycle: every `interval_minutes`, an incremental import of every
//! directory with a connection, then a match run of every stored pair, then an export of every
//! pair with a Create-or-Update sync profile. Off until an engineer turns it on, and run by one
//! replica at a time under a lease.

use chrono::{DateTime, Duration, Utc};
use model::FieldError;

use super::ImportMode;
use crate::store::schedule::SyncSchedule;
use crate::{App, Error, Result};

/// The lease a cycle runs under, apart from the other jobs' so a long import does not hold them up.
pub const LEASE: &str = "directory-sync";
/// The shortest interval, in minutes.
pub const MIN_INTERVAL_MINUTES: i64 = 5;
/// The longest interval: a week, in minutes.
pub const MAX_INTERVAL_MINUTES: i64 = 10_080;
/// How often the server looks whether a cycle is due.
pub const TICK_SECONDS: u64 = 20;

/// How long a cycle's lease lasts without renewal; a running cycle renews it every
/// [`RENEW_SECONDS`], so another replica takes over a dead one within this.
pub fn lease_ttl() -> Duration {
    Duration::minutes(2)
}
/// How often a running cycle renews its lease (well inside [`lease_ttl`]).
pub const RENEW_SECONDS: u64 = 30;

/// Whether a cycle should start at `now`: the schedule is on and the interval has passed since
/// the last cycle started (or none ever did).
pub fn due(schedule: &SyncSchedule, now: DateTime<Utc>) -> bool {
    if !schedule.enabled {
        return false;
    }
    match schedule.last_started {
        None => true,
        Some(last) => now >= last + Duration::minutes(schedule.interval_minutes),
    }
}

/// Turns the schedule on or off with an interval in minutes, after checking it.
pub async fn set(app: &App, enabled: bool, interval_minutes: i64) -> Result<SyncSchedule> {
    if !(MIN_INTERVAL_MINUTES..=MAX_INTERVAL_MINUTES).contains(&interval_minutes) {
        return Err(Error::Invalid(vec![FieldError::new(
            "interval_minutes",
            format!(
                "between {} and {} minutes (a week), not {}",
                MIN_INTERVAL_MINUTES, MAX_INTERVAL_MINUTES, interval_minutes
            ),
        )]));
    }
    app.store
        .set_sync_schedule(enabled, interval_minutes)
        .await?;
    app.store.sync_schedule().await
}

/// What one cycle did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Cycle {
    /// Names of the directories imported.
    pub imported: Vec<String>,
    /// Pairs matched, as `source → target` names.
    pub matched: Vec<String>,
    /// Pairs exported, as `source → target` names.
    pub exported: Vec<String>,
    /// What failed, one line each; the rest of the cycle went on.
    pub errors: Vec<String>,
}

/// What [`run_due`] or [`run_now`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CycleOutcome {
    /// A cycle ran.
    Ran(Cycle),
    /// No cycle was due.
    NotDue,
    /// Another replica holds the lease (a cycle is running there).
    Busy,
}

/// Runs a cycle if one is due and this replica gets the lease. The server's loop calls this.
pub async fn run_due(app: &App) -> Result<CycleOutcome> {
    run(app, false).await
}

/// Runs a cycle now, whether or not the schedule is on, unless one is running elsewhere.
pub async fn run_now(app: &App) -> Result<CycleOutcome> {
    run(app, true).await
}

async fn run(app: &App, force: bool) -> Result<CycleOutcome> {
    let replica = &app.settings.replica;
    if !app
        .store
        .acquire_lease(LEASE, replica, app.clock.now(), lease_ttl())
        .await?
    {
        return Ok(CycleOutcome::Busy);
    }
    // Read under the lease, so a cycle another replica just finished is seen.
    let work = async {
        let schedule = app.store.sync_schedule().await?;
        if !force && !due(&schedule, app.clock.now()) {
            return Ok(CycleOutcome::NotDue);
        }
        app.store.sync_cycle_started(app.clock.now()).await?;
        let cycle = cycle(app).await;
        let error = (!cycle.errors.is_empty()).then(|| cycle.errors.join("\n"));
        app.store
            .sync_cycle_finished(app.clock.now(), error.as_deref())
            .await?;
        Ok(CycleOutcome::Ran(cycle))
    };
    let every = std::time::Duration::from_secs(RENEW_SECONDS);
    let result = crate::jobs::holding(app, LEASE, lease_ttl(), every, work).await;
    app.store.release_lease(LEASE, replica).await?;
    result
}

/// One cycle: imports, match runs, exports; one directory's or pair's failure (an export without
/// a licence among them) is recorded and the rest go on.
async fn cycle(app: &App) -> Cycle {
    let mut done = Cycle::default();
    let directories = match app.store.directories().await {
        Ok(d) => d,
        Err(e) => {
            done.errors.push(format!("listing the directories: {}", e));
            return done;
        }
    };
    for dir in &directories {
        let result = async {
            if super::connection::stored(app, dir.id).await?.is_none() {
                return Ok(false);
            }
            let source = super::connection::source_for(app, dir.id).await?;
            super::import_with(app, dir.id, source.as_ref(), ImportMode::Incremental).await?;
            Ok::<_, Error>(true)
        }
        .await;
        match result {
            Ok(true) => done.imported.push(dir.name.clone()),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(directory = %dir.name, error = %e, "scheduled import failed");
                done.errors.push(format!("import of {}: {}", dir.name, e));
            }
        }
    }
    let name = |id| {
        directories
            .iter()
            .find(|d| d.id == id)
            .map(|d| d.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let pairs = match app.store.match_pairs().await {
        Ok(p) => p,
        Err(e) => {
            done.errors.push(format!("listing the match pairs: {}", e));
            return done;
        }
    };
    for (source, target) in pairs {
        let label = format!("{} → {}", name(source), name(target));
        match super::match_pair(app, source, target, None).await {
            Ok(_) => done.matched.push(label),
            Err(e) => {
                tracing::warn!(pair = %label, error = %e, "scheduled match failed");
                done.errors.push(format!("match {}: {}", label, e));
            }
        }
    }
    match super::export::run_all(app).await {
        Ok(outcomes) => {
            for outcome in outcomes {
                match outcome {
                    Ok(label) => done.exported.push(label),
                    Err(line) => done.errors.push(line),
                }
            }
        }
        Err(e) => done.errors.push(format!("listing the export pairs: {}", e)),
    }
    done
}

/// Looks every [`TICK_SECONDS`] whether a cycle is due, until the task is aborted.
pub async fn run_forever(app: App) {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(TICK_SECONDS));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match run_due(&app).await {
            Ok(CycleOutcome::Ran(c)) => tracing::info!(
                imported = c.imported.len(),
                matched = c.matched.len(),
                exported = c.exported.len(),
                errors = c.errors.len(),
                "directory sync cycle ran"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "directory sync check failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 6, h, m, s)
            .single()
            .expect("instant")
    }

    #[test]
    fn a_cycle_is_due_once_the_interval_has_passed_since_the_last_start() {
        let mut s = SyncSchedule {
            enabled: true,
            interval_minutes: 30,
            last_started: Some(at(9, 0, 0)),
            ..SyncSchedule::default()
        };
        assert!(!due(&s, at(9, 0, 0)));
        assert!(!due(&s, at(9, 29, 59)));
        assert!(due(&s, at(9, 30, 0)));
        assert!(due(&s, at(11, 0, 0)));
        s.last_started = None;
        assert!(due(&s, at(9, 0, 0)), "never ran: due at once");
        s.enabled = false;
        assert!(!due(&s, at(12, 0, 0)), "off: never due");
        assert!(
            !due(&SyncSchedule::default(), at(9, 0, 0)),
            "off by default"
        );
    }
}
