//! PostgreSQL cut off from the server mid-run by a proxy between them, then restored: while it is
//! cut the server answers agents with a retryable refusal (503 `store_unavailable`), the agents
//! back off and carry on once it is back, and nothing is lost or done twice. The test cuts for a
//! few seconds; `rehome bench outage` cuts for a whole minute.

use std::sync::Arc;
use std::time::Duration;

use agent::client::{Client, HttpTransport};
use agent::{Error, SimWorkstation, Workstation};
use model::envelope::{Key32, PublicKeys};
use model::protocol::{RegisterRequest, AGENT_VERSION};
use rehome::demo::{fleet, setup};
use rehome::fleet::driver;
use rehome::outage::CutProxy;
use server::store::testing::{fresh_database, TestDir};

use crate::failover::{demo_args, fleet_options, nothing_lost, replica, SharedClock};

/// How long the database stays cut off.
const OUTAGE: Duration = Duration::from_secs(3);

/// Registers the workstation in `dir` with the server at `url`.
fn register(url: &str, psk: &str, dir: &std::path::Path) -> agent::Result<()> {
    let facts = SimWorkstation::open(dir)?.facts()?;
    let mut client = Client::new(
        HttpTransport::new(url),
        Arc::new(model::clock::SystemClock),
        None,
    );
    client.register(
        psk,
        RegisterRequest {
            computer_name: facts.computer_name,
            serial: facts.serial,
            os_edition: facts.os_edition,
            os_version: facts.os_version,
            agent_version: AGENT_VERSION.to_string(),
            join_state: facts.join_state,
            keys: PublicKeys {
                sign: Key32([0; 32]),
                encrypt: Key32([0; 32]),
            },
        },
    )?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_cut_off_mid_run_gets_agents_a_retryable_refusal_and_loses_nothing() {
    match std::env::var("REHOME_TEST_DATABASE") {
        Ok(url) if url.starts_with("postgres") => {}
        _ => {
            // SQLite is a file in the server's own process: there is no path to it to cut.
            eprintln!("skipped: the database outage needs PostgreSQL; set REHOME_TEST_DATABASE (scripts/test-postgres start)");
            return;
        }
    }
    const AGENTS: usize = 12;
    let (url, _db_dir) = fresh_database().await;
    let (proxy, proxied) = CutProxy::start(&url, 64 * 1024).await.expect("proxy");
    let data = TestDir::new();
    let server = replica(data.path(), &proxied, Arc::new(SharedClock::default())).await;
    // One computer more than the fleet: it asks to register while the database is cut.
    let world = setup::seed(server.app(), data.path(), &demo_args(AGENTS + 1))
        .await
        .expect("seed");
    let root = TestDir::new();
    let mut machines = fleet::create(root.path(), &world, AGENTS + 1).expect("workstations");
    let late = machines.pop().expect("the late workstation");
    let server_url = format!("http://{}", server.local_addr());
    let seeded = proxy.carried();
    let run = tokio::spawn(driver::run(
        fleet_options(server_url.clone(), &world.psk),
        machines.iter().map(|m| m.member()).collect(),
    ));
    // Cut once the run has sent the database another 256 KiB.
    while proxy.carried() < seeded + 256 * 1024 {
        proxy.tripped.notified().await;
    }
    proxy.cut();
    let refused = {
        let (url, psk, dir) = (server_url.clone(), world.psk.clone(), late.dir.clone());
        tokio::task::spawn_blocking(move || register(&url, &psk, &dir))
            .await
            .expect("register")
    };
    match &refused {
        Err(Error::Unreachable(why)) => assert!(
            why.contains("cannot reach its database"),
            "the refusal says why: {}",
            why
        ),
        other => panic!("registering while the database is cut: {:?}", other),
    }
    // The outage lasts its length in real time: the agents' backoff runs on it.
    tokio::time::sleep(OUTAGE).await;
    proxy.restore();

    let report = run.await.expect("the fleet run");
    let events = nothing_lost(&report, server.app(), &machines).await;
    let failed: u64 = report.requests.iter().map(|k| k.failed).sum();
    assert!(failed > 0, "the agents met the outage");
    println!(
        "database cut for {:?} mid-run: {} requests refused or cut meanwhile, {} agents Completed, {} events stored once each, no step twice; lost 0",
        OUTAGE, failed, AGENTS, events
    );
    server.shutdown().await.expect("stop");
}
