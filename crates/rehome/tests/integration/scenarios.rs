//! The migrations the product exists for, end to end against the real server on the chosen
//! backend: AD → AD, AD → Entra, hybrid → Entra and Entra → Entra, each with every setting of every tab
//! the server accepts for its join kind (the runbook the agent's own tests run), each run to
//! Completed and checked with `verify`, then read back as a user reads it: Runbook Status shows
//! the device Completed, Agents shows it joined to the target, Agent Logs holds its steps.

use agent::journal::Journal;
use agent::{AgentConfig, Exit, SimSpec, SimState, SimWorkstation};
use model::directory::{DirectoryKind, DirectoryObject, ObjectKind};
use model::plan::JoinState;
use model::runbook::{DomainJoin, RemoveFrom, Runbook, Secret};
use model::status::AgentStatus;
use secdesc::Sid;
use serde_json::Value;
use server::directory::profile::{self, MatchProfile};

use crate::hybrid::*;
use crate::support::blocking;

// The agent's tests use all of it; these scenarios only the runbook and its package.
#[allow(dead_code)]
#[path = "../../../agent/tests/integration/every_setting.rs"]
mod every_setting;

use every_setting::{
    full_runbook, zip, FIX_PACKAGE, JOIN_PASSWORD, REMOTE_SHARE, SOURCE_TENANT_ID,
};

/// One migration: the two directories, how their objects pair up, the device change and the
/// workstation before it.
struct Scenario {
    source: Side,
    target: Side,
    profile: MatchProfile,
    remove_from: RemoveFrom,
    join: DomainJoin,
    spec: SimSpec,
}

/// Runs `scenario` with [`full_runbook`] on `stage`: checks that the agent ends Completed, that
/// `verify` holds, and what the reports show; returns the workstation afterwards.
async fn migrate(stage: &Stage, scenario: Scenario) -> SimState {
    migrate_with(stage, scenario, None).await
}

/// [`migrate`], with `package` uploaded as the target's provisioning package and a workstation
/// that joins Entra only with one, as Windows does.
async fn migrate_with(stage: &Stage, scenario: Scenario, package: Option<&[u8]>) -> SimState {
    let (source_id, target_id) = stage
        .pair(&scenario.source, &scenario.target, scenario.profile)
        .await;
    if let Some(bytes) = package {
        server::enrollment::provisioning::upload(&stage.app, target_id, "join.ppkg", bytes)
            .await
            .expect("upload the provisioning package");
    }
    // The command package the runbook names, at the hash it names it by.
    server::packages::upload(&stage.app, "fix.zip", zip(FIX_PACKAGE))
        .await
        .expect("upload the command package");
    let (mut runbook, _) = full_runbook(scenario.join, true);
    runbook.source_directories = vec![source_id];
    runbook.target_directory = target_id;
    runbook.device_state.remove_from = scenario.remove_from;
    if scenario.join == DomainJoin::ActiveDirectory {
        runbook.device_state.active_directory.password = Secret::new(JOIN_PASSWORD);
    }
    // Beside what the agent's own runs leave off: Edge, and the agent removing itself last.
    runbook.apps.edge = true;
    runbook.completion.uninstall_agent = true;
    // The server keeps hybrid join controlled validation for devices that stay in their domain.
    runbook.device_state.hybrid_join = None;
    let runbook: Runbook = stage.assign_runbook(runbook).await;

    let spec = SimSpec {
        onedrive_tenant: Some(SOURCE_TENANT_ID.into()),
        remote_shares: vec![REMOTE_SHARE.into()],
        ..scenario.spec
    };
    let dir = stage.dir.path().join(&spec.computer_name);
    let mut workstation = SimWorkstation::create(&dir, &spec).expect("create the workstation");
    if package.is_some() {
        workstation
            .join_entra_by_package(true)
            .expect("join by package");
    }
    drop(workstation);
    let mut config = AgentConfig::new(&stage.url, &stage.psk, &dir);
    config.exit_when_idle = true;
    let state_dir = config.state_dir.clone();
    let exit = blocking(move || agent::run(&config))
        .await
        .expect("the agent runs");
    let agents = stage.app.store.agents().await.expect("agents");
    assert_eq!(agents.len(), 1, "{:?}", agents);
    let agent = agents[0].id;
    let last = stage
        .app
        .store
        .events(agent, None, 3)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.message)
        .collect::<Vec<_>>();
    // It removed itself after the run ended Completed and its last events reached the server.
    assert_eq!(exit, Exit::Uninstalled, "{:?}", last);
    assert_eq!(
        stage
            .app
            .store
            .events(agent, None, 1)
            .await
            .expect("events")[0]
            .status,
        Some(AgentStatus::Completed),
        "{:?}",
        last
    );

    let workstation = SimWorkstation::open(&dir).expect("the workstation after the run");
    let journal = Journal::open(&state_dir.join("journal.log")).expect("the journal");
    let report = agent::verify::verify(&workstation, &journal).expect("verify");
    assert!(report.holds(), "{}", report);
    let steps = journal.run(&runbook.id).expect("the run").done.clone();
    drop(workstation);
    let state = SimWorkstation::load(&dir).expect("the workstation after the run");
    assert!(!state.agent_installed, "the agent removed itself");

    let token = stage.viewer_token().await;
    // Runbook Status: the device's row for this runbook says Completed.
    let csv = String::from_utf8(stage.get(&token, "/devices.csv").await).expect("utf-8");
    let row = csv
        .lines()
        .find(|l| l.starts_with(&format!("{},", COMPUTER)) && l.contains(&runbook.name))
        .unwrap_or_else(|| panic!("no row of {} in\n{}", COMPUTER, csv));
    assert_eq!(
        row.split(',').nth(4),
        Some(AgentStatus::Completed.label()),
        "{}",
        row
    );
    // Agents: the device as it is now, joined to the target.
    let listed: Value =
        serde_json::from_slice(&stage.get(&token, "/api/v1/agents").await).expect("json");
    let entry = &listed[0];
    assert_eq!(
        entry["join_state"],
        serde_json::to_value(&state.join_state).expect("json"),
        "{:#}",
        entry
    );
    // Agent Logs: an event for every step the journal holds as done.
    let logs: Value = serde_json::from_slice(
        &stage
            .get(&token, &format!("/api/v1/agents/{agent}/events?limit=1000"))
            .await,
    )
    .expect("json");
    let logged: Vec<&str> = logs["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["step"].as_str())
        .collect();
    assert!(!steps.is_empty());
    for step in &steps {
        assert!(
            logged.contains(&step.as_str()),
            "no event of {} in {:?}",
            step,
            logged
        );
    }
    state
}

