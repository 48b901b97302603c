//! Prometheus `GET /metrics`: counters this replica keeps as it serves agents, and gauges read
//! from the store at each scrape (devices per status, lease holders, the last import of each
//! directory). Readable by a Tenant Admin or with the scrape token (`REHOME_METRICS_TOKEN`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use model::ids::DirectoryId;
use model::status::AgentStatus;

use crate::auth::{Access, Area, Caller};
use sha2::{Digest, Sha256};

use crate::{App, Result};

/// The leases whose holders are shown.
const LEASES: [&str; 2] = [crate::jobs::LEASE, crate::directory::schedule::LEASE];

/// What this replica counted since it started.
#[derive(Debug, Default)]
pub struct Metrics {
    check_ins: AtomicU64,
    events_stored: AtomicU64,
    failed_communications: AtomicU64,
    /// Seconds of the last match run of each source and target pair.
    matches: Mutex<BTreeMap<(DirectoryId, DirectoryId), f64>>,
    /// Time spent in each stage of the agent requests.
    pub stages: crate::agent_api::stages::StageTimes,
}

impl Metrics {
    /// One check-in answered.
    pub fn check_in(&self) {
        self.check_ins.fetch_add(1, Ordering::Relaxed);
    }

    /// Check-ins answered so far.
    pub fn check_ins(&self) -> u64 {
        self.check_ins.load(Ordering::Relaxed)
    }

    /// `stored` events stored (duplicates not counted).
    pub fn events_stored(&self, stored: u64) {
        self.events_stored.fetch_add(stored, Ordering::Relaxed);
    }

    /// One agent request refused and recorded as a failed communication.
    pub fn failed_communication(&self) {
        self.failed_communications.fetch_add(1, Ordering::Relaxed);
    }

    /// A match run of `source` → `target` that took `took`.
    pub fn match_run(&self, source: DirectoryId, target: DirectoryId, took: Duration) {
        self.matches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((source, target), took.as_secs_f64());
    }
}

/// Escapes a label value for the text format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {} {}", name, help);
    let _ = writeln!(out, "# TYPE {} {}", name, kind);
}

/// The exposition text: every metric with its help and type.
pub async fn render(app: &App) -> Result<String> {
    let m = &app.metrics;
    let mut out = String::new();
    family(
        &mut out,
        "rehome_agent_check_ins_total",
        "counter",
        "Agent check-ins answered by this replica.",
    );
    let _ = writeln!(
        out,
        "rehome_agent_check_ins_total {}",
        m.check_ins.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "rehome_agent_events_stored_total",
        "counter",
        "Agent events stored by this replica, each once.",
    );
    let _ = writeln!(
        out,
        "rehome_agent_events_stored_total {}",
        m.events_stored.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "rehome_failed_communications_total",
        "counter",
        "Agent requests this replica refused (recorded as failed communications).",
    );
    let _ = writeln!(
        out,
        "rehome_failed_communications_total {}",
        m.failed_communications.load(Ordering::Relaxed)
    );

    family(
        &mut out,
        "rehome_agent_stage_seconds_total",
        "counter",
        "Time this replica spent in each stage of the agent requests.",
    );
    let stages = m.stages.figures();
    for f in &stages {
        let _ = writeln!(
            out,
            "rehome_agent_stage_seconds_total{{stage=\"{}\"}} {}",
            f.stage.as_str(),
            f.total.as_secs_f64()
        );
    }
    family(
        &mut out,
        "rehome_agent_stage_passes_total",
        "counter",
        "Agent requests that passed each stage on this replica.",
    );
    for f in &stages {
        let _ = writeln!(
            out,
            "rehome_agent_stage_passes_total{{stage=\"{}\"}} {}",
            f.stage.as_str(),
            f.count
        );
    }

    let counts = crate::migration::progress::progress(app).await?.overall;
    family(
        &mut out,
        "rehome_devices",
        "gauge",
        "Computers of every batch by the status of their runbook.",
    );
    for status in AgentStatus::ALL {
        let _ = writeln!(
            out,
            "rehome_devices{{status=\"{}\"}} {}",
            status.as_str(),
            counts.get(status)
        );
    }

    family(
        &mut out,
        "rehome_lease_held",
        "gauge",
        "1 for the replica holding each singleton job's lease now.",
    );
    let now = app.clock.now();
    for lease in LEASES {
        if let Some((holder, until)) = app.store.lease_holder(lease).await? {
            if until > now {
                let _ = writeln!(
                    out,
                    "rehome_lease_held{{lease=\"{}\",holder=\"{}\"}} 1",
                    label(lease),
                    label(&holder)
                );
            }
        }
    }

    let directories = app.store.directories().await?;
    let names: BTreeMap<DirectoryId, String> =
        directories.iter().map(|d| (d.id, d.name.clone())).collect();
    family(
        &mut out,
        "rehome_directory_import_duration_seconds",
        "gauge",
        "How long the last import of each directory took.",
    );
    for d in &directories {
        if let Some(run) = app.store.import_runs(d.id).await?.first() {
            let _ = writeln!(
                out,
                "rehome_directory_import_duration_seconds{{directory=\"{}\",kind=\"{}\"}} {}",
                label(&d.name),
                run.kind.as_str(),
                run.duration_ms as f64 / 1000.0
            );
        }
    }
    family(
        &mut out,
        "rehome_match_duration_seconds",
        "gauge",
        "How long the last match run of each source and target pair took on this replica.",
    );
    let matches = m.matches.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for ((source, target), seconds) in matches {
        let name = |id| names.get(&id).cloned().unwrap_or_else(|| id.to_string());
        let _ = writeln!(
            out,
            "rehome_match_duration_seconds{{source=\"{}\",target=\"{}\"}} {}",
            label(&name(source)),
            label(&name(target)),
            seconds
        );
    }
    Ok(out)
}

/// The digest [`crate::Settings::metrics_token_sha256`] keeps of a scrape token.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// True when `headers` carry `Authorization: Bearer <the scrape token>`.
fn has_scrape_token(app: &App, headers: &HeaderMap) -> bool {
    let Some(digest) = app.settings.metrics_token_sha256 else {
        return false;
    };
    // Digests compared, so the time taken says nothing about how much of the token was right.
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| token_digest(given) == digest)
}

/// `GET /metrics`.
pub async fn route(State(app): State<App>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let allowed = if has_scrape_token(&app, &parts.headers) {
        Ok(())
    } else {
        match Caller::from_request_parts(&mut parts, &app).await {
            Ok(caller) => caller.require(Area::Tenant, Access::Read),
            Err(e) => Err(e),
        }
    };
    if let Err(e) = allowed {
        return e.into_response();
    }
    match render(&app).await {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            text,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn a_match_run_replaces_the_pair_s_last_duration() {
        let m = Metrics::default();
        let (s, t) = (DirectoryId::new(), DirectoryId::new());
        m.match_run(s, t, Duration::from_secs(3));
        m.match_run(s, t, Duration::from_millis(1500));
        let matches = m.matches.lock().expect("lock");
        assert_eq!(matches.get(&(s, t)), Some(&1.5));
    }
}
