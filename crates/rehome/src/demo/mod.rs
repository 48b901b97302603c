//! `rehome demo`: a whole migration on one machine. A server on SQLite in a fresh data directory,
//! a source and a target directory seeded and matched, a PSK, an agent certificate, a runbook and
//! a batch enforced now, then a fleet of simulated workstations whose agents (`rehome fleet`'s,
//! in this process) run the migration while the terminal shows progress.

pub mod directories;
pub mod fleet;
pub mod setup;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use model::status::AgentStatus;

/// Options of `rehome demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How many simulated workstations (agents) to migrate.
    #[arg(long, default_value_t = 50)]
    pub agents: usize,
    /// Users per directory.
    #[arg(long, default_value_t = 200)]
    pub users: usize,
    /// Computers in the source directory (at least --agents).
    #[arg(long, default_value_t = 50)]
    pub computers: usize,
    /// Data directory for the server and the simulated workstations (default: a new temporary one).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Leave the server running afterwards and print the console URL and admin password.
    #[arg(long)]
    pub keep_running: bool,
    /// How many times faster than real time the agents' schedule runs.
    #[arg(long, default_value_t = 60.0)]
    pub time_factor: f64,
    /// Agent requests in flight at most.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
}

/// Runs the demo; exits 0 only when every workstation completed.
pub fn run(args: DemoArgs) -> Result<ExitCode> {
    if args.agents == 0 {
        bail!("--agents must be at least 1");
    }
    if args.computers < args.agents {
        bail!(
            "--computers ({}) must be at least --agents ({})",
            args.computers,
            args.agents
        );
    }
    if args.users == 0 {
        bail!("--users must be at least 1");
    }
    crate::fleet::check_options(args.agents, args.time_factor, args.connections)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(args.connections + 8)
        .build()
        .context("start the async runtime")?;
    runtime.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let data_dir = match &args.data_dir {
        Some(dir) => {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                bail!(
                    "--data-dir {} is not empty; the demo needs a fresh one",
                    dir.display()
                );
            }
            dir.clone()
        }
        None => std::env::temp_dir().join(format!("rehome-demo-{}", uuid::Uuid::new_v4().simple())),
    };
    std::fs::create_dir_all(&data_dir).with_context(|| format!("create {}", data_dir.display()))?;
    println!("demo: data in {}", data_dir.display());

    // Licences are enforced as in production, by an issuer key made for this demo only.
    let issuer = model::licence::IssuerKey::generate();
    let config = server::serve::ServeConfig {
        listen: args.listen,
        data_dir: data_dir.join("server"),
        database: None,
        tls: None,
        licence_issuers: vec![issuer.public()],
        ..Default::default()
    };
    let running = server::serve::start(config, Arc::new(model::clock::SystemClock))
        .await
        .context("start the server")?;
    let url = format!("http://{}", running.local_addr());
    println!("demo: server listening on {}", url);

    let world = setup::seed(running.app(), &data_dir, &args).await?;
    println!(
        "demo: {} and {} imported and matched ({} users translated); runbook {:?} enforced now",
        world.source_domain, world.target_domain, world.matched, world.runbook_name
    );

    setup::apply_licence(running.app(), &issuer, &world, args.agents).await?;
    println!(
        "demo: a migration licence for {} devices applied",
        args.agents
    );

    let machines = fleet::create(&data_dir.join("fleet"), &world, args.agents)?;
    let held = fleet::hold_back(&machines)?;
    let options = crate::fleet::FleetOptions {
        server_url: url.clone(),
        psk: world.psk.clone(),
        time_factor: args.time_factor,
        connections: args.connections,
        deadline: Some(started + Duration::from_secs(args.timeout)),
        exit_when_idle: true,
        progress: true,
    };
    let (held_machines, machines): (Vec<_>, Vec<_>) = machines
        .into_iter()
        .enumerate()
        .partition(|(i, _)| held.contains(i));
    let held_machines: Vec<fleet::Machine> = held_machines.into_iter().map(|(_, m)| m).collect();
    let machines: Vec<fleet::Machine> = machines.into_iter().map(|(_, m)| m).collect();
    // The held devices' agents keep checking in, held back, until the others are done and the
    // server has their checks.
    let held_run = tokio::spawn(crate::fleet::driver::run(
        crate::fleet::FleetOptions {
            progress: false,
            ..options.clone()
        },
        held_machines.iter().map(|m| m.member()).collect(),
    ));
    let report =
        crate::fleet::driver::run(options, machines.iter().map(|m| m.member()).collect()).await;
    let held_back = held_summary(
        running.app(),
        &world,
        held.len(),
        started + Duration::from_secs(args.timeout),
    )
    .await?;
    held_run.abort();
    let counts = setup::status_counts(running.app()).await?;
    println!("demo: server counts {}", counts.summary());

    let agent_errors = report.failures();
    for e in &agent_errors {
        eprintln!("demo: agent error: {}", e);
    }
    let still_running = report.count(&crate::fleet::Outcome::Running);
    if still_running > 0 {
        eprintln!(
            "demo: {} agents were still running after {} s",
            still_running, args.timeout
        );
    }
    let checked = fleet::verify(&machines, &world);
    for problem in &checked.problems {
        eprintln!("demo: {}", problem);
    }
    crate::fleet::print_report(&report);
    let completed = counts.get(AgentStatus::Completed) as usize;
    let errors = counts.get(AgentStatus::Error) as usize
        + report.failed()
        + still_running
        + checked.problems.len();
    let seconds = started.elapsed().as_secs_f64();

    if args.keep_running {
        match &running.initial_admin_password {
            Some(password) => println!(
                "demo: console at {}/ (user admin, password {})",
                url, password
            ),
            None => println!("demo: console at {}/", url),
        }
        // A demo server only: more agents (`rehome fleet`) register with this key.
        println!(
            "demo: more agents: rehome fleet --server {} --psk {} --source-directory {} --agents N",
            url,
            world.psk,
            data_dir.join("contoso.json").display()
        );
        println!("demo: press Ctrl-C to stop");
        tokio::signal::ctrl_c().await.context("wait for Ctrl-C")?;
    }
    running.shutdown().await.context("stop the server")?;
    println!(
        "demo: {}/{} completed, {} held back by readiness, {} errors, {:.1} s",
        completed, args.agents, held_back, errors, seconds
    );
    if completed + held.len() == args.agents && held_back == held.len() && errors == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

/// Waits (until `deadline`) for the server to hold back the `expected` devices the demo made
/// unready, then prints how many it holds back and why; returns how many.
async fn held_summary(
    app: &server::App,
    world: &setup::World,
    expected: usize,
    deadline: Instant,
) -> Result<usize> {
    let filter = server::migration::readiness::Filter::default();
    loop {
        let view = server::migration::readiness::of_batch(app, world.batch, &filter, None).await?;
        let held = usize::try_from(view.counts.block).unwrap_or(usize::MAX);
        if held >= expected || Instant::now() >= deadline {
            println!(
                "demo: {} devices held back by their readiness checks (the batch's readiness page lists them)",
                held
            );
            for reason in &view.blocking {
                println!(
                    "demo:   {} × {}: {}",
                    reason.devices, reason.check, reason.reason
                );
            }
            return Ok(held);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
