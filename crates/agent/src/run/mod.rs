//! The agent core: register if needed, check in on the schedule of [`model::schedule`], decide
//! what an assignment means on the device's clock, run the runbook's phases through the journal,
//! and upload events and profiles. Time and waiting are injected ([`Clock`], [`Sleeper`]) so tests
//! run a whole migration, backoffs included, instantly.

use std::fmt;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use model::clock::{Clock, SystemClock};
use model::envelope::{Key32, PublicKeys};
use model::ids::RunbookId;
use model::plan::JoinState;
use model::protocol::{
    AgentEvent, Blocked, CheckInRequest, CheckInResponse, DeviceAssignment, OfflineJoin,
    RegisterRequest, Running, AGENT_VERSION,
};
use model::runbook::{RunbookSecrets, UserInteraction};
use model::schedule::{decide_with_choice, CheckInState, Decision, UserChoice, Window};
use model::status::{AgentStatus, EventLevel};
use serde::{Deserialize, Serialize};

use crate::client::{Client, HttpTransport, Identity, Transport};
use crate::journal::Journal;
use crate::sim::SimWorkstation;
use crate::spool::{Spool, SpoolLimits};
use crate::workstation::{Facts, Workstation};
use crate::{fsutil, Error, Result};

pub mod actions;
mod choice;
pub mod credentials;
pub mod defaults;
pub mod edge;
mod engine;
pub mod local_groups;
mod onedrive;
mod preflight;
pub mod profiles;
mod readiness;
pub mod requests;
pub mod restart;
pub mod run_as;

use requests::{FinishedView, Pending, Prompt, Requests};

/// How an agent is set up.
#[derive(Clone)]
pub struct AgentConfig {
    /// The server's base URL, e.g. `http://127.0.0.1:5000`.
    pub server_url: String,
    /// The pre-shared key, used only for the first registration.
    pub psk: String,
    /// The simulated workstation's folder.
    pub sim_dir: PathBuf,
    /// Where the agent keeps its identity, journal and spool.
    pub state_dir: PathBuf,
    /// Return once the assigned runbook Completed or failed and every event is uploaded, instead
    /// of running as a service forever (the demo runs a fleet of agents as threads this way).
    pub exit_when_idle: bool,
    /// What the event spool may use of the disk and of memory.
    pub spool_limits: SpoolLimits,
}

impl AgentConfig {
    /// A configuration keeping the agent's state in `<sim_dir>/.rehome-agent`, running forever.
    pub fn new(server_url: &str, psk: &str, sim_dir: impl Into<PathBuf>) -> AgentConfig {
        let sim_dir = sim_dir.into();
        AgentConfig {
            server_url: server_url.to_string(),
            psk: psk.to_string(),
            state_dir: sim_dir.join(".rehome-agent"),
            sim_dir,
            exit_when_idle: false,
            spool_limits: SpoolLimits::default(),
        }
    }
}

impl fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The PSK is a secret: never printed.
        f.debug_struct("AgentConfig")
            .field("server_url", &self.server_url)
            .field("psk", &"<hidden>")
            .field("sim_dir", &self.sim_dir)
            .field("state_dir", &self.state_dir)
            .field("exit_when_idle", &self.exit_when_idle)
            .field("spool_limits", &self.spool_limits)
            .finish()
    }
}

/// Waits between check-ins.
pub trait Sleeper: Send {
    /// Waits `duration`; false when the agent is asked to stop.
    fn sleep(&mut self, duration: Duration) -> bool;
}

/// Waits on the real clock; optionally stoppable, and optionally woken early.
#[derive(Debug, Default)]
pub struct ThreadSleeper {
    stop: Option<Receiver<()>>,
    signals: Option<Receiver<Signal>>,
}

/// What ends a [`ThreadSleeper`]'s wait early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Stop the agent (a service stop request): the wait returns false.
    Stop,
    /// Something needs the agent now (a request from the tray): the wait returns true.
    Wake,
}

impl ThreadSleeper {
    /// A sleeper and the sender that stops it (a service stop request).
    pub fn with_stop() -> (ThreadSleeper, Sender<()>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (
            ThreadSleeper {
                stop: Some(rx),
                signals: None,
            },
            tx,
        )
    }

