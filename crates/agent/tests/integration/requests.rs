//! Register, Check Runbooks and Migrate Now asked from outside the schedule (the tray, through
//! the service's named pipe): served at once, answered with what happened, and the view the tray
//! reads follows the runbook from Migration Available to Completed.

use std::collections::VecDeque;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use agent::run::requests::{self, Answer, Prompt, Request, Requester};
use agent::{Agent, Exit, SimWorkstation, Sleeper};
use chrono::Duration;
use model::clock::ManualClock;
use model::protocol::kinds;
use model::schedule::{Snooze, COUNTDOWN_MINUTES};
use model::status::AgentStatus;

use crate::fake_server::{FakeServer, Fault};
use crate::support::*;

/// What happens during one of the agent's waits; true when the wait ran its whole length (the
/// clock moves on), false when a request woke the agent early.
type Step = Box<dyn FnMut(&Requester, Duration) -> bool + Send>;

/// Runs a script, one step per wait, then stops the agent.
struct ScriptedSleeper {
    clock: ManualClock,
    requester: Requester,
    steps: VecDeque<Step>,
    waits: Arc<Mutex<Vec<Duration>>>,
}

impl Sleeper for ScriptedSleeper {
    fn sleep(&mut self, duration: Duration) -> bool {
        let mut step = match self.steps.pop_front() {
            Some(step) => step,
            None => return false,
        };
        self.waits.lock().unwrap().push(duration);
        if step(&self.requester, duration) {
            self.clock.advance(duration);
        }
        true
    }
}

/// Where the answers to the script's requests arrive, in the order asked.
#[derive(Clone, Default)]
struct Answers(Arc<Mutex<Vec<Receiver<Answer>>>>);

impl Answers {
    fn ask(&self, requester: &Requester, request: Request) {
        self.0.lock().unwrap().push(requester.send(request));
    }

    fn all(&self) -> Vec<Answer> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.try_recv().expect("every request was answered"))
            .collect()
    }
}

fn agent_with_script(
    world: &World,
    steps: Vec<Step>,
) -> (Agent<SimWorkstation, Arc<FakeServer>>, Requester) {
    // The script wakes the agent itself by returning early: no waker needed.
    let (requester, requests) = requests::channel(Arc::new(|| {}));
    let mut agent = Agent::new(
        world.config(),
        SimWorkstation::open(&world.dir).expect("open"),
        world.server.clone(),
        Arc::new(world.clock.clone()),
        Box::new(ScriptedSleeper {
            clock: world.clock.clone(),
            requester: requester.clone(),
            steps: steps.into(),
            waits: world.slept.clone(),
        }),
    )
    .expect("agent");
    agent.serve_requests(requests);
    (agent, requester)
}

fn sign_in(world: &World) {
    let mut sim = SimWorkstation::open(&world.dir).expect("open");
    sim.set_logged_on_user(Some("OLD\\alice".into()))
        .expect("logon");
}

/// A runbook offered from `available_in` and enforced `enforced_in` from now.
fn offer(world: &World, available_in: Duration, enforced_in: Duration) -> model::ids::RunbookId {
    let runbook = world.assign(enforced_in);
    let from = (world.clock_now() + available_in).naive_utc();
    world
        .server
        .state()
        .assignment
        .as_mut()
        .expect("assigned")
        .available_from = Some(model::batch::ScheduledTime {
        at: from,
        timezone: model::batch::ScheduleTimezone::Utc,
    });
    runbook
}

#[test]
fn check_runbooks_checks_in_at_once_and_says_what_is_assigned() {
    let world = World::new();
    let runbook = world.assign(Duration::days(7));
    // Assigned only after the agent's first check-in.
    let assignment = world.server.state().assignment.take();
    let answers = Answers::default();
    let (server, asked) = (world.server.clone(), answers.clone());
    let mut assignment = Some(assignment);
    let (mut agent, requester) = agent_with_script(
        &world,
        vec![Box::new(move |requester, wait| {
            // Without a request the agent would wait a minute before its next check-in.
            assert_eq!(wait, Duration::minutes(1));
            server.state().assignment = assignment.take().flatten();
            asked.ask(requester, Request::CheckRunbooks);
            false
        })],
    );
    let started = world.clock_now();
    assert_eq!(agent.run().expect("run"), Exit::Stopped);

    let check_ins: Vec<_> = world.server.state().check_ins.iter().map(|c| c.0).collect();
    assert_eq!(check_ins, vec![started, started]);
    assert_eq!(
        answers.all(),
        vec![Answer::done(
            "The runbook Move to the target is assigned to this computer."
        )]
    );
    let view = requester.view();
    assert!(view.registered && view.reachable);
    let assigned = view.assigned.expect("the tray sees the assignment");
    assert_eq!(assigned.runbook, runbook);
    // No Available From and Enforced After a week away: nothing to show yet.
    assert_eq!(assigned.prompt, Prompt::Nothing);
}

