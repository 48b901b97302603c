//! The named pipe between the service and the tray of the signed-in user: a small protocol of
//! length-prefixed JSON messages (a 4-byte little-endian length, then that many bytes of JSON),
//! one answer to each message. The tray asks for the agent's status (what to show), or asks for
//! Register, Check Runbooks, Migrate Now, a snooze or Start now; the service answers from its
//! agent's [`Requester`]. The framing and the answers are portable and tested everywhere; the
//! pipe itself, with its ACL, is in [`win`] (Windows only).

use std::io::{Read, Write};
use std::sync::mpsc::RecvTimeoutError;

use agent::run::requests::{AgentView, Answer, Request, Requester};
use model::schedule::Snooze;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub mod credentials;
#[cfg(windows)]
pub mod win;

use credentials::{CredentialDesk, CredentialPrompt, Typed};

/// The pipe's name.
pub const PIPE_NAME: &str = r"\\.\pipe\rehome-agent";
/// The largest message either side accepts: a status with every culture's texts fits many
/// times over; anything bigger is not ours.
pub const MAX_MESSAGE: usize = 1 << 20;

/// What the tray sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ask", rename_all = "snake_case")]
pub enum Message {
    /// The agent's view: registration, reachability, the assigned runbook and its prompt.
    Status,
    /// The menu's Register.
    Register,
    /// The menu's Check Runbooks.
    CheckRunbooks,
    /// The menu's Migrate Now, or Start on Migration Available.
    MigrateNow,
    /// A snooze choice on Migration Available.
    Snooze {
        /// How long.
        length: Snooze,
    },
    /// Yes on the countdown (Migration Starting).
    StartNow,
    /// The Cache Credentials dialog a runbook's step waits for, if any.
    CredentialPrompt,
    /// OK on the Cache Credentials dialog `id`, with what was typed.
    Credentials {
        /// The prompt answered.
        id: u64,
        /// What was typed.
        typed: Typed,
    },
    /// Cancel on the Cache Credentials dialog `id`.
    CredentialsCancelled {
        /// The prompt answered.
        id: u64,
    },
}

/// What the service answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", content = "body", rename_all = "snake_case")]
pub enum Reply {
    /// The answer to [`Message::Status`] (boxed: it is far larger than an answer).
    Status(Box<AgentView>),
    /// The answer to any other message.
    Answer(Answer),
    /// The answer to [`Message::CredentialPrompt`].
    Prompt(Option<CredentialPrompt>),
}

/// A failure of the pipe or of what came through it.
#[derive(Debug)]
pub enum PipeError {
    /// Reading or writing failed (the other side went away).
    Io(std::io::Error),
    /// A message that is not one of ours.
    Malformed(String),
}

impl std::fmt::Display for PipeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PipeError::Io(e) => write!(f, "the rehome agent's pipe: {}", e),
            PipeError::Malformed(m) => write!(f, "the rehome agent's pipe: {}", m),
        }
    }
}

impl std::error::Error for PipeError {}

impl From<std::io::Error> for PipeError {
    fn from(e: std::io::Error) -> PipeError {
        PipeError::Io(e)
    }
}

/// Writes `value` as one frame.
pub fn write_frame<W: Write, T: Serialize>(w: &mut W, value: &T) -> Result<(), PipeError> {
    let body = serde_json::to_vec(value).map_err(|e| PipeError::Malformed(e.to_string()))?;
    if body.len() > MAX_MESSAGE {
        return Err(PipeError::Malformed(format!(
            "a message of {} bytes is over the limit of {}",
            body.len(),
            MAX_MESSAGE
        )));
    }
    let mut frame = (body.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&body);
    let written = w.write_all(&frame).and_then(|_| w.flush());
    // A password may have passed through the buffers.
    let mut body = body;
    body.iter_mut().for_each(|b| *b = 0);
    frame.iter_mut().for_each(|b| *b = 0);
    Ok(written?)
}

/// Reads one frame; `None` when the other side closed before a new one began.
pub fn read_frame<R: Read, T: DeserializeOwned>(r: &mut R) -> Result<Option<T>, PipeError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(PipeError::Malformed("a frame cut short".to_string())),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // Windows reports the other end closing a pipe as a broken pipe.
            Err(e) if got == 0 && e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(PipeError::Malformed(format!(
            "a message of {} bytes is over the limit of {}",
            len, MAX_MESSAGE
        )));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    let parsed = serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| PipeError::Malformed(e.to_string()));
    // A password may have passed through the buffer.
    body.iter_mut().for_each(|b| *b = 0);
    parsed
}

/// How long the service waits for its agent to serve a request before answering that it is
/// queued. While a runbook's steps run nothing waits: the answer says which step runs.
pub const ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The service's answer to `message`, from its agent; the Cache Credentials dialog from `desk`,
/// at once, also while a runbook's step runs; while a run goes on, every other request is
/// answered at once with the step it is at.
pub fn answer(
    requester: &Requester,
    desk: &CredentialDesk,
    message: Message,
    wait: std::time::Duration,
) -> Reply {
    let request = match message {
        Message::Status => return Reply::Status(Box::new(requester.view())),
        Message::CredentialPrompt => return Reply::Prompt(desk.pending()),
        Message::Credentials { id, typed } => {
            return credentials_answer(desk.answer(id, Some(typed)))
        }
        Message::CredentialsCancelled { id } => return credentials_answer(desk.answer(id, None)),
        Message::Register => Request::Register,
        Message::CheckRunbooks => Request::CheckRunbooks,
        Message::MigrateNow | Message::StartNow => Request::MigrateNow,
        Message::Snooze { length } => Request::Snooze { length },
    };
    // While a runbook's steps run the agent serves no request: the answer is where it is.
    if let Some(running) = requester.view().running {
        return Reply::Answer(running.answer(request));
    }
    let answer = match requester.send(request).recv_timeout(wait) {
        Ok(answer) => answer,
        Err(RecvTimeoutError::Timeout) => {
            Answer::done("The migration agent is busy; it will carry this out as soon as it can.")
        }
        Err(RecvTimeoutError::Disconnected) => {
            Answer::refused("The migration agent is not running; it starts again by itself.")
        }
    };
    Reply::Answer(answer)
}

fn credentials_answer(taken: bool) -> Reply {
    Reply::Answer(if taken {
        Answer::done("Thank you.")
    } else {
        Answer::refused("This request for your credentials has ended; nothing was sent.")
    })
}

/// Serves one connection: answers each message until the other side closes.
pub fn serve_connection<S: Read + Write>(
    stream: &mut S,
    requester: &Requester,
    desk: &CredentialDesk,
    wait: std::time::Duration,
) -> Result<(), PipeError> {
    while let Some(message) = read_frame::<_, Message>(stream)? {
        write_frame(stream, &answer(requester, desk, message, wait))?;
    }
    Ok(())
}

/// Sends `message` on an open connection and reads the answer.
pub fn ask<S: Read + Write>(stream: &mut S, message: Message) -> Result<Reply, PipeError> {
    write_frame(stream, &message)?;
    read_frame(stream)?.ok_or_else(|| {
        PipeError::Malformed("the service closed the pipe without answering".to_string())
    })
}

#[cfg(test)]
mod tests;