    /// A sleeper and the sender that stops or wakes it.
    pub fn with_signals() -> (ThreadSleeper, Sender<Signal>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (
            ThreadSleeper {
                stop: None,
                signals: Some(rx),
            },
            tx,
        )
    }
}

impl Sleeper for ThreadSleeper {
    // The one real sleeper of the agent: everything else waits through a `Sleeper`.
    #[allow(clippy::disallowed_methods)]
    fn sleep(&mut self, duration: Duration) -> bool {
        let wait = duration.to_std().unwrap_or_default();
        if let Some(signals) = &self.signals {
            return match signals.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) | Ok(Signal::Wake) => true,
                Ok(Signal::Stop) => false,
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(wait);
                    true
                }
            };
        }
        match &self.stop {
            Some(stop) => match stop.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => true,
                Ok(()) => false,
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(wait);
                    true
                }
            },
            None => {
                std::thread::sleep(wait);
                true
            }
        }
    }
}

/// Why [`Agent::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// With `exit_when_idle`: the assigned runbook ended with `status` (Completed or Error) and
    /// every event was uploaded.
    Idle {
        /// The runbook.
        runbook: RunbookId,
        /// Completed or Error.
        status: AgentStatus,
    },
    /// The sleeper asked the agent to stop.
    Stopped,
    /// A runbook's last step asked the agent to remove itself, and it did, after its last events
    /// reached the server.
    Uninstalled,
}

const IDENTITY: &str = "identity.json";
/// The refusal code of a server that does not know the agent's id.
const UNKNOWN_AGENT: &str = "unknown_agent";
const JOURNAL: &str = "journal.log";
const CHECK_IN_STATE: &str = "check-in.json";

/// What the agent remembers of its check-in schedule across restarts.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SavedSchedule {
    state: CheckInState,
    /// The logged-on user's snooze or Migrate Now, for the runbook it was given for.
    #[serde(default)]
    choice: Option<SavedChoice>,
    /// The hold-back reason last recorded as an event, so it is recorded once.
    #[serde(default)]
    blocked: Option<String>,
}

/// A user's choice and the runbook it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct SavedChoice {
    runbook: RunbookId,
    choice: UserChoice,
}

/// The facts of the device a check-in reported last.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReportedFacts {
    computer_name: String,
    os_version: String,
    join_state: JoinState,
    logged_on_user: Option<String>,
}

impl ReportedFacts {
    fn of(facts: &Facts) -> ReportedFacts {
        ReportedFacts {
            computer_name: facts.computer_name.clone(),
            os_version: facts.os_version.clone(),
            join_state: facts.join_state.clone(),
            logged_on_user: facts.logged_on_user.clone(),
        }
    }
}

/// An agent on one workstation.
pub struct Agent<W, T> {
    config: AgentConfig,
    workstation: W,
    client: Client<T>,
    clock: Arc<dyn Clock>,
    sleeper: Box<dyn Sleeper>,
    journal: Journal,
    spool: Spool,
    schedule: CheckInState,
    assignment: Option<Arc<DeviceAssignment>>,
    countdown_started: Option<DateTime<Utc>>,
    choice: Option<SavedChoice>,
    profiles_due: bool,
    finished: Option<(RunbookId, AgentStatus)>,
    blocked: Option<String>,
    /// The running runbook's secrets, in memory only.
    secrets: Option<(RunbookId, RunbookSecrets)>,
    /// The facts the last successful check-in reported.
    reported: Option<ReportedFacts>,
    /// The running runbook's offline join blob, in memory only.
    offline_join: Option<(RunbookId, OfflineJoin)>,
    /// The new computer name the pre-flight found free in the target domain, for the rename.
    chosen_name: Option<(RunbookId, String)>,
    /// What the signed-in user asks from outside the schedule, and the view shown to them.
    requests: Option<Requests>,
    /// Register and Check Runbooks requests, answered after the next check-in.
    check_in_waiters: Vec<Pending>,
}

