//! `rehome fleet`: many simulated agents in one process against a server, local or remote. Each
//! agent has its own key pair, journal and spool on its own simulated workstation, registers with
//! the PSK, checks in on the real schedule (compressed by a time factor) and runs its runbooks;
//! the run ends with throughput and latency percentiles per request kind.

pub mod driver;
pub mod transport;
pub mod workstations;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use model::status::AgentStatus;

pub use driver::{FleetOptions, FleetReport, Member, Outcome};

use crate::demo::directories::DomainFile;

/// Options of `rehome fleet`.
#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// The server's base URL, e.g. http://rehome.example.com:5000.
    #[arg(long)]
    pub server: String,
    /// The PSK the agents register with.
    #[arg(long, env = "REHOME_PSK", hide_env_values = true)]
    pub psk: String,
    /// How many simulated agents.
    #[arg(long)]
    pub agents: usize,
    /// The source directory document the server imported (the JSON `rehome demo` writes as
    /// contoso.json): its first --agents computers become the workstations, its users their
    /// profiles.
    #[arg(long)]
    pub source_directory: PathBuf,
    /// Where the workstations live; existing ones are resumed (default: a new temporary folder).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// How many times faster than real time the agents' schedule runs.
    #[arg(long, default_value_t = 1.0)]
    pub time_factor: f64,
    /// Requests in flight at most (agent turns at once).
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Stop after this many seconds, whatever the agents are doing.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Keep checking in after the runbook ended (until --duration) instead of leaving.
    #[arg(long, requires = "duration")]
    pub keep_checking_in: bool,
}

/// The largest resident set of this process so far (VmHWM), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Checks the numbers a user gives.
pub fn check_options(agents: usize, time_factor: f64, connections: usize) -> Result<()> {
    if agents == 0 {
        bail!("--agents must be at least 1");
    }
    if !time_factor.is_finite() || time_factor < 1.0 {
        bail!("--time-factor must be a number of at least 1");
    }
    if connections == 0 {
        bail!("--connections must be at least 1");
    }
    Ok(())
}

/// Prints the report: outcomes, time, peak memory and the table per request kind.
pub fn print_report(report: &FleetReport) {
    let finished = |s| report.count(&Outcome::Finished(s));
    println!(
        "fleet: {} agents in {:.1} s: {} completed, {} in error, {} uninstalled, {} still running, {} failed; peak RSS {}",
        report.outcomes.len(),
        report.elapsed.as_secs_f64(),
        finished(AgentStatus::Completed),
        finished(AgentStatus::Error),
        report.count(&Outcome::Uninstalled),
        report.count(&Outcome::Running),
        report.failed(),
        peak_rss_mib().map_or("?".to_string(), |m| format!("{:.0} MiB", m)),
    );
    print!("{}", report.table());
}

/// Runs `rehome fleet`; exits 0 when every agent completed (or, with --keep-checking-in, none
/// failed).
pub fn run(args: FleetArgs) -> Result<ExitCode> {
    check_options(args.agents, args.time_factor, args.connections)?;
    let bytes = std::fs::read(&args.source_directory)
        .with_context(|| format!("read {}", args.source_directory.display()))?;
    let source: DomainFile = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a directory document",
            args.source_directory.display()
        )
    })?;
    let data_dir = args.data_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("rehome-fleet-{}", uuid::Uuid::new_v4().simple()))
    });
    println!("fleet: workstations in {}", data_dir.display());
    let machines = workstations::create(&data_dir, &source, args.agents)?;
    let members = machines.iter().map(|m| m.member()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(args.connections.max(1) + 8)
        .build()
        .context("start the async runtime")?;
    let options = FleetOptions {
        server_url: args.server.clone(),
        psk: args.psk.clone(),
        time_factor: args.time_factor,
        connections: args.connections,
        deadline: args
            .duration
            .map(|s| Instant::now() + Duration::from_secs(s)),
        exit_when_idle: !args.keep_checking_in,
        progress: true,
    };
    let report = runtime.block_on(driver::run(options, members));
    for failure in report.failures() {
        eprintln!("fleet: {}", failure);
    }
    print_report(&report);
    let good = if args.keep_checking_in {
        report.failures().is_empty()
    } else {
        report.count(&Outcome::Finished(AgentStatus::Completed))
            + report.count(&Outcome::Uninstalled)
            == args.agents
    };
    Ok(if good {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
