//! The WMI Namespaces area: every namespace's descriptor is translated and read back, a
//! namespace that names no source account is left as it was, and the plan preview shows the
//! change before anything is written.

use agent::{SimWorkstation, Workstation};
use chrono::Duration;
use model::runbook::{Area, DomainJoin};
use secdesc::SecurityDescriptor;

use crate::every_setting::full_runbook;
use crate::support::*;

fn sids(ws: &SimWorkstation, namespace: &str) -> Vec<String> {
    let bytes = ws
        .read_descriptor(Area::WmiNamespaces, namespace)
        .expect("descriptor");
    SecurityDescriptor::from_bytes(&bytes)
        .expect("parsed")
        .sids()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn wmi_namespaces_are_translated_and_one_naming_no_user_is_left_as_it_was() {
    let world = World::new();
    let (runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    assert!(runbook.permissions.areas.contains(&Area::WmiNamespaces));
    let root_before = SimWorkstation::open(&world.dir)
        .expect("open")
        .read_descriptor(Area::WmiNamespaces, "root")
        .expect("root");
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    world.agent(100).run().expect("run");

    let ws = SimWorkstation::open(&world.dir).expect("open");
    assert_eq!(
        ws.securable_objects(Area::WmiNamespaces).expect("listed"),
        vec!["root".to_string(), "root\\cimv2".to_string()]
    );
    let cimv2 = sids(&ws, "root\\cimv2");
    assert!(
        cimv2.contains(&ALICE_NEW.to_string()) && cimv2.contains(&BOB_NEW.to_string()),
        "{:?}",
        cimv2
    );
    assert!(!cimv2.contains(&ALICE.to_string()), "{:?}", cimv2);
    assert_eq!(
        ws.read_descriptor(Area::WmiNamespaces, "root")
            .expect("root"),
        root_before,
        "a namespace naming no source account is not rewritten"
    );
    let server = world.server.state();
    let event = server
        .events
        .values()
        .find(|e| e.step.as_deref() == Some("permissions/wmi-namespaces") && e.status.is_none())
        .map(|e| e.message.clone())
        .unwrap_or_default();
    assert!(
        event.contains("in 1 descriptor(s) of 2 object(s)"),
        "{}",
        event
    );
}

#[test]
fn the_plan_preview_shows_each_namespaces_changes_and_writes_nothing() {
    let world = World::new();
    let (runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let assignment = world.server.state().assignment.clone().expect("assignment");
    let map: secdesc::translate::SidMap = [(sid(ALICE), sid(ALICE_NEW))].into_iter().collect();
    let ws = SimWorkstation::open(&world.dir).expect("open");
    let before = SimWorkstation::load(&world.dir).expect("load");
    let mut lines = Vec::new();
    agent::preview::preview(
        &ws,
        &assignment.runbook,
        &assignment.target,
        &map,
        &mut |l| lines.push(l),
    )
    .expect("preview");
    let text = lines.join("\n");
    assert!(text.contains("step permissions/wmi-namespaces"), "{}", text);
    assert!(
        text.contains(&format!(
            "wmi-namespaces root\\cimv2: DACL ACE 1: {} replaced by {}",
            ALICE, ALICE_NEW
        )),
        "{}",
        text
    );
    assert!(
        text.contains("wmi-namespaces: 1 change(s) in 1 of 2 object(s)"),
        "{}",
        text
    );
    // SQL Server is not installed: nothing to list, nothing changed.
    assert!(
        text.contains("sql: 0 change(s) in 0 of 0 object(s)"),
        "{}",
        text
    );
    assert_eq!(SimWorkstation::load(&world.dir).expect("load"), before);
}
