use super::*;
use crate::fsutil::Scratch;
use secdesc::translate::TranslateMode;

fn sid(s: &str) -> Sid {
    s.parse().expect("sid")
}

const ALICE: &str = "S-1-5-21-1000-2000-3000-1101";
const BOB: &str = "S-1-5-21-1000-2000-3000-1102";
const ALICE_NEW: &str = "S-1-5-21-7000-8000-9000-2101";
const DOMAIN_ADMINS_OLD: &str = "S-1-5-21-1000-2000-3000-512";
const DOMAIN_ADMINS_NEW: &str = "S-1-5-21-7000-8000-9000-512";

/// A directory of its own, removed when the test ends.
fn scratch() -> Scratch {
    Scratch::new("sim")
}

fn spec() -> SimSpec {
    SimSpec::active_directory(
        "PC-001",
        "SN-001",
        "old.contoso.test",
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
    )
}

fn map() -> SidMap {
    [
        (sid(ALICE), sid(ALICE_NEW)),
        (sid(DOMAIN_ADMINS_OLD), sid(DOMAIN_ADMINS_NEW)),
    ]
    .into_iter()
    .collect()
}

fn replace() -> TranslateOptions {
    TranslateOptions {
        mode: TranslateMode::Replace,
        owner_and_group: true,
    }
}

#[test]
fn create_builds_a_domain_workstation_and_open_reads_it_back() {
    let dir = scratch();
    let sim = SimWorkstation::create(&dir, &spec()).expect("create");
    let s = sim.state();
    assert_eq!(s.profile_list.len(), 2);
    assert_eq!(
        s.profile_list[&sid(ALICE)].profile_image_path,
        "C:\\Users\\alice"
    );
    assert!(s.local_groups["Administrators"].contains(&sid(DOMAIN_ADMINS_OLD)));
    assert!(s
        .files
        .contains_key("C:\\Users\\alice\\Documents\\Budget.xlsx"));
    let facts = sim.facts().expect("facts");
    assert_eq!(
        facts.join_state,
        JoinState::ActiveDirectory {
            domain: "old.contoso.test".into()
        }
    );
    assert_eq!(SimWorkstation::open(&dir).expect("open").state(), s);
    let sids = sim.list_sids().expect("sids");
    assert!(sids.contains(&sid(ALICE)) && sids.contains(&sid(BOB)));
    assert!(sids.contains(&sid(DOMAIN_ADMINS_OLD)));
}

#[test]
fn joins_and_leaves_are_idempotent_and_refuse_what_windows_refuses() {
    let dir = scratch();
    let mut sim = SimWorkstation::create(&dir, &spec()).expect("create");
    let token = BulkToken("bprt".to_string());
    assert_eq!(sim.leave_active_directory().expect("leave").changes, 1);
    assert_eq!(sim.leave_active_directory().expect("leave").changes, 0);
    // Leaving took Domain Admins out of Administrators; the local Administrator stays.
    assert!(!sim.state().local_groups["Administrators"].contains(&sid(DOMAIN_ADMINS_OLD)));
    assert_eq!(sim.state().local_groups["Administrators"].len(), 1);
    assert_eq!(
        sim.join_entra_with_token("new.contoso.test", &token)
            .expect("join")
            .changes,
        1
    );
    assert_eq!(
        sim.join_entra_with_token("new.contoso.test", &token)
            .expect("join")
            .changes,
        0
    );
    assert!(matches!(
        sim.join_active_directory(
            "new.contoso.test",
            &crate::workstation::AdJoin {
                account: "NEW\\\\join",
                password: "secret",
                ou: "",
                reuse_existing: false,
            }
        ),
        Err(Error::Device(_))
    ));
    assert!(matches!(
        sim.join_entra_with_token("other.test", &token),
        Err(Error::Device(_))
    ));
    // The token the device joined with is recorded by its hash, never in clear.
    assert_eq!(
        sim.state().entra_join_token.as_deref(),
        Some(sha256_hex(b"bprt").as_str())
    );
}

