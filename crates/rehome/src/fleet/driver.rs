//! Many agents in one process: each simulated agent is a task that owns the agent crate's own
//! [`agent::Agent`] (its key pair, journal, spool and workstation). A task hands the agent to the
//! blocking pool for one turn (a check-in, a runbook run, an upload) and takes it back when the
//! agent asks to wait; the wait is an async timer, shortened by the time factor, so an idle agent
//! holds no thread. At most `connections` turns run at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent::{Agent, AgentConfig, Exit, SimWorkstation, Sleeper};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use model::clock::{Clock, SystemClock};
use model::status::AgentStatus;
use tokio::sync::Semaphore;

use super::transport::{FleetTransport, KindSummary, RequestStats};

/// How a fleet runs.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// The server's base URL.
    pub server_url: String,
    /// The PSK the agents register with.
    pub psk: String,
    /// How much faster than real time the agents' schedule runs (1 = real time).
    pub time_factor: f64,
    /// Agent turns (and so HTTP connections) at once.
    pub connections: usize,
    /// Stop every agent at this instant, whatever it is doing between turns.
    pub deadline: Option<Instant>,
    /// An agent leaves once its runbook ended and its events are uploaded; otherwise it keeps
    /// checking in until the deadline.
    pub exit_when_idle: bool,
    /// Draw the live progress bar on stderr.
    pub progress: bool,
}

/// How one simulated agent ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its runbook ended Completed or Error, every event uploaded.
    Finished(AgentStatus),
    /// Its runbook removed the agent from the workstation at the end.
    Uninstalled,
    /// Still running when the deadline came.
    Running,
    /// The agent stopped with an error.
    Failed(String),
}

/// A simulated workstation for the fleet.
#[derive(Debug, Clone)]
pub struct Member {
    /// Its computer name.
    pub name: String,
    /// Its folder.
    pub dir: PathBuf,
}

/// What a fleet run measured.
#[derive(Debug)]
pub struct FleetReport {
    /// Each agent's computer name and outcome.
    pub outcomes: Vec<(String, Outcome)>,
    /// From the first turn to the last agent's end.
    pub elapsed: Duration,
    /// Latencies and rates per request kind.
    pub requests: Vec<KindSummary>,
}

impl FleetReport {
    /// Agents whose outcome is `wanted`.
    pub fn count(&self, wanted: &Outcome) -> usize {
        self.outcomes.iter().filter(|(_, o)| o == wanted).count()
    }

    /// How many agents stopped with an error of their own (not a runbook in Error).
    pub fn failed(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
            .count()
    }

    /// The agents that failed or whose runbook ended in Error, with why.
    pub fn failures(&self) -> Vec<String> {
        self.outcomes
            .iter()
            .filter_map(|(name, o)| match o {
                Outcome::Failed(e) => Some(format!("{}: {}", name, e)),
                Outcome::Finished(AgentStatus::Error) => {
                    Some(format!("{}: its runbook ended in Error", name))
                }
                _ => None,
            })
            .collect()
    }

    /// The table printed at the end: throughput and p50/p99/p999 per request kind.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<16} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "request", "count", "failed", "per s", "p50 ms", "p99 ms", "p999 ms", "max ms"
        );
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        for k in &self.requests {
            out.push_str(&format!(
                "{:<16} {:>9} {:>7} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
                k.kind,
                k.count,
                k.failed,
                k.per_second,
                ms(k.p50),
                ms(k.p99),
                ms(k.p999),
                ms(k.max)
            ));
        }
        out
    }
}

/// The agent's clock: real time plus the waits the time factor skipped, so the agent sees its
/// whole schedule pass while the server sees the real time in every message.
#[derive(Debug, Default)]
pub struct SkippingClock {
    skipped_ms: AtomicI64,
}

impl SkippingClock {
    /// Moves this agent's time forward by `by`.
    pub fn skip(&self, by: chrono::Duration) {
        self.skipped_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

impl Clock for SkippingClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + chrono::Duration::milliseconds(self.skipped_ms.load(Ordering::Relaxed))
    }
}

/// Ends the agent's turn instead of sleeping, leaving the wait it wanted for its task.
struct YieldingSleeper(Arc<Mutex<Option<chrono::Duration>>>);

impl Sleeper for YieldingSleeper {
    fn sleep(&mut self, duration: chrono::Duration) -> bool {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(duration);
        false
    }
}

/// The real part of a wait of `wanted` agent time at `factor`.
pub fn real_wait(wanted: chrono::Duration, factor: f64) -> Duration {
    let wanted = wanted.to_std().unwrap_or_default();
    if factor > 1.0 {
        wanted.div_f64(factor)
    } else {
        wanted
    }
}

/// Counters the progress bar shows.
#[derive(Debug, Default)]
struct Progress {
    finished: AtomicU64,
    failed: AtomicU64,
}

struct Shared {
    options: FleetOptions,
    transport: FleetTransport,
    turns: Arc<Semaphore>,
    progress: Progress,
}

type FleetAgent = Agent<SimWorkstation, FleetTransport>;

