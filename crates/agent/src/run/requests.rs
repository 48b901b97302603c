//! What the signed-in user asks of the agent from outside its schedule (the tray's Register,
//! Check Runbooks and Migrate Now, and the answers to its dialogs), and what the agent shows them
//! in return. A [`Requester`] is the outside end (the named pipe's server holds one); the agent
//! holds the [`Requests`] end and serves what was asked each time it wakes. Asking wakes the
//! agent's wait through the waker given to [`channel`], so a request is served at once, not at
//! the next scheduled check-in.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use model::ids::RunbookId;
use model::runbook::{UserExperienceSettings, UserInteraction};
use model::schedule::Snooze;
use model::status::AgentStatus;
use serde::{Deserialize, Serialize};

use super::Agent;
use crate::client::Transport;
use crate::workstation::Workstation;
use crate::Error;

/// One thing the user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Register with the server now (when an earlier registration failed).
    Register,
    /// Check in now: fetch the newest runbook assignment.
    CheckRunbooks,
    /// Start the assigned runbook now (the tray's Migrate Now, Start on Migration Available,
    /// Yes on the countdown); refused until Available From or Enforced After has passed.
    MigrateNow,
    /// Hide Migration Available for `length`.
    Snooze {
        /// How long.
        length: Snooze,
    },
}

/// The agent's answer to one [`Request`]: done, or refused with a message the user can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Whether the request was carried out.
    pub ok: bool,
    /// What happened, or why not, for the user.
    pub message: String,
}

impl Answer {
    /// Carried out.
    pub fn done(message: impl Into<String>) -> Answer {
        Answer {
            ok: true,
            message: message.into(),
        }
    }

    /// Not carried out, and why.
    pub fn refused(message: impl Into<String>) -> Answer {
        Answer {
            ok: false,
            message: message.into(),
        }
    }
}

/// What the user should see about the assigned runbook right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Prompt {
    /// Nothing to show yet.
    Nothing,
    /// Migration Available: Start, or snooze; enforced at `enforced_at`.
    Available {
        /// Enforced After on this device's clock.
        enforced_at: DateTime<Utc>,
    },
    /// Migration Starting: the countdown to `starts_at`.
    Countdown {
        /// When the runbook starts by itself.
        starts_at: DateTime<Utc>,
    },
    /// Migration In Progress.
    Running,
}

/// The runbook assigned to this device, as the tray needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedView {
    /// The runbook.
    pub runbook: RunbookId,
    /// Its name.
    pub name: String,
    /// A Silent runbook shows no dialog at all.
    pub silent: bool,
    /// Its User Experience tab: the dialogs' texts per culture and the QR code URL.
    pub user_experience: UserExperienceSettings,
    /// What to show now.
    pub prompt: Prompt,
}

/// What the agent tells the tray about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    /// The agent's version.
    pub version: String,
    /// Whether it holds an identity from the server.
    pub registered: bool,
    /// False while the server cannot be reached (Service Unavailable).
    pub reachable: bool,
    /// The assigned runbook, if any.
    pub assigned: Option<AssignedView>,
    /// The runbook that ended last on this device, and how, with its User Experience tab (for
    /// Migration Complete).
    pub finished: Option<FinishedView>,
    /// The runbook whose steps are being carried out now, and where it is.
    #[serde(default)]
    pub running: Option<RunningView>,
}

/// A runbook whose steps are being carried out: which step of how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningView {
    /// The runbook.
    pub runbook: RunbookId,
    /// Its name.
    pub name: String,
    /// The step being carried out, counted from 1.
    pub step: usize,
    /// How many steps the run has.
    pub steps: usize,
    /// The step's id, e.g. `permissions/registry`.
    pub step_id: String,
}

impl RunningView {
    /// Where the run is, for the user.
    pub fn describe(&self) -> String {
        format!(
            "A migration is running ({}): step {} of {}, {}",
            self.name, self.step, self.steps, self.step_id
        )
    }