#[test]
fn a_bulk_token_the_tenant_does_not_accept_changes_nothing() {
    let dir = scratch();
    let mut sim = SimWorkstation::create(&dir, &spec()).expect("create");
    sim.leave_active_directory().expect("leave");
    sim.accept_bulk_token("new.contoso.test", "the-right-one")
        .expect("token");
    let before = sim.state().clone();
    assert!(matches!(
        sim.join_entra_with_token("new.contoso.test", &BulkToken("stale".to_string())),
        Err(Error::Device(_))
    ));
    assert_eq!(sim.state(), &before);
    let joined = sim
        .join_entra_with_token("new.contoso.test", &BulkToken("the-right-one".to_string()))
        .expect("join");
    assert_eq!(joined.changes, 1);
}

#[test]
fn translation_moves_profiles_rewrites_explicit_aces_and_leaves_inherited_ones() {
    let dir = scratch();
    let mut sim = SimWorkstation::create(&dir, &spec()).expect("create");
    let m = map();
    let profiles = sim
        .update_permissions(PermissionArea::WindowsProfiles, &m, &replace())
        .expect("profiles");
    assert!(profiles.changes > 0);
    let files = sim
        .update_permissions(PermissionArea::FileSystem, &m, &replace())
        .expect("files");
    assert!(files.changes > 0);
    // Running again changes nothing.
    for area in [PermissionArea::WindowsProfiles, PermissionArea::FileSystem] {
        assert_eq!(
            sim.update_permissions(area, &m, &replace())
                .expect("again")
                .changes,
            0
        );
    }
    let s = SimWorkstation::load(&dir).expect("load");
    assert!(s.profile_list.contains_key(&sid(ALICE_NEW)));
    assert!(!s.profile_list.contains_key(&sid(ALICE)));
    assert!(
        s.profile_list.contains_key(&sid(BOB)),
        "bob has no translation"
    );
    let notes = SecurityDescriptor::from_bytes(&s.files["C:\\Users\\alice\\Documents\\Notes.txt"])
        .expect("sddl");
    assert_eq!(notes.owner.as_ref(), Some(&sid(ALICE_NEW)));
    let dacl = notes.dacl.expect("dacl");
    assert!(dacl.aces.iter().all(|a| a.is_inherited()));
    assert!(
        dacl.aces.iter().any(|a| a.sid == sid(ALICE)),
        "inherited ACE untouched"
    );
    let budget =
        SecurityDescriptor::from_bytes(&s.files["C:\\Users\\alice\\Documents\\Budget.xlsx"])
            .expect("sddl");
    let explicit: Vec<&Sid> = budget
        .dacl
        .as_ref()
        .expect("dacl")
        .aces
        .iter()
        .filter(|a| !a.is_inherited())
        .map(|a| &a.sid)
        .collect();
    assert_eq!(explicit, vec![&sid(ALICE_NEW)]);
}

#[test]
fn add_mode_keeps_the_source_beside_the_target() {
    let dir = scratch();
    let mut sim = SimWorkstation::create(&dir, &spec()).expect("create");
    let add = TranslateOptions {
        mode: TranslateMode::Add,
        owner_and_group: true,
    };
    sim.update_permissions(PermissionArea::LocalGroups, &map(), &add)
        .expect("groups");
    sim.update_permissions(PermissionArea::FileSystem, &map(), &add)
        .expect("files");
    let rdp = &sim.state().local_groups["Remote Desktop Users"];
    assert!(rdp.contains(&sid(ALICE)) && rdp.contains(&sid(ALICE_NEW)));
    let shared =
        SecurityDescriptor::from_bytes(&sim.state().files["C:\\Data\\Projects"]).expect("sddl");
    let sids: Vec<&Sid> = shared
        .dacl
        .as_ref()
        .expect("dacl")
        .aces
        .iter()
        .map(|a| &a.sid)
        .collect();
    assert!(sids.contains(&&sid(ALICE)) && sids.contains(&&sid(ALICE_NEW)));
    assert_eq!(
        sim.update_permissions(PermissionArea::LocalGroups, &map(), &add)
            .expect("again")
            .changes,
        0
    );
}