/// Runs every member's agent until it leaves (or the deadline) and reports the figures.
pub async fn run(options: FleetOptions, members: Vec<Member>) -> FleetReport {
    let stats = Arc::new(RequestStats::default());
    let connections = options.connections.max(1);
    let shared = Arc::new(Shared {
        transport: FleetTransport::new(&options.server_url, connections, stats.clone()),
        turns: Arc::new(Semaphore::new(connections)),
        progress: Progress::default(),
        options,
    });
    let bar = progress_bar(&shared.options, members.len());
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (index, member) in members.into_iter().enumerate() {
        let shared = shared.clone();
        tasks.spawn(async move {
            let outcome = drive(&shared, &member).await;
            shared.progress.finished.fetch_add(1, Ordering::Relaxed);
            if matches!(outcome, Outcome::Failed(_)) {
                shared.progress.failed.fetch_add(1, Ordering::Relaxed);
            }
            (index, member.name, outcome)
        });
    }
    let ticker = {
        let (shared, stats, bar) = (shared.clone(), stats.clone(), bar.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let seconds = started.elapsed().as_secs_f64().max(1e-3);
                bar.set_position(shared.progress.finished.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{} failed · {} requests, {:.0}/s",
                    shared.progress.failed.load(Ordering::Relaxed),
                    stats.requests(),
                    stats.requests() as f64 / seconds
                ));
            }
        })
    };
    let mut outcomes = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(done) => outcomes.push(done),
            Err(e) => outcomes.push((
                usize::MAX,
                "?".to_string(),
                Outcome::Failed(format!("its task ended: {}", e)),
            )),
        }
    }
    ticker.abort();
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    outcomes.sort_by_key(|(index, _, _)| *index);
    FleetReport {
        outcomes: outcomes
            .into_iter()
            .map(|(_, name, outcome)| (name, outcome))
            .collect(),
        elapsed,
        requests: stats.summary(elapsed),
    }
}

fn progress_bar(options: &FleetOptions, agents: usize) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(agents as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Runs one agent turn after turn until it leaves, fails or the deadline comes.
async fn drive(shared: &Shared, member: &Member) -> Outcome {
    let wanted = Arc::new(Mutex::new(None));
    let clock = Arc::new(SkippingClock::default());
    let options = &shared.options;
    let built = {
        let mut config = AgentConfig::new(&options.server_url, &options.psk, &member.dir);
        config.exit_when_idle = options.exit_when_idle;
        let transport = shared.transport.clone();
        let (clock, wanted) = (clock.clone(), wanted.clone());
        turn(shared, move || build(config, transport, clock, wanted)).await
    };
    let mut agent = match built {
        Ok(Ok(agent)) => agent,
        Ok(Err(e)) => return Outcome::Failed(e),
        Err(e) => return Outcome::Failed(e),
    };
    loop {
        let (back, exit) = match turn(shared, move || {
            let exit = agent.run();
            (agent, exit)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => return Outcome::Failed(e),
        };
        agent = back;
        match exit {
            Ok(Exit::Idle { status, .. }) => return Outcome::Finished(status),
            Ok(Exit::Uninstalled) => return Outcome::Uninstalled,
            Err(e) => return Outcome::Failed(e.to_string()),
            Ok(Exit::Stopped) => {
                let want = wanted.lock().unwrap_or_else(|e| e.into_inner()).take();
                let want = match want {
                    Some(want) => want,
                    None => return Outcome::Failed("the agent stopped without waiting".into()),
                };
                let real = real_wait(want, options.time_factor);
                if let Some(deadline) = options.deadline {
                    if Instant::now() + real >= deadline {
                        tokio::time::sleep_until(deadline.into()).await;
                        return Outcome::Running;
                    }
                }
                let skipped = chrono::Duration::from_std(real)
                    .map(|real| want - real)
                    .unwrap_or_else(|_| chrono::Duration::zero());
                clock.skip(skipped);
                tokio::time::sleep(real).await;
            }
        }
    }
}

/// Runs `work` on the blocking pool once a turn is free.
async fn turn<T: Send + 'static>(
    shared: &Shared,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let _permit = shared
        .turns
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("the agent's turn ended: {}", e))
}

fn build(
    config: AgentConfig,
    transport: FleetTransport,
    clock: Arc<SkippingClock>,
    wanted: Arc<Mutex<Option<chrono::Duration>>>,
) -> Result<FleetAgent, String> {
    let workstation = SimWorkstation::open(&config.sim_dir).map_err(|e| e.to_string())?;
    if !workstation.state().agent_installed {
        return Err("the agent was removed from this workstation".into());
    }
    let mut agent = Agent::new(
        config,
        workstation,
        transport,
        clock,
        Box::new(YieldingSleeper(wanted)),
    )
    .map_err(|e| e.to_string())?;
    agent.set_protocol_clock(Arc::new(SystemClock));
    Ok(agent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_factor_shortens_only_the_real_wait() {
        let hour = chrono::Duration::hours(1);
        assert_eq!(real_wait(hour, 3600.0), Duration::from_secs(1));
        assert_eq!(real_wait(hour, 1.0), Duration::from_secs(3600));
        assert_eq!(
            real_wait(chrono::Duration::seconds(-5), 10.0),
            Duration::ZERO
        );
    }

    #[test]
    fn a_skipping_clock_runs_ahead_by_what_was_skipped() {
        let clock = SkippingClock::default();
        let before = SystemClock.now();
        clock.skip(chrono::Duration::hours(2));
        let ahead = clock.now() - before;
        assert!(ahead >= chrono::Duration::hours(2), "{}", ahead);
        assert!(ahead < chrono::Duration::hours(2) + chrono::Duration::minutes(1));
    }
}
