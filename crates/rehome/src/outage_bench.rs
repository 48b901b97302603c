//! `rehome bench outage`: a server on PostgreSQL, seeded like the demo, runs a fleet of simulated
//! agents; part way through, the database is cut off from the server (a proxy between them closes
//! every connection) for a whole minute, then restored. Prints what the agents saw meanwhile, how
//! long they took to finish afterwards, and what was lost: agents not Completed, events missing or
//! stored twice, events left unsent, steps run twice (the goal is none).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::journal::{Journal, Record};
use agent::AgentConfig;
use anyhow::{bail, Context, Result};
use model::clock::SystemClock;
use model::status::AgentStatus;
use sqlx::Connection;

use rehome::demo::{fleet, setup, DemoArgs};
use rehome::fleet::{driver, FleetOptions, Outcome};
use rehome::outage::{with_database, CutProxy};

/// Options of `rehome bench outage`.
#[derive(Debug, clap::Args)]
pub struct OutageBenchArgs {
    /// A postgres://… URL of a server where the benchmark creates (and then drops) a database of
    /// its own.
    #[arg(long)]
    pub database: String,
    /// Simulated agents.
    #[arg(long, default_value_t = 200)]
    pub agents: usize,
    /// Seconds the database stays cut off.
    #[arg(long, default_value_t = 60)]
    pub outage_seconds: u64,
    /// Cut once the run has sent the database this many KiB.
    #[arg(long, default_value_t = 512)]
    pub after_kib: u64,
    /// How many times faster than real time the agents' schedule runs.
    #[arg(long, default_value_t = 600.0)]
    pub time_factor: f64,
    /// Agent requests in flight at most.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
}

/// What was lost; all zero is the goal.
#[derive(Debug, Default, PartialEq, Eq)]
struct Losses {
    not_completed: usize,
    events_stored: u64,
    events_missing_or_twice: u64,
    events_unsent: usize,
    steps_twice: usize,
}

/// Runs the benchmark.
pub async fn run(args: OutageBenchArgs) -> Result<()> {
    rehome::fleet::check_options(args.agents, args.time_factor, args.connections)?;
    sqlx::any::install_default_drivers();
    let name = format!("rehome_outage_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::AnyConnection::connect(&args.database)
        .await
        .context("connect to PostgreSQL")?;
    sqlx::query(&format!("CREATE DATABASE {}", name))
        .execute(&mut admin)
        .await
        .context("create the benchmark's database")?;
    let result = measure(&args, &with_database(&args.database, &name)?).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", name))
        .execute(&mut admin)
        .await
        .context("drop the benchmark's database")?;
    result
}

async fn measure(args: &OutageBenchArgs, url: &str) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("rehome-outage-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let (proxy, proxied) = CutProxy::start(url, 64 * 1024).await?;
    let server = server::serve::start(
        server::serve::ServeConfig {
            listen: "127.0.0.1:0".parse().context("address")?,
            data_dir: dir.clone(),
            database: Some(proxied),
            ..Default::default()
        },
        Arc::new(SystemClock),
    )
    .await
    .context("start the server")?;
    let demo = DemoArgs {
        agents: args.agents,
        users: args.agents * 3,
        computers: args.agents,
        data_dir: None,
        listen: "127.0.0.1:0".parse().context("address")?,
        timeout: 600,
        keep_running: false,
        time_factor: args.time_factor,
        connections: args.connections,
    };
    let world = setup::seed(server.app(), &dir, &demo).await?;
    let machines = fleet::create(&dir.join("fleet"), &world, args.agents)?;
    let outage = Duration::from_secs(args.outage_seconds);
    let options = FleetOptions {
        server_url: format!("http://{}", server.local_addr()),
        psk: world.psk.clone(),
        time_factor: args.time_factor,
        connections: args.connections,
        deadline: Some(Instant::now() + outage + Duration::from_secs(900)),
        exit_when_idle: true,
        progress: true,
    };
    let seeded = proxy.carried();
    let started = Instant::now();
    let run = tokio::spawn(driver::run(
        options,
        machines.iter().map(|m| m.member()).collect(),
    ));
    while proxy.carried() < seeded + args.after_kib * 1024 && !run.is_finished() {
        tokio::select! {
            _ = proxy.tripped.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    if run.is_finished() {
        bail!(
            "the fleet finished before it sent the database {} KiB: give a smaller --after-kib",
            args.after_kib
        );
    }
    let cut_at = started.elapsed();
    proxy.cut();
    tokio::time::sleep(outage).await;
    proxy.restore();
    let restored = Instant::now();
    let report = run.await.context("the fleet run")?;
    let after = restored.elapsed();
    // The pool may still hold connections the cut closed: each fails once and is dropped.
    let mut losses = tally(&report, server.app(), &machines).await;
    for _ in 0..16 {
        if losses.is_ok() {
            break;
        }
        losses = tally(&report, server.app(), &machines).await;
    }
    let losses = losses?;
    rehome::fleet::print_report(&report);
    println!(
        "outage: database cut {:.1} s into the run for {} s; {} agents finished {:.1} s after it came back; {} requests failed or were refused in all",
        cut_at.as_secs_f64(),
        args.outage_seconds,
        report.outcomes.len(),
        after.as_secs_f64(),
        report.requests.iter().map(|k| k.failed).sum::<u64>()
    );
    println!(
        "lost: {} agents not Completed, {} events missing or stored twice (of {} stored), {} events unsent, {} steps run twice",
        losses.not_completed,
        losses.events_missing_or_twice,
        losses.events_stored,
        losses.events_unsent,
        losses.steps_twice
    );
    server.shutdown().await.context("stop the server")?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Counts what the run lost: see [`Losses`].
async fn tally(
    report: &rehome::fleet::FleetReport,
    app: &server::App,
    machines: &[fleet::Machine],
) -> Result<Losses> {
    let mut losses = Losses {
        not_completed: report.outcomes.len()
            - report.count(&Outcome::Finished(AgentStatus::Completed)),
        ..Losses::default()
    };
    for agent in app.store.agents().await? {
        let last = app.store.last_event_seq(agent.id).await?;
        let stored = app.store.event_count(agent.id).await?;
        losses.events_stored += stored;
        losses.events_missing_or_twice += last.abs_diff(stored);
    }
    for m in machines {
        let state = AgentConfig::new("http://x", "psk", &m.dir).state_dir;
        losses.events_unsent += agent::spool::Spool::open(&state)?.pending().len();
        losses.steps_twice += steps_twice(&state.join("journal.log"))?;
    }
    Ok(losses)
}

/// Steps of the journal at `path` that finished twice or started again after finishing.
fn steps_twice(path: &Path) -> Result<usize> {
    let journal = Journal::open(path)?;
    let mut done = HashSet::new();
    let mut twice = 0;
    for record in journal.records() {
        match record {
            Record::StepStarted { runbook, step, .. } if done.contains(&(*runbook, step)) => {
                twice += 1
            }
            Record::StepDone { runbook, step, .. } if !done.insert((*runbook, step)) => twice += 1,
            _ => {}
        }
    }
    Ok(twice)
}
