//! A run that failed half way is retried from the server and goes on from the device's journal;
//! the server's plan of a device before it runs.

use std::sync::Arc;

use agent::client::HttpTransport;
use agent::{Agent, AgentConfig, SimFaults, SimWorkstation, ThreadSleeper};
use model::clock::SystemClock;
use model::status::AgentStatus;
use rehome::demo::fleet;

use crate::support::{blocking, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_retried_from_the_server_goes_on_from_its_journal_and_completes() {
    let h = Harness::start(6, 1).await;
    let machines =
        fleet::create(&h.dir.path().join("fleet"), &h.world, 1).expect("create workstations");
    let machine = &machines[0];
    let mut config = AgentConfig::new(&h.url, &h.world.psk, &machine.dir);
    config.exit_when_idle = true;

    // The first run stops at the Windows Hello reset, which this device cannot do, after it
    // left its old domain and joined the new one.
    let first = blocking({
        let config = config.clone();
        let url = h.url.clone();
        move || {
            let mut workstation = SimWorkstation::open(&config.sim_dir).expect("open");
            workstation.set_faults(SimFaults {
                lacks: vec!["reset_windows_hello".to_string()],
                ..Default::default()
            });
            Agent::new(
                config,
                workstation,
                HttpTransport::new(&url),
                Arc::new(SystemClock),
                Box::new(ThreadSleeper::default()),
            )
            .expect("agent")
            .run()
        }
    })
    .await
    .expect("the agent runs");
    assert!(
        matches!(
            first,
            agent::Exit::Idle {
                status: AgentStatus::Error,
                ..
            }
        ),
        "{:?}",
        first
    );
    let failed = SimWorkstation::load(&machine.dir).expect("state");
    assert!(failed.actions.contains_key("device-state/join-ad"));
    assert!(!failed.actions.contains_key("permissions/file-system"));

    let agent_id = h.app.store.agents().await.expect("agents")[0].id;
    let runbook = h
        .app
        .store
        .runbooks()
        .await
        .expect("runbooks")
        .into_iter()
        .next()
        .expect("the demo runbook");
    let details = server::migration::agents::details(&h.app, agent_id)
        .await
        .expect("details");
    assert_eq!(details.runs[0].status, AgentStatus::Error);
    assert!(
        details.runs[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("reset-windows-hello")),
        "{:?}",
        details.runs[0].last_error
    );

    // Without a retry the failed run stays failed: the agent changes nothing more.
    let again = blocking({
        let config = config.clone();
        move || agent::run(&config)
    })
    .await
    .expect("the agent runs");
    assert!(
        matches!(
            again,
            agent::Exit::Idle {
                status: AgentStatus::Error,
                ..
            }
        ),
        "{:?}",
        again
    );
    assert_eq!(
        SimWorkstation::load(&machine.dir).expect("state").actions,
        failed.actions
    );

    // The operator retries the run; the device, which can now reset Windows Hello, goes on.
    let retried = server::migration::agents::retry(&h.app, agent_id, runbook.id)
        .await
        .expect("retry");
    assert_eq!(
        (
            retried.status,
            retried.retries,
            retried.last_error.as_deref()
        ),
        (AgentStatus::NotStarted, 1, None)
    );
    let second = blocking(move || agent::run(&config))
        .await
        .expect("the agent runs");
    assert!(
        matches!(
            second,
            agent::Exit::Idle {
                status: AgentStatus::Completed,
                ..
            }
        ),
        "{:?}",
        second
    );
    let done = SimWorkstation::load(&machine.dir).expect("state");
    assert!(done.actions.contains_key("permissions/file-system"));
    for (step, times) in &done.actions {
        assert_eq!(*times, 1, "{} acted {} times", step, times);
    }
    let verification = fleet::verify(&machines, &h.world);
    assert!(
        verification.problems.is_empty(),
        "{:#?}",
        verification.problems
    );

    let details = server::migration::agents::details(&h.app, agent_id)
        .await
        .expect("details");
    assert_eq!(details.runs[0].status, AgentStatus::Completed);
    assert_eq!(details.runs[0].retries, 1);
    assert_eq!(
        details.agent.join_state,
        model::plan::JoinState::ActiveDirectory {
            domain: h.world.target_domain.clone()
        }
    );
    let log = server::migration::agents::events(&h.app, agent_id, None, Some(1000))
        .await
        .expect("log");
    assert!(
        log.events
            .iter()
            .any(|e| e.message.contains("retried from the server")
                && e.message.contains("not run again")),
        "the log says the run was retried from its journal"
    );

    // A run that completed is not retried.
    match server::migration::agents::retry(&h.app, agent_id, runbook.id).await {
        Err(server::Error::Conflict(message)) => assert!(message.contains("Error"), "{}", message),
        other => panic!("expected a conflict, got {:?}", other.map(|r| r.status)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_plans_a_registered_device_before_it_runs() {
    let h = Harness::start(6, 1).await;
    let machines =
        fleet::create(&h.dir.path().join("fleet"), &h.world, 1).expect("create workstations");
    let machine = &machines[0];
    // Registered and its profiles harvested; its run stops at the join (the target has a
    // computer account of its name), before any permission changed, so the runbook is still the
    // one it runs next.
    SimWorkstation::open(&machine.dir)
        .expect("open")
        .add_domain_computer_account(&h.world.target_domain, &machine.name)
        .expect("add the account");
    let mut config = AgentConfig::new(&h.url, &h.world.psk, &machine.dir);
    config.exit_when_idle = true;
    let exit = blocking(move || agent::run(&config))
        .await
        .expect("the agent runs");
    assert!(matches!(exit, agent::Exit::Idle { .. }), "{:?}", exit);

    let agent_id = h.app.store.agents().await.expect("agents")[0].id;
    let runbook = h
        .app
        .store
        .runbooks()
        .await
        .expect("runbooks")
        .into_iter()
        .next()
        .expect("the demo runbook");
    let plan = server::migration::device_plan::device_plan(&h.app, agent_id)
        .await
        .expect("plan");
    assert_eq!(plan.runbook, runbook.id);
    assert_eq!(plan.target, h.world.target_domain);
    let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert!(
        ids.iter().any(|id| id.starts_with("device-state/join")),
        "{:?}",
        ids
    );
    assert!(
        ids.iter().any(|id| id.starts_with("permissions/")),
        "{:?}",
        ids
    );
    // Each source user with a profile on the device is shown with the target SID it gets.
    assert!(!plan.sid_changes.is_empty());
    for change in &plan.sid_changes {
        assert!(
            machine.users.iter().any(|(sid, _)| *sid == change.source),
            "{:?} is not a profile of the device",
            change
        );
    }
    // Every profile gets a translation, and each says why its target SID was chosen.
    assert!(
        plan.untranslated_profiles.iter().all(|p| !p.stops_run),
        "{:?}",
        plan.untranslated_profiles
    );
    assert!(
        plan.sid_changes
            .iter()
            .all(|c| c.reason == "Active Directory join: the target's AD SID"),
        "{:?}",
        plan.sid_changes
    );
    let target_sids: Vec<_> = h
        .world
        .target
        .users()
        .filter_map(|u| u.sid.clone())
        .collect();
    assert!(plan
        .sid_changes
        .iter()
        .all(|c| target_sids.contains(&c.target)));
}