#[test]
fn backups_keep_the_original_and_restores_put_it_back_translated() {
    let dir = scratch();
    let mut sim = SimWorkstation::create(&dir, &spec()).expect("create");
    let original = sim.state().legal_notice.clone();
    assert_eq!(sim.backup_legal_notice().expect("backup").changes, 1);
    // A re-run must not keep the migration notice as "the original".
    assert_eq!(sim.backup_legal_notice().expect("backup").changes, 0);
    assert_ne!(sim.state().legal_notice, original);
    assert_eq!(sim.restore_legal_notice().expect("restore").changes, 1);
    assert_eq!(sim.state().legal_notice, original);
    assert_eq!(sim.restore_legal_notice().expect("restore").changes, 0);

    sim.backup_local_groups().expect("backup");
    sim.backup_appx().expect("backup");
    sim.leave_active_directory().expect("leave");
    assert!(sim.restore_local_groups(&map()).expect("restore").changes > 0);
    assert!(sim.state().local_groups["Administrators"].contains(&sid(DOMAIN_ADMINS_NEW)));
    assert_eq!(
        sim.restore_local_groups(&map()).expect("restore").changes,
        0
    );
    assert_eq!(sim.restore_appx(&map()).expect("restore").changes, 2);
    assert_eq!(sim.state().appx[&sid(ALICE_NEW)].len(), 2);

    assert_eq!(sim.suspend_bitlocker().expect("suspend").changes, 1);
    assert_eq!(sim.suspend_bitlocker().expect("suspend").changes, 0);
    assert_eq!(sim.resume_bitlocker().expect("resume").changes, 1);
    assert_eq!(sim.reset_windows_hello().expect("hello").changes, 2);
    assert_eq!(sim.reset_windows_hello().expect("hello").changes, 0);
}

#[test]
fn the_crash_fault_stops_after_the_change_is_saved() {
    let dir = scratch();
    let mut sim = SimWorkstation::create(&dir, &spec()).expect("create");
    sim.set_faults(SimFaults {
        crash_after_step: Some("device-state/leave-ad".into()),
        ..Default::default()
    });
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let changes = sim.leave_active_directory().expect("leave").changes;
        let _ = sim.checkpoint("device-state/leave-ad", changes);
    }));
    assert!(crashed.is_err());
    let s = SimWorkstation::load(&dir).expect("load");
    assert_eq!(s.join_state, JoinState::Workgroup);
    assert_eq!(s.actions["device-state/leave-ad"], 1);
}

