//! The Entra join uses the bulk enrollment token the server sends; the source tenant's
//! Autopilot profile goes where the runbook asks.

use agent::run::actions::AUTOPILOT_FILE;
use agent::{Exit, SimWorkstation, Workstation};
use chrono::Duration;
use model::plan::JoinState;
use model::protocol::{sha256_hex, ProvisioningPackage};
use model::runbook::DomainJoin;
use model::status::{AgentStatus, EventLevel};

use crate::support::*;

const TENANT: &str = "fabrikam.onmicrosoft.com";

#[test]
fn the_device_joins_entra_with_the_servers_bulk_enrollment_token() {
    let world = World::new();
    let (runbook, secrets) = full_runbook(DomainJoin::Entra, true);
    let id = world.assign_runbook(runbook, secrets, TENANT, Duration::minutes(-5));
    let token = world
        .server
        .state()
        .assignment
        .as_ref()
        .and_then(|a| a.bulk_token.clone())
        .expect("token");
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.accept_bulk_token(TENANT, &token.0).expect("token");
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    let state = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(
        state.join_state,
        JoinState::Entra {
            tenant: TENANT.into()
        }
    );
    assert_eq!(
        state.entra_join_token.as_deref(),
        Some(sha256_hex(token.0.as_bytes()).as_str())
    );
    let server = world.server.state();
    assert!(server
        .events
        .values()
        .all(|e| !e.message.contains(&token.0)));
}

#[test]
fn a_token_the_tenant_refuses_fails_the_join_and_leaves_the_device_out_of_any_tenant() {
    let world = World::new();
    let (runbook, secrets) = full_runbook(DomainJoin::Entra, true);
    let id = world.assign_runbook(runbook, secrets, TENANT, Duration::minutes(-5));
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    // The tenant's token was replaced after the server last read it.
    sim.accept_bulk_token(TENANT, "a newer token")
        .expect("token");
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    let state = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(state.join_state, JoinState::Workgroup);
    assert_eq!(state.entra_join_token, None);
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert_eq!(last.level, EventLevel::Error);
    assert!(
        last.message.contains("JoinEntra")
            && last.message.contains("refused the bulk enrollment token"),
        "{}",
        last.message
    );
}

#[test]
fn the_source_tenants_autopilot_profile_is_removed_when_the_runbook_asks() {
    let world = World::new();
    let autopilot = "HKLM\\SOFTWARE\\Microsoft\\Provisioning\\Diagnostics\\Autopilot";
    let sim = SimWorkstation::open(&world.dir).expect("open");
    assert!(sim
        .registry_value(autopilot, "CloudAssignedTenantId")
        .expect("registry")
        .is_some());
    assert!(sim.file_attributes(AUTOPILOT_FILE).expect("file").is_some());
    let (runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    let sim = SimWorkstation::open(&world.dir).expect("open");
    assert_eq!(
        sim.registry_value(autopilot, "CloudAssignedTenantId")
            .expect("registry"),
        None
    );
    assert!(sim
        .registry_subkeys("HKLM\\SOFTWARE\\Microsoft\\Provisioning")
        .expect("registry")
        .is_empty());
    assert_eq!(sim.file_attributes(AUTOPILOT_FILE).expect("file"), None);
    let server = world.server.state();
    let event = server
        .events
        .values()
        .find(|e| e.step.as_deref() == Some("device-state/reset-autopilot"))
        .expect("the step's event");
    assert!(
        event.message.contains(SOURCE_TENANT_ID),
        "{}",
        event.message
    );
}

#[test]
fn a_device_that_joins_by_package_applies_the_provisioning_package_the_server_sends() {
    let world = World::new();
    let (runbook, secrets) = full_runbook(DomainJoin::Entra, true);
    let id = world.assign_runbook(runbook, secrets, TENANT, Duration::minutes(-5));
    let package = ProvisioningPackage::new("join-fabrikam.ppkg", b"ppkg with a BPRT inside");
    if let Some(a) = world.server.state().assignment.as_mut() {
        a.provisioning_package = Some(package.clone());
        a.bulk_token = None;
        a.bulk_token_expires_at = None;
    }
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.join_entra_by_package(true).expect("by package");
    sim.accept_provisioning_package(TENANT, &package.sha256)
        .expect("accept");
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    let state = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(
        state.join_state,
        JoinState::Entra {
            tenant: TENANT.into()
        }
    );
    assert_eq!(
        state.entra_join_package.as_deref(),
        Some(package.sha256.as_str())
    );
    assert_eq!(state.entra_join_token, None);
    let server = world.server.state();
    assert!(server
        .events
        .values()
        .all(|e| !e.message.contains(&package.content)));
}

#[test]
fn without_a_package_a_device_that_joins_by_package_fails_its_pre_flight_naming_it() {
    let world = World::new();
    let (runbook, secrets) = full_runbook(DomainJoin::Entra, true);
    let id = world.assign_runbook(runbook, secrets, TENANT, Duration::minutes(-5));
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.join_entra_by_package(true).expect("by package");
    let before = sim.state().join_state.clone();
    // A bulk token alone is not enough for such a device.
    let exit = world.agent_with(sim, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    let state = SimWorkstation::load(&world.dir).expect("load");
    assert_eq!(state.join_state, before, "nothing changed");
    assert_eq!(state.entra_join_token, None);
    let server = world.server.state();
    let errors: Vec<&str> = server
        .events
        .values()
        .filter(|e| e.level == EventLevel::Error)
        .map(|e| e.message.as_str())
        .collect();
    assert!(
        errors
            .iter()
            .any(|m| m.contains("provisioning package (.ppkg)") && m.contains(TENANT)),
        "{errors:?}"
    );
    assert!(
        server
            .events
            .values()
            .all(|e| e.status != Some(AgentStatus::Completed)),
        "never recorded done"
    );
}
