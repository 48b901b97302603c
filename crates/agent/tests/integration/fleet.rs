use std::sync::{Arc, Mutex};
use std::thread;

use agent::{Agent, AgentConfig, Exit, SimSpec, SimUser, SimWorkstation};
use chrono::Duration;
use model::status::AgentStatus;

use crate::support::*;

#[test]
fn a_fleet_of_agents_runs_as_threads_against_one_server() {
    let world = World::new();
    let runbook = world.assign(Duration::minutes(-5));
    let mut dirs = vec![world.dir.clone()];
    for i in 2..=10 {
        let name = format!("PC-{:03}", i);
        let dir = world.dir.with_file_name(format!(
            "{}-{}",
            world
                .dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("pc"),
            name
        ));
        let users = vec![
            SimUser {
                sid: sid(ALICE),
                name: "alice".into(),
            },
            SimUser {
                sid: sid(BOB),
                name: "bob".into(),
            },
        ];
        let spec = SimSpec::active_directory(&name, &format!("SN-{}", i), SOURCE_DOMAIN, users);
        SimWorkstation::create(&dir, &spec).expect("create");
        world.server.import(&name);
        dirs.push(dir);
    }
    let threads: Vec<_> = dirs
        .iter()
        .cloned()
        .map(|dir| {
            let server = world.server.clone();
            let clock = world.clock.clone();
            thread::spawn(move || {
                let mut config = AgentConfig::new("http://unused", PSK, &dir);
                config.exit_when_idle = true;
                // Nothing should wait: a sleep stops the agent and fails the test, never hangs it.
                let sleeper = ClockSleeper {
                    clock: clock.clone(),
                    slept: Arc::new(Mutex::new(Vec::new())),
                    limit: 0,
                };
                let sim = SimWorkstation::open(&dir)?;
                Agent::new(config, sim, server, Arc::new(clock), Box::new(sleeper))?.run()
            })
        })
        .collect();
    for handle in threads {
        let exit = handle.join().expect("agent thread").expect("run");
        assert_eq!(
            exit,
            Exit::Idle {
                runbook,
                status: AgentStatus::Completed
            }
        );
    }
    let server = world.server.state();
    assert_eq!(server.agents.len(), 10);
    for agent in server.agents.keys() {
        let last = server
            .events
            .range((*agent, 0)..=(*agent, u64::MAX))
            .next_back()
            .map(|(_, e)| e.status);
        assert_eq!(last, Some(Some(AgentStatus::Completed)));
    }
    for dir in &dirs {
        let s = SimWorkstation::load(dir).expect("load");
        assert!(s.profile_list.contains_key(&sid(ALICE_NEW)));
    }
    // The first folder goes with `world`; the nine others are this test's own.
    for dir in &dirs[1..] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
