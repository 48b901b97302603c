//! The Cache Credentials dialog end to end on one screen: a runbook's step waiting at the
//! service's desk, the real named pipe, the tray polling it and opening the dialog, the user's
//! typing and click, and the answer back to the step. Needs a display: scripts/test-windows runs
//! it under Xvfb with `--ignored`.

use std::sync::Arc;
use std::time::Duration;

use agent::run::requests;
use model::clock::SystemClock;
use model::runbook::UserExperienceSettings;

use super::*;
use crate::pipe::credentials::{CredentialDesk, Typed};

const PASSWORD: &str = "Alice-Target-Passw0rd!";

/// The index of `choice` among the Cache Credentials dialog's buttons.
fn button(choice: Choice) -> usize {
    let values = Values {
        target_domain: None,
        start_date: None,
        minutes_left: None,
    };
    content(
        &UserExperienceSettings::default(),
        "en-US",
        Dialog::CacheCredentials,
        &values,
    )
    .buttons
    .iter()
    .position(|(c, _)| *c == choice)
    .expect("the dialog has the button")
}

/// Polls as the tray's timer does until a dialog is open (the pipe may not be served yet).
fn poll_until_open(tray: &mut Tray) -> (Dialog, HWND) {
    for _ in 0..10_000 {
        tray.refresh();
        if let Some(open) = tray.open {
            return open;
        }
        std::thread::yield_now();
    }
    panic!("no dialog opened");
}

/// A step waiting at `desk` for the dialog's answer, once its prompt is out.
fn step(desk: &CredentialDesk) -> std::thread::JoinHandle<Option<Typed>> {
    let step_desk = desk.clone();
    let step = std::thread::spawn(move || {
        step_desk.ask(
            "Cache Credentials",
            "We are migrating to the <b>new.contoso.test</b> domain.",
            Duration::from_secs(300),
        )
    });
    while desk.pending().is_none() {
        std::thread::yield_now();
    }
    step
}

#[test]
#[ignore = "needs a display: scripts/test-windows runs it under Xvfb"]
fn the_cache_credentials_dialog_goes_from_a_waiting_step_to_the_tray_and_its_answer_back() {
    // The service's side: its pipe under its own name, answering while the step waits.
    let (requester, _agent_end) = requests::channel(Arc::new(|| {}));
    let desk = CredentialDesk::default();
    let server_desk = desk.clone();
    std::thread::spawn(move || crate::pipe::win::serve(PIPE_NAME, &requester, &server_desk, None));
    let mut tray = Tray {
        clock: Arc::new(SystemClock),
        locale: "en-US".to_string(),
        memory: Memory::default(),
        view: None,
        open: None,
        credential: None,
    };

    // Sign in: what was typed reaches the step, and the password box is emptied.
    let waiting = step(&desk);
    let (dialog, hwnd) = poll_until_open(&mut tray);
    assert_eq!(dialog, Dialog::CacheCredentials);
    let texts = window::child_texts(hwnd);
    assert!(
        texts.iter().any(|t| t.contains("new.contoso.test"))
            && !texts.iter().any(|t| t.contains("<b>")),
        "{:?}",
        texts
    );
    window::type_credentials(hwnd, "alice", PASSWORD);
    window::click(hwnd, button(Choice::SignIn));
    tray.answer();
    let typed = waiting.join().expect("step").expect("an answer");
    assert_eq!(typed.username, "alice");
    assert_eq!(typed.password.expose(), PASSWORD);
    assert!(tray.open.is_none());
    // The prompt withdrawn, the next poll opens nothing.
    tray.refresh();
    assert_eq!(tray.credential, None);

    // Cancel: the step gets nothing.
    let waiting = step(&desk);
    let (_, hwnd) = poll_until_open(&mut tray);
    window::type_credentials(hwnd, "alice", PASSWORD);
    window::click(hwnd, button(Choice::Cancel));
    tray.answer();
    assert_eq!(waiting.join().expect("step"), None);
}