/// Runs an agent on the simulated workstation of `config` against the real server, on the real
/// clock, until it is idle (with `exit_when_idle`) or forever.
pub fn run(config: &AgentConfig) -> Result<Exit> {
    // Without this check another scheme would look like a server that is never reachable.
    if !config.server_url.starts_with("http://") && !config.server_url.starts_with("https://") {
        return Err(Error::Config(format!(
            "server URL {:?}: give the server's http:// or https:// address",
            config.server_url
        )));
    }
    let mut workstation = SimWorkstation::open(&config.sim_dir)?;
    // The service starts with the device: a restart scheduled before has happened.
    workstation.start_up()?;
    if !workstation.state().agent_installed {
        return Err(Error::Config(format!(
            "the agent was removed from {} at the end of a runbook; install it again to run it there",
            config.sim_dir.display()
        )));
    }
    let transport = HttpTransport::new(&config.server_url);
    Agent::new(
        config.clone(),
        workstation,
        transport,
        Arc::new(SystemClock),
        Box::new(ThreadSleeper::default()),
    )?
    .run()
}

impl<W: Workstation, T: Transport> Agent<W, T> {
    /// An agent that keeps its state in `config.state_dir`, reading what an earlier run left there.
    pub fn new(
        config: AgentConfig,
        workstation: W,
        transport: T,
        clock: Arc<dyn Clock>,
        sleeper: Box<dyn Sleeper>,
    ) -> Result<Agent<W, T>> {
        fsutil::create_dir(&config.state_dir)?;
        let identity = Identity::load(&config.state_dir.join(IDENTITY))?;
        let journal = Journal::open(&config.state_dir.join(JOURNAL))?;
        let spool = Spool::open_with(&config.state_dir, config.spool_limits)?;
        let schedule_path = config.state_dir.join(CHECK_IN_STATE);
        let saved = match fsutil::read_optional(&schedule_path)? {
            Some(bytes) => {
                serde_json::from_slice::<SavedSchedule>(&bytes).map_err(|e| Error::Corrupt {
                    path: schedule_path,
                    reason: e.to_string(),
                })?
            }
            None => SavedSchedule::default(),
        };
        Ok(Agent {
            client: Client::new(transport, clock.clone(), identity),
            config,
            workstation,
            clock,
            sleeper,
            journal,
            spool,
            schedule: saved.state,
            assignment: None,
            countdown_started: None,
            choice: saved.choice,
            profiles_due: false,
            finished: None,
            blocked: saved.blocked,
            secrets: None,
            reported: None,
            offline_join: None,
            chosen_name: None,
            requests: None,
            check_in_waiters: Vec::new(),
        })
    }

    /// Serves the requests of `requests` (the tray's, through the named pipe) from now on, and
    /// keeps its view of the agent up to date.
    pub fn serve_requests(&mut self, requests: Requests) {
        self.requests = Some(requests);
        self.publish(Prompt::Nothing);
    }

    /// Speaks to the server on `clock` while the schedule runs on the agent's own clock: a fleet
    /// simulator that compresses the schedule still stamps its messages in the server's time.
    pub fn set_protocol_clock(&mut self, clock: Arc<dyn Clock>) {
        self.client.set_clock(clock);
    }

    /// The workstation it drives.
    pub fn workstation(&self) -> &W {
        &self.workstation
    }

