use agent::client::Identity;
use agent::{Error, SimWorkstation};

use crate::support::*;

fn refusal_code(world: &World) -> String {
    match world.agent(5).run() {
        Err(Error::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {:?}", other),
    }
}

#[test]
fn a_computer_that_was_not_imported_is_refused_with_its_code() {
    let world = World::new();
    world.server.state().imported.clear();
    assert_eq!(refusal_code(&world), "not_imported");
    assert!(world.server.state().agents.is_empty());
}

#[test]
fn a_wrong_psk_is_refused_and_the_psk_never_appears_in_the_error() {
    let world = World::new();
    let mut config = world.config();
    config.psk = "not-the-right-key".into();
    let mut agent = agent::Agent::new(
        config,
        SimWorkstation::open(&world.dir).expect("open"),
        world.server.clone(),
        std::sync::Arc::new(world.clock.clone()),
        Box::new(agent::ThreadSleeper::default()),
    )
    .expect("agent");
    let err = agent.run().expect_err("refused");
    assert!(matches!(&err, Error::Refused { code, .. } if code == "bad_psk"));
    assert!(!err.to_string().contains("not-the-right-key"));
}

#[test]
fn the_identity_is_kept_so_a_restart_does_not_register_again() {
    let world = World::new();
    // No assignment: each agent stops after two sleeps.
    world.agent(2).run().expect("first");
    world.agent(2).run().expect("second");
    assert_eq!(world.server.state().registrations, 1);
    // Before and after the restart (the session keys derived again from the saved identity),
    // every request went in the session form and its answer opened.
    let forms = world.server.state().forms.clone();
    assert!(forms.len() >= 4, "{:?}", forms);
    assert!(forms.iter().all(|f| *f == "session"), "{:?}", forms);
    let path = world.config().state_dir.join("identity.json");
    let identity = Identity::load(&path).expect("load").expect("saved");
    assert!(world.server.state().agents.contains_key(&identity.agent));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A second device with the same name is refused by the server, not by the agent.
    let other = World::new();
    let shared = other.server.clone();
    shared.state().agents.insert(
        model::ids::AgentId::new(),
        world
            .server
            .state()
            .agents
            .values()
            .next()
            .cloned()
            .expect("cert"),
    );
    assert_eq!(refusal_code(&other), "already_registered");
}

#[test]
fn an_agent_the_server_forgot_registers_again() {
    let world = World::new();
    world.agent(1).run().expect("first");
    world.server.state().agents.clear();
    let runbook = world.assign(chrono::Duration::minutes(-5));
    let exit = world.agent(100).run().expect("second");
    assert_eq!(
        exit,
        agent::Exit::Idle {
            runbook,
            status: model::status::AgentStatus::Completed
        }
    );
    assert_eq!(world.server.state().registrations, 2);
}
