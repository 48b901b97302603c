use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the agent or of the simulated workstation could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done, e.g. `writing`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// A file exists but its content cannot be read; it was left as it is.
    #[error("{path} is unreadable: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The disk refuses the event spool and memory holds as many of its events as it may: the
    /// run stops until there is room, rather than going on without a record.
    #[error("the event spool cannot be written ({reason}) and {held} events wait in memory, the most it keeps; make room on the agent's disk")]
    SpoolFull {
        /// Events numbered and kept in memory only.
        held: usize,
        /// Why the disk refused them.
        reason: String,
    },
    /// The server refused the request; `code` is stable (`not_imported`, `bad_psk`, …).
    #[error("the server refused the request ({code}): {message}")]
    Refused {
        /// The server's stable refusal code.
        code: String,
        /// The server's explanation.
        message: String,
    },
    /// The server could not be reached; the agent retries with backoff.
    #[error("the server is unreachable: {0}")]
    Unreachable(String),
    /// The server answered with an unexpected status and no refusal code.
    #[error("the server answered HTTP {status}")]
    Http {
        /// The HTTP status.
        status: u16,
    },
    /// The server's answer is not what the protocol says it must be.
    #[error("bad answer from the server: {0}")]
    Protocol(String),
    /// The agent has no identity yet: it must register first.
    #[error("the agent is not registered")]
    NotRegistered,
    /// A message envelope or certificate failed its checks.
    #[error(transparent)]
    Envelope(#[from] model::Error),
    /// A security descriptor or SID could not be read or translated.
    #[error(transparent)]
    SecurityDescriptor(#[from] secdesc::Error),
    /// The agent's configuration cannot work; the message says what to change.
    #[error("{0}")]
    Config(String),
    /// The device refused an operation, e.g. joining AD while joined to Entra.
    #[error("{0}")]
    Device(String),
    /// A securable object the agent asked for does not exist on the device.
    #[error("{0} does not exist on this device")]
    NotFound(String),
    /// The workstation or this agent cannot carry out a runbook action: the step fails, the run
    /// ends in Error, and nothing is recorded as done.
    #[error("{action} cannot be carried out on this device: {reason}")]
    Unsupported {
        /// The action, as `model::plan::Action::name` gives it.
        action: String,
        /// Why, and what is missing.
        reason: String,
    },
    /// The user asked for something the schedule does not allow yet (Migrate Now before the
    /// migration is available, a snooze with nothing offered); the message says when it will be.
    #[error("{0}")]
    NotAllowed(String),
}

/// Result with the agent's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