#[test]
fn a_large_device_appends_one_record_per_changed_descriptor_instead_of_rewriting_itself() {
    let dir = scratch();
    let spec = SimSpec {
        files_per_profile: 5_000,
        ..spec()
    };
    let mut sim = SimWorkstation::create(&dir, &spec).expect("create");
    let json = std::fs::metadata(dir.join(STATE_FILE)).expect("json").len();
    assert!(
        json < 16 * 1024,
        "workstation.json holds no descriptors: {} bytes",
        json
    );
    let log = || {
        std::fs::metadata(dir.join(DESCRIPTORS_FILE))
            .expect("log")
            .len()
    };
    let before = log();
    let path = "C:\\Users\\alice\\Documents\\Budget.xlsx";
    let changed = SecurityDescriptor::from_sddl("O:BAG:SYD:(A;;FA;;;SY)", None)
        .expect("sddl")
        .to_bytes();
    sim.write_descriptor(
        model::runbook::Area::FileSystem,
        path,
        &changed,
        crate::workstation::SecurityParts {
            owner: true,
            ..Default::default()
        },
    )
    .expect("write");
    sim.checkpoint("test", 1).expect("checkpoint");
    let grown = log() - before;
    assert!(grown < 512, "one record appended, {} bytes", grown);
    // Only the owner was written: the DACL is the file's own still.
    let reopened = SimWorkstation::open(&dir).expect("open");
    let sd = SecurityDescriptor::from_bytes(&reopened.state().files[path]).expect("sd");
    assert_eq!(sd.owner, Some(sid("S-1-5-32-544")));
    assert!(sd
        .dacl
        .expect("dacl")
        .aces
        .iter()
        .any(|a| a.sid == sid(ALICE)));

    // A record torn by a crash is dropped at the next open, and appends go on after it.
    let full = log();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(DESCRIPTORS_FILE))
        .expect("open log");
    file.set_len(full - 3).expect("truncate");
    let mut torn = SimWorkstation::open(&dir).expect("open torn");
    let sd = SecurityDescriptor::from_bytes(&torn.state().files[path]).expect("sd");
    assert_eq!(sd.owner, Some(sid(ALICE)), "the torn write never happened");
    torn.write_descriptor(
        model::runbook::Area::FileSystem,
        path,
        &changed,
        crate::workstation::SecurityParts {
            owner: true,
            ..Default::default()
        },
    )
    .expect("write");
    torn.checkpoint("test", 1).expect("checkpoint");
    assert_eq!(
        SimWorkstation::load(&dir).expect("load").files,
        torn.state().files
    );
}

#[test]
fn areas_to_ignore_expand_the_devices_variables_and_refuse_unknown_ones() {
    let dir = scratch();
    let sim = SimWorkstation::create(&dir, &spec()).expect("create");
    let patterns: Vec<String> = model::runbook::default_ignore_patterns();
    let ignore = crate::permissions::IgnoreList::new(&sim, &patterns).expect("ignore");
    assert!(ignore.ignores("c:\\windows\\System32\\Tasks\\Backup"));
    assert!(ignore.ignores("C:/Program Files (x86)/App/app.exe"));
    assert!(!ignore.ignores("C:\\Users\\alice\\Documents\\Budget.xlsx"));
    match crate::permissions::IgnoreList::new(&sim, &["%NOSUCHVAR%\\*".to_string()]) {
        Err(Error::Device(message)) => assert!(message.contains("NOSUCHVAR"), "{}", message),
        other => panic!("{:?}", other),
    }
}

#[test]
fn a_provisioning_package_joins_the_tenant_that_accepts_it_and_a_damaged_one_changes_nothing() {
    let dir = scratch();
    let mut sim = SimWorkstation::create(&dir, &spec()).expect("create");
    sim.leave_active_directory().expect("leave");
    let package = ProvisioningPackage::new("join.ppkg", b"package bytes");
    let other = ProvisioningPackage::new("old.ppkg", b"an older package");
    sim.accept_provisioning_package("new.contoso.test", &package.sha256)
        .expect("accept");
    let mut damaged = package.clone();
    damaged.sha256 = other.sha256.clone();
    let before = sim.state().clone();
    for refused in [&other, &damaged] {
        let err = sim
            .join_entra_with_package("new.contoso.test", refused)
            .expect_err("refused");
        assert!(matches!(err, Error::Device(_)), "{:?}", err);
    }
    assert_eq!(sim.state(), &before);
    let joined = sim
        .join_entra_with_package("new.contoso.test", &package)
        .expect("join");
    assert_eq!(joined.changes, 1);
    assert_eq!(
        sim.state().entra_join_package.as_deref(),
        Some(package.sha256.as_str())
    );
    assert_eq!(
        sim.join_entra_with_package("new.contoso.test", &package)
            .expect("again")
            .changes,
        0
    );
}
