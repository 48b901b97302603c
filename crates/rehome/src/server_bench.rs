//! `rehome bench server`: the agent API under load, against a bare baseline in the same run. A
//! server seeded like the demo (SQLite, or PostgreSQL with --database) and a bare axum handler
//! that parses the same check-in JSON without the envelope or the store are loaded by the same
//! client at the same concurrency; the rates, the latency percentiles and the ratio are printed,
//! then event uploads (batches of events from every connection's agent) are measured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::client::{Client, Transport};
use agent::{SimWorkstation, Workstation};
use anyhow::{bail, Context, Result};
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use model::clock::{Clock, SystemClock};
use model::envelope::{Key32, PublicKeys};
use model::protocol::{
    kinds, AgentEvent, CheckInRequest, CheckInResponse, RegisterRequest, AGENT_VERSION,
};
use model::status::EventLevel;

use rehome::demo::{setup, DemoArgs};
use rehome::fleet::transport::{FleetTransport, KindSummary, RequestStats};
use rehome::fleet::workstations;
use server::agent_api::stages::StageTimes;

/// Options of `rehome bench server`.
#[derive(Debug, clap::Args)]
pub struct ServerBenchArgs {
    /// Requests in flight (client connections), each from its own registered agent.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds of load on each target.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Events per upload in the event stage.
    #[arg(long, default_value_t = 200)]
    pub events_per_upload: usize,
    /// A postgres://… URL of an empty database; default: SQLite in a temporary directory.
    #[arg(long)]
    pub database: Option<String>,
}

/// The bare handler: the same JSON body parsed and answered, no envelope, no store.
async fn bare_check_in(body: Bytes) -> Response {
    match serde_json::from_slice::<CheckInRequest>(&body) {
        Ok(_) => Json(CheckInResponse {
            assignment_digest: None,
            assignment: None,
            server_time: SystemClock.now(),
            blocked: None,
            readiness_due: false,
        })
        .into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn serve_bare() -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let router = axum::Router::new().route(
        &format!("/agent/{}", kinds::CHECK_IN),
        axum::routing::post(bare_check_in),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((addr, task))
}

fn check_in_request(facts: &agent::Facts) -> CheckInRequest {
    CheckInRequest {
        held_assignment: None,
        final_check: false,
        agent_version: AGENT_VERSION.to_string(),
        join_state: facts.join_state.clone(),
        logged_on_user: facts.logged_on_user.clone(),
        running: None,
        completed: Vec::new(),
        computer_name: Some(facts.computer_name.clone()),
        os_version: Some(facts.os_version.clone()),
    }
}

/// CPU time the calling thread has run, from `/proc/thread-self/schedstat` (zero elsewhere).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// CPU time of this whole process (the server, the bare handler and the client), from
/// `/proc/self/stat` in ticks of 10 ms (zero elsewhere).
fn process_cpu() -> Duration {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime: the 14th and 15th fields, the 12th and 13th after the name.
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        });
    Duration::from_millis(ticks.unwrap_or(0) * 10)
}

/// What a load did: requests that succeeded and failed, the CPU time its client threads used.
#[derive(Default)]
struct Load {
    ok: u64,
    failed: u64,
    client_cpu: Duration,
}

/// Runs `work` on `connections` threads until `length` has passed; `work` gets the thread's
/// index and returns whether its request succeeded.
fn load<W>(connections: usize, length: Duration, work: &W) -> Load
where
    W: Fn(usize) -> bool + Sync,
{
    let deadline = Instant::now() + length;
    let mut total = Load::default();
    std::thread::scope(|scope| {
        // Named, so a profile tells the client's threads from the server's.
        let handles: Vec<_> = (0..connections)
            .filter_map(|i| {
                let thread = std::thread::Builder::new().name(format!("bench-client-{}", i));
                thread
                    .spawn_scoped(scope, move || {
                        let started = thread_cpu();
                        let (mut ok, mut failed) = (0u64, 0u64);
                        while Instant::now() < deadline {
                            if work(i) {
                                ok += 1;
                            } else {
                                failed += 1;
                            }
                        }
                        (ok, failed, thread_cpu().saturating_sub(started))
                    })
                    .ok()
            })
            .collect();
        total.failed += (connections - handles.len()) as u64;
        for h in handles {
            let (o, f, cpu) = h.join().unwrap_or((0, 1, Duration::ZERO));
            total.ok += o;
            total.failed += f;
            total.client_cpu += cpu;
        }
    });
    total
}

/// The CPU the client threads and the whole process used during a load of `took`, in cores.
fn print_cpu(load: &Load, process: Duration, took: Duration) {
    let cores = |d: Duration| d.as_secs_f64() / took.as_secs_f64().max(1e-9);
    println!(
        "  cpu: client threads {:.2} cores, whole process (client and servers) {:.2} cores",
        cores(load.client_cpu),
        cores(process)
    );
}

/// One side of [`measure_both`]: what it loads, where its figures go, how it is printed.
struct Side<'a, W> {
    label: &'a str,
    stats: &'a RequestStats,
    work: W,
}

