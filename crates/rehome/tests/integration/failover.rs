//! Servers killed under a fleet, behind a small TCP balancer on 127.0.0.1. Two replicas on one
//! PostgreSQL, one killed during the run: the other carries every agent to Completed, every event
//! is stored exactly once, no step runs twice, and the singleton jobs' lease moves to the survivor
//! within one lease period (on the replicas' shared, injected clock). One server killed three
//! times mid-run and started again on its store: nothing lost either.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use agent::journal::{Journal, Record};
use agent::AgentConfig;
use chrono::{DateTime, Utc};
use model::clock::{Clock, SystemClock};
use model::status::AgentStatus;
use rehome::demo::{fleet, setup, DemoArgs};
use rehome::fleet::{driver, FleetOptions, Outcome};
use server::serve::{RunningServer, ServeConfig};
use server::store::testing::{fresh_database, TestDir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Real time plus an offset the test moves forward, shared by both replicas.
#[derive(Default)]
pub(crate) struct SharedClock {
    pub(crate) ahead_ms: AtomicI64,
}

impl Clock for SharedClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + chrono::Duration::milliseconds(self.ahead_ms.load(Ordering::Relaxed))
    }
}

/// One replica as the balancer sees it.
pub(crate) struct Backend {
    pub(crate) addr: std::sync::Mutex<SocketAddr>,
    pub(crate) alive: AtomicBool,
    /// Request bytes carried to it.
    pub(crate) carried: AtomicU64,
}

/// A round-robin TCP balancer over the live backends; `tripped` is notified each time the first
/// backend has carried another `trip_every` request bytes.
pub(crate) struct Balancer {
    pub(crate) backends: Vec<Backend>,
    next: AtomicU64,
    trip_every: u64,
    pub(crate) tripped: Notify,
}

impl Balancer {
    async fn connect(&self) -> Option<(usize, TcpStream)> {
        for _ in 0..self.backends.len() {
            let i = (self.next.fetch_add(1, Ordering::Relaxed) as usize) % self.backends.len();
            let b = &self.backends[i];
            if !b.alive.load(Ordering::Relaxed) {
                continue;
            }
            let addr = *b.addr.lock().expect("lock");
            if let Ok(stream) = TcpStream::connect(addr).await {
                return Some((i, stream));
            }
        }
        None
    }

    /// Carries one client connection until either side closes or its backend is killed.
    async fn carry(self: Arc<Self>, client: TcpStream) {
        let Some((i, upstream)) = self.connect().await else {
            return;
        };
        let (mut client_read, mut client_write) = client.into_split();
        let (mut up_read, mut up_write) = upstream.into_split();
        let balancer = self.clone();
        let requests = async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let b = &balancer.backends[i];
                if !b.alive.load(Ordering::Relaxed) || up_write.write_all(&buf[..n]).await.is_err()
                {
                    return;
                }
                let before = b.carried.fetch_add(n as u64, Ordering::Relaxed);
                let every = balancer.trip_every;
                if i == 0 && before / every != (before + n as u64) / every {
                    balancer.tripped.notify_one();
                }
            }
        };
        let balancer = self.clone();
        let answers = async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match up_read.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if !balancer.backends[i].alive.load(Ordering::Relaxed)
                    || client_write.write_all(&buf[..n]).await.is_err()
                {
                    return;
                }
            }
        };
        // Either direction ending ends the connection, as a dead server's would.
        tokio::select! {
            _ = requests => {},
            _ = answers => {},
        }
    }
}

impl Balancer {
    pub(crate) fn over(addrs: &[SocketAddr], trip_every: u64) -> Arc<Balancer> {
        Arc::new(Balancer {
            backends: addrs
                .iter()
                .map(|&addr| Backend {
                    addr: std::sync::Mutex::new(addr),
                    alive: AtomicBool::new(true),
                    carried: AtomicU64::new(0),
                })
                .collect(),
            next: AtomicU64::new(0),
            trip_every,
            tripped: Notify::new(),
        })
    }

