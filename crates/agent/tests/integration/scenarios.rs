//! The migrations the product exists for, each with every setting this agent carries out turned
//! on, checked with `verify` afterwards.

use agent::verify::verify;
use agent::{Exit, SimSpec, SimState, SimUser, SimWorkstation};
use chrono::Duration;
use model::directory::ObjectKind;
use model::plan::JoinState;
use model::runbook::{DomainJoin, RemoveFrom};
use model::status::AgentStatus;

use crate::support::*;

const ALICE_ENTRA: &str = "S-1-12-1-1943430372-1249052806-2496021943-3034400218";
const BOB_ENTRA: &str = "S-1-12-1-2234567890-1123456789-3345678901-1456789012";
const ADMINS_ENTRA: &str = "S-1-12-1-1111111111-2222222222-3333333333-444444444";
const ALICE_ENTRA_NEW: &str = "S-1-12-1-3943430372-1249052806-2496021943-3034400219";
const BOB_ENTRA_NEW: &str = "S-1-12-1-3234567890-1123456789-3345678901-1456789013";
const ADMINS_ENTRA_NEW: &str = "S-1-12-1-3111111111-2222222222-3333333333-444444445";
const SOURCE_TENANT: &str = "contoso.onmicrosoft.com";
const TARGET_TENANT: &str = "fabrikam.onmicrosoft.com";

/// Runs [`full_runbook`] (every carried-out setting) leaving `remove_from` and joining `join`
/// at `target`; checks it Completed and verifies; returns the device.
fn migrate(world: &World, join: DomainJoin, remove_from: RemoveFrom, target: &str) -> SimState {
    let (mut runbook, secrets) = full_runbook(join, true);
    runbook.device_state.remove_from = remove_from;
    let id = world.assign_runbook(runbook, secrets, target, Duration::minutes(-5));
    let mut agent = world.agent(100);
    let exit = agent.run().expect("run");
    let last = world
        .server
        .state()
        .events
        .values()
        .last()
        .map(|e| e.message.clone());
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        },
        "{:?}",
        last
    );
    let report = verify(agent.workstation(), agent.journal()).expect("verify");
    assert!(report.holds(), "{}", report);
    // The server heard where the device is now.
    let server = world.server.state();
    let (_, check_in) = server.check_ins.last().expect("check-in");
    let state = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(check_in.join_state, state.join_state);
    state
}

#[test]
fn active_directory_to_active_directory() {
    let world = World::new();
    let s = migrate(
        &world,
        DomainJoin::ActiveDirectory,
        RemoveFrom::ActiveDirectory,
        TARGET_DOMAIN,
    );
    assert_eq!(
        s.join_state,
        JoinState::ActiveDirectory {
            domain: TARGET_DOMAIN.into()
        }
    );
    assert!(
        s.profile_list.contains_key(&sid(ALICE_NEW)) && s.profile_list.contains_key(&sid(BOB_NEW))
    );
    assert!(s.local_groups["Administrators"].contains(&sid(DOMAIN_ADMINS_NEW)));
}

#[test]
fn active_directory_to_entra() {
    let mut spec = SimSpec::active_directory(
        COMPUTER,
        "SN-0002",
        SOURCE_DOMAIN,
        vec![
            SimUser {
                sid: sid(ALICE),
                name: "alice".into(),
            },
            SimUser {
                sid: sid(BOB),
                name: "bob".into(),
            },
        ],
    );
    spec.remote_shares = vec![REMOTE_SHARE.into()];
    let world = World::with_spec(
        &spec,
        &[
            (ObjectKind::User, ALICE, ALICE_ENTRA_NEW, "alice"),
            (ObjectKind::User, BOB, BOB_ENTRA_NEW, "bob"),
            (ObjectKind::Group, DOMAIN_ADMINS, ADMINS_ENTRA_NEW, "Admins"),
        ],
    );
    let s = migrate(
        &world,
        DomainJoin::Entra,
        RemoveFrom::ActiveDirectory,
        TARGET_TENANT,
    );
    assert_eq!(
        s.join_state,
        JoinState::Entra {
            tenant: TARGET_TENANT.into()
        }
    );
    assert!(s.profile_list.contains_key(&sid(ALICE_ENTRA_NEW)));
    assert!(s.local_groups["Administrators"].contains(&sid(ADMINS_ENTRA_NEW)));
}

#[test]
fn entra_to_entra() {
    let mut spec = SimSpec::active_directory(
        COMPUTER,
        "SN-0003",
        SOURCE_TENANT,
        vec![
            SimUser {
                sid: sid(ALICE_ENTRA),
                name: "alice".into(),
            },
            SimUser {
                sid: sid(BOB_ENTRA),
                name: "bob".into(),
            },
        ],
    );
    spec.join_state = JoinState::Entra {
        tenant: SOURCE_TENANT.into(),
    };
    spec.admin_groups = vec![sid(ADMINS_ENTRA)];
    spec.remote_shares = vec![REMOTE_SHARE.into()];
    let world = World::with_spec(
        &spec,
        &[
            (ObjectKind::User, ALICE_ENTRA, ALICE_ENTRA_NEW, "alice"),
            (ObjectKind::User, BOB_ENTRA, BOB_ENTRA_NEW, "bob"),
            (ObjectKind::Group, ADMINS_ENTRA, ADMINS_ENTRA_NEW, "Admins"),
        ],
    );
    let s = migrate(&world, DomainJoin::Entra, RemoveFrom::Entra, TARGET_TENANT);
    assert_eq!(
        s.join_state,
        JoinState::Entra {
            tenant: TARGET_TENANT.into()
        }
    );
    assert!(s.profile_list.contains_key(&sid(BOB_ENTRA_NEW)));
    assert!(!s.profile_list.contains_key(&sid(BOB_ENTRA)));
    assert!(s.local_groups["Administrators"].contains(&sid(ADMINS_ENTRA_NEW)));
}

#[test]
fn an_entra_profile_without_a_translation_stops_the_run_before_any_change() {
    let mut spec = SimSpec::active_directory(
        COMPUTER,
        "SN-0004",
        SOURCE_TENANT,
        vec![
            SimUser {
                sid: sid(ALICE_ENTRA),
                name: "alice".into(),
            },
            SimUser {
                sid: sid(BOB_ENTRA),
                name: "bob".into(),
            },
        ],
    );
    spec.join_state = JoinState::Entra {
        tenant: SOURCE_TENANT.into(),
    };
    spec.admin_groups = Vec::new();
    let world = World::with_spec(
        &spec,
        &[(ObjectKind::User, ALICE_ENTRA, ALICE_ENTRA_NEW, "alice")],
    );
    let before = SimWorkstation::load(&world.dir).expect("load");
    let (mut runbook, secrets) = full_runbook(DomainJoin::Entra, true);
    runbook.device_state.remove_from = RemoveFrom::Entra;
    world.assign_runbook(runbook, secrets, TARGET_TENANT, Duration::minutes(-5));
    world.agent(100).run().expect("run");
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert!(last.message.contains("C:\\Users\\bob"), "{}", last.message);
    assert_eq!(SimWorkstation::load(&world.dir).expect("load"), before);
}
