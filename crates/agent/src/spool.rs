//! The event spool: every event is appended to disk and fsynced before anything tries to upload
//! it, uploaded in batches, and dropped only once the server has acknowledged it
//! ([`EventsAck::through`](model::protocol::EventsAck)). Sequence numbers keep increasing across
//! restarts, so an upload retried after a failure is stored once: the server dedupes by `seq`.

use std::path::{Path, PathBuf};

use model::protocol::AgentEvent;
use serde::{Deserialize, Serialize};

use crate::{fsutil, Error, Result};

const LOG: &str = "spool.log";
const ACK: &str = "spool.ack";

/// Events per upload.
pub const BATCH: usize = 500;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Acked {
    through: u64,
}

/// The spool in the agent's state directory.
#[derive(Debug)]
pub struct Spool {
    log: PathBuf,
    ack: PathBuf,
    pending: Vec<AgentEvent>,
    acked: u64,
    next_seq: u64,
}

impl Spool {
    /// Opens (or starts) the spool in `dir`.
    pub fn open(dir: &Path) -> Result<Spool> {
        let log = dir.join(LOG);
        let ack = dir.join(ACK);
        let acked = match fsutil::read_optional(&ack)? {
            Some(bytes) => {
                serde_json::from_slice::<Acked>(&bytes)
                    .map_err(|e| Error::Corrupt {
                        path: ack.clone(),
                        reason: e.to_string(),
                    })?
                    .through
            }
            None => 0,
        };
        let mut pending = Vec::new();
        let mut highest = acked;
        for (i, line) in fsutil::read_lines(&log)?.iter().enumerate() {
            let event: AgentEvent = serde_json::from_str(line).map_err(|e| Error::Corrupt {
                path: log.clone(),
                reason: format!("line {}: {}", i + 1, e),
            })?;
            highest = highest.max(event.seq);
            // Acknowledged but not yet compacted away when the agent stopped.
            if event.seq > acked {
                pending.push(event);
            }
        }
        Ok(Spool {
            log,
            ack,
            pending,
            acked,
            next_seq: highest + 1,
        })
    }

    /// Gives `event` the next sequence number and stores it durably; returns the number.
    pub fn append(&mut self, mut event: AgentEvent) -> Result<u64> {
        event.seq = self.next_seq;
        let line = serde_json::to_vec(&event).map_err(|e| Error::Corrupt {
            path: self.log.clone(),
            reason: e.to_string(),
        })?;
        fsutil::append_line(&self.log, &line)?;
        self.next_seq += 1;
        self.pending.push(event);
        Ok(self.next_seq - 1)
    }

    /// Events not yet acknowledged, oldest first.
    pub fn pending(&self) -> &[AgentEvent] {
        &self.pending
    }

    /// The next batch to upload.
    pub fn batch(&self) -> &[AgentEvent] {
        &self.pending[..self.pending.len().min(BATCH)]
    }

    /// Whether every event has been acknowledged.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The highest sequence number the server acknowledged.
    pub fn acked_through(&self) -> u64 {
        self.acked
    }

    /// The server has every event up to `through`: forget them.
    pub fn acknowledge(&mut self, through: u64) -> Result<()> {
        if through <= self.acked {
            return Ok(());
        }
        // The server cannot have stored what was never sent; a higher number is its mistake and
        // must not make the agent drop events or reuse numbers.
        let through = through.min(self.next_seq - 1);
        // The acknowledgement is saved first: if the agent stops before the log is compacted, the
        // acknowledged events are skipped when it is read again.
        let ack = serde_json::to_vec(&Acked { through }).map_err(|e| Error::Corrupt {
            path: self.ack.clone(),
            reason: e.to_string(),
        })?;
        fsutil::write_atomic(&self.ack, &ack, false)?;
        self.acked = through;
        self.pending.retain(|e| e.seq > through);
        let mut rest = Vec::new();
        for event in &self.pending {
            let line = serde_json::to_vec(event).map_err(|e| Error::Corrupt {
                path: self.log.clone(),
                reason: e.to_string(),
            })?;
            rest.extend_from_slice(&line);
            rest.push(b'\n');
        }
        fsutil::write_atomic(&self.log, &rest, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use model::status::EventLevel;

    /// A fixed instant: the spool keeps what it is given.
    fn instant() -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0)
            .single()
            .expect("valid instant")
    }

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rehome-spool-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    fn event(message: &str) -> AgentEvent {
        AgentEvent {
            seq: 0,
            at: instant(),
            level: EventLevel::Info,
            runbook: None,
            phase: None,
            step: None,
            status: None,
            message: message.to_string(),
        }
    }

    #[test]
    fn events_survive_a_restart_until_acknowledged() {
        let dir = scratch();
        {
            let mut spool = Spool::open(&dir).expect("open");
            assert_eq!(spool.append(event("one")).expect("append"), 1);
            assert_eq!(spool.append(event("two")).expect("append"), 2);
            assert_eq!(spool.append(event("three")).expect("append"), 3);
            spool.acknowledge(1).expect("ack");
        }
        let mut spool = Spool::open(&dir).expect("reopen");
        let seqs: Vec<u64> = spool.pending().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![2, 3]);
        assert_eq!(spool.append(event("four")).expect("append"), 4);
        spool.acknowledge(4).expect("ack");
        assert!(spool.is_empty());
        // Numbers keep increasing after everything was acknowledged and compacted away.
        let mut spool = Spool::open(&dir).expect("reopen");
        assert_eq!(spool.append(event("five")).expect("append"), 5);
    }

    #[test]
    fn an_acknowledgement_beyond_what_was_sent_drops_nothing_unsent() {
        let dir = scratch();
        let mut spool = Spool::open(&dir).expect("open");
        spool.append(event("one")).expect("append");
        spool.acknowledge(99).expect("ack");
        assert_eq!(spool.append(event("two")).expect("append"), 2);
        assert_eq!(spool.pending().len(), 1);
    }
}
