//! The fleet's HTTP: one pool of connections shared by every simulated agent, and the latency of
//! every request recorded by its kind (`register`, `check-in`, `events`, …).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent::client::{HttpTransport, Transport};

/// Latencies and failures per request kind, shared by the fleet's agents.
#[derive(Debug, Default)]
pub struct RequestStats {
    kinds: Mutex<BTreeMap<String, Samples>>,
    requests: AtomicU64,
}

#[derive(Debug, Default)]
struct Samples {
    /// Microseconds, one per answered request.
    micros: Vec<u32>,
    /// Requests that got no answer or an answer other than 200.
    failed: u64,
}

/// What one request kind measured.
#[derive(Debug, Clone, PartialEq)]
pub struct KindSummary {
    /// `check-in`, `events`, …
    pub kind: String,
    /// Requests sent.
    pub count: u64,
    /// Of those, the ones not answered 200.
    pub failed: u64,
    /// Requests per second over the whole run.
    pub per_second: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// 99.9th percentile.
    pub p999: Duration,
    /// The slowest.
    pub max: Duration,
}

/// The kind of a request from its path: `/agent/check-in?agent=…` is `check-in`.
fn kind_of(path: &str) -> &str {
    let path = path.strip_prefix("/agent/").unwrap_or(path);
    path.split('?').next().unwrap_or(path)
}

/// The `q`-quantile (0 < q ≤ 1) of sorted samples by the nearest-rank method.
pub fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl RequestStats {
    /// Records one request of `kind` that took `took`.
    pub fn record(&self, kind: &str, took: Duration, ok: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        let samples = kinds.entry(kind.to_string()).or_default();
        samples.micros.push(micros);
        if !ok {
            samples.failed += 1;
        }
    }

    /// Forgets every sample (e.g. those of a warm-up).
    pub fn clear(&self) {
        self.kinds.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.requests.store(0, Ordering::Relaxed);
    }

    /// Requests sent so far, of every kind.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The figures of every kind, rates over `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Vec<KindSummary> {
        let kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        let seconds = elapsed.as_secs_f64().max(1e-9);
        kinds
            .iter()
            .map(|(kind, samples)| {
                let mut sorted = samples.micros.clone();
                sorted.sort_unstable();
                let at = |q| Duration::from_micros(u64::from(percentile(&sorted, q)));
                KindSummary {
                    kind: kind.clone(),
                    count: sorted.len() as u64,
                    failed: samples.failed,
                    per_second: sorted.len() as f64 / seconds,
                    p50: at(0.5),
                    p99: at(0.99),
                    p999: at(0.999),
                    max: Duration::from_micros(u64::from(sorted.last().copied().unwrap_or(0))),
                }
            })
            .collect()
    }
}

/// The agent's own HTTP transport on a pool shared by the fleet, timing each request.
#[derive(Debug, Clone)]
pub struct FleetTransport {
    http: HttpTransport,
    stats: Arc<RequestStats>,
}

impl FleetTransport {
    /// A transport to `base_url` keeping up to `connections` connections, recording in `stats`.
    pub fn new(base_url: &str, connections: usize, stats: Arc<RequestStats>) -> FleetTransport {
        FleetTransport {
            http: HttpTransport::with_pool(base_url, connections),
            stats,
        }
    }
}

impl Transport for FleetTransport {
    fn post(&self, path: &str, body: &[u8]) -> agent::Result<(u16, Vec<u8>)> {
        let started = Instant::now();
        let answer = self.http.post(path, body);
        let ok = matches!(&answer, Ok((200, _)));
        self.stats.record(kind_of(path), started.elapsed(), ok);
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_route_without_the_query() {
        assert_eq!(kind_of("/agent/check-in?agent=42"), "check-in");
        assert_eq!(kind_of("/agent/register"), "register");
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sorted: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&sorted, 0.5), 500);
        assert_eq!(percentile(&sorted, 0.99), 990);
        assert_eq!(percentile(&sorted, 0.999), 999);
        assert_eq!(percentile(&[7], 0.999), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn failures_and_rates_are_counted_per_kind() {
        let stats = RequestStats::default();
        stats.record("check-in", Duration::from_millis(2), true);
        stats.record("check-in", Duration::from_millis(4), false);
        stats.record("events", Duration::from_millis(1), true);
        let summary = stats.summary(Duration::from_secs(2));
        assert_eq!(stats.requests(), 3);
        let check_in = summary.iter().find(|k| k.kind == "check-in").expect("kind");
        assert_eq!((check_in.count, check_in.failed), (2, 1));
        assert_eq!(check_in.per_second, 1.0);
        assert_eq!(check_in.max, Duration::from_millis(4));
        assert_eq!(check_in.p50, Duration::from_millis(2));
    }
}
