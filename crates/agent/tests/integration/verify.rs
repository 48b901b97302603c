//! `verify` checks a device after a run from what its journal recorded.

use agent::journal::Journal;
use agent::verify::verify;
use agent::{SecurityParts, SimWorkstation, Workstation};
use chrono::Duration;
use model::runbook::{Area, DomainJoin, PermissionMode};
use secdesc::SecurityDescriptor;

use crate::support::*;

fn journal(world: &World) -> Journal {
    Journal::open(&world.config().state_dir.join("journal.log")).expect("journal")
}

#[test]
fn a_migrated_device_verifies_and_each_kind_of_damage_is_named() {
    let world = World::new();
    world.assign(Duration::minutes(-5));
    world.agent(100).run().expect("run");
    let mut ws = SimWorkstation::open(&world.dir).expect("open");
    let report = verify(&ws, &journal(&world)).expect("verify");
    assert!(report.holds(), "{}", report);
    assert_eq!(report.findings.len(), 5, "{}", report);

    // NTUSER.DAT loses the target's grant and goes back to the source owner: the usual cause
    // of a temporary profile.
    let hive = "C:\\Users\\alice\\NTUSER.DAT";
    let damaged = SecurityDescriptor::from_sddl(
        &format!("O:{a}G:{a}D:P(A;;FA;;;SY)(A;;FA;;;BA)", a = ALICE),
        None,
    )
    .expect("sddl")
    .to_bytes();
    ws.write_descriptor(
        Area::FileSystem,
        hive,
        &damaged,
        SecurityParts {
            owner: true,
            group: true,
            dacl: true,
            sacl: false,
        },
    )
    .expect("write");
    ws.checkpoint("damage", 1).expect("save");

    let report = verify(&ws, &journal(&world)).expect("verify");
    assert!(!report.holds());
    let failed: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| !f.holds)
        .map(|f| f.check)
        .collect();
    assert_eq!(failed.len(), 4, "{}", report);
    for finding in report.findings.iter().filter(|f| !f.holds) {
        assert!(finding.detail.contains("NTUSER.DAT"), "{}", report);
    }
    assert!(report
        .findings
        .iter()
        .any(|f| f.holds && f.check.starts_with("ProfileList")));
}

#[test]
fn an_add_only_run_verifies_without_the_no_source_left_check() {
    let world = World::new();
    world.assign_with(
        DomainJoin::ActiveDirectory,
        PermissionMode::AddOnly,
        TARGET_DOMAIN,
        Duration::minutes(-5),
    );
    world.agent(100).run().expect("run");
    let ws = SimWorkstation::open(&world.dir).expect("open");
    let report = verify(&ws, &journal(&world)).expect("verify");
    assert!(report.holds(), "{}", report);
    assert!(report
        .findings
        .iter()
        .all(|f| !f.check.starts_with("no source SID")));
}

#[test]
fn a_resumed_run_translates_with_the_map_it_recorded_before_its_first_change() {
    let world = World::new();
    let id = world.assign(Duration::minutes(-5));
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_faults(agent::SimFaults {
        crash_after_step: Some("permissions/windows-profiles".into()),
        ..Default::default()
    });
    let mut first = world.agent_with(sim, 100);
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| first.run()));
    assert!(crashed.is_err());
    drop(first);
    // The server loses Bob's translation meanwhile: the resumed run must not forget it.
    world
        .server
        .state()
        .translations
        .retain(|t| t.source != sid(BOB));
    world.agent(100).run().expect("resume");
    assert_eq!(world.server.state().translate_requests.len(), 1);
    let j = journal(&world);
    let recorded = j
        .run(&id)
        .and_then(|r| r.translations.clone())
        .expect("recorded");
    assert!(recorded.pairs.contains(&(sid(BOB), sid(BOB_NEW))));
    let s = SimWorkstation::load(&world.dir).expect("load");
    assert!(s.profile_list.contains_key(&sid(BOB_NEW)));
    let ws = SimWorkstation::open(&world.dir).expect("open");
    assert!(verify(&ws, &j).expect("verify").holds());
}

#[test]
fn the_plan_preview_lists_steps_and_sid_changes_and_changes_nothing() {
    let world = World::new();
    world.assign(Duration::minutes(-5));
    let assignment = world.server.state().assignment.clone().expect("assignment");
    let map: secdesc::translate::SidMap = [
        (sid(ALICE), sid(ALICE_NEW)),
        (sid(DOMAIN_ADMINS), sid(DOMAIN_ADMINS_NEW)),
    ]
    .into_iter()
    .collect();
    let ws = SimWorkstation::open(&world.dir).expect("open");
    let before = SimWorkstation::load(&world.dir).expect("load");
    let mut lines = Vec::new();
    let preview = agent::preview::preview(
        &ws,
        &assignment.runbook,
        &assignment.target,
        &map,
        &mut |l| lines.push(l),
    )
    .expect("preview");
    assert_eq!(preview.steps.len(), AD_TO_AD_STEPS.len());
    assert_eq!(preview.profiles, 1, "only alice has a translation here");
    let text = lines.join("\n");
    assert!(text.contains("step device-state/join-ad"), "{}", text);
    assert!(
        text.contains(&format!(
            "ProfileList {} -> {} (C:\\Users\\alice)",
            ALICE, ALICE_NEW
        )),
        "{}",
        text
    );
    assert!(
        text.contains(&format!(
            "C:\\Users\\alice\\Documents\\Budget.xlsx: DACL ACE 0: {} replaced by {}",
            ALICE, ALICE_NEW
        )),
        "{}",
        text
    );
    assert!(
        text.contains(&format!(
            "local group Administrators: {} replaced by {}",
            DOMAIN_ADMINS, DOMAIN_ADMINS_NEW
        )),
        "{}",
        text
    );
    // The system file under %SystemRoot% is left to the Areas to Ignore.
    assert!(!text.contains("C:\\Windows\\"), "{}", text);
    assert!(!text.contains("C:\\Users\\bob"), "{}", text);
    assert_eq!(SimWorkstation::load(&world.dir).expect("load"), before);
}