    /// Starts accepting on a loopback port; its URL and the accepting task.
    pub(crate) async fn listen(self: &Arc<Self>) -> (String, tokio::task::JoinHandle<()>) {
        let front = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", front.local_addr().expect("address"));
        let balancer = self.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = front.accept().await {
                tokio::spawn(balancer.clone().carry(client));
            }
        });
        (url, task)
    }
}

pub(crate) fn fleet_options(url: String, psk: &str) -> FleetOptions {
    FleetOptions {
        server_url: url,
        psk: psk.to_string(),
        time_factor: 600.0,
        connections: 8,
        deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(240)),
        exit_when_idle: true,
        progress: false,
    }
}

pub(crate) fn demo_args(agents: usize) -> DemoArgs {
    DemoArgs {
        agents,
        users: agents * 3,
        computers: agents,
        data_dir: None,
        listen: "127.0.0.1:0".parse().expect("address"),
        timeout: 120,
        keep_running: false,
        time_factor: 600.0,
        connections: 8,
    }
}

/// Checks that nothing was lost or done twice: every agent Completed, its events stored once each
/// (as many rows as its highest sequence number) and none left in its spool, no journal step
/// finished twice or started again once finished. Returns the events stored.
pub(crate) async fn nothing_lost(
    report: &rehome::fleet::FleetReport,
    app: &server::App,
    machines: &[fleet::Machine],
) -> u64 {
    assert_eq!(report.failures(), Vec::<String>::new());
    assert_eq!(
        report.count(&Outcome::Finished(AgentStatus::Completed)),
        machines.len(),
        "{:?}",
        report.outcomes
    );
    let store = &app.store;
    let counts = setup::status_counts(app).await.expect("counts");
    assert_eq!(
        counts.get(AgentStatus::Completed),
        machines.len() as u64,
        "{}",
        counts.summary()
    );
    let mut events = 0;
    for agent in store.agents().await.expect("agents") {
        let last = store.last_event_seq(agent.id).await.expect("last seq");
        let stored = store.event_count(agent.id).await.expect("count");
        assert!(last > 0, "{} uploaded events", agent.computer_name);
        assert_eq!(
            stored, last,
            "{}: events lost or stored twice",
            agent.computer_name
        );
        events += stored;
    }
    for m in machines {
        let state = AgentConfig::new("http://x", "psk", &m.dir).state_dir;
        let spool = agent::spool::Spool::open(&state).expect("spool");
        assert!(
            spool.is_empty(),
            "{} still holds unacknowledged events",
            m.name
        );
        let journal = Journal::open(&state.join("journal.log")).expect("journal");
        // A step cut off by a lost server (it needed an answer) starts again on resume; a step
        // that finished never starts again and never finishes twice.
        let mut done = std::collections::HashSet::new();
        for record in journal.records() {
            match record {
                Record::StepStarted { runbook, step, .. } => assert!(
                    !done.contains(&(*runbook, step.clone())),
                    "{} ran step {} again after it finished",
                    m.name,
                    step
                ),
                Record::StepDone { runbook, step, .. } => assert!(
                    done.insert((*runbook, step.clone())),
                    "{} finished step {} twice",
                    m.name,
                    step
                ),
                _ => {}
            }
        }
        assert!(!done.is_empty());
    }
    events
}

