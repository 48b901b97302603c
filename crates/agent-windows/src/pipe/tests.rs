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
    serve_connection(&mut stream, &requester, Duration::from_secs(30)).expect("served");
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
    match answer(&requester, Message::CheckRunbooks, Duration::from_millis(0)) {
        Reply::Answer(a) => assert!(a.ok && a.message.contains("busy"), "{:?}", a),
        other => panic!("{:?}", other),
    }
    assert_eq!(
        agent_end.next().map(|p| p.request),
        Some(Request::CheckRunbooks)
    );
    drop(agent_end);
    match answer(&requester, Message::Register, Duration::from_secs(30)) {
        Reply::Answer(a) => assert!(!a.ok && a.message.contains("not running"), "{:?}", a),
        other => panic!("{:?}", other),
    }
}