#[test]
fn migrate_now_from_the_tray_starts_an_offered_runbook_and_the_view_follows_it() {
    let world = World::new();
    sign_in(&world);
    let runbook = offer(&world, Duration::minutes(-1), Duration::days(7));
    let enforced_at = world.clock_now() + Duration::days(7);
    let answers = Answers::default();
    let asked = answers.clone();
    let prompts = Arc::new(Mutex::new(Vec::new()));
    let seen = prompts.clone();
    let (mut agent, requester) = agent_with_script(
        &world,
        vec![Box::new(move |requester, _| {
            let view = requester.view();
            seen.lock()
                .unwrap()
                .push(view.assigned.map(|a| (a.prompt, a.silent)));
            asked.ask(requester, Request::MigrateNow);
            false
        })],
    );
    let started = world.clock_now();
    assert_eq!(
        agent.run().expect("run"),
        Exit::Idle {
            runbook,
            status: AgentStatus::Completed
        }
    );
    assert_eq!(
        *prompts.lock().unwrap(),
        vec![Some((Prompt::Available { enforced_at }, false))]
    );
    assert_eq!(
        answers.all(),
        vec![Answer::done("The migration starts now.")]
    );
    // Started at once, a week before Enforced After.
    let final_at = world
        .server
        .state()
        .check_ins
        .iter()
        .find(|c| c.1.final_check)
        .map(|c| c.0);
    assert_eq!(final_at, Some(started));
    let view = requester.view();
    assert_eq!(view.assigned, None);
    let finished = view.finished.expect("Migration Complete can be shown");
    assert_eq!(
        (finished.runbook, finished.status),
        (runbook, AgentStatus::Completed)
    );
}

#[test]
fn migrate_now_and_snooze_before_available_from_are_refused_with_the_reason() {
    let world = World::new();
    sign_in(&world);
    let runbook = offer(&world, Duration::hours(2), Duration::days(7));
    let answers = Answers::default();
    let asked = answers.clone();
    let (mut agent, _requester) = agent_with_script(
        &world,
        vec![Box::new(move |requester, _| {
            asked.ask(requester, Request::MigrateNow);
            asked.ask(
                requester,
                Request::Snooze {
                    length: Snooze::FiveMinutes,
                },
            );
            false
        })],
    );
    assert_eq!(agent.run().expect("run"), Exit::Stopped);
    let answers = answers.all();
    assert_eq!(answers.len(), 2);
    assert!(!answers[0].ok);
    assert!(
        answers[0].message.contains("not available yet"),
        "{}",
        answers[0].message
    );
    assert!(!answers[1].ok);
    assert!(
        answers[1].message.contains("snooze"),
        "{}",
        answers[1].message
    );
    assert!(agent.journal().status(&runbook).is_none());
}

#[test]
fn a_snooze_from_the_tray_hides_migration_available_until_it_ends() {
    let world = World::new();
    sign_in(&world);
    offer(&world, Duration::minutes(-1), Duration::days(7));
    let answers = Answers::default();
    let asked = answers.clone();
    let waits = Arc::new(Mutex::new(Vec::new()));
    let (first, second) = (waits.clone(), waits.clone());
    let (mut agent, requester) = agent_with_script(
        &world,
        vec![
            Box::new(move |requester, wait| {
                first.lock().unwrap().push(wait);
                asked.ask(
                    requester,
                    Request::Snooze {
                        length: Snooze::FiveMinutes,
                    },
                );
                false
            }),
            Box::new(move |requester, wait| {
                second.lock().unwrap().push(wait);
                // Hidden while snoozed.
                assert_eq!(
                    requester.view().assigned.map(|a| a.prompt),
                    Some(Prompt::Nothing)
                );
                true
            }),
            Box::new(|_, _| true),
        ],
    );
    assert_eq!(agent.run().expect("run"), Exit::Stopped);
    assert!(answers.all()[0].ok);
    // The agent's next wake is the end of the snooze, not its hourly check-in.
    assert_eq!(waits.lock().unwrap()[1], Duration::minutes(5));
    assert!(matches!(
        requester.view().assigned.map(|a| a.prompt),
        Some(Prompt::Available { .. })
    ));
}