/// What the slices of one side of [`measure_both`] added up to.
#[derive(Default)]
struct Slices {
    load: Load,
    took: Duration,
    process: Duration,
}

impl Slices {
    /// Loads `work` on `connections` threads for one more `slice`.
    fn run<W: Fn(usize) -> bool + Sync>(&mut self, connections: usize, slice: Duration, work: &W) {
        let started = Instant::now();
        let cpu = process_cpu();
        let done = load(connections, slice, work);
        self.took += started.elapsed();
        self.process += process_cpu().saturating_sub(cpu);
        self.load.ok += done.ok;
        self.load.failed += done.failed;
        self.load.client_cpu += done.client_cpu;
    }
}

/// A warm-up second of each side, then `seconds` one-second slices of each, taken in turns, so a
/// machine that slows down for a while slows both sides alike and their ratio holds: the figures
/// of `kind` on each side, printed under its label with the CPU used. `stages` start empty with
/// the measured slices.
fn measure_both<A, B>(
    connections: usize,
    seconds: u64,
    kind: &str,
    stages: &StageTimes,
    first: Side<'_, A>,
    second: Side<'_, B>,
) -> Result<(KindSummary, KindSummary)>
where
    A: Fn(usize) -> bool + Sync,
    B: Fn(usize) -> bool + Sync,
{
    let slice = Duration::from_secs(1);
    load(connections, slice, &first.work);
    load(connections, slice, &second.work);
    first.stats.clear();
    second.stats.clear();
    stages.clear();
    let (mut a, mut b) = (Slices::default(), Slices::default());
    for _ in 0..seconds {
        a.run(connections, slice, &first.work);
        b.run(connections, slice, &second.work);
    }
    let summary = |stats: &RequestStats, slices: &Slices| {
        stats
            .summary(slices.took)
            .into_iter()
            .find(|k| k.kind == kind)
            .with_context(|| format!("no {} request was measured", kind))
    };
    let (a_k, b_k) = (summary(first.stats, &a)?, summary(second.stats, &b)?);
    for (label, k, slices) in [(first.label, &a_k, &a), (second.label, &b_k, &b)] {
        print_line(label, k);
        print_cpu(&slices.load, slices.process, slices.took);
    }
    Ok((a_k, b_k))
}

/// The same agents' identities on another transport.
fn rebind(
    clients: &[Client<FleetTransport>],
    transport: &FleetTransport,
) -> Vec<Client<FleetTransport>> {
    clients
        .iter()
        .map(|c| {
            Client::new(
                transport.clone(),
                Arc::new(SystemClock),
                c.identity().cloned(),
            )
        })
        .collect()
}

/// The mean time of every stage the server passed.
fn print_stages(stages: &StageTimes, request: Duration) {
    let figures: Vec<_> = stages
        .figures()
        .into_iter()
        .filter(|f| f.count > 0)
        .collect();
    let line: Vec<String> = figures
        .iter()
        .map(|f| {
            format!(
                "{} {:.3} ms",
                f.stage.as_str(),
                f.mean().as_secs_f64() * 1000.0
            )
        })
        .collect();
    println!(
        "  server stages (mean of {} passes; request p50 {:.3} ms): {}",
        figures.first().map_or(0, |f| f.count),
        request.as_secs_f64() * 1000.0,
        line.join(", ")
    );
}

fn print_line(target: &str, k: &KindSummary) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:<28} {:>10.0}/s   p50 {:>7.2} ms   p99 {:>7.2} ms   p999 {:>7.2} ms   failed {}",
        target,
        k.per_second,
        ms(k.p50),
        ms(k.p99),
        ms(k.p999),
        k.failed
    );
}