fn entra(tenant: &str) -> JoinState {
    JoinState::Entra {
        tenant: tenant.to_string(),
    }
}

/// The source both Active Directory scenarios start from: Alice and Bob of contoso.test, each
/// with a profile on the workstation, and Workstation Admins in its local Administrators group;
/// with the workstation and the SIDs of Alice, Bob and the group.
fn contoso() -> (Side, SimSpec, (Sid, Sid, Sid)) {
    let alice = ad_user("Alice", "S-1-5-21-100-200-300-1104");
    let bob = ad_user("Bob", "S-1-5-21-100-200-300-1105");
    let admins = ad_group("Workstation Admins", "S-1-5-21-100-200-300-3001");
    let (a1, b1, g1) = (
        alice.sid.clone().unwrap(),
        bob.sid.clone().unwrap(),
        admins.sid.clone().unwrap(),
    );
    let spec = workstation(
        ad_joined("contoso.test"),
        &[(&alice, &a1), (&bob, &b1)],
        &g1,
    );
    let source = Side {
        name: "CONTOSO",
        kind: DirectoryKind::ActiveDirectory,
        domain: "contoso.test",
        objects: vec![alice, bob, admins, computer(COMPUTER)],
    };
    (source, spec, (a1, b1, g1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_directory_to_active_directory_with_every_setting() {
    let stage = Stage::start().await;
    let (source, spec, (a1, b1, g1)) = contoso();
    let t_alice = ad_user("Alice", "S-1-5-21-400-500-600-1201");
    let t_bob = ad_user("Bob", "S-1-5-21-400-500-600-1202");
    let t_admins = ad_group("Workstation Admins", "S-1-5-21-400-500-600-3101");
    let state = migrate(
        &stage,
        Scenario {
            source,
            target: Side {
                name: "FABRIKAM",
                kind: DirectoryKind::ActiveDirectory,
                domain: "fabrikam.test",
                objects: vec![t_alice.clone(), t_bob.clone(), t_admins.clone()],
            },
            profile: MatchProfile::default(),
            remove_from: RemoveFrom::ActiveDirectory,
            join: DomainJoin::ActiveDirectory,
            spec,
        },
    )
    .await;
    assert_eq!(state.join_state, ad_joined("fabrikam.test"));
    assert_profile_moved(&state, "alice", &[&a1], t_alice.sid.as_ref().unwrap());
    assert_profile_moved(&state, "bob", &[&b1], t_bob.sid.as_ref().unwrap());
    assert_admins(&state, &g1, t_admins.sid.as_ref().unwrap());
}

/// Contoso's AD to the Fabrikam tenant with [`migrate_with`] and `package`; the workstation
/// after, and each target object.
async fn active_directory_to_entra(
    package: Option<&[u8]>,
) -> (SimState, (Sid, Sid, Sid), [DirectoryObject; 3]) {
    let stage = Stage::start().await;
    let (source, spec, sources) = contoso();
    let targets = [
        cloud(ObjectKind::User, "Alice", None, "alice"),
        cloud(ObjectKind::User, "Bob", None, "bob"),
        cloud(ObjectKind::Group, "Workstation Admins", None, "admins"),
    ];
    let state = migrate_with(
        &stage,
        Scenario {
            source,
            target: Side {
                name: "FABRIKAM-ENTRA",
                kind: DirectoryKind::EntraId,
                domain: "fabrikam.onmicrosoft.com",
                objects: targets.to_vec(),
            },
            profile: by_name(),
            remove_from: RemoveFrom::ActiveDirectory,
            join: DomainJoin::Entra,
            spec,
        },
        package,
    )
    .await;
    assert_eq!(state.join_state, entra("fabrikam.onmicrosoft.com"));
    (state, sources, targets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_directory_to_entra_with_every_setting() {
    let (state, (a1, b1, g1), [t_alice, t_bob, t_admins]) = active_directory_to_entra(None).await;
    assert_profile_moved(&state, "alice", &[&a1], t_alice.sid.as_ref().unwrap());
    assert_profile_moved(&state, "bob", &[&b1], t_bob.sid.as_ref().unwrap());
    assert_admins(&state, &g1, t_admins.sid.as_ref().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_directory_to_entra_with_the_uploaded_provisioning_package() {
    let package: &[u8] = b"a .ppkg built for fabrikam, its bulk token inside";
    let (state, _, _) = active_directory_to_entra(Some(package)).await;
    // Joined with the package the server sent, not the bulk token the target also has.
    assert_eq!(
        state.entra_join_package.as_deref(),
        Some(model::protocol::sha256_hex(package).as_str())
    );
    assert_eq!(state.entra_join_token, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_to_entra_with_every_setting() {
    let stage = Stage::start().await;
    // A hybrid device: joined to Contoso's AD, whose tenant is synchronised from it.
    let alice = ad_user("Alice", "S-1-5-21-100-200-300-1104");
    let admins = ad_group("Workstation Admins", "S-1-5-21-100-200-300-3001");
    let c_alice = cloud(ObjectKind::User, "Alice", Some(&alice), "alice");
    let c_admins = cloud(
        ObjectKind::Group,
        "Workstation Admins",
        Some(&admins),
        "admins",
    );
    let (a1, g1) = (alice.sid.clone().unwrap(), admins.sid.clone().unwrap());
    let spec = workstation(ad_joined("contoso.test"), &[(&alice, &a1)], &g1);
    let state = migrate(
        &stage,
        Scenario {
            source: Side {
                name: "CONTOSO-AD",
                kind: DirectoryKind::ActiveDirectory,
                domain: "contoso.test",
                objects: vec![alice, admins, computer(COMPUTER)],
            },
            target: Side {
                name: "CONTOSO-ENTRA",
                kind: DirectoryKind::EntraId,
                domain: "contoso.onmicrosoft.com",
                objects: vec![c_alice.clone(), c_admins.clone()],
            },
            profile: profile::hybrid_anchors(),
            remove_from: RemoveFrom::All,
            join: DomainJoin::Entra,
            spec,
        },
    )
    .await;
    assert_eq!(state.join_state, entra("contoso.onmicrosoft.com"));
    assert_profile_moved(&state, "alice", &[&a1], c_alice.sid.as_ref().unwrap());
    assert_admins(&state, &g1, c_admins.sid.as_ref().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_to_entra_with_every_setting() {
    let stage = Stage::start().await;
    let alice = cloud(ObjectKind::User, "Alice", None, "alice");
    let bob = cloud(ObjectKind::User, "Bob", None, "bob");
    let admins = cloud(ObjectKind::Group, "Workstation Admins", None, "admins");
    let mut pc = computer(COMPUTER);
    pc.device_id = Some(model::ids::ObjectGuid::new().to_string());
    let t_alice = cloud(ObjectKind::User, "Alice", None, "alice");
    let t_bob = cloud(ObjectKind::User, "Bob", None, "bob");
    let t_admins = cloud(ObjectKind::Group, "Workstation Admins", None, "admins");
    let (a1, b1, g1) = (
        alice.sid.clone().unwrap(),
        bob.sid.clone().unwrap(),
        admins.sid.clone().unwrap(),
    );
    let spec = workstation(
        entra("contoso.onmicrosoft.com"),
        &[(&alice, &a1), (&bob, &b1)],
        &g1,
    );
    let state = migrate(
        &stage,
        Scenario {
            source: Side {
                name: "CONTOSO-ENTRA",
                kind: DirectoryKind::EntraId,
                domain: "contoso.onmicrosoft.com",
                objects: vec![alice, bob, admins, pc],
            },
            target: Side {
                name: "FABRIKAM-ENTRA",
                kind: DirectoryKind::EntraId,
                domain: "fabrikam.onmicrosoft.com",
                objects: vec![t_alice.clone(), t_bob.clone(), t_admins.clone()],
            },
            profile: by_name(),
            remove_from: RemoveFrom::Entra,
            join: DomainJoin::Entra,
            spec,
        },
    )
    .await;
    assert_eq!(state.join_state, entra("fabrikam.onmicrosoft.com"));
    assert_profile_moved(&state, "alice", &[&a1], t_alice.sid.as_ref().unwrap());
    assert_profile_moved(&state, "bob", &[&b1], t_bob.sid.as_ref().unwrap());
    assert_admins(&state, &g1, t_admins.sid.as_ref().unwrap());
}
