//! `rehome bench scale`: one server at fleet scale, in its own process so its CPU time and memory
//! are its own. The store is seeded like the demo (with enough computers for both parts), then
//! `rehome serve` is started on it and
//!
//! 1. `--agents` simulated workstations (`rehome fleet`'s, in this process) migrate at once, end
//!    to end: the time until each is Completed, the peak memory of the server and of the fleet;
//! 2. `--registered` more agents register and check in once an hour each, the hour compressed by
//!    `--time-factor`, for `--seconds`: the server's CPU share and memory, and what that share is
//!    at real time (divided by the factor).

use std::io::BufRead;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::client::Client;
use anyhow::{bail, Context, Result};
use model::clock::SystemClock;
use model::envelope::{Key32, PublicKeys};
use model::plan::{JoinState, OsEdition};
use model::protocol::{kinds, CheckInRequest, RegisterRequest, AGENT_VERSION};
use model::status::AgentStatus;

use rehome::demo::{setup, DemoArgs};
use rehome::fleet::transport::{FleetTransport, RequestStats};
use rehome::fleet::{driver, workstations, FleetOptions, Outcome};

/// Options of `rehome bench scale`.
#[derive(Debug, clap::Args)]
pub struct ScaleBenchArgs {
    /// Simulated workstations migrating at once (0: skip).
    #[arg(long, default_value_t = 10_000)]
    pub agents: usize,
    /// Agents registered beside them that check in hourly (0: skip).
    #[arg(long, default_value_t = 100_000)]
    pub registered: usize,
    /// How many times faster than real time: the migration's schedule and the check-in hour.
    #[arg(long, default_value_t = 60.0)]
    pub time_factor: f64,
    /// Seconds of hourly check-ins measured.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Give the migration up after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
    /// A postgres://… URL of an empty database; default: SQLite in a temporary directory.
    #[arg(long)]
    pub database: Option<String>,
}

/// CPU seconds (user + system) and resident memory of a process, from /proc.
#[derive(Debug, Clone, Copy)]
struct Usage {
    cpu: f64,
    rss_mib: f64,
    peak_mib: f64,
}

fn usage(pid: u32) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid)).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid)).ok()?;
    let kib = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    Some(Usage {
        // USER_HZ is 100 on every Linux this runs on.
        cpu: ticks / 100.0,
        rss_mib: kib("VmRSS:")? / 1024.0,
        peak_mib: kib("VmHWM:")? / 1024.0,
    })
}

/// Waits in real time: the load generator keeps the wall-clock pace it measures (this is not
/// domain logic, whose time is a parameter).
#[allow(clippy::disallowed_methods)]
fn pause(duration: Duration) {
    std::thread::sleep(duration);
}

/// Starts the peak resident set of `pid` again from its current size.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{}/clear_refs", pid), "5");
}

/// The server under test, killed when dropped.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(
    data_dir: &Path,
    database: Option<&str>,
    issuer: &Key32,
) -> Result<(ServerProcess, String)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let listen = format!("127.0.0.1:{}", port);
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--listen")
        .arg(&listen)
        .arg("--licence-issuer")
        .arg(model::licence::public_key_text(issuer))
        .env("RUST_LOG", "warn")
        // Every agent of the bench comes from 127.0.0.1.
        .env("REHOME_MAX_CONNECTIONS_PER_ADDRESS", "1024")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(url) = database {
        command.arg("--database").arg(url);
    }
    let mut child = ServerProcess(command.spawn().context("start rehome serve")?);
    if let Some(stderr) = child.0.stderr.take() {
        // Its warnings, as they come, without holding it up.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                eprintln!("server: {}", line);
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(&listen).is_err() {
        if Instant::now() > deadline {
            bail!("rehome serve did not listen on {} within a minute", listen);
        }
        if let Some(status) = child.0.try_wait()? {
            bail!("rehome serve ended with {}", status);
        }
        pause(Duration::from_millis(50));
    }
    Ok((child, format!("http://{}", listen)))
}

