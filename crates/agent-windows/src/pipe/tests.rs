use std::io::{Cursor, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use agent::run::requests::{self, Answer, Request};

use super::*;

/// One side of a connection: reads what the other side wrote before, records what it writes.
struct Duplex {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn frames(messages: &[Message]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        write_frame(&mut out, m).expect("frame");
    }
    out
}

#[test]
fn a_frame_is_a_little_endian_length_then_json() {
    let bytes = frames(&[Message::Snooze {
        length: Snooze::OneHour,
    }]);
    let json = br#"{"ask":"snooze","length":"OneHour"}"#;
    assert_eq!(&bytes[..4], &(json.len() as u32).to_le_bytes());
    assert_eq!(&bytes[4..], &json[..]);
    let back: Option<Message> = read_frame(&mut Cursor::new(bytes)).expect("read");
    assert_eq!(
        back,
        Some(Message::Snooze {
            length: Snooze::OneHour
        })
    );
    // A closed pipe between frames is the end, not an error.
    let none: Option<Message> = read_frame(&mut Cursor::new(Vec::new())).expect("read");
    assert_eq!(none, None);
}

#[test]
fn oversized_cut_short_and_foreign_frames_are_refused() {
    let mut huge = ((MAX_MESSAGE + 1) as u32).to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    let refused = read_frame::<_, Message>(&mut Cursor::new(huge)).unwrap_err();
    assert!(
        refused.to_string().contains("over the limit"),
        "{}",
        refused
    );

    let mut short = 10u32.to_le_bytes().to_vec();
    short.extend_from_slice(b"{\"a");
    assert!(read_frame::<_, Message>(&mut Cursor::new(short)).is_err());

    let mut foreign = Vec::new();
    write_frame(&mut foreign, &serde_json::json!({"ask": "format_disk"})).expect("frame");
    let refused = read_frame::<_, Message>(&mut Cursor::new(foreign)).unwrap_err();
    assert!(matches!(refused, PipeError::Malformed(_)));
}

#[test]
fn the_service_answers_status_from_the_view_and_requests_from_its_agent() {
    let (requester, agent_end) = requests::channel(Arc::new(|| {}));
    agent_end.update(|v| v.registered = true);
    // The agent: refuses Migrate Now as the schedule would, and checks in.
    let agent = std::thread::spawn(move || {
        let mut served = Vec::new();
        while served.len() < 3 {
            if let Some(pending) = agent_end.next() {
                served.push(pending.request);
                let answer = match pending.request {
                    Request::MigrateNow => Answer::refused("the migration is not available yet"),
                    _ => Answer::done("No runbook is assigned to this computer."),
                };
                pending.answer(answer);
            } else {
                std::thread::yield_now();
            }
        }
        served
    });
    let mut stream = Duplex {
        input: Cursor::new(frames(&[
            Message::Status,
            Message::CheckRunbooks,
            Message::StartNow,
            Message::Snooze {
                length: Snooze::OneDay,
            },
        ])),
        output: Vec::new(),
    };
    serve_connection(
        &mut stream,
        &requester,
        &CredentialDesk::default(),
        Duration::from_secs(30),
    )
    .expect("served");
    let served = agent.join().expect("agent");
    assert_eq!(
        served,
        vec![
            Request::CheckRunbooks,
            Request::MigrateNow,
            Request::Snooze {
                length: Snooze::OneDay
            }
        ]
    );
    let mut replies = Cursor::new(stream.output);
    let mut next = || read_frame::<_, Reply>(&mut replies).expect("reply");
    match next() {
        Some(Reply::Status(view)) => assert!(view.registered),
        other => panic!("status: {:?}", other),
    }
    assert_eq!(
        next(),
        Some(Reply::Answer(Answer::done(
            "No runbook is assigned to this computer."
        )))
    );
    assert_eq!(
        next(),
        Some(Reply::Answer(Answer::refused(
            "the migration is not available yet"
        )))
    );
    assert!(matches!(next(), Some(Reply::Answer(a)) if a.ok));
    assert_eq!(next(), None);
}

#[test]
fn a_busy_or_stopped_agent_is_said_so() {
    let (requester, agent_end) = requests::channel(Arc::new(|| {}));
    // Nobody serves: the wait runs out (at once here) and the request stays queued.
    let desk = CredentialDesk::default();
    match answer(
        &requester,
        &desk,
        Message::CheckRunbooks,
        Duration::from_millis(0),
    ) {
        Reply::Answer(a) => assert!(a.ok && a.message.contains("busy"), "{:?}", a),
        other => panic!("{:?}", other),
    }
    assert_eq!(
        agent_end.next().map(|p| p.request),
        Some(Request::CheckRunbooks)
    );
    drop(agent_end);
    match answer(
        &requester,
        &desk,
        Message::Register,
        Duration::from_secs(30),
    ) {
        Reply::Answer(a) => assert!(!a.ok && a.message.contains("not running"), "{:?}", a),
        other => panic!("{:?}", other),
    }
}

#[test]
fn while_a_run_goes_on_every_request_is_answered_at_once_with_its_step() {
    let (requester, agent_end) = requests::channel(Arc::new(|| {}));
    agent_end.update(|v| {
        v.registered = true;
        v.running = Some(requests::RunningView {
            runbook: model::ids::RunbookId::new(),
            name: "Move to new.contoso.test".into(),
            step: 3,
            steps: 9,
            step_id: "permissions/registry".into(),
        });
    });
    let desk = CredentialDesk::default();
    let step =
        "A migration is running (Move to new.contoso.test): step 3 of 9, permissions/registry";
    // No wait at all: were a request queued for the agent, the answer would say it is busy.
    for (message, ok) in [
        (Message::Register, true),
        (Message::CheckRunbooks, true),
        (Message::MigrateNow, true),
        (Message::StartNow, true),
        (
            Message::Snooze {
                length: Snooze::OneHour,
            },
            false,
        ),
    ] {
        match answer(&requester, &desk, message.clone(), Duration::ZERO) {
            Reply::Answer(a) => {
                assert!(a.message.contains(step), "{:?}: {:?}", message, a);
                assert_eq!(a.ok, ok, "{:?}: {:?}", message, a);
            }
            other => panic!("{:?}", other),
        }
    }
    match answer(&requester, &desk, Message::Status, Duration::ZERO) {
        Reply::Status(view) => assert_eq!(view.running.map(|r| r.step), Some(3)),
        other => panic!("{:?}", other),
    }
    // Nothing was left queued for after the run.
    assert!(agent_end.next().is_none());
}

/// A step waiting at the desk, on a thread of its own, once its prompt is out.
fn waiting_step(
    desk: &CredentialDesk,
    timeout: Duration,
) -> std::thread::JoinHandle<Option<credentials::Typed>> {
    let step_desk = desk.clone();
    let step = std::thread::spawn(move || {
        step_desk.ask(
            "Cache Credentials",
            "We are migrating to the new.contoso.test domain.",
            timeout,
        )
    });
    while desk.pending().is_none() {
        std::thread::yield_now();
    }
    step
}

#[test]
fn a_step_waiting_for_credentials_gets_what_the_tray_sent_over_the_pipe() {
    let (requester, _agent_end) = requests::channel(Arc::new(|| {}));
    let desk = CredentialDesk::default();
    // The agent is busy in the step: nobody serves its requests, the desk answers by itself.
    let step = waiting_step(&desk, Duration::from_secs(600));
    let id = desk.pending().expect("pending").id;
    let typed = credentials::Typed {
        username: "NEW\\alice".into(),
        password: credentials::Password::new("Alice-Target-Passw0rd!".into()),
    };
    let mut stream = Duplex {
        input: Cursor::new(frames(&[
            Message::CredentialPrompt,
            Message::Credentials {
                id,
                typed: typed.clone(),
            },
            // A second answer to the same prompt is refused.
            Message::CredentialsCancelled { id },
        ])),
        output: Vec::new(),
    };
    serve_connection(&mut stream, &requester, &desk, Duration::from_secs(600)).expect("served");
    assert_eq!(step.join().expect("step"), Some(typed));
    let mut replies = Cursor::new(stream.output);
    let mut next = || read_frame::<_, Reply>(&mut replies).expect("reply");
    match next() {
        Some(Reply::Prompt(Some(prompt))) => {
            assert_eq!(prompt.id, id);
            assert_eq!(prompt.title, "Cache Credentials");
            assert!(prompt.message.contains("new.contoso.test"));
        }
        other => panic!("prompt: {:?}", other),
    }
    assert!(matches!(next(), Some(Reply::Answer(a)) if a.ok));
    assert!(matches!(next(), Some(Reply::Answer(a)) if !a.ok));
    // Withdrawn once answered: the tray closes its dialog.
    assert_eq!(desk.pending(), None);
}

#[test]
fn cancel_and_no_answer_in_time_give_the_step_nothing_and_withdraw_the_prompt() {
    let desk = CredentialDesk::default();
    let step = waiting_step(&desk, Duration::from_secs(600));
    let id = desk.pending().expect("pending").id;
    // An answer to another prompt is not taken for this one.
    assert!(!desk.answer(id + 1, None));
    assert!(desk.answer(id, None));
    assert_eq!(step.join().expect("step"), None);
    assert_eq!(desk.pending(), None);

    // Nobody answers: the wait runs out (at once here), and a late OK is refused.
    assert_eq!(desk.ask("Cache Credentials", "…", Duration::ZERO), None);
    assert_eq!(desk.pending(), None);
    let late = credentials::Typed {
        username: "alice".into(),
        password: credentials::Password::new("late".into()),
    };
    assert!(!desk.answer(id + 1, Some(late)));
}

#[test]
fn a_password_never_shows_in_debug_and_is_zeroed() {
    let typed = credentials::Typed {
        username: "alice".into(),
        password: credentials::Password::new("Alice-Target-Passw0rd!".into()),
    };
    let shown = format!("{:?}", Message::Credentials { id: 1, typed });
    assert!(!shown.contains("Passw0rd"), "{}", shown);
    let mut text = String::from("Alice-Target-Passw0rd!");
    let at = text.as_ptr();
    credentials::zero_string(&mut text);
    assert!(text.is_empty());
    // The same buffer, all zeros now.
    let bytes = unsafe { std::slice::from_raw_parts(at, 22) };
    assert!(bytes.iter().all(|b| *b == 0));
}