    /// Its journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Its event spool.
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// The agent's service loop; see [`Exit`] for when it returns. A refused registration returns
    /// [`Error::Refused`] with the server's code.
    pub fn run(&mut self) -> Result<Exit> {
        if !self.ensure_registered()? {
            return Ok(Exit::Stopped);
        }
        // A runbook interrupted by a crash or reboot resumes at once: it was already decided.
        if let Some((runbook, run)) = self.journal.unfinished() {
            let (name, steps) = (run.name.clone(), run.steps.clone());
            match self.execute(runbook, &name, steps, true)? {
                Some(status) => self.finish(runbook, status),
                None => return Ok(Exit::Stopped),
            }
        }
        // At every service start the agent checks in at once.
        let mut next_check_in = self.clock.now();
        loop {
            let now = self.clock.now();
            self.take_requests(now, &mut next_check_in);
            if now >= next_check_in {
                match self.check_in(false) {
                    Ok(response) => {
                        self.take(response)?;
                        self.answer_check_ins(None);
                    }
                    // The server lost or deleted this agent: register again with the PSK (the
                    // journal stays, so nothing that ran here runs again).
                    Err(Error::Refused { code, .. }) if code == UNKNOWN_AGENT => {
                        self.client.forget_identity();
                        fsutil::remove_optional(&self.config.state_dir.join(IDENTITY))?;
                        if !self.ensure_registered()? {
                            return Ok(Exit::Stopped);
                        }
                        continue;
                    }
                    Err(e) => {
                        self.schedule.failed();
                        self.answer_check_ins(Some(&e));
                    }
                }
                self.save_schedule()?;
                next_check_in = self.schedule.next(now);
                let _ = self.flush();
            }
            let mut wake = next_check_in;
            // A fallback administrator kept for N days goes when its day comes, also after
            // restarts: the due date is on the device.
            if let Some(due) = self.remove_due_accounts()? {
                wake = wake.min(due);
            }
            // A pending Intune enrolment is tried again every hour until it succeeds.
            if self.journal.unfinished().is_none() {
                if actions::retry_mdm(&mut self.workstation, now)? == Some(true) {
                    self.record(AgentEvent {
                        seq: 0,
                        at: now,
                        level: EventLevel::Info,
                        runbook: None,
                        phase: Some(model::status::Phase::DeviceState),
                        step: None,
                        status: None,
                        message: "EnrollIntune: enrolled in Intune".to_string(),
                    })?;
                    let _ = self.flush();
                }
                if let Some(due) = actions::mdm_due(&self.workstation)? {
                    wake = wake.min(due);
                }
            }
            // Removing itself is the very last thing, once the run is over and every event of it
            // reached the server.
            // Not while an Intune enrolment is pending: nobody would try it again.
            if self.journal.unfinished().is_none()
                && actions::uninstall_due(&self.workstation)?
                && actions::mdm_due(&self.workstation)?.is_none()
            {
                if self.flush().is_ok() {
                    self.workstation.uninstall_agent()?;
                    return Ok(Exit::Uninstalled);
                }
                self.schedule.failed();
                wake = wake.min(self.schedule.next(self.clock.now()));
            }
            let decision = match self.assignment.clone() {
                Some(assignment) => Some((self.decide(&assignment, now)?, assignment)),
                None => None,
            };
            self.publish(match decision {
                Some((Decision::Offer { enforced_at }, _)) => Prompt::Available { enforced_at },
                Some((Decision::Countdown { starts_at, .. }, _)) => Prompt::Countdown { starts_at },
                Some((Decision::Start, _)) => Prompt::Running,
                _ => Prompt::Nothing,
            });
            if let Some((decision, assignment)) = decision {
                match decision {
                    Decision::Start => {
                        // The checks go first, so the server decides the start on them.
                        self.send_readiness(&assignment)?;
                        // One final check-in right before starting: the newest assignment wins.
                        let newest = match self.check_in(true) {
                            Ok(response) => {
                                self.take(response)?;
                                next_check_in = self.schedule.next(now);
                                self.assignment.clone()
                            }
                            Err(_) => {
                                // Not started without the server: it must translate the SIDs.
                                self.schedule.failed();
                                next_check_in = self.schedule.next(now);
                                None
                            }
                        };
                        self.save_schedule()?;
                        match newest {
                            Some(newest) if newest.runbook.id == assignment.runbook.id => {
                                match self.start(&newest)? {
                                    Some(status) => self.finish(newest.runbook.id, status),
                                    None => return Ok(Exit::Stopped),
                                }
                                // The server may have the next runbook (e.g. one that needed
                                // this one first): ask at once.
                                next_check_in = self.clock.now();
                            }
                            // Another assignment replaced it: decide again about that one.
                            Some(_) => continue,
                            None => {}
                        }
                        // The final check-in or the run moved the next check-in.
                        wake = next_check_in;
                    }
                    Decision::Wait { until } => wake = wake.min(until),
                    // The offer and the countdown are shown by the tray; until then the agent
                    // only needs to wake when something changes.
                    Decision::Offer { enforced_at } => wake = wake.min(enforced_at),
                    Decision::Countdown {
                        starts_at,
                        next_reminder,
                    } => {
                        self.countdown_started.get_or_insert(now);
                        wake = wake.min(next_reminder.unwrap_or(starts_at));
                    }
                }
            }
            if self.config.exit_when_idle {
                if let Some((runbook, status)) = self.finished {
                    // A run changed the device (its join state, its name): the check-in due now
                    // reports that before the agent leaves.
                    if self.clock.now() >= next_check_in {
                        continue;
                    }
                    match self.flush() {
                        Ok(()) => return Ok(Exit::Idle { runbook, status }),
                        Err(_) => {
                            self.schedule.failed();
                            wake = wake.min(self.schedule.next(self.clock.now()));
                        }
                    }
                }
            }
            let now = self.clock.now();
            if wake > now && !self.sleeper.sleep(wake - now) {
                return Ok(Exit::Stopped);
            }
        }
    }