#[test]
fn the_tray_sees_the_countdown_once_enforced_after_passes_with_a_user_signed_in() {
    let world = World::new();
    sign_in(&world);
    offer(&world, Duration::minutes(-1), Duration::minutes(10));
    let enforced_at = world.clock_now() + Duration::minutes(10);
    let (mut agent, requester) = agent_with_script(&world, vec![Box::new(|_, _| true)]);
    assert_eq!(agent.run().expect("run"), Exit::Stopped);
    assert_eq!(
        requester.view().assigned.map(|a| a.prompt),
        Some(Prompt::Countdown {
            starts_at: enforced_at + Duration::minutes(COUNTDOWN_MINUTES)
        })
    );
}

#[test]
fn register_while_the_server_was_unreachable_tries_again_at_once() {
    let world = World::new();
    world
        .server
        .fail(kinds::REGISTER, Fault::Unreachable, u32::MAX);
    let answers = Answers::default();
    let (server, asked) = (world.server.clone(), answers.clone());
    let (mut agent, requester) = agent_with_script(
        &world,
        vec![Box::new(move |requester, wait| {
            assert_eq!(wait, Duration::minutes(1));
            assert!(!requester.view().reachable, "Service Unavailable shows");
            server.heal(kinds::REGISTER);
            asked.ask(requester, Request::Register);
            false
        })],
    );
    let started = world.clock_now();
    assert_eq!(agent.run().expect("run"), Exit::Stopped);
    assert_eq!(world.server.state().registrations, 1);
    assert_eq!(world.server.state().check_ins[0].0, started);
    assert_eq!(
        answers.all(),
        vec![Answer::done(
            "Registered with the migration server. No runbook is assigned to this computer."
        )]
    );
    let view = requester.view();
    assert!(view.registered && view.reachable);
}

#[test]
fn while_a_step_runs_the_tray_reads_which_step_and_every_request_is_answered_with_it() {
    let world = World::new();
    let runbook = world.assign(Duration::minutes(-5));
    // Startup's command package is fetched in its step: with the server away the agent waits
    // inside that step, the fifth of fifteen.
    let fix = package(&world, "fix.zip", &[("cmdline.cmd", "exit 0")]);
    SimWorkstation::open(&world.dir)
        .expect("open")
        .set_command_outcome(&fix.sha256, Some(0), "fixed")
        .expect("outcome");
    world
        .server
        .state()
        .assignment
        .as_mut()
        .expect("assigned")
        .runbook
        .startup
        .command_package = Some(fix);
    world
        .server
        .fail(kinds::COMMAND_PACKAGE, Fault::Unreachable, 1);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let during = seen.clone();
    let (mut agent, requester) = agent_with_script(
        &world,
        (0..20)
            .map(|_| -> Step {
                let during = during.clone();
                Box::new(move |requester, _| {
                    during.lock().unwrap().push(requester.view().running);
                    true
                })
            })
            .collect(),
    );
    assert_eq!(
        agent.run().expect("run"),
        Exit::Idle {
            runbook,
            status: AgentStatus::Completed
        },
        "{:#?}",
        world
            .server
            .state()
            .events
            .values()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
    );
    let running = seen
        .lock()
        .unwrap()
        .iter()
        .flatten()
        .next()
        .cloned()
        .expect("a wait inside a step");
    assert_eq!(
        (running.runbook, running.step, running.steps),
        (runbook, 5, AD_TO_AD_STEPS.len() + 1)
    );
    assert_eq!(running.step_id, "startup/command-package");
    let told = "A migration is running (Move to the target): step 5 of 15, startup/command-package";
    for (request, ok) in [
        (Request::Register, true),
        (Request::CheckRunbooks, true),
        (Request::MigrateNow, true),
        (
            Request::Snooze {
                length: Snooze::OneHour,
            },
            false,
        ),
    ] {
        let answer = running.answer(request);
        assert!(answer.message.contains(told), "{}", answer.message);
        assert_eq!(answer.ok, ok, "{:?}", request);
    }
    // Once the run is over, no step is said to run.
    assert_eq!(requester.view().running, None);
}