pub(crate) async fn replica(
    data_dir: &std::path::Path,
    url: &str,
    clock: Arc<SharedClock>,
) -> RunningServer {
    server::serve::start(
        ServeConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            data_dir: data_dir.to_path_buf(),
            database: Some(url.to_string()),
            ..Default::default()
        },
        clock,
    )
    .await
    .expect("start a server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_run_loses_no_event_runs_no_step_twice_and_hands_over_its_lease() {
    match std::env::var("REHOME_TEST_DATABASE") {
        Ok(url) if url.starts_with("postgres") => {}
        _ => {
            eprintln!(
                "skipped: failover needs two replicas on one PostgreSQL; set REHOME_TEST_DATABASE \
                 (scripts/test-postgres start)"
            );
            return;
        }
    }
    const AGENTS: usize = 24;
    let (url, _db_dir) = fresh_database().await;
    let data = TestDir::new();
    let clock = Arc::new(SharedClock::default());
    // One after the other: the first creates the schema and the secret key both then use.
    let a = replica(data.path(), &url, clock.clone()).await;
    let b = replica(data.path(), &url, clock.clone()).await;
    let world = setup::seed(a.app(), data.path(), &demo_args(AGENTS))
        .await
        .expect("seed through the first replica");

    // Replica a takes the jobs' lease before b tries: a is the one that will die holding it.
    assert!(server::jobs::round(a.app()).await.expect("round").held);
    assert!(!server::jobs::round(b.app()).await.expect("round").held);

    let balancer = Balancer::over(&[a.local_addr(), b.local_addr()], 64 * 1024);
    let (front_url, accepting) = balancer.listen().await;
    let root = TestDir::new();
    let machines = fleet::create(root.path(), &world, AGENTS).expect("workstations");
    let run = tokio::spawn(driver::run(
        fleet_options(front_url, &world.psk),
        machines.iter().map(|m| m.member()).collect(),
    ));

    // Kill replica a once it has carried part of the run: no graceful drain, no lease release.
    balancer.tripped.notified().await;
    balancer.backends[0].alive.store(false, Ordering::Relaxed);
    let a_app = a.app().clone();
    a.kill();
    let check_ins_at_kill = b.app().metrics.check_ins();

    let report = run.await.expect("the fleet run");
    accepting.abort();
    let events = nothing_lost(&report, b.app(), &machines).await;
    assert!(
        b.app().metrics.check_ins() > check_ins_at_kill,
        "the surviving replica carried on"
    );
    assert!(
        a_app.metrics.check_ins() > 0,
        "the killed replica served part of the run"
    );
    let store = &b.app().store;
    println!(
        "failover: {} agents Completed, {} events stored once each, replica a answered {} check-ins before it died",
        AGENTS,
        events,
        a_app.metrics.check_ins()
    );

    // The dead replica's lease still stands until it expires; one lease period later the
    // survivor holds it and runs the jobs.
    assert!(!server::jobs::round(b.app()).await.expect("round").held);
    clock.ahead_ms.store(
        (server::jobs::lease_ttl() + chrono::Duration::seconds(1)).num_milliseconds(),
        Ordering::Relaxed,
    );
    assert!(server::jobs::round(b.app()).await.expect("round").held);
    let holder = store
        .lease_holder(server::jobs::LEASE)
        .await
        .expect("lease")
        .expect("held");
    assert_eq!(holder.0, b.app().settings.replica);
    b.shutdown().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_three_times_mid_run_and_started_again_loses_nothing() {
    const AGENTS: usize = 12;
    const KILLS: usize = 3;
    let (url, _db_dir) = fresh_database().await;
    let data = TestDir::new();
    let clock = Arc::new(SharedClock::default());
    let mut server = replica(data.path(), &url, clock.clone()).await;
    let world = setup::seed(server.app(), data.path(), &demo_args(AGENTS))
        .await
        .expect("seed");
    let balancer = Balancer::over(&[server.local_addr()], 48 * 1024);
    let (front_url, accepting) = balancer.listen().await;
    let root = TestDir::new();
    let machines = fleet::create(root.path(), &world, AGENTS).expect("workstations");
    let run = tokio::spawn(driver::run(
        fleet_options(front_url, &world.psk),
        machines.iter().map(|m| m.member()).collect(),
    ));
    let mut check_ins = 0;
    for _ in 0..KILLS {
        balancer.tripped.notified().await;
        let backend = &balancer.backends[0];
        backend.alive.store(false, Ordering::Relaxed);
        check_ins += server.app().metrics.check_ins();
        server.kill();
        server = replica(data.path(), &url, clock.clone()).await;
        *backend.addr.lock().expect("lock") = server.local_addr();
        backend.alive.store(true, Ordering::Relaxed);
    }
    let report = run.await.expect("the fleet run");
    accepting.abort();
    let events = nothing_lost(&report, server.app(), &machines).await;
    check_ins += server.app().metrics.check_ins();
    println!(
        "killed {} times: {} agents Completed, {} check-ins, {} events stored once each; lost 0",
        KILLS, AGENTS, check_ins, events
    );
    server.shutdown().await.expect("stop");
}