    /// The answer to `request` while the run goes on, at once: the agent is in a step and
    /// serves no request before the run ends, so none is queued behind it.
    pub fn answer(&self, request: Request) -> Answer {
        let now = self.describe();
        match request {
            Request::Register => Answer::done(format!(
                "This computer is registered with the migration server. {}.",
                now
            )),
            Request::CheckRunbooks => Answer::done(format!(
                "{}. Runbooks are checked again when it has finished.",
                now
            )),
            Request::MigrateNow => Answer::done(format!("{}.", now)),
            Request::Snooze { .. } => {
                Answer::refused(format!("{}. It has started and cannot be snoozed.", now))
            }
        }
    }
}

/// A runbook that ended on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedView {
    /// The runbook.
    pub runbook: RunbookId,
    /// Completed or Error.
    pub status: AgentStatus,
    /// Whether it was Silent.
    pub silent: bool,
    /// Its User Experience tab.
    pub user_experience: UserExperienceSettings,
}

impl Default for AgentView {
    fn default() -> AgentView {
        AgentView {
            version: model::protocol::AGENT_VERSION.to_string(),
            registered: false,
            reachable: true,
            assigned: None,
            finished: None,
            running: None,
        }
    }
}

/// A request waiting to be served, with where its answer goes.
pub struct Pending {
    /// What was asked.
    pub request: Request,
    reply: Sender<Answer>,
}

impl Pending {
    /// Sends the answer; the asker may have stopped waiting, which is no error.
    pub fn answer(self, answer: Answer) {
        let _ = self.reply.send(answer);
    }
}

/// Wakes the agent's wait so that a request is served at once.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// The outside end: asks, and reads the agent's view.
#[derive(Clone)]
pub struct Requester {
    tx: Sender<Pending>,
    wake: Waker,
    view: Arc<Mutex<AgentView>>,
}

impl Requester {
    /// Queues `request`, wakes the agent, and returns where its answer will come.
    pub fn send(&self, request: Request) -> Receiver<Answer> {
        let (reply, answer) = mpsc::channel();
        if self.tx.send(Pending { request, reply }).is_err() {
            // The agent is gone: the receiver sees the sender dropped and reports it.
            return answer;
        }
        (self.wake)();
        answer
    }

