//! The Cache Credentials dialog between the service and the tray: while a runbook's step asks
//! the signed-in user for their target credentials, the step's thread waits at the
//! [`CredentialDesk`]; the pipe's threads (which answer while the step runs, without the agent)
//! hand the prompt to the tray that polls for it, and the tray's answer back. The password is
//! never logged, never written to disk, and zeroed when dropped.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a step waits for the signed-in user to answer before it fails as unanswered.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// A password typed into the dialog: Debug never shows it, and its bytes are zeroed when it is
/// dropped.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// `text` as a password.
    pub fn new(text: String) -> Password {
        Password(text)
    }

    /// The password's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        zero_string(&mut self.0);
    }
}

/// Overwrites the bytes of `text` with zeros (NUL is valid UTF-8), then empties it.
pub fn zero_string(text: &mut String) {
    // Safety: every byte becomes 0, which leaves valid UTF-8.
    unsafe { text.as_bytes_mut().iter_mut().for_each(|b| *b = 0) };
    text.clear();
}

/// The dialog the tray is to show: its title and message, already filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialPrompt {
    /// Which request this is: an answer names it, so a late answer to an earlier prompt is not
    /// taken for the current one.
    pub id: u64,
    /// The window title.
    pub title: String,
    /// The main message.
    pub message: String,
}

/// What the user typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Typed {
    /// The target account as typed.
    pub username: String,
    /// Its password.
    pub password: Password,
}

#[derive(Default)]
struct Slot {
    last_id: u64,
    pending: Option<CredentialPrompt>,
    /// The answer to `pending`: typed credentials, or `None` for Cancel.
    answer: Option<Option<Typed>>,
}

/// Where a step's request for credentials meets the tray's answer. Clones share one desk.
#[derive(Clone, Default)]
pub struct CredentialDesk(Arc<(Mutex<Slot>, Condvar)>);

impl CredentialDesk {
    fn slot(&self) -> MutexGuard<'_, Slot> {
        self.0 .0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Shows the dialog `title`/`message` through the tray and waits up to `timeout` for the
    /// answer: what was typed, or `None` when the user pressed Cancel or nobody answered in
    /// time. Either way the prompt is withdrawn, so the tray closes the dialog.
    pub fn ask(&self, title: &str, message: &str, timeout: Duration) -> Option<Typed> {
        let mut slot = self.slot();
        slot.last_id += 1;
        let id = slot.last_id;
        slot.pending = Some(CredentialPrompt {
            id,
            title: title.to_string(),
            message: message.to_string(),
        });
        slot.answer = None;
        let (slot, _) = self
            .0
             .1
            .wait_timeout_while(slot, timeout, |s| s.answer.is_none())
            .unwrap_or_else(|e| e.into_inner());
        let mut slot = slot;
        slot.pending = None;
        slot.answer.take().flatten()
    }

    /// The prompt waiting for an answer, if any.
    pub fn pending(&self) -> Option<CredentialPrompt> {
        self.slot().pending.clone()
    }

    /// Answers the prompt `id` with what was typed, or `None` for Cancel. False when that prompt
    /// is not waiting any more (answered, timed out, or never asked).
    pub fn answer(&self, id: u64, typed: Option<Typed>) -> bool {
        let mut slot = self.slot();
        if slot.pending.as_ref().map(|p| p.id) != Some(id) || slot.answer.is_some() {
            return false;
        }
        slot.answer = Some(typed);
        self.0 .1.notify_all();
        true
    }
}
