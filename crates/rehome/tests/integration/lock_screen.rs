//! A runbook's own lock-screen image end to end: uploaded to the real server, fetched by the
//! agent over HTTP by its hash, shown on the device while the run goes on, and the device's
//! original lock screen back at Completion.

use agent::workstation::RegValue;
use agent::{SimWorkstation, Workstation};
use model::runbook::{CompletionSettings, LockScreenImage};
use model::status::AgentStatus;
use rehome::demo::{fleet, setup};

use crate::support::{blocking, Harness};

const PERSONALIZATION: &str =
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\PersonalizationCSP";
const IMAGE: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0 rehome migration in progress";
const ORIGINAL: &str = "C:\\Windows\\Web\\Screen\\img103.png";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_lock_screen_image_reaches_the_device_and_the_original_comes_back() {
    let h = Harness::start(6, 1).await;
    let (image, created) = server::lock_screen::upload(&h.app, "Wave 1.jpg", IMAGE.to_vec())
        .await
        .expect("upload");
    assert!(created);
    let mut runbook = h
        .app
        .store
        .runbooks()
        .await
        .expect("runbooks")
        .into_iter()
        .next()
        .expect("the demo runbook");
    runbook.startup.lock_screen_image = LockScreenImage::Custom {
        name: image.name.clone(),
        sha256: image.sha256.clone(),
    };
    runbook.completion = CompletionSettings::default();
    server::migration::runbooks::update(&h.app, runbook)
        .await
        .expect("the runbook shows the image");

    let machines =
        fleet::create(&h.dir.path().join("fleet"), &h.world, 1).expect("create workstations");
    let machine = &machines[0];
    let mut ws = SimWorkstation::open(&machine.dir).expect("open");
    ws.set_registry_value(
        PERSONALIZATION,
        "LockScreenImagePath",
        &RegValue::Sz(ORIGINAL.into()),
    )
    .expect("the device's own lock screen");
    drop(ws);

    let handles = fleet::start_agents(&h.url, &h.world.psk, &machines);
    let errors = blocking(move || fleet::join(handles)).await;
    assert!(errors.is_empty(), "agents failed: {:?}", errors);
    let counts = setup::status_counts(&h.app).await.expect("counts");
    assert_eq!(
        counts.get(AgentStatus::Completed),
        1,
        "{}",
        counts.summary()
    );

    // The device showed the uploaded image while the run went on, as its events say …
    let placed = agent::run::actions::custom_lock_screen_path(&image.name, &image.sha256);
    let agent_id = h.app.store.agents().await.expect("agents")[0].id;
    let events = h
        .app
        .store
        .events(agent_id, None, 10_000)
        .await
        .expect("events");
    assert!(
        events.iter().any(|e| e
            .message
            .contains(&format!("the lock screen shows {}", placed))),
        "{:#?}",
        events.iter().map(|e| &e.message).collect::<Vec<_>>()
    );
    assert!(events
        .iter()
        .any(|e| e.message.contains("put the previous lock screen back")));
    // … with the very bytes uploaded, kept by their hash in the simulated device …
    let written = std::fs::read(
        machine
            .dir
            .join(agent::sim::CONTENTS_DIR)
            .join(&image.sha256),
    )
    .expect("the image's bytes reached the device");
    assert_eq!(written, IMAGE);
    // … and has its own lock screen back, the image removed.
    let ws = SimWorkstation::open(&machine.dir).expect("open");
    assert_eq!(
        ws.registry_value(PERSONALIZATION, "LockScreenImagePath")
            .expect("registry"),
        Some(RegValue::Sz(ORIGINAL.into()))
    );
    assert_eq!(ws.read_file(&placed).expect("read"), None);
}
