//! Files the agent places or edits on the device: a runbook's own lock-screen image, fetched
//! from the server by its hash and removed at Completion, and Edge's work profile, signed out
//! of the source account with the user's data kept.

use agent::run::actions::custom_lock_screen_path;
use agent::run::edge::{BACKUP_SUFFIX, EDGE_USER_DATA};
use agent::workstation::RegValue;
use agent::{Exit, SimWorkstation, Workstation};
use chrono::Duration;
use model::runbook::{DomainJoin, LockScreenImage};
use model::status::AgentStatus;
use serde_json::{json, Value};

use crate::support::*;

const PERSONALIZATION: &str =
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\PersonalizationCSP";
/// The start of a PNG file and some bytes of image.
const IMAGE: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR rehome lock screen";

fn custom_image(world: &World) -> LockScreenImage {
    let sha256 = model::protocol::sha256_hex(IMAGE);
    world
        .server
        .state()
        .images
        .insert(sha256.clone(), IMAGE.to_vec());
    LockScreenImage::Custom {
        name: "Migration.PNG".into(),
        sha256,
    }
}

fn lock_screen_path(ws: &SimWorkstation) -> Option<RegValue> {
    ws.registry_value(PERSONALIZATION, "LockScreenImagePath")
        .expect("registry")
}

