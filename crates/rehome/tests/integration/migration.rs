//! Three workstations migrated end to end, a retried event upload, and an agent killed mid-phase.

use std::sync::Arc;

use agent::client::{Client, HttpTransport, Identity};
use agent::{Agent, AgentConfig, SimFaults, SimWorkstation, ThreadSleeper};
use model::clock::SystemClock;
use model::protocol::AgentEvent;
use model::status::{AgentStatus, EventLevel};
use rehome::demo::{fleet, setup};

use crate::support::{blocking, Harness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workstations_reach_completed_with_profiles_and_files_translated() {
    let h = Harness::start(12, 4).await;
    let machines =
        fleet::create(&h.dir.path().join("fleet"), &h.world, 3).expect("create workstations");
    let handles = fleet::start_agents(&h.url, &h.world.psk, &machines);
    let errors = blocking(move || fleet::join(handles)).await;
    assert!(errors.is_empty(), "agents failed: {:?}", errors);

    let counts = setup::status_counts(&h.app).await.expect("counts");
    assert_eq!(
        counts.get(AgentStatus::Completed),
        3,
        "{}",
        counts.summary()
    );
    assert_eq!(counts.get(AgentStatus::Error), 0);

    let verification = fleet::verify(&machines, &h.world);
    assert!(
        verification.problems.is_empty(),
        "{:#?}",
        verification.problems
    );

    // Each workstation's local Administrators group now holds the target group, not the source.
    let source_group = h
        .world
        .source
        .groups()
        .next()
        .and_then(|g| g.sid.clone())
        .expect("a group");
    let target_group = h
        .world
        .target
        .groups()
        .next()
        .and_then(|g| g.sid.clone())
        .expect("a group");
    for m in &machines {
        let state = SimWorkstation::load(&m.dir).expect("state");
        let admins = state
            .local_groups
            .get("Administrators")
            .expect("Administrators");
        assert!(admins.contains(&target_group), "{}: {:?}", m.name, admins);
        assert!(!admins.contains(&source_group), "{}: {:?}", m.name, admins);
    }

    // The server kept every agent's events, and harvested profiles under the target SIDs.
    let agents = h.app.store.agents().await.expect("agents");
    assert_eq!(agents.len(), 3);
    for a in &agents {
        assert!(h.app.store.event_count(a.id).await.expect("count") > 0);
        let profiles = h.app.store.profiles(a.id).await.expect("profiles");
        assert!(!profiles.is_empty());
        let source_sids: Vec<_> = h
            .world
            .source
            .users()
            .filter_map(|u| u.sid.clone())
            .collect();
        assert!(
            profiles.iter().all(|p| !source_sids.contains(&p.sid)),
            "{:?}",
            profiles
        );
        // The server's view of the device is where it is now, as of its last contact.
        assert_eq!(
            a.join_state,
            model::plan::JoinState::ActiveDirectory {
                domain: h.world.target_domain.clone()
            },
            "{}",
            a.computer_name
        );
        assert!(
            a.last_contact >= a.registered_at,
            "{}: last contact {} before registration {}",
            a.computer_name,
            a.last_contact,
            a.registered_at
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_event_upload_stores_each_event_once() {
    let h = Harness::start(6, 1).await;
    let machines =
        fleet::create(&h.dir.path().join("fleet"), &h.world, 1).expect("create workstations");
    let errors = blocking({
        let handles = fleet::start_agents(&h.url, &h.world.psk, &machines);
        move || fleet::join(handles)
    })
    .await;
    assert!(errors.is_empty(), "{:?}", errors);

    let state_dir = AgentConfig::new(&h.url, &h.world.psk, &machines[0].dir).state_dir;
    let identity = Identity::load(&state_dir.join("identity.json"))
        .expect("read")
        .expect("an identity");
    let agent_id = identity.agent;
    let before = h.app.store.event_count(agent_id).await.expect("count");
    let last = h.app.store.last_event_seq(agent_id).await.expect("seq");
    assert_eq!(before, last, "sequence numbers 1..=n, each stored once");

    let url = h.url.clone();
    let (replayed, fresh, fresh_again) = blocking(move || {
        let client = Client::new(
            HttpTransport::new(&url),
            Arc::new(SystemClock),
            Some(identity),
        );
        let event = |seq: u64| AgentEvent {
            seq,
            at: model::clock::Clock::now(&SystemClock),
            level: EventLevel::Info,
            runbook: None,
            phase: None,
            step: None,
            status: None,
            message: format!("event {}", seq),
        };
        let old: Vec<_> = (1..=last).map(event).collect();
        let replayed = client.upload_events(&old).expect("upload old events");
        let fresh = client
            .upload_events(&[event(last + 1)])
            .expect("upload a new event");
        let fresh_again = client
            .upload_events(&[event(last + 1)])
            .expect("upload it again");
        (replayed, fresh, fresh_again)
    })
    .await;
    assert_eq!(replayed.stored, 0);
    assert_eq!(replayed.through, last);
    assert_eq!(fresh.stored, 1);
    assert_eq!(fresh_again.stored, 0);
    assert_eq!(fresh_again.through, last + 1);
    assert_eq!(
        h.app.store.event_count(agent_id).await.expect("count"),
        before + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_mid_phase_resumes_and_runs_no_step_twice() {
    let h = Harness::start(6, 1).await;
    let machines =
        fleet::create(&h.dir.path().join("fleet"), &h.world, 1).expect("create workstations");
    let dir = machines[0].dir.clone();
    let mut config = AgentConfig::new(&h.url, &h.world.psk, &dir);
    config.exit_when_idle = true;

    let crashed = blocking({
        let config = config.clone();
        let url = h.url.clone();
        move || {
            std::thread::spawn(move || {
                let mut workstation = SimWorkstation::open(&config.sim_dir).expect("open");
                workstation.set_faults(SimFaults {
                    crash_after_step: Some("permissions/file-system".to_string()),
                    ..Default::default()
                });
                let mut agent = Agent::new(
                    config,
                    workstation,
                    HttpTransport::new(&url),
                    Arc::new(SystemClock),
                    Box::new(ThreadSleeper::default()),
                )
                .expect("agent");
                agent.run()
            })
            .join()
        }
    })
    .await;
    assert!(
        crashed.is_err(),
        "the injected fault stops the agent mid-phase"
    );
    let halfway = SimWorkstation::load(&dir).expect("state");
    assert!(halfway.actions.contains_key("permissions/file-system"));
    assert!(!halfway
        .actions
        .contains_key("completion/restore-legal-notice"));

    let exit = blocking(move || agent::run(&config))
        .await
        .expect("the restarted agent runs");
    assert!(
        matches!(
            exit,
            agent::Exit::Idle {
                status: AgentStatus::Completed,
                ..
            }
        ),
        "{:?}",
        exit
    );
    let done = SimWorkstation::load(&dir).expect("state");
    assert!(!done.actions.is_empty());
    for (step, times) in &done.actions {
        assert_eq!(*times, 1, "{} acted {} times", step, times);
    }
    let verification = fleet::verify(&machines, &h.world);
    assert!(
        verification.problems.is_empty(),
        "{:#?}",
        verification.problems
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_restarted_between_leaving_and_joining_fetches_the_join_password_again() {
    let h = Harness::start(6, 1).await;
    let machines =
        fleet::create(&h.dir.path().join("fleet"), &h.world, 1).expect("create workstations");
    let dir = machines[0].dir.clone();
    let mut config = AgentConfig::new(&h.url, &h.world.psk, &dir);
    config.exit_when_idle = true;

    // The reboot after leaving the old domain: the passwords, kept only in memory, are gone.
    let crashed = blocking({
        let config = config.clone();
        let url = h.url.clone();
        move || {
            std::thread::spawn(move || {
                let mut workstation = SimWorkstation::open(&config.sim_dir).expect("open");
                workstation.set_faults(SimFaults {
                    crash_after_step: Some("device-state/leave-ad".to_string()),
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
            })
            .join()
        }
    })
    .await;
    assert!(crashed.is_err(), "the injected fault stops the agent");
    assert_eq!(
        SimWorkstation::load(&dir).expect("state").join_state,
        model::plan::JoinState::Workgroup
    );

    let exit = blocking(move || agent::run(&config))
        .await
        .expect("the restarted agent runs");
    assert!(
        matches!(
            exit,
            agent::Exit::Idle {
                status: AgentStatus::Completed,
                ..
            }
        ),
        "{:?}",
        exit
    );
    let done = SimWorkstation::load(&dir).expect("state");
    assert_eq!(
        done.join_state,
        model::plan::JoinState::ActiveDirectory {
            domain: h.world.target_domain.clone()
        }
    );
    for (step, times) in &done.actions {
        assert_eq!(*times, 1, "{} acted {} times", step, times);
    }
}
