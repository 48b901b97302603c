use chrono::Duration;
use model::protocol::kinds;

use crate::fake_server::Fault;
use crate::support::*;

#[test]
fn check_ins_back_off_after_registration_then_go_hourly() {
    let world = World::new();
    let start = world.clock_now();
    world.agent(8).run().expect("run");
    assert_eq!(world.slept_minutes(), vec![1, 2, 4, 8, 16, 32, 60, 60]);
    let times: Vec<i64> = world
        .server
        .state()
        .check_ins
        .iter()
        .map(|(at, _)| (*at - start).num_minutes())
        .collect();
    // At once at service start, then after each wait.
    assert_eq!(times, vec![0, 1, 3, 7, 15, 31, 63, 123, 183]);
}

#[test]
fn with_an_assignment_not_yet_due_the_agent_checks_in_hourly() {
    let world = World::new();
    world.assign(Duration::days(30));
    world.agent(3).run().expect("run");
    assert_eq!(world.slept_minutes(), vec![60, 60, 60]);
}

#[test]
fn an_unreachable_server_is_retried_after_1_to_64_minutes() {
    let world = World::new();
    // Registered first, then the server goes away.
    world.agent(0).run().expect("register");
    world
        .server
        .fail(kinds::CHECK_IN, Fault::Unreachable, u32::MAX);
    world.agent(9).run().expect("run");
    assert_eq!(world.slept_minutes(), vec![1, 2, 4, 8, 16, 32, 64, 64, 64]);
}

#[test]
fn registration_is_retried_while_the_server_is_unreachable() {
    let world = World::new();
    world.server.fail(kinds::REGISTER, Fault::Unreachable, 3);
    world.agent(4).run().expect("run");
    // Three failed attempts, then registration and the first check-in.
    assert_eq!(world.slept_minutes(), vec![1, 2, 4, 1]);
    assert_eq!(world.server.state().registrations, 1);
}