/// Runs the benchmark.
pub async fn run(args: ServerBenchArgs) -> Result<()> {
    if args.connections == 0 || args.seconds == 0 || args.events_per_upload == 0 {
        bail!("--connections, --seconds and --events-per-upload must be at least 1");
    }
    let dir = std::env::temp_dir().join(format!("rehome-bench-server-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let issuer = model::licence::IssuerKey::generate();
    let running = server::serve::start(
        server::serve::ServeConfig {
            listen: "127.0.0.1:0".parse()?,
            data_dir: dir.join("server"),
            database: args.database.clone(),
            licence_issuers: vec![issuer.public()],
            ..Default::default()
        },
        Arc::new(SystemClock),
    )
    .await
    .context("start the server")?;
    let url = format!("http://{}", running.local_addr());
    let demo = DemoArgs {
        agents: args.connections,
        users: args.connections * 3,
        computers: args.connections,
        data_dir: None,
        listen: "127.0.0.1:0".parse()?,
        timeout: 0,
        keep_running: false,
        time_factor: 1.0,
        connections: args.connections,
    };
    let world = setup::seed(running.app(), &dir, &demo).await?;
    setup::apply_licence(running.app(), &issuer, &world, args.connections).await?;
    let backend = if args.database.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "bench server: {} connections, {} s per stage, store on {}",
        args.connections, args.seconds, backend
    );

    let (bare_addr, bare_task) = serve_bare().await?;
    let bare_url = format!("http://{}", bare_addr);
    let machines = workstations::create(&dir.join("fleet"), &world.source, args.connections)?;
    let psk = world.psk.clone();
    let connections = args.connections;
    let seconds = args.seconds;
    let per_upload = args.events_per_upload;
    let app = running.app().clone();
    let result = tokio::task::spawn_blocking(move || -> Result<()> {
        // Every connection's agent registers once, as a device would.
        let stats = Arc::new(RequestStats::default());
        let transport = FleetTransport::new(&url, connections, stats);
        let mut clients = Vec::new();
        let mut requests = Vec::new();
        for m in &machines {
            let facts = SimWorkstation::open(&m.dir)?.facts()?;
            let mut client = Client::new(transport.clone(), Arc::new(SystemClock), None);
            client
                .register(
                    &psk,
                    RegisterRequest {
                        computer_name: facts.computer_name.clone(),
                        serial: facts.serial.clone(),
                        os_edition: facts.os_edition,
                        os_version: facts.os_version.clone(),
                        agent_version: AGENT_VERSION.to_string(),
                        join_state: facts.join_state.clone(),
                        keys: PublicKeys {
                            sign: Key32([0; 32]),
                            encrypt: Key32([0; 32]),
                        },
                    },
                )
                .with_context(|| format!("register {}", m.name))?;
            requests.push(check_in_request(&facts));
            clients.push(client);
        }
        let bodies: Vec<Vec<u8>> = requests
            .iter()
            .map(serde_json::to_vec)
            .collect::<Result<_, _>>()?;

        // The bare baseline and the real check-in in turns, with the same client and concurrency.
        let bare_stats = Arc::new(RequestStats::default());
        let bare = FleetTransport::new(&bare_url, connections, bare_stats.clone());
        let path = format!("/agent/{}", kinds::CHECK_IN);
        let stages = &app.metrics.stages;
        let real_stats = Arc::new(RequestStats::default());
        let real = FleetTransport::new(&url, connections, real_stats.clone());
        let real_clients = rebind(&clients, &real);
        let (bare_k, real_k) = measure_both(
            connections,
            seconds,
            kinds::CHECK_IN,
            stages,
            Side {
                label: "bare JSON check-in",
                stats: &bare_stats,
                work: |i: usize| matches!(bare.post(&path, &bodies[i]), Ok((200, _))),
            },
            Side {
                label: "check-in (envelope + store)",
                stats: &real_stats,
                work: |i: usize| real_clients[i].check_in(&requests[i]).is_ok(),
            },
        )?;
        print_stages(stages, real_k.p50);
        println!(
            "ratio: {:.1} % of the bare rate (goal at least 40 % with p99 under 10 ms)",
            100.0 * real_k.per_second / bare_k.per_second.max(1e-9)
        );

        // Events: every connection's agent uploads batches with increasing sequence numbers.
        let seqs: Vec<std::sync::atomic::AtomicU64> = (0..connections)
            .map(|_| std::sync::atomic::AtomicU64::new(0))
            .collect();
        // On the check-in's connections: a third pool would pass the server's 128 connections per
        // client address while the others idle, and be refused.
        let events_stats = real_stats;
        let event_clients = real_clients;
        events_stats.clear();
        stages.clear();
        let started = Instant::now();
        let cpu = process_cpu();
        let uploaded = load(connections, Duration::from_secs(seconds), &|i| {
            let first = seqs[i].fetch_add(per_upload as u64, std::sync::atomic::Ordering::Relaxed);
            let now = SystemClock.now();
            let batch: Vec<AgentEvent> = (1..=per_upload as u64)
                .map(|n| AgentEvent {
                    seq: first + n,
                    at: now,
                    level: EventLevel::Info,
                    runbook: None,
                    phase: None,
                    step: None,
                    status: None,
                    message: format!("bench event {}", first + n),
                })
                .collect();
            matches!(event_clients[i].upload_events(&batch), Ok(ack) if ack.through == first + per_upload as u64)
        });
        let took = started.elapsed();
        let process = process_cpu().saturating_sub(cpu);
        let (uploads, failed) = (uploaded.ok, uploaded.failed);
        let events = events_stats.summary(took);
        if let Some(k) = events.iter().find(|k| k.kind == kinds::EVENTS) {
            print_line(&format!("events ({} per upload)", per_upload), k);
            print_cpu(&uploaded, process, took);
            print_stages(stages, k.p50);
        }
        println!(
            "events: {:.0} stored/s ({} uploads acknowledged, {} failed)",
            (uploads * per_upload as u64) as f64 / took.as_secs_f64(),
            uploads,
            failed
        );
        Ok(())
    })
    .await
    .context("the load ended")?;
    bare_task.abort();
    running.shutdown().await.context("stop the server")?;
    let _ = std::fs::remove_dir_all(&dir);
    result
}