/// Runs the benchmark.
pub fn run(args: ScaleBenchArgs) -> Result<()> {
    rehome::fleet::check_options(args.agents.max(1), args.time_factor, args.connections)?;
    if args.seconds == 0 {
        bail!("--seconds must be at least 1");
    }
    let dir = std::env::temp_dir().join(format!("rehome-bench-scale-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(args.connections + 8)
        .build()
        .context("start the async runtime")?;
    let result = runtime.block_on(scale(&args, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn scale(args: &ScaleBenchArgs, dir: &Path) -> Result<()> {
    let computers = args.agents + args.registered;
    let demo = DemoArgs {
        agents: args.agents,
        users: 2000,
        computers: computers.max(1),
        data_dir: None,
        listen: "127.0.0.1:0".parse()?,
        timeout: args.timeout,
        keep_running: false,
        time_factor: args.time_factor,
        connections: args.connections,
    };
    let issuer = model::licence::IssuerKey::generate();
    let server_dir = dir.join("server");
    let started = Instant::now();
    let world = {
        let store = server::store::Store::open(args.database.as_deref(), &server_dir).await?;
        let app = server::App::new(
            store,
            Arc::new(SystemClock),
            server::Settings {
                licence_issuers: vec![issuer.public()],
                ..Default::default()
            },
        );
        let world = setup::seed(&app, dir, &demo).await?;
        setup::apply_licence(&app, &issuer, &world, args.agents.max(1)).await?;
        app.store.pool().close().await;
        world
    };
    println!(
        "bench scale: {} computers seeded in {:.1} s; store on {}",
        computers,
        started.elapsed().as_secs_f64(),
        if args.database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let (server, url) = start_server(&server_dir, args.database.as_deref(), &issuer.public())?;
    let pid = server.0.id();
    if args.agents > 0 {
        migrate(args, dir, &world, &url, pid).await?;
    }
    if args.registered > 0 {
        let source = world.source.clone();
        let (agents, registered, connections, seconds, factor) = (
            args.agents,
            args.registered,
            args.connections,
            args.seconds,
            args.time_factor,
        );
        let psk = world.psk.clone();
        tokio::task::spawn_blocking(move || {
            hourly(
                &url,
                &psk,
                &source,
                agents,
                registered,
                connections,
                seconds,
                factor,
                pid,
            )
        })
        .await??;
    }
    drop(server);
    Ok(())
}

async fn migrate(
    args: &ScaleBenchArgs,
    dir: &Path,
    world: &setup::World,
    url: &str,
    pid: u32,
) -> Result<()> {
    let machines = workstations::create(&dir.join("fleet"), &world.source, args.agents)?;
    let members = machines.iter().map(|m| m.member()).collect();
    reset_peak(pid);
    reset_peak(std::process::id());
    let before = usage(pid).context("read the server's usage")?;
    let started = Instant::now();
    let report = driver::run(
        FleetOptions {
            server_url: url.to_string(),
            psk: world.psk.clone(),
            time_factor: args.time_factor,
            connections: args.connections,
            deadline: Some(started + Duration::from_secs(args.timeout)),
            exit_when_idle: true,
            progress: true,
        },
        members,
    )
    .await;
    let took = started.elapsed();
    let after = usage(pid).context("read the server's usage")?;
    let fleet = usage(std::process::id()).context("read the fleet's usage")?;
    for failure in report.failures().iter().take(10) {
        eprintln!("fleet: {}", failure);
    }
    let completed = report.count(&Outcome::Finished(AgentStatus::Completed))
        + report.count(&Outcome::Uninstalled);
    println!(
        "migration: {} of {} agents Completed in {:.1} s (time factor {}); server: {:.1} CPU s \
         ({:.0} % of one core), peak {:.0} MiB; fleet: peak {:.0} MiB",
        completed,
        args.agents,
        took.as_secs_f64(),
        args.time_factor,
        after.cpu - before.cpu,
        100.0 * (after.cpu - before.cpu) / took.as_secs_f64(),
        after.peak_mib,
        fleet.peak_mib,
    );
    print!("{}", report.table());
    if completed != args.agents {
        bail!(
            "{} agents did not complete",
            args.agents.saturating_sub(completed)
        );
    }
    Ok(())
}

fn register_request(name: &str, domain: &str) -> RegisterRequest {
    RegisterRequest {
        computer_name: name.to_string(),
        serial: format!("SN-{}", name),
        os_edition: OsEdition::Workstation,
        os_version: "Windows 11 Enterprise 23H2".to_string(),
        agent_version: AGENT_VERSION.to_string(),
        join_state: JoinState::ActiveDirectory {
            domain: domain.to_string(),
        },
        // The client makes the key pair and puts its public half here.
        keys: PublicKeys {
            sign: Key32([0; 32]),
            encrypt: Key32([0; 32]),
        },
    }
}

/// Runs `work(i)` for every `i` below `count` on `threads` threads.
fn each<W: Fn(usize) + Sync>(count: usize, threads: usize, work: &W) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                work(i);
            });
        }
    });
}