#[test]
fn an_uploaded_lock_screen_image_is_shown_during_the_run_and_the_original_comes_back() {
    let world = World::new();
    let mut ws = SimWorkstation::open(&world.dir).expect("open");
    let original = RegValue::Sz("C:\\Windows\\Web\\Screen\\img100.jpg".into());
    ws.set_registry_value(PERSONALIZATION, "LockScreenImagePath", &original)
        .expect("set");
    let image = custom_image(&world);
    let placed = match &image {
        LockScreenImage::Custom { name, sha256 } => custom_lock_screen_path(name, sha256),
        _ => unreachable!(),
    };
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    runbook.startup.lock_screen_image = image.clone();
    runbook.completion.do_not_run = true;
    world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    world.agent_with(ws, 100).run().expect("run");
    let ws = SimWorkstation::open(&world.dir).expect("open");
    assert_eq!(lock_screen_path(&ws), Some(RegValue::Sz(placed.clone())));
    assert_eq!(ws.read_file(&placed).expect("read"), Some(IMAGE.to_vec()));
    assert!(placed.ends_with(".png"), "{}", placed);

    // A runbook that reverts at Completion puts the original back and removes the image.
    let world = World::new();
    let mut ws = SimWorkstation::open(&world.dir).expect("open");
    ws.set_registry_value(PERSONALIZATION, "LockScreenImagePath", &original)
        .expect("set");
    let image = custom_image(&world);
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    runbook.startup.lock_screen_image = image;
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let exit = world.agent_with(ws, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    let ws = SimWorkstation::open(&world.dir).expect("open");
    assert_eq!(lock_screen_path(&ws), Some(original));
    assert_eq!(ws.read_file(&placed).expect("read"), None);
    let events = world.server.state().events.clone();
    assert!(events.values().any(|e| e.message.contains(&placed)));
}

#[test]
fn an_image_the_server_does_not_have_fails_the_step_and_the_run() {
    let world = World::new();
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, true);
    runbook.startup.lock_screen_image = LockScreenImage::Custom {
        name: "gone.png".into(),
        sha256: model::protocol::sha256_hex(b"never uploaded"),
    };
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let exit = world.agent(100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    let ws = SimWorkstation::open(&world.dir).expect("open");
    assert_eq!(lock_screen_path(&ws), None, "no lock screen half set");
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert!(
        last.message.contains("SetLockScreenImage"),
        "{}",
        last.message
    );
}

fn edge_folder(user: &str) -> String {
    format!("C:\\Users\\{}\\{}", user, EDGE_USER_DATA)
}

/// Alice's Edge: a work profile signed in to her source account, and a personal one that is
/// not signed in.
fn give_alice_edge(ws: &mut SimWorkstation) -> (Value, Value) {
    let local_state = json!({
        "profile": {"info_cache": {
            "Default": {"name": "Contoso", "user_name": "alice@contoso.test",
                        "gaia_id": "0003BFFD", "hosted_domain": "contoso.test",
                        "is_consented_primary_account": true},
            "Profile 1": {"name": "Personal", "user_name": ""}
        }},
        "browser": {"enabled_labs_experiments": []}
    });
    let preferences = json!({
        "account_info": [{"email": "alice@contoso.test", "account_id": "0003BFFD"}],
        "google": {"services": {"account_id": "0003BFFD", "last_username": "alice@contoso.test"}},
        "bookmark_bar": {"show_on_all_tabs": true}
    });
    let dir = edge_folder("alice");
    let write = |ws: &mut SimWorkstation, path: String, json: &Value| {
        ws.write_file(&path, &serde_json::to_vec(json).expect("json"))
            .expect("write");
    };
    write(ws, format!("{}\\Local State", dir), &local_state);
    write(ws, format!("{}\\Default\\Preferences", dir), &preferences);
    (local_state, preferences)
}

fn read_json(ws: &SimWorkstation, path: &str) -> Value {
    serde_json::from_slice(&ws.read_file(path).expect("read").expect("file")).expect("json")
}

#[test]
fn edge_work_profiles_are_signed_out_with_their_data_and_originals_kept() {
    let world = World::new();
    let mut ws = SimWorkstation::open(&world.dir).expect("open");
    let (local_state, preferences) = give_alice_edge(&mut ws);
    let (runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, false);
    let mut runbook = runbook;
    // Only what this test is about, beside a complete migration.
    runbook.device_state.cache_user_credentials = false;
    runbook.completion.uninstall_agent = false;
    assert!(runbook.apps.edge);
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let exit = world.agent_with(ws, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Completed
        }
    );
    let ws = SimWorkstation::open(&world.dir).expect("open");
    let dir = edge_folder("alice");
    let state = read_json(&ws, &format!("{}\\Local State", dir));
    let work = &state["profile"]["info_cache"]["Default"];
    assert_eq!(work["user_name"], "", "signed out");
    assert_eq!(work["name"], "Contoso", "its name stays");
    assert!(work.get("gaia_id").is_none() && work.get("hosted_domain").is_none());
    assert_eq!(
        state["profile"]["info_cache"]["Profile 1"],
        local_state["profile"]["info_cache"]["Profile 1"]
    );
    let prefs = read_json(&ws, &format!("{}\\Default\\Preferences", dir));
    assert!(prefs.get("account_info").is_none());
    assert!(prefs["google"]["services"].get("account_id").is_none());
    assert_eq!(prefs["bookmark_bar"], preferences["bookmark_bar"]);
    // The originals are kept beside them.
    assert_eq!(
        read_json(&ws, &format!("{}\\Local State{}", dir, BACKUP_SUFFIX)),
        local_state
    );
    assert_eq!(
        read_json(
            &ws,
            &format!("{}\\Default\\Preferences{}", dir, BACKUP_SUFFIX)
        ),
        preferences
    );
    let server = world.server.state();
    let event = server
        .events
        .values()
        .find(|e| e.step.as_deref() == Some("apps/edge") && e.message.contains("signed out"))
        .expect("the Edge step's event");
    assert!(event.message.contains("alice"), "{}", event.message);
}

#[test]
fn an_edge_profile_file_that_is_not_json_fails_the_step_and_is_left_as_it_is() {
    let world = World::new();
    let mut ws = SimWorkstation::open(&world.dir).expect("open");
    let path = format!("{}\\Local State", edge_folder("bob"));
    ws.write_file(&path, b"{not json").expect("write");
    let (mut runbook, secrets) = full_runbook(DomainJoin::ActiveDirectory, false);
    runbook.device_state.cache_user_credentials = false;
    runbook.completion.uninstall_agent = false;
    let id = world.assign_runbook(runbook, secrets, TARGET_DOMAIN, Duration::minutes(-5));
    let exit = world.agent_with(ws, 100).run().expect("run");
    assert_eq!(
        exit,
        Exit::Idle {
            runbook: id,
            status: AgentStatus::Error
        }
    );
    let ws = SimWorkstation::open(&world.dir).expect("open");
    assert_eq!(
        ws.read_file(&path).expect("read"),
        Some(b"{not json".to_vec())
    );
    let server = world.server.state();
    let last = server.events.values().last().expect("events");
    assert!(last.message.contains("ResetEdge"), "{}", last.message);
}
