//! Agents the server must refuse, and the failed communications they leave.

use agent::sim::{SimSpec, SimUser, SimWorkstation};
use agent::AgentConfig;
use rehome::demo::fleet;

use crate::support::{blocking, Harness};

fn refusal_code(result: agent::Result<agent::Exit>) -> String {
    match result {
        Err(agent::Error::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {:?}", other),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unimported_machine_and_a_wrong_psk_are_refused_and_recorded() {
    let h = Harness::start(4, 2).await;

    let stranger = h.dir.path().join("STRANGER-01");
    let user = h.world.source.users().next().expect("a user");
    let spec = SimSpec::active_directory(
        "STRANGER-01",
        "SN-X",
        &h.world.source_domain,
        vec![SimUser {
            sid: user.sid.clone().expect("sid"),
            name: "u".to_string(),
        }],
    );
    SimWorkstation::create(&stranger, &spec).expect("create");
    let mut config = AgentConfig::new(&h.url, &h.world.psk, &stranger);
    config.exit_when_idle = true;
    let code = blocking(move || refusal_code(agent::run(&config))).await;
    assert_eq!(code, "not_imported");

    let machines = fleet::create(&h.dir.path().join("fleet"), &h.world, 1).expect("create");
    let mut config = AgentConfig::new(&h.url, &"x".repeat(64), &machines[0].dir);
    config.exit_when_idle = true;
    let code = blocking(move || refusal_code(agent::run(&config))).await;
    assert_eq!(code, "bad_psk");

    let failures = h
        .app
        .store
        .failed_communications(100)
        .await
        .expect("failed communications");
    let recorded = |name: &str, code: &str| {
        failures
            .iter()
            .any(|f| f.computer_name.as_deref() == Some(name) && f.code == code)
    };
    assert!(recorded("STRANGER-01", "not_imported"), "{:#?}", failures);
    assert!(recorded(&machines[0].name, "bad_psk"), "{:#?}", failures);
    for f in &failures {
        assert!(
            !f.message.contains(&h.world.psk)
                && f.computer_name.as_deref() != Some(h.world.psk.as_str()),
            "the PSK never appears in failed communications: {:?}",
            f.code
        );
    }
}