#[allow(clippy::too_many_arguments)]
fn hourly(
    url: &str,
    psk: &str,
    source: &rehome::demo::directories::DomainFile,
    skip: usize,
    registered: usize,
    connections: usize,
    seconds: u64,
    time_factor: f64,
    pid: u32,
) -> Result<()> {
    let names: Vec<String> = source
        .computers()
        .skip(skip)
        .take(registered)
        .map(|c| c.name.clone())
        .collect();
    if names.len() < registered {
        bail!("the source directory has too few computers");
    }
    let stats = Arc::new(RequestStats::default());
    let transport = FleetTransport::new(url, connections, stats.clone());
    let started = Instant::now();
    let clients: Vec<std::sync::Mutex<Option<Client<FleetTransport>>>> = (0..registered)
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    let failed = AtomicU64::new(0);
    each(registered, connections, &|i| {
        let mut client = Client::new(transport.clone(), Arc::new(SystemClock), None);
        match client.register(psk, register_request(&names[i], &source.domain)) {
            Ok(_) => {
                *clients[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(client);
            }
            Err(e) => {
                if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("register {}: {}", names[i], e);
                }
            }
        }
    });
    let clients: Vec<Client<FleetTransport>> = clients
        .into_iter()
        .filter_map(|c| c.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect();
    println!(
        "hourly: {} agents registered in {:.1} s ({} refused)",
        clients.len(),
        started.elapsed().as_secs_f64(),
        failed.load(Ordering::Relaxed)
    );
    if clients.is_empty() {
        bail!("no agent registered");
    }
    // Each agent checks in once per compressed hour, their turns spread evenly over it.
    let hour = Duration::from_secs_f64(3600.0 / time_factor);
    let every = hour.as_secs_f64() / clients.len() as f64;
    let turns = ((seconds as f64) / every).ceil() as usize;
    let requests: Vec<CheckInRequest> = names
        .iter()
        .take(clients.len())
        .map(|name| CheckInRequest {
            held_assignment: None,
            final_check: false,
            agent_version: AGENT_VERSION.to_string(),
            join_state: JoinState::ActiveDirectory {
                domain: source.domain.clone(),
            },
            logged_on_user: None,
            running: None,
            completed: Vec::new(),
            computer_name: Some(name.clone()),
            os_version: None,
        })
        .collect();
    reset_peak(pid);
    stats.clear();
    let before = usage(pid).context("read the server's usage")?;
    let started = Instant::now();
    let late = AtomicU64::new(0);
    each(turns, connections, &|turn| {
        let due = started + Duration::from_secs_f64(turn as f64 * every);
        match due.checked_duration_since(Instant::now()) {
            Some(wait) => pause(wait),
            None => {
                if Instant::now() - due > Duration::from_secs(1) {
                    late.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let i = turn % clients.len();
        let _ = clients[i].check_in(&requests[i]);
    });
    let took = started.elapsed();
    let after = usage(pid).context("read the server's usage")?;
    let cpu = (after.cpu - before.cpu) / took.as_secs_f64();
    let summary = stats.summary(took);
    let check_ins = summary
        .iter()
        .find(|k| k.kind == kinds::CHECK_IN)
        .context("no check-in was measured")?;
    println!(
        "hourly: {} agents, each checking in once per {:.1} s (an hour / {}): {:.0} check-ins/s \
         for {:.1} s, {} failed, {} more than 1 s late",
        clients.len(),
        hour.as_secs_f64(),
        time_factor,
        check_ins.per_second,
        took.as_secs_f64(),
        check_ins.failed,
        late.load(Ordering::Relaxed)
    );
    // At real time the same agents check in `registered / 3600` times a second, each costing
    // what a check-in cost here (the rate reached, which falls short of the pace asked for when
    // the server is saturated).
    let per_check_in = cpu / check_ins.per_second.max(1e-9);
    let real_time = per_check_in * clients.len() as f64 / 3600.0;
    println!(
        "hourly: server CPU {:.1} % of one core, {:.2} ms per check-in, so {:.2} % of one core at \
         real time; memory {:.0} MiB (peak {:.0} MiB); check-in p50 {:.2} ms, p99 {:.2} ms",
        100.0 * cpu,
        1000.0 * per_check_in,
        100.0 * real_time,
        after.rss_mib,
        after.peak_mib,
        check_ins.p50.as_secs_f64() * 1000.0,
        check_ins.p99.as_secs_f64() * 1000.0,
    );
    Ok(())
}
