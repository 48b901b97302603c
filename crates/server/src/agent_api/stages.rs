//! Where an agent request's time goes: the total time and the count of each stage of the
//! enveloped routes (reading the envelope, opening it, the store calls of a check-in, sealing the
//! answer), kept as two counters per stage so `/metrics` and `rehome bench server` can show the
//! mean of each and a slow stage stands out without a profiler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A stage of an agent request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The agent named in the envelope, read from the store.
    AgentLookup,
    /// Signature checked and body decrypted.
    Open,
    /// The nonce remembered, so a replay is refused, with the last contact (and a check-in's
    /// facts) in the same write.
    Nonce,
    /// The runbooks and batches (cached) and the agent's runs read.
    Assignment,
    /// Licence and readiness checks of an assignment.
    Gates,
    /// The agent's run created or moved.
    RunWrite,
    /// The events of an upload stored.
    StoreEvents,
    /// The answer encrypted and signed.
    Seal,
}

impl Stage {
    /// Every stage, in the order a request passes them.
    pub const ALL: [Stage; 8] = [
        Stage::AgentLookup,
        Stage::Open,
        Stage::Nonce,
        Stage::Assignment,
        Stage::Gates,
        Stage::RunWrite,
        Stage::StoreEvents,
        Stage::Seal,
    ];

    /// The stage's label in `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::AgentLookup => "agent_lookup",
            Stage::Open => "open",
            Stage::Nonce => "nonce",
            Stage::Assignment => "assignment",
            Stage::Gates => "gates",
            Stage::RunWrite => "run_write",
            Stage::StoreEvents => "store_events",
            Stage::Seal => "seal",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Time spent and passes counted per stage since the replica started.
#[derive(Debug, Default)]
pub struct StageTimes {
    micros: [AtomicU64; 8],
    counts: [AtomicU64; 8],
}

/// One stage's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageFigure {
    /// The stage.
    pub stage: Stage,
    /// Passes through it.
    pub count: u64,
    /// Time spent in it, in all.
    pub total: Duration,
}

impl StageFigure {
    /// The mean time of one pass.
    pub fn mean(&self) -> Duration {
        if self.count == 0 {
            Duration::ZERO
        } else {
            self.total / u32::try_from(self.count).unwrap_or(u32::MAX)
        }
    }
}

impl StageTimes {
    /// Adds one pass through `stage` that took `took`.
    pub fn record(&self, stage: Stage, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.micros[stage.index()].fetch_add(micros, Ordering::Relaxed);
        self.counts[stage.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Adds the time since `started` to `stage`.
    pub fn since(&self, stage: Stage, started: Instant) {
        self.record(stage, started.elapsed());
    }

    /// The figures of every stage.
    pub fn figures(&self) -> Vec<StageFigure> {
        Stage::ALL
            .iter()
            .map(|&stage| StageFigure {
                stage,
                count: self.counts[stage.index()].load(Ordering::Relaxed),
                total: Duration::from_micros(self.micros[stage.index()].load(Ordering::Relaxed)),
            })
            .collect()
    }

    /// Starts counting again from zero (e.g. after a benchmark's warm-up).
    pub fn clear(&self) {
        for i in 0..Stage::ALL.len() {
            self.micros[i].store(0, Ordering::Relaxed);
            self.counts[i].store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_keeps_its_own_total_and_count() {
        let times = StageTimes::default();
        times.record(Stage::Open, Duration::from_micros(300));
        times.record(Stage::Open, Duration::from_micros(100));
        times.record(Stage::Seal, Duration::from_micros(50));
        let figures = times.figures();
        let open = figures
            .iter()
            .find(|f| f.stage == Stage::Open)
            .expect("open");
        assert_eq!((open.count, open.mean()), (2, Duration::from_micros(200)));
        let nonce = figures
            .iter()
            .find(|f| f.stage == Stage::Nonce)
            .expect("nonce");
        assert_eq!((nonce.count, nonce.mean()), (0, Duration::ZERO));
        times.clear();
        assert!(times.figures().iter().all(|f| f.count == 0));
    }

    #[test]
    fn labels_are_distinct() {
        let labels: std::collections::HashSet<_> = Stage::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(labels.len(), Stage::ALL.len());
        for (i, s) in Stage::ALL.iter().enumerate() {
            assert_eq!(s.index(), i);
        }
    }
}
