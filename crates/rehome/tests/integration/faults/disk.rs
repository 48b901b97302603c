//! The agent's disk full while it spools events, made by giving the spool no room on disk: events
//! the disk refuses are kept in memory behind a warning and still reach the server once each; when
//! memory holds as many as it may, the run stops with an error that says why, and every event it
//! numbered is still accounted for (on the server or in the agent).

use std::sync::Arc;

use agent::client::HttpTransport;
use agent::spool::SpoolLimits;
use agent::{Agent, AgentConfig, Error, Exit, SimWorkstation, ThreadSleeper};
use model::clock::SystemClock;
use model::status::{AgentStatus, EventLevel};
use rehome::demo::fleet;

use crate::support::{blocking, Harness};

type SimAgent = Agent<SimWorkstation, HttpTransport>;

/// Runs one agent of `h` with `limits` until it is idle or fails; gives the agent back.
async fn run_agent(h: &Harness, limits: SpoolLimits) -> (SimAgent, agent::Result<Exit>) {
    let machines =
        fleet::create(&h.dir.path().join("fleet"), &h.world, 1).expect("create workstations");
    let mut config = AgentConfig::new(&h.url, &h.world.psk, &machines[0].dir);
    config.exit_when_idle = true;
    config.spool_limits = limits;
    let url = h.url.clone();
    blocking(move || {
        let workstation = SimWorkstation::open(&config.sim_dir).expect("open");
        let mut agent = Agent::new(
            config,
            workstation,
            HttpTransport::new(&url),
            Arc::new(SystemClock),
            Box::new(ThreadSleeper::default()),
        )
        .expect("agent");
        let exit = agent.run();
        (agent, exit)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_room_on_disk_events_wait_in_memory_and_each_reaches_the_server_once() {
    let h = Harness::start(6, 1).await;
    let limits = SpoolLimits {
        bytes: Some(0),
        held: 1000,
    };
    let (agent, exit) = run_agent(&h, limits).await;
    assert!(
        matches!(
            exit,
            Ok(Exit::Idle {
                status: AgentStatus::Completed,
                ..
            })
        ),
        "{:?}",
        exit
    );
    assert!(agent.spool().is_empty());
    let id = h.app.store.agents().await.expect("agents")[0].id;
    let last = h.app.store.last_event_seq(id).await.expect("last");
    let stored = h.app.store.event_count(id).await.expect("count");
    assert_eq!(stored, last, "events lost or stored twice");
    let events = h.app.store.events(id, None, 100_000).await.expect("events");
    let warnings = events
        .iter()
        .filter(|e| e.level == EventLevel::Warning && e.message.contains("event spool"))
        .count();
    assert!(warnings > 0, "the server heard of the full disk");
    println!(
        "disk full while spooling: {} events reached the server once each from memory, {} warnings of the full disk; lost 0",
        stored, warnings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_memory_holds_its_most_the_run_stops_with_every_numbered_event_accounted_for() {
    // The fewest it may: the warning and the first event the disk refused.
    const HELD: usize = 2;
    let h = Harness::start(6, 1).await;
    let limits = SpoolLimits {
        bytes: Some(0),
        held: HELD,
    };
    let (agent, exit) = run_agent(&h, limits).await;
    match &exit {
        Err(Error::SpoolFull { held, reason }) => {
            assert_eq!(*held, HELD);
            assert!(reason.contains("no room"), "{}", reason);
        }
        other => panic!("the run should stop on the full spool, not {:?}", other),
    }
    assert!(exit
        .as_ref()
        .map_err(|e| e.to_string())
        .err()
        .is_some_and(|m| m.contains("make room on the agent's disk")));
    // The run stopped part way: its journal has it unfinished, to resume once there is room.
    assert!(agent.journal().unfinished().is_some());
    let id = h.app.store.agents().await.expect("agents")[0].id;
    let details = server::migration::agents::details(&h.app, id)
        .await
        .expect("details");
    assert!(
        details
            .runs
            .iter()
            .all(|r| r.status != AgentStatus::Completed),
        "the server does not see the stopped run as Completed"
    );
    // Every number the spool gave out is on the server or still held by the agent, once.
    let stored = h.app.store.event_count(id).await.expect("count");
    let last = h.app.store.last_event_seq(id).await.expect("last");
    assert_eq!(stored, last);
    let held: Vec<u64> = agent.spool().pending().iter().map(|e| e.seq).collect();
    assert_eq!(agent.spool().held(), held.len());
    let expected: Vec<u64> = (last + 1..last + 1 + HELD as u64).collect();
    assert_eq!(held, expected);
    println!(
        "disk full with memory at its bound: the run stopped; {} events on the server, {} held in memory; lost 0",
        stored,
        held.len()
    );
}