    /// Spools `event` for the server and writes it to the device's own Application log.
    fn record(&mut self, event: AgentEvent) -> Result<u64> {
        // As for step events: the spool is what reaches the server, the log is a local copy.
        let _ = self
            .workstation
            .write_event_log(event.level, &event.message);
        self.spool.append(event)
    }

    /// Deletes the accounts whose delayed removal is due, with an event each; returns when the
    /// next one is due.
    fn remove_due_accounts(&mut self) -> Result<Option<DateTime<Utc>>> {
        let now = self.clock.now();
        for effect in actions::remove_due_accounts(&mut self.workstation, now)? {
            self.record(AgentEvent {
                seq: 0,
                at: now,
                level: EventLevel::Info,
                runbook: None,
                phase: Some(model::status::Phase::Completion),
                step: None,
                status: None,
                message: format!("RemoveFallbackAdmin: {}", effect.summary),
            })?;
        }
        Ok(actions::pending_removals(&self.workstation)?
            .into_iter()
            .map(|(_, due)| due)
            .min())
    }

    /// Registers unless an identity was saved; retries while the server is unreachable. False
    /// when asked to stop while waiting.
    fn ensure_registered(&mut self) -> Result<bool> {
        while self.client.identity().is_none() {
            let facts = self.workstation.facts()?;
            let request = RegisterRequest {
                computer_name: facts.computer_name,
                serial: facts.serial,
                os_edition: facts.os_edition,
                os_version: facts.os_version,
                agent_version: AGENT_VERSION.to_string(),
                join_state: facts.join_state,
                // Replaced by the keys the client makes for this registration.
                keys: PublicKeys {
                    sign: Key32([0; 32]),
                    encrypt: Key32([0; 32]),
                },
            };
            match self.client.register(&self.config.psk, request) {
                Ok(identity) => {
                    identity.save(&self.config.state_dir.join(IDENTITY))?;
                    self.schedule = CheckInState::default();
                    self.save_schedule()?;
                    self.profiles_due = true;
                }
                Err(Error::Unreachable(_)) => {
                    self.schedule.failed();
                    self.publish(Prompt::Nothing);
                    self.answer_check_ins(Some(&Error::Unreachable(String::new())));
                    if !self.sleeper.sleep(self.schedule.delay()) {
                        return Ok(false);
                    }
                    // Woken early by Register or Check Runbooks: try again at once.
                    let now = self.clock.now();
                    let mut at_once = now;
                    self.take_requests(now, &mut at_once);
                }
                Err(e) => {
                    // Whatever was asked meanwhile is answered with the refusal.
                    let now = self.clock.now();
                    let mut at_once = now;
                    self.take_requests(now, &mut at_once);
                    self.answer_check_ins(Some(&e));
                    return Err(e);
                }
            }
        }
        Ok(true)
    }

    fn save_schedule(&self) -> Result<()> {
        let bytes = serde_json::to_vec(&SavedSchedule {
            state: self.schedule,
            choice: self.choice,
            blocked: self.blocked.clone(),
        })
        .map_err(|e| Error::Corrupt {
            path: self.config.state_dir.join(CHECK_IN_STATE),
            reason: e.to_string(),
        })?;
        fsutil::write_atomic(&self.config.state_dir.join(CHECK_IN_STATE), &bytes, false)
    }

