//! `rehome serve` as a child process (the built binary), SIGKILLed at random points of a fleet run
//! and started again on the same store: every agent Completed, every event stored once, no step
//! run twice. On the backend `REHOME_TEST_DATABASE` chooses.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rand::Rng;
use rehome::demo::{fleet, setup};
use rehome::fleet::driver;
use server::store::testing::{fresh_database, TestDir};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::failover::{demo_args, fleet_options, nothing_lost, replica, Balancer, SharedClock};

/// A `rehome serve` process and the address it listens on.
struct ServeProcess {
    child: Child,
    addr: std::net::SocketAddr,
}

/// Starts `rehome serve` on a loopback port over `database`, its data in `data_dir`, its log in
/// `log`; returns once it says where it listens.
async fn serve(data_dir: &Path, database: &str, log: &Path) -> ServeProcess {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the server's log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rehome"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(["--database", database])
        .env_remove("REHOME_SECRET_KEY")
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("start rehome serve");
    let stdout = child.stdout.take().expect("its standard output");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .expect("read the server's output")
            .expect("the server ended before it listened");
        if let Some(url) = line.strip_prefix("rehome is listening on http://") {
            break url.trim().parse().expect("the address it listens on");
        }
    };
    // Whatever else it prints is read and dropped, so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    ServeProcess { child, addr }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rehome_serve_sigkilled_at_random_points_and_restarted_loses_nothing() {
    const AGENTS: usize = 12;
    const KILLS: usize = 3;
    let (url, _db_dir) = fresh_database().await;
    let data = TestDir::new();
    let log = data.path().join("serve.log");
    let clock = Arc::new(SharedClock::default());
    // Seeded in this process, which then lets go of the store for the child.
    let seeding = replica(data.path(), &url, clock.clone()).await;
    let world = setup::seed(seeding.app(), data.path(), &demo_args(AGENTS))
        .await
        .expect("seed");
    seeding.shutdown().await.expect("stop the seeding server");

    let mut server = serve(data.path(), &url, &log).await;
    // The balancer only keeps the agents' one URL while the server's port changes; the kills are
    // real: the process dies with its connections.
    let balancer = Balancer::over(&[server.addr], 16 * 1024);
    let (front_url, accepting) = balancer.listen().await;
    let root = TestDir::new();
    let machines = fleet::create(root.path(), &world, AGENTS).expect("workstations");
    let run = tokio::spawn(driver::run(
        fleet_options(front_url, &world.psk),
        machines.iter().map(|m| m.member()).collect(),
    ));
    let mut points = Vec::new();
    for _ in 0..KILLS {
        // A random point: after one to four more 16 KiB of requests.
        let trips = rand::thread_rng().gen_range(1..=4);
        for _ in 0..trips {
            balancer.tripped.notified().await;
        }
        points.push(balancer.backends[0].carried.load(Ordering::Relaxed));
        server.child.start_kill().expect("SIGKILL rehome serve");
        let status = server.child.wait().await.expect("reap rehome serve");
        assert!(!status.success(), "killed, not stopped: {:?}", status);
        server = serve(data.path(), &url, &log).await;
        *balancer.backends[0].addr.lock().expect("lock") = server.addr;
    }
    let report = run.await.expect("the fleet run");
    accepting.abort();
    server.child.start_kill().expect("stop the last server");
    let _ = server.child.wait().await;

    let check = replica(data.path(), &url, clock).await;
    let events = nothing_lost(&report, check.app(), &machines).await;
    println!(
        "rehome serve SIGKILLed {} times (after {:?} request bytes) and restarted: {} agents Completed, {} events stored once each, no step twice; lost 0",
        KILLS, points, AGENTS, events
    );
    check.shutdown().await.expect("stop");
}