    /// What the agent shows now.
    pub fn view(&self) -> AgentView {
        self.view.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The agent's end: the requests waiting, and the view it keeps up to date. Cloning shares both,
/// so a service that starts the agent again after a failure keeps one channel for its lifetime.
#[derive(Clone)]
pub struct Requests {
    rx: Arc<Mutex<Receiver<Pending>>>,
    view: Arc<Mutex<AgentView>>,
}

impl Requests {
    /// The next request waiting, without waiting for one.
    pub fn next(&self) -> Option<Pending> {
        self.rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_recv()
            .ok()
    }

    /// Changes the view the tray reads.
    pub fn update(&self, change: impl FnOnce(&mut AgentView)) {
        change(&mut self.view.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The view as it is.
    pub fn view(&self) -> AgentView {
        self.view.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A request channel whose requests call `wake` when sent.
pub fn channel(wake: Waker) -> (Requester, Requests) {
    let (tx, rx) = mpsc::channel();
    let view = Arc::new(Mutex::new(AgentView::default()));
    (
        Requester {
            tx,
            wake,
            view: view.clone(),
        },
        Requests {
            rx: Arc::new(Mutex::new(rx)),
            view,
        },
    )
}

impl<W: Workstation, T: Transport> Agent<W, T> {
    /// Serves the requests waiting: Migrate Now and snoozes at once; Register and Check Runbooks
    /// move the next check-in to `now` and are answered after it.
    pub(super) fn take_requests(&mut self, now: DateTime<Utc>, next_check_in: &mut DateTime<Utc>) {
        let requests = match &self.requests {
            Some(requests) => requests.clone(),
            None => return,
        };
        while let Some(pending) = requests.next() {
            let registered = self.client.identity().is_some();
            match pending.request {
                Request::Register | Request::CheckRunbooks => {
                    *next_check_in = now;
                    self.check_in_waiters.push(pending);
                }
                Request::MigrateNow | Request::Snooze { .. } if !registered => {
                    pending.answer(Answer::refused(
                        "This computer is not registered with the migration server yet.",
                    ));
                }
                Request::MigrateNow => {
                    let answer = match self.migrate_now() {
                        Ok(()) => Answer::done("The migration starts now."),
                        Err(e) => Answer::refused(refusal(&e)),
                    };
                    pending.answer(answer);
                }
                Request::Snooze { length } => {
                    let answer = match self.snooze(length) {
                        Ok(until) => Answer::done(format!("snoozed until {}", until.to_rfc3339())),
                        Err(e) => Answer::refused(refusal(&e)),
                    };
                    pending.answer(answer);
                }
            }
        }
    }

    /// Answers the Register and Check Runbooks requests after a check-in (or registration
    /// attempt) that ended with `error`, or succeeded.
    pub(super) fn answer_check_ins(&mut self, error: Option<&Error>) {
        let assigned = match &self.assignment {
            Some(a) => format!(
                "The runbook {} is assigned to this computer.",
                a.runbook.name
            ),
            None => "No runbook is assigned to this computer.".to_string(),
        };
        for pending in self.check_in_waiters.drain(..) {
            let answer = match error {
                None => match pending.request {
                    Request::Register => Answer::done(format!(
                        "Registered with the migration server. {}",
                        assigned
                    )),
                    _ => Answer::done(assigned.clone()),
                },
                Some(e) => Answer::refused(refusal(e)),
            };
            pending.answer(answer);
        }
    }

    /// Tells the tray which step of the run is being carried out, or with `None` that no run is.
    pub(super) fn publish_running(&self, running: Option<RunningView>) {
        if let Some(requests) = &self.requests {
            requests.update(|view| view.running = running);
        }
    }

    /// Tells the tray what to show: `prompt` for the assigned runbook.
    pub(super) fn publish(&self, prompt: Prompt) {
        let requests = match &self.requests {
            Some(requests) => requests,
            None => return,
        };
        let assigned = self.assignment.as_ref().map(|a| AssignedView {
            runbook: a.runbook.id,
            name: a.runbook.name.clone(),
            silent: a.runbook.startup.interaction == UserInteraction::Silent,
            user_experience: a.runbook.user_experience.clone(),
            prompt,
        });
        let registered = self.client.identity().is_some();
        let reachable = self.schedule.failures == 0;
        requests.update(|view| {
            view.registered = registered;
            view.reachable = reachable;
            view.assigned = assigned;
        });
    }
}

/// What a user reads when a request of theirs could not be carried out.
fn refusal(error: &Error) -> String {
    match error {
        Error::NotAllowed(message) => message.clone(),
        Error::Unreachable(_) => {
            "The migration server cannot be reached; this computer tries again by itself."
                .to_string()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_request_wakes_the_agent_and_its_answer_comes_back() {
        let woken = Arc::new(AtomicUsize::new(0));
        let counter = woken.clone();
        let (requester, requests) = channel(Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let answer = requester.send(Request::CheckRunbooks);
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        let pending = requests.next().expect("queued");
        assert_eq!(pending.request, Request::CheckRunbooks);
        assert!(requests.next().is_none());
        pending.answer(Answer::done("checked"));
        assert_eq!(answer.recv().expect("answered"), Answer::done("checked"));
        requests.update(|v| v.registered = true);
        assert!(requester.view().registered);
    }

    #[test]
    fn requests_read_and_write_as_the_pipe_sends_them() {
        let text = serde_json::to_string(&Request::Snooze {
            length: Snooze::OneHour,
        })
        .expect("json");
        assert_eq!(text, r#"{"request":"snooze","length":"OneHour"}"#);
        let back: Request = serde_json::from_str(r#"{"request":"migrate_now"}"#).expect("json");
        assert_eq!(back, Request::MigrateNow);
    }
}