    fn check_in(&mut self, final_check: bool) -> Result<CheckInResponse> {
        self.check_in_running(final_check, None)
    }

    /// A check-in that reports the device's facts as they are now, and the step it is on.
    fn check_in_running(
        &mut self,
        final_check: bool,
        running: Option<Running>,
    ) -> Result<CheckInResponse> {
        let facts = self.workstation.facts()?;
        let reported = ReportedFacts::of(&facts);
        let response = self.client.check_in(&CheckInRequest {
            held_assignment: None,
            final_check,
            agent_version: AGENT_VERSION.to_string(),
            join_state: facts.join_state,
            logged_on_user: facts.logged_on_user,
            running,
            completed: self.journal.completed(),
            computer_name: Some(facts.computer_name),
            os_version: Some(facts.os_version),
        })?;
        self.reported = Some(reported);
        Ok(response)
    }

    /// Reports the device's facts at once when they changed since the last check-in (a join, a
    /// leave, a rename, a user signing in or out), so the server's view of the device stays true
    /// during a run. The check-in's answer is not acted on: the run goes on with its plan. A
    /// server that cannot be reached is told at the next check-in.
    pub(super) fn report_changed_facts(&mut self, running: Option<Running>) -> Result<()> {
        let facts = self.workstation.facts()?;
        if self.reported.as_ref() == Some(&ReportedFacts::of(&facts)) {
            return Ok(());
        }
        match self.check_in_running(false, running) {
            Ok(_) | Err(Error::Unreachable(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Takes the assignment of a successful check-in, and records once why the server holds one
    /// back.
    fn take(&mut self, response: CheckInResponse) -> Result<()> {
        self.record_blocked(response.blocked.as_ref())?;
        let readiness_due = response.readiness_due;
        // A runbook that Completed here never runs again; one that failed waits for an operator
        // to retry it from the server (the device is left recoverable, and a blind retry could
        // repeat what broke it).
        if let Some(a) = &response.assignment {
            // Ended before this start (e.g. the agent restarted after completing it): it counts
            // as finished for `exit_when_idle`.
            match self.journal.status(&a.runbook.id) {
                Some(AgentStatus::Error) if self.journal.retry_wanted(&a.runbook.id, a.retry) => {}
                Some(status @ (AgentStatus::Completed | AgentStatus::Error))
                    if self.finished.is_none() =>
                {
                    self.finished = Some((a.runbook.id, status));
                }
                _ => {}
            }
        }
        let assignment = response.assignment.filter(|a| {
            self.journal.status(&a.runbook.id).is_none()
                || self.journal.retry_wanted(&a.runbook.id, a.retry)
        });
        self.schedule.succeeded(assignment.is_some());
        let same = match (&assignment, &self.assignment) {
            (Some(a), Some(b)) => a.runbook.id == b.runbook.id,
            _ => false,
        };
        if !same {
            self.countdown_started = None;
        }
        // A choice answers one runbook: another assignment forgets it.
        if let Some(saved) = self.choice {
            if assignment.as_ref().map(|a| a.runbook.id) != Some(saved.runbook) {
                self.choice = None;
            }
        }
        self.assignment = assignment;
        if readiness_due {
            if let Some(assignment) = self.assignment.clone() {
                self.send_readiness(&assignment)?;
            }
        }
        Ok(())
    }

    /// A warning event the first time the server gives a reason for holding back an assignment;
    /// the same reason again is not repeated, and a check-in without one forgets it.
    fn record_blocked(&mut self, blocked: Option<&Blocked>) -> Result<()> {
        let blocked = match blocked {
            Some(blocked) => blocked,
            None => {
                self.blocked = None;
                return Ok(());
            }
        };
        let key = format!("{}/{}/{}", blocked.runbook, blocked.code, blocked.message);
        if self.blocked.as_deref() == Some(key.as_str()) {
            return Ok(());
        }
        self.record(AgentEvent {
            seq: 0,
            at: self.clock.now(),
            level: EventLevel::Warning,
            runbook: Some(blocked.runbook),
            phase: None,
            step: None,
            status: None,
            message: format!("The server holds this runbook back: {}", blocked.message),
        })?;
        self.blocked = Some(key);
        Ok(())
    }

    /// The instants of `assignment` on this device's clock.
    fn window(&self, assignment: &DeviceAssignment) -> Result<Window> {
        let facts = self.workstation.facts()?;
        Ok(Window {
            available_from: assignment
                .available_from
                .map(|t| t.instant_for(facts.time_zone.as_deref(), facts.utc_offset)),
            enforced_after: assignment
                .enforced_after
                .instant_for(facts.time_zone.as_deref(), facts.utc_offset),
        })
    }

    fn decide(&self, assignment: &DeviceAssignment, now: DateTime<Utc>) -> Result<Decision> {
        let window = self.window(assignment)?;
        // A Silent runbook shows nothing: no offer and no countdown, so it is decided as if
        // nobody were signed in (prerequisite runbooks run this way).
        let silent = assignment.runbook.startup.interaction == UserInteraction::Silent;
        let logged_on = !silent && self.workstation.facts()?.logged_on_user.is_some();
        let choice = self
            .choice
            .filter(|c| c.runbook == assignment.runbook.id)
            .map(|c| c.choice)
            .unwrap_or_default();
        Ok(decide_with_choice(
            &window,
            now,
            logged_on,
            self.countdown_started,
            &choice,
        ))
    }

    fn finish(&mut self, runbook: RunbookId, status: AgentStatus) {
        self.finished = Some((runbook, status));
        if let (Some(requests), Some(assignment)) = (&self.requests, &self.assignment) {
            if assignment.runbook.id == runbook {
                let finished = FinishedView {
                    runbook,
                    status,
                    silent: assignment.runbook.startup.interaction == UserInteraction::Silent,
                    user_experience: assignment.runbook.user_experience.clone(),
                };
                requests.update(|view| view.finished = Some(finished));
            }
        }
        self.assignment = None;
        self.publish(Prompt::Nothing);
        self.countdown_started = None;
        if self.choice.map(|c| c.runbook) == Some(runbook) {
            self.choice = None;
            // Forgetting it is tidiness only: a Completed runbook never starts again anyway.
            let _ = self.save_schedule();
        }
        // Profiles changed owners: the server's view of them is refreshed.
        self.profiles_due = true;
        let _ = self.flush();
    }

    /// Uploads spooled events in batches until none is left, and profiles when due.
    fn flush(&mut self) -> Result<()> {
        while !self.spool.is_empty() {
            let ack = self.client.upload_events(self.spool.batch())?;
            let before = self.spool.pending().len();
            self.spool.acknowledge(ack.through)?;
            if self.spool.pending().len() == before {
                return Err(Error::Protocol(
                    "the server acknowledged none of the uploaded events".into(),
                ));
            }
        }
        if self.profiles_due {
            let profiles = self.workstation.harvest_profiles()?;
            self.client.upload_profiles(profiles)?;
            self.profiles_due = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_http_or_https_is_refused_with_advice_instead_of_retried_forever() {
        for url in ["server.contoso.test", "ftp://server"] {
            let config = AgentConfig::new(url, "psk", "/nonexistent/pc");
            match run(&config) {
                Err(Error::Config(message)) => {
                    assert!(message.contains("http://"), "{}", message);
                    assert!(message.contains("https://"), "{}", message);
                }
                other => panic!("unexpected {:?}", other),
            }
        }
    }

    #[test]
    fn a_wake_ends_the_wait_early_and_a_stop_ends_the_agent() {
        let (mut sleeper, signals) = ThreadSleeper::with_signals();
        // Sent before the wait: each wait of a week returns at once.
        signals.send(Signal::Wake).expect("send");
        assert!(sleeper.sleep(Duration::weeks(1)), "woken, not stopped");
        signals.send(Signal::Stop).expect("send");
        assert!(!sleeper.sleep(Duration::weeks(1)), "stopped");
    }

    #[test]
    fn the_psk_is_never_printed() {
        let config = AgentConfig::new("http://server", "very-secret-psk", "/tmp/pc");
        let printed = format!("{:?}", config);
        assert!(!printed.contains("very-secret-psk"));
        assert_eq!(config.state_dir, PathBuf::from("/tmp/pc/.rehome-agent"));
    }
}
