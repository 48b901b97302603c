//! `rehome fleet`'s agents: async tasks sharing a few connections, each a real agent with its own
//! keys and journal, migrating end to end and measured per request kind.

use agent::journal::Journal;
use agent::AgentConfig;
use model::status::AgentStatus;
use rehome::demo::{fleet, setup};
use rehome::fleet::{driver, FleetOptions, Outcome};

use crate::support::Harness;

fn options(h: &Harness, connections: usize) -> FleetOptions {
    FleetOptions {
        server_url: h.url.clone(),
        psk: h.world.psk.clone(),
        time_factor: 600.0,
        connections,
        deadline: None,
        exit_when_idle: true,
        progress: false,
    }
}

fn kind<'a>(
    report: &'a rehome::fleet::FleetReport,
    kind: &str,
) -> &'a rehome::fleet::transport::KindSummary {
    report
        .requests
        .iter()
        .find(|k| k.kind == kind)
        .unwrap_or_else(|| panic!("no {} requests in {:?}", kind, report.requests))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_fewer_connections_than_agents_migrates_every_workstation() {
    let h = Harness::start(20, 8).await;
    let machines =
        fleet::create(&h.dir.path().join("fleet"), &h.world, 8).expect("create workstations");
    let members = machines.iter().map(|m| m.member()).collect();
    let report = driver::run(options(&h, 3), members).await;

    assert_eq!(report.failures(), Vec::<String>::new());
    assert_eq!(
        report.count(&Outcome::Finished(AgentStatus::Completed)),
        8,
        "{:?}",
        report.outcomes
    );
    let counts = setup::status_counts(&h.app).await.expect("counts");
    assert_eq!(
        counts.get(AgentStatus::Completed),
        8,
        "{}",
        counts.summary()
    );
    let verification = fleet::verify(&machines, &h.world);
    assert!(
        verification.problems.is_empty(),
        "{:#?}",
        verification.problems
    );

    // Every agent registered once with its own identity and was measured doing so.
    let register = kind(&report, "register");
    assert_eq!((register.count, register.failed), (8, 0));
    let agents = h.app.store.agents().await.expect("agents");
    assert_eq!(agents.len(), 8);
    let check_in = kind(&report, "check-in");
    assert!(check_in.count >= 16, "{:?}", check_in);
    assert_eq!(check_in.failed, 0);
    assert!(check_in.p50 <= check_in.p99 && check_in.p99 <= check_in.max);
    assert!(kind(&report, "events").count >= 8);
    let table = report.table();
    assert!(
        table.contains("check-in") && table.contains("p999 ms"),
        "{}",
        table
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_restarted_over_its_workstations_registers_none_again_and_runs_no_step_twice() {
    let h = Harness::start(12, 3).await;
    let root = h.dir.path().join("fleet");
    let machines = fleet::create(&root, &h.world, 3).expect("create workstations");
    let first = driver::run(
        options(&h, 2),
        machines.iter().map(|m| m.member()).collect(),
    )
    .await;
    assert_eq!(first.failures(), Vec::<String>::new());
    let journal_len = |dir: &std::path::Path| {
        let state = AgentConfig::new("http://x", "psk", dir).state_dir;
        std::fs::metadata(state.join("journal.log"))
            .expect("journal")
            .len()
    };
    let before: Vec<u64> = machines.iter().map(|m| journal_len(&m.dir)).collect();

    // The same folders again: each agent resumes with its identity and journal. The server has
    // nothing more for them, so they go on checking in until the fleet is stopped.
    let again = fleet::create(&root, &h.world, 3).expect("reopen workstations");
    let mut resumed = options(&h, 2);
    resumed.deadline = Some(std::time::Instant::now() + std::time::Duration::from_secs(3));
    let second = driver::run(resumed, again.iter().map(|m| m.member()).collect()).await;
    assert_eq!(second.failures(), Vec::<String>::new());
    assert!(
        kind(&second, "check-in").count >= 3,
        "{:?}",
        second.requests
    );
    assert!(
        second.requests.iter().all(|k| k.kind != "register"),
        "{:?}",
        second.requests
    );
    assert_eq!(h.app.store.agents().await.expect("agents").len(), 3);
    for (m, len) in machines.iter().zip(before) {
        assert_eq!(journal_len(&m.dir), len, "{} ran something again", m.name);
        let state = AgentConfig::new("http://x", "psk", &m.dir).state_dir;
        let journal = Journal::open(&state.join("journal.log")).expect("journal");
        assert!(journal.unfinished().is_none());
    }
}
